# The two commands of the README:
#   go run ./examples/seed    the seed's programs, in Go
#   make test                 the whole test suite (what CI runs)

GO ?= go

.PHONY: test check race nofutex bench fuzz fuzz-short

# test is the whole suite: static checks (gofmt, vet, staticcheck), a
# darwin build, the race-enabled tests (multi-process and CPython interop
# included), the lock tests again with the portable (non-futex)
# implementation, and a short pass of every fuzz target.
test: check race nofutex fuzz-short

# STATICCHECK is honnef.co/go/tools's staticcheck at a pinned version, built
# from the module proxy by go run.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	GOOS=darwin $(GO) build ./...

race:
	$(GO) test -race -short -timeout 12m ./...

nofutex:
	$(GO) test -race -short -tags procshare_nofutex -timeout 5m ./ipcsync/... ./shm/...

# bench runs every comparison script; see BENCHMARKS.md.
bench:
	bash bench/run-all.sh

# fuzz runs each decoder fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
FUZZ_TARGETS = \
	./pickle:FuzzUnmarshal \
	./internal/wire:FuzzReadFrame \
	./internal/wire:FuzzReadFrameInterrupted \
	./internal/wire:FuzzServerHandshake \
	./internal/wire:FuzzClientHandshake \
	./manager:FuzzServeConn \
	./shm:FuzzParseList \
	./shm:FuzzAttachHeader
# fuzz-short is the pass make test runs: a few seconds per target.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

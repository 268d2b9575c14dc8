// Package seedpython holds the seed article's third program in Python
// (seed3.py: 100 processes add 1 to a manager Value under a manager Lock,
// the parent prints 100), pointed at `procshare serve` instead of a
// Python-started manager, and the test that runs it.
//
//	go build -o /tmp/procshare ./cmd/procshare
//	/tmp/procshare serve --address 127.0.0.1:50000 --authkey-file key &
//	python3 examples/seed-python/seed3.py 127.0.0.1:50000 key
//
// The Go version of all three programs is in examples/seed.
package seedpython

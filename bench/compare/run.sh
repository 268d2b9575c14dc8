#!/usr/bin/env bash
# Compares the manager benchmarks of a base commit with the working tree,
# side by side in one run: both test binaries are built first, then run in
# turn ROUNDS times, and benchstat (golang.org/x/perf) compares them.
#
#   bash bench/compare/run.sh BASE [BENCH-REGEXP]
#
# e.g. bash bench/compare/run.sh e5a3da3
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:?usage: bench/compare/run.sh BASE [BENCH-REGEXP]}
pattern=${2:-'ServerRoundTrip|ClientGet/procshare-proc|QueuePutGet/procshare-proc'}
rounds=${ROUNDS:-6}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add -q "$tmp/base" "$base"
(cd "$tmp/base" && go test -c -o "$tmp/old.test" ./manager)
go test -c -o "$tmp/new.test" ./manager
cd manager
for i in $(seq "$rounds"); do
	"$tmp/old.test" -test.run '^$' -test.bench "$pattern" -test.benchtime 300ms | grep '^Benchmark' >>"$tmp/old.txt"
	"$tmp/new.test" -test.run '^$' -test.bench "$pattern" -test.benchtime 300ms | grep '^Benchmark' >>"$tmp/new.txt"
done
go run golang.org/x/perf/cmd/benchstat@latest "$tmp/old.txt" "$tmp/new.txt"

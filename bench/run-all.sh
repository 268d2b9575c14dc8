#!/usr/bin/env bash
# Runs every comparison of BENCHMARKS.md, one area after the other, so that
# nothing else competes for the two CPUs. Each script prints its own table
# with the ratios measured side by side in the same run.
#
#   bash bench/run-all.sh            (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
for area in ipcsync shm manager-server manager pool; do
	echo
	echo "################ bench/$area/run.sh"
	bash "bench/$area/run.sh"
done
echo
echo "################ pickle and wire (go test -bench)"
go test -run '^$' -bench . -benchmem ./pickle ./internal/wire

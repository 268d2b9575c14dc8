#!/usr/bin/env bash
# Compares procshare's shm Value/Array with Python's multiprocessing.Value
# and Array, in one invocation, on this machine:
#
#   bash bench/shm/run.sh            (from the repository root)
#   BENCHTIME=2s PY=python3.12 bash bench/shm/run.sh
#
# It runs the Go benchmarks of ./shm and bench/shm/py_bench.py, then prints
# each figure and the ratios: locked increment, atomic add and the
# two-process contended increment against Python's locked increment, and
# the 8 MB Array write from a child against Go's memcpy of 8 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."

BENCHTIME=${BENCHTIME:-1s}
if [ -z "${PY:-}" ]; then
	if command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.12.1 >/dev/null 2>&1; then
		PY="$(pyenv prefix 3.12.1)/bin/python3"
	else
		PY=python3
	fi
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "# machine: $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg); go: $(go version | cut -d' ' -f3); python: $("$PY" -c 'import platform; print(platform.python_version())')"
go test -run '^$' -bench '^Benchmark(LockedIncrement|AtomicAdd|RawAtomicAdd|ContendedIncrement2Proc|ArrayWriteFromChild|Memcpy8MB|ArrayCopyFrom)$' \
	-benchtime "$BENCHTIME" ./shm | tee "$out" | grep '^Benchmark'
"$PY" bench/shm/py_bench.py | tee -a "$out"

awk '
/^BenchmarkLockedIncrement-/          { go_locked = $3 }
/^BenchmarkAtomicAdd\/int64-/         { go_add = $3 }
/^BenchmarkRawAtomicAdd-/             { raw_add = $3 }
/^BenchmarkContendedIncrement2Proc-/  { for (i = 1; i <= NF; i++) if ($i == "ns/incr") go_cont = $(i-1) }
/^BenchmarkArrayWriteFromChild-/      { for (i = 1; i <= NF; i++) { if ($i == "cold-ns") go_cold = $(i-1); if ($i == "warm-ns") go_warm = $(i-1); if ($i == "memcpy-ns") child_memcpy = $(i-1) } }
/^BenchmarkMemcpy8MB-/                { memcpy = $3 }
/^BenchmarkArrayCopyFrom-/            { copyfrom = $3 }
/^py_locked_incr /                    { py_locked = $2 }
/^py_contended_incr_2proc /           { py_cont = $2 }
/^py_array_write_child_cold /         { py_cold = $2 }
/^py_array_write_child_warm /         { py_warm = $2 }
END {
	printf "\n%-46s %12s %12s %9s\n", "figure", "Go", "Python", "Py/Go"
	printf "%-46s %9.1f ns %9.1f ns %8.1fx\n", "locked increment (1 process)", go_locked, py_locked, py_locked / go_locked
	printf "%-46s %9.1f ns %9.1f ns %8.1fx\n", "atomic add vs Python locked increment", go_add, py_locked, py_locked / go_add
	printf "%-46s %9.1f ns %9.1f ns %8.1fx\n", "2-process contended increment (per incr)", go_cont, py_cont, py_cont / go_cont
	printf "%-46s %9.2f ms %9.2f ms %8.1fx\n", "1e6 float64 written from a child, warm", go_warm / 1e6, py_warm / 1e6, py_warm / go_warm
	printf "%-46s %9.2f ms %9.2f ms %8.1fx\n", "1e6 float64 written from a child, cold", go_cold / 1e6, py_cold / 1e6, py_cold / go_cold
	printf "\nfloors (same run)\n"
	printf "%-46s %9.1f ns   Add/raw %.2fx, locked incr/raw %.2fx\n", "raw sync/atomic add on a Go variable", raw_add, go_add / raw_add, go_locked / raw_add
	printf "%-46s %9.2f ms   child write (warm)/memcpy %.2fx (target <= 2x)\n", "memcpy 8 MB in the same child (median)", child_memcpy / 1e6, go_warm / child_memcpy
	printf "%-46s %9.2f ms\n", "memcpy 8 MB, Go benchmark in the parent", memcpy / 1e6
	printf "%-46s %9.2f ms\n", "CopyFrom 8 MB into an Array, parent", copyfrom / 1e6
	printf "\nlocked increment speed-up over Python: %.1fx (target >= 30x)\n", py_locked / go_locked
}' "$out"

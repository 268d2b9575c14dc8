#!/usr/bin/env bash
# Compares procshare's shm Value/Array with Python's multiprocessing.Value
# and Array, in one invocation, on this machine:
#
#   bash bench/shm/run.sh            (from the repository root)
#   ROUNDS=5 BENCHTIME=2s PY=python3.12 bash bench/shm/run.sh
#
# It runs, ROUNDS times (default 3) and interleaved so that both sides see
# the same machine load, the Go benchmarks of ./shm and
# bench/shm/py_bench.py, then prints the median of each figure and the
# ratios: locked increment, atomic add and the
# two-process contended increment against Python's locked increment, and
# the 8 MB Array write from a child against Go's memcpy of 8 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."

BENCHTIME=${BENCHTIME:-1s}
ROUNDS=${ROUNDS:-3}
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
go test -c -o "$out.test" ./shm
gcc -O2 -o "$out.c" bench/shm/atomic_add.c
trap 'rm -f "$out" "$out.test" "$out.c"' EXIT
for round in $(seq "$ROUNDS"); do
	echo "## round $round"
	(cd shm && "$out.test" -test.run '^$' -test.benchtime "$BENCHTIME" \
		-test.bench '^Benchmark(LockedIncrement|AtomicAdd|RawAtomicAdd|ContendedIncrement2Proc|ArrayWriteFromChild|Memcpy8MB|ArrayCopyFrom)$') |
		grep '^Benchmark' | tee -a "$out"
	"$PY" bench/shm/py_bench.py | tee -a "$out"
	"$out.c" | tee -a "$out"
done

awk '
function put(k, v) { n[k]++; val[k, n[k]] = v }
function med(k,    i, j, t, m, a) {
	m = n[k]
	if (m == 0) return 0
	for (i = 1; i <= m; i++) a[i] = val[k, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
function metric(k, unit,    i) { for (i = 1; i <= NF; i++) if ($i == unit) put(k, $(i-1)) }
/^BenchmarkLockedIncrement-/          { put("go_locked", $3) }
/^BenchmarkAtomicAdd\/int64-/         { put("go_add", $3) }
/^BenchmarkAtomicAdd\/int32-/         { put("go_add32", $3) }
/^c_atomic_add_int64/                 { put("c_add", $2) }
/^c_atomic_add_int32/                 { put("c_add32", $2) }
/^BenchmarkRawAtomicAdd-/             { put("raw_add", $3) }
/^BenchmarkContendedIncrement2Proc-/  { metric("go_cont", "ns/incr") }
/^BenchmarkArrayWriteFromChild-/      { metric("go_cold", "cold-ns"); metric("go_warm", "warm-ns"); metric("child_memcpy", "memcpy-ns") }
/^BenchmarkMemcpy8MB-/                { put("memcpy", $3) }
/^BenchmarkArrayCopyFrom-/            { put("copyfrom", $3) }
/^py_/                                { put($1, $2) }
END {
	go_locked = med("go_locked"); go_add = med("go_add"); raw_add = med("raw_add"); go_cont = med("go_cont")
	go_cold = med("go_cold"); go_warm = med("go_warm"); child_memcpy = med("child_memcpy")
	memcpy = med("memcpy"); copyfrom = med("copyfrom")
	go_add32 = med("go_add32"); c_add = med("c_add"); c_add32 = med("c_add32")
	py_locked = med("py_locked_incr"); py_cont = med("py_contended_incr_2proc")
	py_cold = med("py_array_write_child_cold"); py_warm = med("py_array_write_child_warm")
	printf "\nmedians of %d rounds\n", n["go_locked"]
	printf "%-46s %12s %12s %9s\n", "figure", "Go", "Python", "Py/Go"
	printf "%-46s %9.1f ns %9.1f ns %8.1fx\n", "locked increment (1 process)", go_locked, py_locked, py_locked / go_locked
	printf "%-46s %9.1f ns %9.1f ns %8.1fx\n", "atomic add vs Python locked increment", go_add, py_locked, py_locked / go_add
	printf "%-46s %9.1f ns %9.1f ns %8.1fx\n", "2-process contended increment (per incr)", go_cont, py_cont, py_cont / go_cont
	printf "%-46s %9.2f ms %9.2f ms %8.1fx\n", "1e6 float64 written from a child, warm", go_warm / 1e6, py_warm / 1e6, py_warm / go_warm
	printf "%-46s %9.2f ms %9.2f ms %8.1fx\n", "1e6 float64 written from a child, cold", go_cold / 1e6, py_cold / 1e6, py_cold / go_cold
	printf "\nfloors (same run)\n"
	printf "%-46s %9.1f ns   Add/raw %.2fx, locked incr/raw %.2fx\n", "raw sync/atomic add on a Go variable", raw_add, go_add / raw_add, go_locked / raw_add
	printf "%-46s %9.1f ns   Value[int64].Add %.1f ns = %.2fx (target <= 1.2x)\n", "C __atomic_add_fetch int64, shared page", c_add, go_add, go_add / c_add
	printf "%-46s %9.1f ns   Value[int32].Add %.1f ns = %.2fx (target <= 1.2x)\n", "C __atomic_add_fetch int32, shared page", c_add32, go_add32, go_add32 / c_add32
	printf "%-46s %9.2f ms   child write (warm)/memcpy %.2fx (target <= 2x)\n", "memcpy 8 MB in the same child (median)", child_memcpy / 1e6, go_warm / child_memcpy
	printf "%-46s %9.2f ms\n", "memcpy 8 MB, Go benchmark in the parent", memcpy / 1e6
	printf "%-46s %9.2f ms\n", "CopyFrom 8 MB into an Array, parent", copyfrom / 1e6
	printf "\nlocked increment speed-up over Python: %.1fx (target >= 30x)\n", py_locked / go_locked
}' "$out"

#!/usr/bin/env bash
# Compares procshare.Pool with Python's multiprocessing.Pool, in one
# invocation, on this machine:
#
#   bash bench/pool/run.sh            (from the repository root)
#   ROUNDS=7 REPS=50 PY=python3.12 bash bench/pool/run.sh
#
# Both sides map a trivial task (square an int) over 10,000 inputs on two
# workers, with the default chunk size (Python's rule, which Pool.Map
# follows: 1,250), Python with the fork start method. It runs, ROUNDS times
# (default 5) and interleaved so that both sides see the same machine load,
# BenchmarkPoolMap (REPS ops per figure) and bench/pool/py_pool.py (the
# median of REPS maps per figure), then prints the median of each figure
# and the ratios:
#   warm             a Map on a pool whose workers are up
#   start-map-close  start the pool, Map, close it and reap the workers
# and the CPU time of the parent and of the workers per warm Map.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
REPS=${REPS:-30}
if [ -z "${PY:-}" ]; then
	if command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.12.1 >/dev/null 2>&1; then
		PY="$(pyenv prefix 3.12.1)/bin/python3"
	else
		PY=python3
	fi
fi
out=$(mktemp)
trap 'rm -f "$out" "$out.test"' EXIT

echo "# machine: $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg); go: $(go version | cut -d' ' -f3); python: $("$PY" -c 'import platform; print(platform.python_version())')"
go test -c -o "$out.test" .
for round in $(seq "$ROUNDS"); do
	echo "## round $round"
	"$out.test" -test.run '^$' -test.bench '^BenchmarkPoolMap$' -test.benchtime "${REPS}x" |
		grep '^BenchmarkPoolMap' | tee -a "$out"
	"$PY" bench/pool/py_pool.py "$REPS" | tee -a "$out"
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
/^BenchmarkPoolMap\/warm-/            { put("go_warm", $3); metric("go_warm_parent", "parent-cpu-ms/op"); metric("go_warm_workers", "workers-cpu-ms/op") }
/^BenchmarkPoolMap\/start-map-close-/ { put("go_start", $3) }
/^py_pool_map_warm/                   { put("py_warm", $2) }
/^py_pool_warm_parent_cpu_ms/         { put("py_warm_parent", $2) }
/^py_pool_warm_workers_cpu_ms/        { put("py_warm_workers", $2) }
/^py_pool_start_map_close/            { put("py_start", $2) }
END {
	go_warm = med("go_warm"); py_warm = med("py_warm"); go_start = med("go_start"); py_start = med("py_start")
	printf "\nmedians of %d rounds, Map of 10,000 tasks on 2 workers\n", n["go_warm"]
	printf "%-36s %10s %10s %8s\n", "figure", "Go", "Python", "Py/Go"
	printf "%-36s %7.2f ms %7.2f ms %7.2fx\n", "warm pool", go_warm / 1e6, py_warm / 1e6, py_warm / go_warm
	printf "%-36s %7.2f ms %7.2f ms %7.2fx\n", "start, map, close (workers reaped)", go_start / 1e6, py_start / 1e6, py_start / go_start
	printf "\nCPU per warm Map (workers from /proc, 10 ms ticks)\n"
	printf "%-36s %7.2f ms %7.2f ms %7.2fx\n", "parent", med("go_warm_parent"), med("py_warm_parent"), med("py_warm_parent") / med("go_warm_parent")
	printf "%-36s %7.2f ms %7.2f ms %7.2fx\n", "two workers", med("go_warm_workers"), med("py_warm_workers"), med("py_warm_workers") / med("go_warm_workers")
}' "$out"

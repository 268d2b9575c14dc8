#!/usr/bin/env bash
# Manager client benchmarks, in one run, with the ratios the project's
# targets are about (docs/bench/manager-client.md records a run):
#
#   1. Go client round trip (dict get, 1 goroutine, procshare's server) vs a
#      raw Unix-socket ping-pong between two Go processes
#      (internal/wire BenchmarkPingPongUnixRaw), same `go test` invocation.
#      Target: <= 1.3x.
#   2. Go client vs Python's stdlib client, both against CPython's own
#      SyncManager server (get, locked increment, put+get). Target: >= 2x.
#   3. 16 goroutines sharing one Go client (procshare's server) vs
#      `redis-benchmark -c 1 -P 16 -t get` (one connection, 16 requests in
#      flight, like the 16 goroutines) and with its default 50 connections
#      (800 in flight) against redis-server on a Unix
#      socket (installed with apt-get if missing). Target: >= 1x.
#   4. Seed program 3 (100 processes add 1 under a lock): Go
#      (examples/seed -program 3) vs Python's Manager() version
#      (seed_manager.py). Target: <= 150 ms and >= 2x faster.
#   5. Value.Add (one round trip, ps_add) vs the locked increment (4).
#
#   bash bench/manager/run.sh
#   PY=python3.12 BENCHTIME=2s REPS=7 bash bench/manager/run.sh
#
# PY         CPython for the CPython server and the Python client (default:
#            the newest pyenv interpreter, else python3)
# BENCHTIME  go test -benchtime (default 1s); COUNT go test -count (default 3,
#            medians are shown)
# REPS       runs of each seed program (default 5, median shown)
# SECS       seconds per Python-client measurement (default 2)
# NOREDIS=1  skip redis
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/bench/manager

PY=${PY:-}
if [ -z "$PY" ]; then
	newest=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.* 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$newest" ] && [ -x "$newest/bin/python3" ]; then PY=$newest/bin/python3; else PY=python3; fi
fi
BENCHTIME=${BENCHTIME:-1s}
COUNT=${COUNT:-3}
REPS=${REPS:-5}
SECS=${SECS:-2}

tmp=$(mktemp -d /tmp/psclbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f", a / b }'; }

echo "# manager client benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $($PY -V 2>&1)"
echo

# --- Go benchmarks: wire ping-pong and the client, one go test invocation ---
PROCSHARE_BENCH_PY=$PY go test -run '^$' \
	-bench '^(BenchmarkPingPongUnixRaw|BenchmarkClientGet|BenchmarkClientGetParallel16|BenchmarkValueAdd|BenchmarkLockedIncrement|BenchmarkQueuePutGet|BenchmarkQueueBatch16)$' \
	-benchtime "$BENCHTIME" -count "$COUNT" ./internal/wire ./manager >"$tmp/go.txt"
ns() { # ns NAME: median ns/op of benchmark NAME (without -N suffix)
	awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") print $i }' "$tmp/go.txt" | median
}
ping=$(ns BenchmarkPingPongUnixRaw)
get_ps=$(ns BenchmarkClientGet/procshare)
get_pp=$(ns BenchmarkClientGet/procshare-proc)
par_pp=$(ns BenchmarkClientGetParallel16/procshare-proc)
inc_pp=$(ns BenchmarkLockedIncrement/procshare-proc)
get_py=$(ns BenchmarkClientGet/cpython)
par_ps=$(ns BenchmarkClientGetParallel16/procshare)
par_py=$(ns BenchmarkClientGetParallel16/cpython)
add=$(ns BenchmarkValueAdd)
inc_ps=$(ns BenchmarkLockedIncrement/procshare)
inc_py=$(ns BenchmarkLockedIncrement/cpython)
pg_ps=$(ns BenchmarkQueuePutGet/procshare)
pg_py=$(ns BenchmarkQueuePutGet/cpython)
batch=$(ns BenchmarkQueueBatch16)
ops() { awk -v x="$1" 'BEGIN { if (x == "nan" || x == 0) print "nan"; else printf "%.0f", 1e9 / x }'; }

# --- Python client against CPython's server ---
sock=$tmp/cpy.sock
key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The server exits when its stdin ends: give it a FIFO that this script
# holds open (never /dev/zero: its stdin watcher would read it forever and
# keep a CPU busy, which changes every figure taken against that server).
mkfifo "$tmp/cpy.in"
exec 8<>"$tmp/cpy.in"
"$PY" "$root/manager/testdata/client_cpython_manager.py" "$sock" "$key" >"$tmp/cpy.out" <"$tmp/cpy.in" &
cpy_pid=$!
pids+=($cpy_pid)
for _ in $(seq 200); do grep -q READY "$tmp/cpy.out" 2>/dev/null && break; sleep 0.05; done
"$PY" "$here/py_client.py" "$sock" "$key" "$SECS" >"$tmp/py.txt"
kill "$cpy_pid" # nothing else may run during the next measurements
wait "$cpy_pid" 2>/dev/null || true
pyops() { awk -v n="$1" '$1 == n { print $2 }' "$tmp/py.txt"; }
py_get=$(pyops get)
py_inc=$(pyops locked)
py_pg=$(pyops putget)

# --- redis ---
redis=nan
redis50=nan
if [ -z "${NOREDIS:-}" ]; then
	if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
		echo "(installing redis-server with apt-get)" >&2
		(apt-get install -y redis-server >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y redis-server >/dev/null 2>&1; }) || true
	fi
	if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
		redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
		pids+=($!)
		for _ in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
		redisget() {
			for _ in $(seq "$COUNT"); do
				redis-benchmark -s "$tmp/redis.sock" "$@" -P 16 -t get -n 1000000 -q 2>/dev/null |
					tr '\r' '\n' | awk '/^GET:/ { print $2 }' | tail -1
			done | median
		}
		redis=$(redisget -c 1)
		redis50=$(redisget -c 50)
		redis-cli -s "$tmp/redis.sock" shutdown nosave >/dev/null 2>&1 || true
	else
		echo "(redis-server unavailable: skipped)" >&2
	fi
fi

# --- seed program 3: Go vs Python ---
go build -o "$tmp/seed" ./examples/seed
wall() { # wall CMD...: wall-clock milliseconds of one run
	local t0 t1
	t0=$(date +%s%N)
	"$@" >"$tmp/seed.out" 2>&1
	t1=$(date +%s%N)
	tail -1 "$tmp/seed.out" | grep -qx 100 || { echo "run.sh: $* printed $(cat "$tmp/seed.out")" >&2; exit 1; }
	echo $(((t1 - t0) / 1000000))
}
seed_go=$(for _ in $(seq "$REPS"); do wall "$tmp/seed" -program 3; done | median)
seed_py=$(for _ in $(seq "$REPS"); do wall "$PY" "$here/seed_manager.py"; done | median)

cat <<TABLE
| what | figure | compared with | ratio (target) |
|---|---|---|---|
| Go client dict get, 1 goroutine, procshare server in another process | $get_pp ns | raw Unix ping-pong between two Go processes $ping ns | $(ratio "$get_pp" "$ping")x (<= 1.3x) |
| Go client dict get, 1 goroutine, procshare server embedded | $get_ps ns | raw Unix ping-pong $ping ns | $(ratio "$get_ps" "$ping")x |
| Go client dict get, CPython server | $(ops "$get_py") ops/s | Python client $py_get ops/s | $(ratio "$(ops "$get_py")" "$py_get")x (>= 2x) |
| Go client locked increment, CPython server | $(ops "$inc_py") ops/s | Python client $py_inc ops/s | $(ratio "$(ops "$inc_py")" "$py_inc")x (>= 2x) |
| Go client queue put+get, CPython server | $(ops "$pg_py") ops/s | Python client $py_pg ops/s | $(ratio "$(ops "$pg_py")" "$py_pg")x (>= 2x) |
| Go client dict get, 16 goroutines, procshare server in another process | $(ops "$par_pp") ops/s | redis-benchmark -c 1 -P 16 -t get (16 in flight) $redis ops/s | $(ratio "$(ops "$par_pp")" "$redis")x (>= 1x) |
| Go client dict get, 16 goroutines, procshare server in another process | $(ops "$par_pp") ops/s | redis-benchmark -c 50 -P 16 -t get (800 in flight) $redis50 ops/s | $(ratio "$(ops "$par_pp")" "$redis50")x |
| Go client dict get, 16 goroutines, procshare server embedded | $(ops "$par_ps") ops/s | redis-benchmark -c 1 -P 16 -t get $redis ops/s | $(ratio "$(ops "$par_ps")" "$redis")x |
| Go client dict get, 16 goroutines, CPython server | $(ops "$par_py") ops/s | Python client (one thread) $py_get ops/s | $(ratio "$(ops "$par_py")" "$py_get")x |
| Queue PutMany/GetMany 16, per item, procshare | $(ops "$batch") items/s | redis -c 1 -P 16 $redis ops/s | $(ratio "$(ops "$batch")" "$redis")x |
| seed program 3, Go (100 processes) | $seed_go ms | Python Manager() version $seed_py ms | $(ratio "$seed_py" "$seed_go")x faster (<= 150 ms, >= 2x) |
| Value.Add (ps_add), procshare embedded | $add ns | locked increment $inc_ps ns (4 round trips) | $(ratio "$inc_ps" "$add")x faster |
| locked increment, procshare in another process | $inc_pp ns | | |
| queue put+get, procshare | $pg_ps ns | | |
TABLE
echo
echo "raw go test output:"
grep -E '^Benchmark' "$tmp/go.txt"

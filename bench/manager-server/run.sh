#!/usr/bin/env bash
# Manager server benchmark: CPython clients' one-round-trip calls per second
# against procshare's server (`procshare serve`) and against CPython's own
# SyncManager server (same Python version, same transport), with 1 and 2
# client processes, and each server's CPU time per call (utime+stime from
# /proc/PID/stat). Prints a markdown table; docs/bench/manager-server.md
# records a run.
#
#   bash bench/manager-server/run.sh            # defaults below
#   PY=python3.13 SECS=2 REPS=5 TRANSPORTS=unix bash bench/manager-server/run.sh
#
# PY         client and CPython-server interpreter (default: pyenv 3.12)
# SECS       seconds per measurement (default 1)
# REPS       measurements per (op, procs, transport, server); the table
#            shows medians, the two servers alternating (default 3)
# PROCS      client process counts (default "1 2")
# TRANSPORTS "unix tcp" (default)
# OPS        comma-separated (default: all of bench_client.py's basic ops)
# GOMAXPROCS passed to `procshare serve` when set
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/bench/manager-server

PY=${PY:-}
if [ -z "$PY" ]; then
	if command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.12.1 >/dev/null 2>&1; then
		PY=$(pyenv prefix 3.12.1)/bin/python3
	else
		PY=python3
	fi
fi
SECS=${SECS:-1}
REPS=${REPS:-3}
PROCS=${PROCS:-"1 2"}
TRANSPORTS=${TRANSPORTS:-"unix tcp"}
OPS=${OPS:-dict_get,dict_set,list_append,queue_put_get,event_is_set,lock_acquire_release}

tmp=$(mktemp -d /tmp/psbench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/procshare" ./cmd/procshare
gcc -O2 -pthread -o "$tmp/echo_floor" "$here/echo_floor.c"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/key")

# wait_line FILE PATTERN: waits until FILE has a line matching PATTERN
wait_line() {
	for _ in $(seq 200); do
		if grep -Eq "$2" "$1" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "run.sh: server did not start ($1)" >&2
	return 1
}

# The procshare server reads the key file's bytes: the key is the 64 hex
# characters themselves, so hand CPython's server their hex too.
keyhex_of_file=$(od -An -tx1 "$tmp/key" | tr -d ' \n')

results=$tmp/results.jsonl
: >"$results"
for transport in $TRANSPORTS; do
	case $transport in
	unix)
		go_addr=$tmp/go.sock
		py_addr=$tmp/py.sock
		;;
	tcp)
		go_addr=127.0.0.1:0
		py_addr=127.0.0.1:0
		;;
	esac
	rm -f "$tmp/go.addr"
	"$tmp/procshare" serve --address "$go_addr" --authkey-file "$tmp/key" --addr-file "$tmp/go.addr" \
		--expose get_queue=Queue >"$tmp/go.out" 2>"$tmp/go.err" &
	go_pid=$!
	pids+=("$go_pid")
	"$PY" "$root/manager/interop/testdata/cpython_server.py" --address "$py_addr" \
		--authkey-hex "$keyhex_of_file" >"$tmp/py.out" 2>"$tmp/py.err" &
	py_pid=$!
	pids+=("$py_pid")
	wait_line "$tmp/py.out" '^READY '
	py_addr=$(sed -n 's/^READY //p' "$tmp/py.out")
	wait_line "$tmp/go.addr" '.'
	go_addr=$(cat "$tmp/go.addr")
	for procs in $PROCS; do
		for op in ${OPS//,/ }; do
			for _ in $(seq "$REPS"); do
				for server in cpython procshare; do
					if [ $server = cpython ]; then addr=$py_addr pid=$py_pid; else addr=$go_addr pid=$go_pid; fi
					"$PY" "$here/bench_client.py" --address "$addr" --authkey-hex "$keyhex_of_file" \
						--server-pid "$pid" --procs "$procs" --seconds "$SECS" --ops "$op" |
						sed "s/^{/{\"server\": \"$server\", \"transport\": \"$transport\", /" >>"$results"
				done
			done
		done
	done
	kill "$go_pid" "$py_pid"
	wait "$go_pid" "$py_pid" 2>/dev/null || true

	# The floor: the C echo server, same clients, same transport.
	case $transport in
	unix) "$tmp/echo_floor" unix "$tmp/echo.sock" >"$tmp/echo.out" 2>&1 & ;;
	tcp) "$tmp/echo_floor" tcp 0 >"$tmp/echo.out" 2>&1 & ;;
	esac
	echo_pid=$!
	pids+=("$echo_pid")
	wait_line "$tmp/echo.out" '^READY '
	echo_addr=$(sed -n 's/^READY //p' "$tmp/echo.out")
	for procs in $PROCS; do
		for _ in $(seq "$REPS"); do
			"$PY" "$here/bench_client.py" --address "$echo_addr" --authkey-hex "$keyhex_of_file" \
				--server-pid "$echo_pid" --procs "$procs" --seconds "$SECS" --ops echo |
				sed "s/^{/{\"server\": \"c-echo\", \"transport\": \"$transport\", /" >>"$results"
		done
	done
	kill "$echo_pid"
	wait "$echo_pid" 2>/dev/null || true
done

"$PY" - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    groups.setdefault((r['transport'], r['procs'], r['op'], r['server']), []).append(r)
print('client: CPython %s; medians; calls/s = round trips per second of all client processes;'
      ' CPU = server utime+stime per call' % rows[0]['python'])
print()
print('| transport | clients | op | CPython calls/s | procshare calls/s | ratio | CPython CPU µs/call (user+sys) | procshare CPU µs/call (user+sys) | CPU ratio |')
print('|---|---|---|---|---|---|---|---|---|')
keys = sorted({k[:3] for k in groups if k[3] != 'c-echo'}, key=lambda k: (k[0] != 'unix', k[1], k[2]))
for t, p, op in keys:
    c, g = groups[(t, p, op, 'cpython')], groups[(t, p, op, 'procshare')]
    cr = statistics.median(x['calls_per_s'] for x in c)
    gr = statistics.median(x['calls_per_s'] for x in g)
    def cpu(rs):
        m = lambda k: statistics.median(x[k] for x in rs)
        return m('server_cpu_us_per_call'), m('server_user_us_per_call'), m('server_sys_us_per_call')
    cc, gc = cpu(c), cpu(g)
    print('| %s | %d | %s | %d | %d | %.2f× | %.1f (%.1f+%.1f) | %.1f (%.1f+%.1f) | %.1f× |' % (
        t, p, op, cr, gr, gr / cr, cc[0], cc[1], cc[2], gc[0], gc[1], gc[2],
        cc[0] / gc[0] if gc[0] else float('inf')))
print()
print('The floor: a C echo server (echo_floor.c, one blocking thread per connection, no work),')
print('the same client processes sending 64-byte frames; its CPU per round trip bounds what any')
print('server can reach on this machine, and so the CPU ratio any server can have against CPython.')
print()
print('| transport | clients | C echo round trips/s | C echo CPU µs/rt (user+sys) | CPython dict_get CPU / floor | procshare dict_get CPU / floor |')
print('|---|---|---|---|---|---|')
m = lambda rs, k: statistics.median(x[k] for x in rs)
for t, p in sorted({k[:2] for k in groups if k[3] == 'c-echo'}, key=lambda k: (k[0] != 'unix', k[1])):
    e = groups[(t, p, 'echo', 'c-echo')]
    ec = m(e, 'server_cpu_us_per_call')
    row = '| %s | %d | %d | %.1f (%.1f+%.1f) |' % (t, p, m(e, 'calls_per_s'), ec,
                                                   m(e, 'server_user_us_per_call'), m(e, 'server_sys_us_per_call'))
    for server in ('cpython', 'procshare'):
        g = groups.get((t, p, 'dict_get', server))
        row += (' %.1f× |' % (m(g, 'server_cpu_us_per_call') / ec)) if g and ec else ' – |'
    print(row)
EOF

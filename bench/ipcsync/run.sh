#!/usr/bin/env bash
# Compares ipcsync.Mutex with the C floor — a process-shared robust pthread
# mutex in MAP_SHARED memory (pthread_mutex.c) — in the same run, rounds
# interleaved, and prints the medians and the Go/C ratios.
#
#   bash bench/ipcsync/run.sh            # ROUNDS=5 by default
#   ROUNDS=9 bash bench/ipcsync/run.sh
#
# C is the robust mutex (the target: Go ≤ 2× C); c-plain, a process-shared
# mutex that is not robust, is shown for reference.
# Rows: LockIncUnlock (one process, uncontended) and LockIncUnlock2Proc (this
# process's time per operation while a second process hammers the same lock).
# go = futex build, go-poll = the portable polling build (-tags procshare_nofutex).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-5}
out=bench/out/ipcsync
mkdir -p "$out"
gcc -O2 -Wall -pthread -o "$out/pthread_mutex" bench/ipcsync/pthread_mutex.c
go test -c -o "$out/futex.test" ./ipcsync/
go test -c -tags procshare_nofutex -o "$out/poll.test" ./ipcsync/
res="$out/results.txt"
: >"$res"
bench='BenchmarkMutex/(LockUnlock|LockIncUnlock|LockIncUnlock2Proc)$'
for _ in $(seq "$rounds"); do
	"$out/pthread_mutex" 10000000 | awk '{print $1, $2} $5 == "peer-ops/op" {print $1 "/peer", $4}' >>"$res"
	"$out/pthread_mutex" 10000000 plain | awk '{print $1, $2} $5 == "peer-ops/op" {print $1 "/peer", $4}' >>"$res"
	"$out/futex.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1s |
		awk '/^Benchmark/ {n=$1; sub(/^BenchmarkMutex\//, "go/", n); sub(/-[0-9]+$/, "", n); print n, $3; if ($6 == "peer-ops/op") print n "/peer", $5}' >>"$res"
	"$out/poll.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1s |
		awk '/^Benchmark/ {n=$1; sub(/^BenchmarkMutex\//, "go-poll/", n); sub(/-[0-9]+$/, "", n); print n, $3; if ($6 == "peer-ops/op") print n "/peer", $5}' >>"$res"
done
median() { grep "^$1 " "$res" | awk '{print $2}' | sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
printf '%-20s %9s %9s %9s %9s %7s %7s %9s\n' op "C-robust" "C-plain" "Go" "Go-poll" "Go/C" "poll/C" "Go/plain"
for op in LockIncUnlock LockIncUnlock2Proc; do
	c=$(median "c/$op")
	cp=$(median "c-plain/$op")
	g=$(median "go/$op")
	p=$(median "go-poll/$op")
	printf '%-20s %9s %9s %9s %9s %7s %7s %9s\n' "$op" "$c" "$cp" "$g" "$p" \
		"$(ratio "$g" "$c")" "$(ratio "$p" "$c")" "$(ratio "$g" "$cp")"
done
op=LockIncUnlock2Proc
printf '%-20s %9s %9s %9s %9s   (operations the peer process did per operation of the measured one: 1 = fair)\n' "peer-ops/op" \
	"$(median "c/$op/peer")" "$(median "c-plain/$op/peer")" "$(median "go/$op/peer")" "$(median "go-poll/$op/peer")"
echo "(ns/op, medians; C-robust is the target's reference: Go <= 2x C-robust)"
g=$(median go/LockUnlock)
echo "go/LockUnlock (no increment): $g ns/op; rounds: $rounds; raw: $res"

#!/usr/bin/env bash
# Compares ipcsync.Mutex with the C floor — a process-shared robust pthread
# mutex in MAP_SHARED memory (pthread_mutex.c) — in the same run, rounds
# interleaved, and prints the medians and the Go/C ratios.
#
#   bash bench/ipcsync/run.sh            # ROUNDS=5 by default
#   ROUNDS=9 bash bench/ipcsync/run.sh
#
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
	"$out/pthread_mutex" 10000000 | awk '{print $1, $2}' >>"$res"
	"$out/futex.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1s |
		awk '/^Benchmark/ {n=$1; sub(/^BenchmarkMutex\//, "go/", n); sub(/-[0-9]+$/, "", n); print n, $3}' >>"$res"
	"$out/poll.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1s |
		awk '/^Benchmark/ {n=$1; sub(/^BenchmarkMutex\//, "go-poll/", n); sub(/-[0-9]+$/, "", n); print n, $3}' >>"$res"
done
median() { grep "^$1 " "$res" | awk '{print $2}' | sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
printf '%-22s %12s %12s %12s %10s %10s\n' op "C ns/op" "Go ns/op" "Go-poll ns/op" "Go/C" "poll/C"
for op in LockIncUnlock LockIncUnlock2Proc; do
	c=$(median "c/$op")
	g=$(median "go/$op")
	p=$(median "go-poll/$op")
	printf '%-22s %12s %12s %12s %10s %10s\n' "$op" "$c" "$g" "$p" \
		"$(awk -v a="$g" -v b="$c" 'BEGIN {printf "%.2f", a/b}')" \
		"$(awk -v a="$p" -v b="$c" 'BEGIN {printf "%.2f", a/b}')"
done
g=$(median go/LockUnlock)
echo "go/LockUnlock (no increment): $g ns/op; rounds: $rounds; raw: $res"

package manager_test

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
)

// Client benchmarks, each against procshare's server (embedded in the
// benchmark process, and "procshare-proc": in a child process, as a raw
// ping-pong's peer is) and CPython's SyncManager (Unix socket; the interpreter is
// $PROCSHARE_BENCH_PY or the newest pyenv one). bench/manager/run.sh runs
// them next to the raw socket ping-pong, a Python client and redis, and
// prints the ratios.

// benchTargets returns procshare's server and one CPython manager.
func benchTargets(b *testing.B) []target {
	tgs := []target{{name: "procshare"}, {name: "procshare-proc", child: true}}
	if path := os.Getenv("PROCSHARE_BENCH_PY"); path != "" {
		tgs = append(tgs, target{name: "cpython", py: &pyenv.Interpreter{Path: path, Version: "bench"}})
	} else if pys := pyenv.Interpreters(); len(pys) > 0 {
		py := pys[len(pys)-1]
		tgs = append(tgs, target{name: "cpython", py: &py})
	}
	return tgs
}

func forEachBenchTarget(b *testing.B, f func(b *testing.B, c *manager.Client)) {
	for _, tg := range benchTargets(b) {
		b.Run(tg.name, func(b *testing.B) { f(b, dialTarget(b, tg, nil)) })
	}
}

// BenchmarkClientGet is one round trip (dict __getitem__) from one
// goroutine: compare with internal/wire's BenchmarkPingPongUnixRaw.
func BenchmarkClientGet(b *testing.B) {
	forEachBenchTarget(b, func(b *testing.B, c *manager.Client) {
		ctx := context.Background()
		d, err := c.NewDict(ctx, map[string]int{"k": 1})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClientGetParallel16 is the same call from 16 goroutines sharing
// one client (pipelined on its connections): ns/op is the inverse of the
// throughput.
func BenchmarkClientGetParallel16(b *testing.B) {
	forEachBenchTarget(b, func(b *testing.B, c *manager.Client) {
		ctx := context.Background()
		d, err := c.NewDict(ctx, map[string]int{"k": 1})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		b.ReportAllocs()
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := d.Get(ctx, "k"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkValueAdd is an atomic increment in one round trip (procshare
// extension ps_add).
func BenchmarkValueAdd(b *testing.B) {
	c := dialTarget(b, target{name: "procshare"}, nil)
	ctx := context.Background()
	v, err := manager.NewValue(ctx, c, "i", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Add(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLockedIncrement is the seed's `with lock: v.value += 1`: four
// round trips (acquire, get, set, release).
func BenchmarkLockedIncrement(b *testing.B) {
	forEachBenchTarget(b, func(b *testing.B, c *manager.Client) {
		ctx := context.Background()
		v, err := manager.NewValue(ctx, c, "i", 0)
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		l, err := c.NewLock(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := l.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			n, err := v.Get(ctx)
			if err == nil {
				err = v.Set(ctx, n+1)
			}
			if err == nil {
				err = l.Unlock(ctx)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkQueuePutGet is a put and a get of one item from one goroutine.
func BenchmarkQueuePutGet(b *testing.B) {
	forEachBenchTarget(b, func(b *testing.B, c *manager.Client) {
		ctx := context.Background()
		q, err := c.NewQueue(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := q.Put(ctx, 1); err != nil {
				b.Fatal(err)
			}
			if _, err := q.Get(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkQueueBatch16 moves 16 items per PutMany and GetMany (procshare
// extensions); ns/op is per item.
func BenchmarkQueueBatch16(b *testing.B) {
	c := dialTarget(b, target{name: "procshare"}, nil)
	ctx := context.Background()
	q, err := c.NewQueue(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	items := make([]int, 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%16 != 0 {
			continue
		}
		if err := q.PutMany(ctx, items); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < 16; {
			vs, err := q.GetMany(ctx, 16-got)
			if err != nil {
				b.Fatal(err)
			}
			got += len(vs)
		}
	}
}

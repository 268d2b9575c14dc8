package ipcsync_test

import (
	"context"
	"testing"
)

func init() {
	roles["hammer"] = func(ctx context.Context, s *shared, args []int) error {
		s.ready.Add(1)
		var n int64 // counted locally, like the C peer, to keep the line quiet
		for s.stop.Load() == 0 {
			if err := s.mu.Lock(ctx); err != nil {
				return err
			}
			s.counter++
			s.mu.Unlock()
			n++
		}
		s.done.Store(n)
		return nil
	}
}

// BenchmarkMutex measures the Mutex on a MAP_SHARED page. Compare with
// bench/ipcsync/run.sh, which runs the same operations on a process-shared
// robust pthread mutex in C.
func BenchmarkMutex(b *testing.B) {
	ctx := context.Background()
	b.Run("LockUnlock", func(b *testing.B) {
		s, _ := newShared(b)
		b.ReportAllocs()
		for b.Loop() {
			s.mu.Lock(ctx)
			s.mu.Unlock()
		}
	})
	b.Run("LockIncUnlock", func(b *testing.B) {
		s, _ := newShared(b)
		b.ReportAllocs()
		for b.Loop() {
			s.mu.Lock(ctx)
			s.counter++
			s.mu.Unlock()
		}
	})
	// 2Proc: a re-executed peer hammers the same lock (lock, increment,
	// unlock) for the whole run; ns/op is the time per operation of this
	// process, peer-ops/op how many the peer did meanwhile.
	b.Run("LockIncUnlock2Proc", func(b *testing.B) {
		s, path := newShared(b)
		peer := spawn(b, path, "hammer")
		waitFor(b, "peer", func() bool { return s.ready.Load() == 1 })
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			s.mu.Lock(ctx)
			s.counter++
			s.mu.Unlock()
		}
		b.StopTimer()
		s.stop.Store(1)
		peer.wait(b)
		b.ReportMetric(float64(s.done.Load())/float64(b.N), "peer-ops/op")
		if s.counter != uint64(b.N)+uint64(s.done.Load()) {
			b.Fatalf("counter %d, want %d", s.counter, uint64(b.N)+uint64(s.done.Load()))
		}
	})
	b.Run("Goroutines", func(b *testing.B) {
		s, _ := newShared(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.mu.Lock(ctx)
				s.counter++
				s.mu.Unlock()
			}
		})
	})
}

func BenchmarkSemaphore(b *testing.B) {
	s, _ := newShared(b)
	s.sem.Init(1, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.sem.Acquire(ctx)
		s.sem.Release()
	}
}

func BenchmarkEventIsSet(b *testing.B) {
	s, _ := newShared(b)
	s.ev.Set()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.ev.Wait(ctx)
	}
}

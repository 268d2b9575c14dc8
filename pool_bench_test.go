//go:build unix

package procshare_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare"
)

// BenchmarkPoolMap is the figure bench/pool/run.sh sets against Python's
// multiprocessing.Pool(2).map: Map of 10,000 small tasks (square an int) on
// two workers, with the default chunk size (Python's rule: 1,250 here).
//
// warm maps on a pool started once; start-map-close starts the pool, maps
// and closes it (every worker reaped) in each op, as `with Pool(2) as p:
// p.map(...)` followed by join does.
func BenchmarkPoolMap(b *testing.B) {
	ins := make([]int, 10000)
	for i := range ins {
		ins[i] = i
	}
	check := func(b *testing.B, outs []int, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if len(outs) != len(ins) || outs[9999] != 9999*9999 {
			b.Fatalf("wrong results")
		}
	}
	cfg := &procshare.PoolConfig{Workers: 2}
	b.Run("warm", func(b *testing.B) {
		p, err := procshare.NewPool(bg, square, cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Map(bg, ins[:100]); err != nil { // the workers are up
			b.Fatal(err)
		}
		pids := procshare.PoolPids(p)
		before := procCPU(b, pids)
		benchCPU(b, func() {
			outs, err := p.Map(bg, ins)
			check(b, outs, err)
		})
		// The workers are not reaped yet: their CPU time comes from /proc.
		b.ReportMetric(float64(procCPU(b, pids)-before)/float64(time.Millisecond)/float64(b.N), "workers-cpu-ms/op")
	})
	b.Run("start-map-close", func(b *testing.B) {
		benchCPU(b, func() {
			p, err := procshare.NewPool(bg, square, cfg)
			if err != nil {
				b.Fatal(err)
			}
			outs, err := p.Map(bg, ins)
			check(b, outs, err)
			p.Close()
		})
	})
}

// procCPU returns the user+system CPU time of the processes pids, from
// /proc (in clock ticks of 10 ms: meaningful over many ops only).
func procCPU(b *testing.B, pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatal(err)
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		for _, f := range fields[11:13] { // utime, stime (fields 14 and 15)
			ticks, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += time.Duration(ticks) * 10 * time.Millisecond
		}
	}
	return total
}

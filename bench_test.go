//go:build unix

package procshare_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare"
)

// BenchmarkStartJoin100 starts 100 children running an empty function and
// joins them: the process part of the seed's 100-process program.
//
// Besides wall time per 100 children (ns/op), it reports the CPU time the
// parent and the children used per 100 children (parent-cpu-ms/op,
// children-cpu-ms/op), which a busy machine distorts much less.
//
// The exec case is the floor: the same binary started and waited for with
// os/exec alone, exiting as soon as it runs (see TestMain).
func BenchmarkStartJoin100(b *testing.B) {
	b.Run("exec", func(b *testing.B) {
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		cmds := make([]*exec.Cmd, 100)
		benchCPU(b, func() {
			for i := range cmds {
				cmds[i] = exec.Command(exe)
				cmds[i].Env = append(os.Environ(), envExitAtOnce+"=1")
				if err := cmds[i].Start(); err != nil {
					b.Fatal(err)
				}
			}
			for _, c := range cmds {
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	for _, bc := range []struct {
		name string
		cfg  procshare.Config
	}{
		{"plain", procshare.Config{}},
		{"daemon", procshare.Config{Daemon: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			procs := make([]*procshare.Process, 100)
			benchCPU(b, func() {
				for i := range procs {
					p, err := procshare.NewProcess(nothing, &bc.cfg)
					if err != nil {
						b.Fatal(err)
					}
					if err := p.Start(); err != nil {
						b.Fatal(err)
					}
					procs[i] = p
				}
				for _, p := range procs {
					if err := p.Join(bg); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchCPU runs op b.N times and reports the CPU time of this process and of
// its reaped children per op.
func benchCPU(b *testing.B, op func()) {
	b.ReportAllocs()
	self0, kids0 := rusage(syscall.RUSAGE_SELF), rusage(syscall.RUSAGE_CHILDREN)
	for b.Loop() {
		op()
	}
	self, kids := rusage(syscall.RUSAGE_SELF)-self0, rusage(syscall.RUSAGE_CHILDREN)-kids0
	b.ReportMetric(float64(self)/float64(time.Millisecond)/float64(b.N), "parent-cpu-ms/op")
	b.ReportMetric(float64(kids)/float64(time.Millisecond)/float64(b.N), "children-cpu-ms/op")
}

// rusage returns the user+system CPU time of who.
func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

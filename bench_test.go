package procshare_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/procshare/procshare"
)

// BenchmarkStartJoin100 starts 100 children running an empty function and
// joins them: the process part of the seed's 100-process program.
//
// The exec case is the floor: the same binary started and waited for with
// os/exec alone, exiting as soon as it runs.
func BenchmarkStartJoin100(b *testing.B) {
	b.Run("exec", func(b *testing.B) {
		b.ReportAllocs()
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		cmds := make([]*exec.Cmd, 100)
		for b.Loop() {
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
		}
	})
	for _, bc := range []struct {
		name string
		cfg  procshare.Config
	}{
		{"plain", procshare.Config{}},
		{"daemon", procshare.Config{Daemon: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			procs := make([]*procshare.Process, 100)
			for b.Loop() {
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
			}
		})
	}
}

// envExitAtOnce makes the test binary exit at once (see TestMain).
const envExitAtOnce = "PROCSHARE_TEST_EXIT_AT_ONCE"

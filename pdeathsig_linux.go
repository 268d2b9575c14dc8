package procshare

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Linux kills a daemon child when its parent dies through the parent-death
// signal (prctl PR_SET_PDEATHSIG), which Go's exec sets between fork and exec.
// The kernel sends it when the *thread* that forked the child exits, not the
// process, and the Go runtime may retire threads (a goroutine that exits
// while locked to its thread takes the thread with it). So daemon children
// are forked from one goroutine locked to an OS thread that never exits.

func sysProcAttr(daemon bool) *syscall.SysProcAttr {
	if !daemon || !usePdeathsig {
		return nil
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// usePdeathsig can be turned off by tests to exercise the portable pipe
// watch alone.
var usePdeathsig = true

type startReq struct {
	cmd  *exec.Cmd
	done chan error
}

var starter struct {
	once sync.Once
	reqs chan startReq
}

// startCmd starts cmd; daemon children are forked from the starter thread.
func startCmd(cmd *exec.Cmd, daemon bool) error {
	if cmd.SysProcAttr == nil || cmd.SysProcAttr.Pdeathsig == 0 {
		return cmd.Start()
	}
	starter.once.Do(func() {
		starter.reqs = make(chan startReq)
		go func() {
			runtime.LockOSThread() // and never unlock nor return
			for r := range starter.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	starter.reqs <- startReq{cmd, done}
	return <-done
}

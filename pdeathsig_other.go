//go:build !linux

package procshare

import (
	"os/exec"
	"syscall"
)

// Systems other than Linux have no parent-death signal: a daemon child
// relies on watching its control pipe for the end of file that the parent's
// death causes (see watchParent).

func sysProcAttr(daemon bool) *syscall.SysProcAttr { return nil }

// usePdeathsig has no effect here; it exists for tests shared with Linux.
var usePdeathsig = false

func startCmd(cmd *exec.Cmd, daemon bool) error { return cmd.Start() }

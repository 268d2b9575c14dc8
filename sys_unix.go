//go:build unix

package procshare

import (
	"os"
	"syscall"
)

// supported reports whether this system can run children (it can).
func supported() error { return nil }

// closeOnExec marks an inherited descriptor close-on-exec.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }

// killSelf sends sig to this process.
func killSelf(sig syscall.Signal) { syscall.Kill(os.Getpid(), sig) }

// isPipe reports whether fd is an open pipe.
func isPipe(fd int) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}

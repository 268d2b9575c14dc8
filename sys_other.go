//go:build !unix

package procshare

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// supported reports that children need a Unix system: they inherit pipes
// and shared descriptors at fixed numbers, which os/exec cannot arrange on
// Windows (no ExtraFiles) nor on wasm.
func supported() error {
	return fmt.Errorf("procshare: child processes on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func closeOnExec(fd int) {}

func killSelf(sig syscall.Signal) { os.Exit(1) }

func isPipe(fd int) bool { return false }

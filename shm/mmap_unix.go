//go:build unix

package shm

import (
	"os"

	"golang.org/x/sys/unix"
)

func mmap(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func munmap(b []byte) error { return unix.Munmap(b) }

// dupFile duplicates f's descriptor with close-on-exec set (exec.Cmd's
// ExtraFiles clears it in the child).
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// openNamed opens a named segment's file the way glibc's shm_open does:
// no symlinks followed, close-on-exec (os.OpenFile's default), mode 0600
// like Python's SharedMemory.
func openNamed(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|unix.O_NOFOLLOW, 0o600)
}

func ensureDir() (string, error) {
	dir := Dir()
	if err := os.MkdirAll(dir, 0o1777); err != nil {
		return "", err
	}
	return dir, nil
}

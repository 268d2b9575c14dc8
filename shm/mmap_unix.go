//go:build unix

package shm

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

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
// no symlinks followed, close-on-exec, mode 0600 like Python's SharedMemory.
// Unlike shm_open it accepts a regular file only: a FIFO or device node
// planted under the name is refused instead of opened (openNoFollow does
// not block on it).
func openNamed(path string, flag int) (*os.File, error) {
	f, err := openNoFollow(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file but %s", describeType(fi.Mode()))
	}
	return f, nil
}

// openNoFollow opens path without following a symbolic link in its last
// element and without blocking: O_NONBLOCK makes opening a FIFO return at
// once (rather than wait for a writer); it is cleared again before the file
// is returned, so reads and writes block as usual. The descriptor is
// close-on-exec. The caller checks the file's type with Stat.
func openNoFollow(path string, flag int, perm uint32) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// fileUID returns the owner of the file fi describes.
func fileUID(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func ensureDir() (string, error) {
	dir := Dir()
	if err := os.MkdirAll(dir, 0o1777); err != nil {
		return "", err
	}
	return dir, nil
}

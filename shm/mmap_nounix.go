//go:build !unix

package shm

import (
	"io/fs"
	"os"
)

// Systems without mmap and file descriptors in the Unix sense (Windows,
// plan9, wasm): every segment operation fails with ErrUnsupported.

func mmap(f *os.File, size int) ([]byte, error)         { return nil, ErrUnsupported }
func munmap(b []byte) error                             { return ErrUnsupported }
func dupFile(f *os.File) (*os.File, error)              { return nil, ErrUnsupported }
func ensureDir() (string, error)                        { return "", ErrUnsupported }
func processStart(pid int) uint64                       { return 0 }
func processAlive(pid int, start uint64) bool           { return false }
func openNamed(path string, flag int) (*os.File, error) { return nil, ErrUnsupported }
func fileUID(fi fs.FileInfo) int                        { return -1 }

func openNoFollow(path string, flag int, perm uint32) (*os.File, error) {
	return nil, ErrUnsupported
}

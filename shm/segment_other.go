//go:build !linux

package shm

import (
	"os"
	"path/filepath"
)

// Dir returns the directory holding named segments. Without /dev/shm
// (darwin) it is os.TempDir()/procshare-shm: named segments there are
// ordinary files shared by procshare programs, not POSIX shm_open objects,
// so Python's SharedMemory cannot open them.
func Dir() string { return filepath.Join(os.TempDir(), "procshare-shm") }

// createAnon returns an unlinked temporary file of size bytes.
func createAnon(size int) (*os.File, error) {
	f, err := os.CreateTemp("", "procshare-anon-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

package shm

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Dir returns the directory holding named segments: /dev/shm on Linux,
// where shm_open and so Python's SharedMemory put them.
func Dir() string { return "/dev/shm" }

func createAnon(size int) (*os.File, error) {
	fd, err := unix.MemfdCreate("procshare", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "memfd:procshare")
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// procStat returns the state and start time (field 22, clock ticks since
// boot) of process pid from /proc/PID/stat.
func procStat(pid int) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may contain spaces
	// and parentheses: fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 { // f[0] is field 3 (state), f[19] is field 22
		return 0, 0, false
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil || len(f[0]) != 1 {
		return 0, 0, false
	}
	return f[0][0], start, true
}

func processStart(pid int) uint64 {
	_, start, _ := procStat(pid)
	return start
}

// processAlive reports whether pid runs and is the process that started at
// start (0: unknown, any process with that pid).
func processAlive(pid int, start uint64) bool {
	state, s, ok := procStat(pid)
	if !ok || state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || s == start
}

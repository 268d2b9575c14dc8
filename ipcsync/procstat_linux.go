package ipcsync

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// procStart reads /proc/PID/stat and returns the start token of the process
// (field 22, starttime, in clock ticks since boot, folded by tokenOf) and
// whether it is a zombie (state Z or X: dead, not yet reaped). ok is false
// when the file cannot be read or parsed, and when /proc is not of this
// process's pid namespace (procOurs), where /proc/PID is another process.
func procStart(pid int) (token uint32, zombie bool, ok bool) {
	if !procOurs() {
		return 0, false, false
	}
	return readStat("/proc/" + strconv.Itoa(pid) + "/stat")
}

// selfStart returns this process's start token, as procStart would find
// it from its pid namespace; 0 if unknown. /proc/self is this process in
// any /proc that shows it, even one of an ancestor pid namespace.
func selfStart() uint32 {
	tok, _, _ := readStat("/proc/self/stat")
	return tok
}

// procOurs reports whether the mounted /proc is of this process's pid
// namespace, so that /proc/PID is the process with pid PID here. It is not
// after unshare --pid --fork without --mount-proc, or nsenter --pid without
// --mount: a /proc of an ancestor namespace lists pids of that namespace.
// The NSpid line of /proc/self/status gives this process's pid in each
// namespace from the one of /proc down to its own (one field when they are
// the same); kernels before 4.1 lack it, and then /proc/self must name our
// pid.
var procOurs = sync.OnceValue(func() bool {
	pid := strconv.Itoa(os.Getpid())
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range bytes.Lines(b) {
		if f, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			ns := bytes.Fields(f)
			return len(ns) == 1 && string(ns[0]) == pid
		}
	}
	self, err := os.Readlink("/proc/self")
	return err == nil && self == pid
})

// readStat parses a /proc/PID/stat file (see procStart).
func readStat(path string) (token uint32, zombie bool, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false, false
	}
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses: the fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field 22 (starttime) is f[19].
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, false, false
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return tokenOf(start), f[0][0] == 'Z' || f[0][0] == 'X', true
}

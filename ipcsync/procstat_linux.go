package ipcsync

import (
	"bytes"
	"os"
	"strconv"
)

// procStart reads /proc/PID/stat and returns the start token of the process
// (field 22, starttime, in clock ticks since boot, folded by tokenOf) and
// whether it is a zombie (state Z or X: dead, not yet reaped). ok is false
// when the file cannot be read or parsed.
func procStart(pid int) (token uint32, zombie bool, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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

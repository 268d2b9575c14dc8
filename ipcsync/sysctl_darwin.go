package ipcsync

import (
	"os"

	"golang.org/x/sys/unix"
)

// _SZOMB is the p_stat value of a zombie (sys/proc.h).
const _SZOMB = 5

// procStart asks sysctl kern.proc.pid.PID for the process's start time
// (p_starttime, folded as microseconds since the epoch by tokenOf) and
// whether it is a zombie. ok is false when the process cannot be inspected.
func procStart(pid int) (token uint32, zombie bool, ok bool) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) {
		return 0, false, false
	}
	st := kp.Proc.P_starttime
	us := uint64(st.Sec)*1e6 + uint64(st.Usec)
	return tokenOf(us), kp.Proc.P_stat == _SZOMB, true
}

// selfStart returns this process's start token (0 if unknown).
func selfStart() uint32 {
	tok, _, _ := procStart(os.Getpid())
	return tok
}

package ipcsync

import (
	"math"

	"golang.org/x/sys/unix"
)

// pidNamespace returns the identity of this process's pid namespace: the
// inode number of /proc/self/ns/pid, or 0 when it cannot be read (no /proc
// mounted). All namespaces of one kernel live on one nsfs device, and
// processes that share memory share a kernel, so the inode alone (a 32-bit
// number in Linux) names the namespace.
func pidNamespace() uint32 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil || st.Ino == 0 || st.Ino > math.MaxUint32 {
		return 0
	}
	return uint32(st.Ino)
}

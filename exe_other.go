//go:build !linux

package procshare

import (
	"os"
	"sync"
)

// selfExe returns the path that re-executes this program, resolved once.
var selfExe = sync.OnceValues(os.Executable)

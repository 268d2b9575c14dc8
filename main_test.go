package procshare_test

import (
	"os"
	"testing"

	"github.com/procshare/procshare"
)

func TestMain(m *testing.M) {
	if os.Getenv(envExitAtOnce) != "" {
		os.Exit(0)
	}
	if os.Getenv(envNoParentWatch) != "" {
		procshare.SetParentWatch(false) // see TestDaemonDiesWithParent
	}
	procshare.Main() // children run their function here and exit
	os.Exit(m.Run())
}

// envExitAtOnce makes the test binary exit at once: the baseline child of
// BenchmarkStartJoin100/exec.
const envExitAtOnce = "PROCSHARE_TEST_EXIT_AT_ONCE"

// envNoParentWatch turns off a daemon child's pipe watch, so that only the
// parent-death signal can kill it.
const envNoParentWatch = "PROCSHARE_TEST_NO_PARENT_WATCH"

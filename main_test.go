package procshare_test

import (
	"os"
	"testing"

	"github.com/procshare/procshare"
)

func TestMain(m *testing.M) {
	if os.Getenv(envExitAtOnce) != "" {
		os.Exit(0) // the baseline child of BenchmarkStartJoin100/exec
	}
	procshare.Main() // children run their function here and exit
	os.Exit(m.Run())
}

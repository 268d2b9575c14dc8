package procshare_test

import (
	"os"
	"testing"

	"github.com/procshare/procshare"
)

func TestMain(m *testing.M) {
	procshare.Main() // children run their function here and exit
	os.Exit(m.Run())
}

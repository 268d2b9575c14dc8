package procshare_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryDeps: a program that imports only the library packages links
// no metrics system, etcd or gRPC: those belong to the commands that use
// them (procshare serve's --metrics-address).
func TestLibraryDeps(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command in PATH: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps",
		"github.com/procshare/procshare",
		"github.com/procshare/procshare/shm",
		"github.com/procshare/procshare/ipcsync",
		"github.com/procshare/procshare/manager",
		"github.com/procshare/procshare/pickle",
	).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/prometheus/", "go.etcd.io/", "google.golang.org/grpc", "google.golang.org/protobuf"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the library links %s", dep)
			}
		}
	}
}

package manager_test

import (
	"context"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/pyenv"
	"github.com/procshare/procshare/manager"
)

// TestServerCPythonSmoke runs an unmodified CPython client of every
// installed interpreter (3.8+) against the server: the common SyncManager
// types through the stock proxies, nested proxies, a named object
// (QueueManager.register('get_queue')) and a ps_* extension. Unix sockets
// for every version, TCP (tuple addresses) for the newest.
func TestServerCPythonSmoke(t *testing.T) {
	pys := pyenv.Interpreters()
	if len(pys) == 0 {
		t.Skip("no CPython interpreter")
	}
	for i, py := range pys {
		nets := []string{"unix"}
		if i == len(pys)-1 {
			nets = append(nets, "tcp")
		}
		for _, network := range nets {
			t.Run(py.Name()+"/"+network, func(t *testing.T) {
				t.Parallel()
				ts := startStServer(t, network, &manager.ServerConfig{
					Expose: []manager.ExposedObject{{Name: "get_queue", TypeID: "Queue"}},
				})
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, py.Path, "testdata/server_smoke.py",
					ts.addr, hex.EncodeToString(stKey))
				out, err := cmd.CombinedOutput()
				if err != nil || !strings.Contains(string(out), "OK") {
					t.Fatalf("%s %s: %v\n%s", py.Name(), ts.addr, err, out)
				}
			})
		}
	}
}

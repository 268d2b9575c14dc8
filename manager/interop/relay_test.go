package interop_test

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/manager/interop"
)

// relayOutcome is what relay_attack.py's attacker reports.
type relayOutcome struct {
	Dialed  bool   `json:"dialed"`
	Welcome bool   `json:"welcome"`
	Reply   string `json:"reply"`
	Objects any    `json:"objects"`
}

// TestAuthkeyRelay runs the relay attack with real processes: a keyless
// Python attacker listens where a stored proxy's token points, and a keyed
// stock Python client stores that proxy. The server must never prove its
// own key to the attacker: by default it does not dial at all, and with
// ForeignConfig allowing the attacker's address (a compromised manager) it
// answers with the foreign key, so the relayed answer fails.
func TestAuthkeyRelay(t *testing.T) {
	all := interpreters(t)
	py := all[len(all)-1]
	for _, tc := range []struct {
		name    string
		foreign bool
	}{{"default", false}, {"allowed", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "psr")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			trap := filepath.Join(dir, "trap.sock")
			key := interop.NewAuthkey(t)
			cfg := &manager.ServerConfig{Authkey: key}
			if tc.foreign {
				cfg.Foreign = &manager.ForeignConfig{
					Authkey: interop.NewAuthkey(t),
					Allow:   []manager.Address{{Network: "unix", Addr: trap}},
				}
			}
			addr := interop.StartServer(t, "unix", cfg)

			att := exec.Command(py.Path, interop.Testdata("relay_attack.py"), "attacker", addr, trap)
			att.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1") // no PS_AUTHKEY: keyless
			stdin, err := att.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := att.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			att.Stderr = &stderr
			if err := att.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { att.Process.Kill(); att.Wait() })
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() || lines.Text() != "ready" {
				t.Fatalf("attacker did not start: %q\n%s", lines.Text(), stderr.String())
			}

			st := exec.Command(py.Path, interop.Testdata("relay_attack.py"), "store", addr, trap)
			st.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PS_AUTHKEY="+hex.EncodeToString(key))
			if out, err := st.CombinedOutput(); err != nil || !strings.Contains(string(out), "stored") {
				t.Fatalf("keyed client: %v\n%s", err, out)
			}
			// The server dials (if it does) before it answers the store:
			// the attacker has seen it by now.
			stdin.Close()
			var got relayOutcome
			for lines.Scan() {
				if j, ok := strings.CutPrefix(lines.Text(), "@@RELAY "); ok {
					if err := json.Unmarshal([]byte(j), &got); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			if err := att.Wait(); err != nil {
				t.Fatalf("attacker: %v\n%s", err, stderr.String())
			}
			t.Logf("attacker: %+v", got)
			if got.Welcome {
				t.Fatalf("a keyless attacker was welcomed by relaying the server's own answer (number_of_objects: %v)", got.Objects)
			}
			if tc.foreign != got.Dialed {
				t.Fatalf("server dialed the trap: %v, want %v", got.Dialed, tc.foreign)
			}
			if tc.foreign && got.Reply != "#FAILURE#" {
				t.Fatalf("relayed answer got %q, want #FAILURE#", got.Reply)
			}
		})
	}
}

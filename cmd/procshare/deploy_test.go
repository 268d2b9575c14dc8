package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
)

// deployDir is docs/deploy, relative to this package's directory (where
// go test runs).
const deployDir = "../../docs/deploy"

// serviceCommand reads docs/deploy/procshare.service: the Environment=
// assignments and the ExecStart command line, split on spaces (the unit
// quotes nothing).
func serviceCommand(t *testing.T) (env map[string]string, argv []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(deployDir, "procshare.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			switch k {
			case "Environment":
				name, val, _ := strings.Cut(v, "=")
				env[name] = val
			case "ExecStart":
				if argv != nil {
					t.Fatal("two ExecStart lines")
				}
				argv = strings.Fields(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(argv) == 0 {
		t.Fatal("no ExecStart")
	}
	return env, argv
}

// dockerCommand reads docs/deploy/Dockerfile: the ENV assignments of the
// final stage, the go version of the build stage's image, the binary that
// is copied in, and ENTRYPOINT followed by CMD (both in the exec form,
// JSON arrays).
func dockerCommand(t *testing.T) (env map[string]string, goImage, copied string, argv []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	env = map[string]string{}
	var entry, cmd []string
	// Continuation lines belong to RUN instructions only here.
	for _, line := range strings.Split(string(b), "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch instr {
		case "FROM":
			if img, ok := strings.CutPrefix(rest, "golang:"); ok {
				goImage, _, _ = strings.Cut(img, " ")
			}
		case "ENV":
			k, v, _ := strings.Cut(rest, "=")
			env[k] = v
		case "COPY":
			if f := strings.Fields(rest); len(f) == 3 && f[0] == "--from=build" {
				copied = f[2]
			}
		case "ENTRYPOINT", "CMD":
			var a []string
			if err := json.Unmarshal([]byte(rest), &a); err != nil {
				t.Fatalf("%s is not in the exec form (a JSON array): %v", instr, err)
			}
			if instr == "CMD" {
				cmd = a
			} else {
				entry = a
			}
		}
	}
	return env, goImage, copied, append(entry, cmd...)
}

// TestDeployFiles: the command lines of the systemd unit and of the
// Dockerfile are "procshare serve" with flags serve accepts, and each runs:
// started as a real process with the file's environment (its state
// directory replaced by a temporary one, and the address by a free port,
// since the unit's may be taken here), it creates the default key where
// the files say, serves a client and stops with status 0 on SIGTERM, the
// signal both files stop it with. (No systemd or Docker runs the files
// here; "systemd-analyze verify" checks the unit where it is installed.)
func TestDeployFiles(t *testing.T) {
	unitEnv, unitArgv := serviceCommand(t)
	dockerEnv, goImage, copied, dockerArgv := dockerCommand(t)
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod); m == nil || string(m[1]) != goImage {
		t.Errorf("Dockerfile builds with golang:%s, go.mod wants go %s", goImage, m[1])
	}
	if len(dockerArgv) == 0 || dockerArgv[0] != copied {
		t.Errorf("Dockerfile runs %q, copies the binary to %q", dockerArgv, copied)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		key  string // where the files' comments say the key is
	}{
		{"systemd", unitEnv, unitArgv, "/var/lib/procshare/procshare/authkey"},
		{"docker", dockerEnv, dockerArgv, "/var/lib/procshare/procshare/authkey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.argv) < 2 || filepath.Base(tc.argv[0]) != "procshare" || tc.argv[1] != "serve" {
				t.Fatalf("command line %q is not procshare serve", tc.argv)
			}
			args := tc.argv[1:] // serve FLAGS...
			// Every flag is one of serve's, with a value it takes: only
			// then does -h after them print the help.
			if err := serveCommand(context.Background(), append(slices.Clone(args[1:]), "-h"), io.Discard, io.Discard); err != errHelp {
				t.Fatalf("serve flags %q: %v", args[1:], err)
			}
			state := shortTempDir(t)
			env := []string{"PROCSHARE_AUTHKEY_FILE="}
			for k, v := range tc.env {
				// %S is systemd's state directory (/var/lib).
				v = strings.ReplaceAll(v, "%S", "/var/lib")
				env = append(env, k+"="+strings.Replace(v, "/var/lib", state, 1))
			}
			addrFile := filepath.Join(state, "addr")
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(append(os.Environ(), env...), "PROCSHARE_TEST_MAIN="+strings.Join(
				append(args, "--address", "127.0.0.1:0", "--addr-file", addrFile), "\n"))
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			defer func() {
				select {
				case <-exited:
				default:
					cmd.Process.Kill()
					<-exited
				}
			}()
			addr := waitFile(t, addrFile)
			key, err := os.ReadFile(strings.Replace(tc.key, "/var/lib", state, 1))
			if err != nil {
				t.Fatalf("no key where the file says: %v\n%s", err, stderr.String())
			}
			ctx := context.Background()
			c, err := manager.Dial(ctx, addr, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.NumObjects(ctx); err != nil {
				t.Fatal(err)
			}
			c.Close()
			// --log-format json: every line of stderr is a JSON object.
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("log line %q is not JSON", line)
				}
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("serve still runs 60 s after SIGTERM:\n%s", stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status %d after SIGTERM:\n%s", code, stderr.String())
			}
		})
	}
}

// TestSystemdVerify runs "systemd-analyze verify" on the unit (its binary
// replaced by this test binary, which must exist for verify), where
// systemd-analyze is installed.
func TestSystemdVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	b, err := os.ReadFile(filepath.Join(deployDir, "procshare.service"))
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "procshare.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/procshare", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", unit).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

//go:build linux

package shm

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests plant hostile files in a temporary stand-in for /dev/shm
// (list, createIn and openIn take the directory), never in the real one.

// otherUID owns the files that "another user" plants; chown to it needs
// root, as CI runs.
const otherUID = 65534

// within runs f in a goroutine and fails the test if it has not returned
// after a generous bound: a call that blocks forever must fail the test,
// not hang it. The bound is no claim about speed.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s has not returned after 60 s: it blocks", what)
	}
}

// plantSegment writes a 64-byte segment file NAME in dir.
func plantSegment(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 64), 0o600); err != nil {
		t.Fatal(err)
	}
}

// plantMeta writes NAME's metadata file in dir claiming creator pid with
// start time start.
func plantMeta(t *testing.T, dir, name string, pid int, start uint64) {
	t.Helper()
	b, _ := json.Marshal(metaFile{PID: pid, Start: start, Size: 64, Created: time.Now().UTC().Truncate(time.Second)})
	if err := os.WriteFile(metaPath(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func listOne(t *testing.T, dir, name string) Info {
	t.Helper()
	var infos []Info
	var err error
	within(t, "List", func() { infos, err = list(dir, false) })
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("List does not report %q: %+v", name, infos)
	return Info{}
}

// wantUntrusted checks that in reports an untrusted metadata file whose
// reason contains reason.
func wantUntrusted(t *testing.T, in Info, reason string) {
	t.Helper()
	var me *MetaError
	if !errors.As(in.Err, &me) || !errors.Is(in.Err, ErrBadMeta) {
		t.Fatalf("Info.Err = %v, want a *MetaError", in.Err)
	}
	if !strings.Contains(me.Reason, reason) {
		t.Errorf("reason %q does not mention %q", me.Reason, reason)
	}
	if in.PID != 0 || in.Alive {
		t.Errorf("untrusted metadata gave PID %d, Alive %v", in.PID, in.Alive)
	}
}

// TestListHostileMeta: a metadata file that another user can plant next to
// a segment in the world-writable directory neither blocks List nor makes
// it read without bound; each is reported as an untrusted entry.
func TestListHostileMeta(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plant  func(t *testing.T, path string)
		reason string
	}{
		{"fifo", func(t *testing.T, path string) {
			// Opening it for reading without O_NONBLOCK waits for a writer
			// forever.
			if err := unix.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "FIFO"},
		{"devzero", func(t *testing.T, path string) {
			// Reading it without a bound never ends and exhausts memory.
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"sparse", func(t *testing.T, path string) {
			// 2 GiB that read in full would be 2 GiB of memory.
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(2 << 30); err != nil {
				t.Fatal(err)
			}
		}, "more than the 65536"},
		{"dir", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "directory"},
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("\x00not json"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			plantSegment(t, dir, "seg")
			tc.plant(t, metaPath(dir, "seg"))
			in := listOne(t, dir, "seg")
			wantUntrusted(t, in, tc.reason)
			if in.Size != 64 || in.UID != os.Geteuid() {
				t.Errorf("Size %d, UID %d; want 64, %d", in.Size, in.UID, os.Geteuid())
			}
		})
	}
}

// TestListHostileSegment: a segment entry that is not a regular file (a
// FIFO, a symbolic link) is not opened, and its metadata is not trusted.
func TestListHostileSegment(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	plantMeta(t, dir, "fifo", os.Getpid(), 0)
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	plantMeta(t, dir, "link", os.Getpid(), 0)
	wantUntrusted(t, listOne(t, dir, "fifo"), "segment is not a regular file but a FIFO")
	wantUntrusted(t, listOne(t, dir, "link"), "segment is not a regular file but a symbolic link")
	var all []Info
	var err error
	within(t, "ListAll", func() { all, err = list(dir, true) })
	if err != nil || len(all) != 2 {
		t.Errorf("ListAll = %+v, %v; want the two entries with metadata only", all, err)
	}
}

// TestListTrustsOwnMeta: metadata written by the segment's owner is
// trusted, live or dead.
func TestListTrustsOwnMeta(t *testing.T) {
	dir := t.TempDir()
	plantSegment(t, dir, "live")
	plantMeta(t, dir, "live", os.Getpid(), processStart(os.Getpid()))
	plantSegment(t, dir, "dead")
	plantMeta(t, dir, "dead", os.Getpid(), 1) // our pid, another start time
	plantMeta(t, dir, "gone", os.Getpid(), 1) // metadata only
	for name, alive := range map[string]bool{"live": true, "dead": false, "gone": false} {
		in := listOne(t, dir, name)
		if in.Err != nil || in.PID != os.Getpid() || in.Alive != alive || in.UID != os.Geteuid() {
			t.Errorf("%s: %+v, want trusted, PID %d, Alive %v, UID %d", name, in, os.Getpid(), alive, os.Geteuid())
		}
	}
	if in := listOne(t, dir, "gone"); in.Size != -1 {
		t.Errorf("gone: Size %d, want -1", in.Size)
	}
}

// TestListMetaOtherOwner: a metadata file owned by someone other than the
// segment's owner is not trusted: it may claim a dead creator for a live
// segment, which "procshare shm rm -dead" would then remove.
func TestListMetaOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a planted file to another uid")
	}
	dir := t.TempDir()
	// Another user's metadata next to our segment.
	plantSegment(t, dir, "ours")
	plantMeta(t, dir, "ours", os.Getpid(), 1)
	if err := os.Lchown(metaPath(dir, "ours"), otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	// Our metadata next to another user's segment.
	plantSegment(t, dir, "theirs")
	if err := os.Lchown(filepath.Join(dir, "theirs"), otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	plantMeta(t, dir, "theirs", os.Getpid(), 1)
	// Another user's segment and metadata: trusted, and theirs.
	plantSegment(t, dir, "other")
	plantMeta(t, dir, "other", os.Getpid(), 1)
	for _, p := range []string{filepath.Join(dir, "other"), metaPath(dir, "other")} {
		if err := os.Lchown(p, otherUID, otherUID); err != nil {
			t.Fatal(err)
		}
	}

	in := listOne(t, dir, "ours")
	wantUntrusted(t, in, "owned by uid 65534, the segment by uid 0")
	if in.UID != 0 {
		t.Errorf("ours: UID %d, want the segment's, 0", in.UID)
	}
	in = listOne(t, dir, "theirs")
	wantUntrusted(t, in, "owned by uid 0, the segment by uid 65534")
	if in.UID != otherUID {
		t.Errorf("theirs: UID %d, want %d", in.UID, otherUID)
	}
	if in := listOne(t, dir, "other"); in.Err != nil || in.PID != os.Getpid() || in.UID != otherUID {
		t.Errorf("other: %+v, want trusted metadata of uid %d", in, otherUID)
	}
}

// TestCreateReplacesPlantedMeta: Create writes its metadata file afresh,
// neither through a symbolic link planted under its name (which would
// overwrite the link's target) nor into a planted FIFO (which blocks).
func TestCreateReplacesPlantedMeta(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		victim := filepath.Join(dir, "victim")
		if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, metaPath(dir, "s")); err != nil {
			t.Fatal(err)
		}
		s, err := createIn(dir, "s", 100)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if b, _ := os.ReadFile(victim); string(b) != "keep" {
			t.Errorf("the symlink's target now holds %q", b)
		}
		if in := listOne(t, dir, "s"); in.Err != nil || in.PID != os.Getpid() || !in.Alive {
			t.Errorf("List after Create: %+v", in)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		dir := t.TempDir()
		if err := unix.Mkfifo(metaPath(dir, "f"), 0o644); err != nil {
			t.Fatal(err)
		}
		var s *Segment
		var err error
		within(t, "Create", func() { s, err = createIn(dir, "f", 100) })
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if in := listOne(t, dir, "f"); in.Err != nil || in.PID != os.Getpid() || !in.Alive {
			t.Errorf("List after Create: %+v", in)
		}
	})
}

// TestOpenRefusesNonRegular: Open of a name that is a FIFO fails, saying
// so, without blocking.
func TestOpenRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	within(t, "Open", func() { _, err = openIn(dir, "fifo") })
	if err == nil || !strings.Contains(err.Error(), "not a regular file but a FIFO") {
		t.Errorf("Open(fifo) = %v, want a refusal of the FIFO", err)
	}
}

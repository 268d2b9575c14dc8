package shm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Named segments created by this package carry a metadata file next to
// them, Dir()/.procshare-NAME.meta, a JSON object such as
//
//	{"pid":4242,"start":123456,"size":4096,"created":"2026-11-25T17:00:00Z"}
//
// with the creator's pid, its start time (Linux: field 22 of
// /proc/PID/stat, clock ticks since boot; 0 where unknown) so a reused pid
// is not mistaken for the creator, the size requested and the creation
// time. A sidecar file rather than an extended attribute because tmpfs only
// gained user xattrs in Linux 6.6 and the darwin fallback directory may be
// on any file system. Python ignores these files: SharedMemory never opens
// a name starting with ".procshare-" unless asked to, and Create refuses
// such names.
const (
	metaPrefix = ".procshare-"
	metaSuffix = ".meta"
)

type metaFile struct {
	PID     int       `json:"pid"`
	Start   uint64    `json:"start"`
	Size    int       `json:"size"`
	Created time.Time `json:"created"`
}

func metaPath(dir, name string) string {
	return filepath.Join(dir, metaPrefix+name+metaSuffix)
}

func writeMeta(dir, name string, size int) error {
	pid := os.Getpid()
	m := metaFile{PID: pid, Start: processStart(pid), Size: size, Created: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(m) // cannot fail: plain fields
	if err := os.WriteFile(metaPath(dir, name), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("shm: create %q: write metadata: %w", name, err)
	}
	return nil
}

// removeMeta removes NAME's metadata file; nil if it was removed, an error
// wrapping fs.ErrNotExist if there was none.
func removeMeta(dir, name string) error {
	return os.Remove(metaPath(dir, name))
}

// Info describes a named segment created by this package, as List reports
// it.
type Info struct {
	Name    string    // segment name
	Size    int64     // current size in bytes; -1 when the segment itself is gone
	PID     int       // creator's process id
	Alive   bool      // whether the creator (same pid and start time) still runs
	Created time.Time // creation time, second precision
}

// List returns the named segments that this package created (those with a
// metadata file in Dir()), sorted by name. Segments created by other
// programs (Python's) are not listed; see ListAll. A metadata file whose
// segment is gone is listed with Size -1 so that Remove can clean it up.
func List() ([]Info, error) { return list(false) }

// ListAll is List plus every other segment in Dir() (Python's among them),
// with PID 0 and Alive false since their creator is unknown.
func ListAll() ([]Info, error) { return list(true) }

func list(all bool) ([]Info, error) {
	dir := Dir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("shm: list: %w", err)
	}
	var out []Info
	ours := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, metaPrefix) || !strings.HasSuffix(n, metaSuffix) || len(n) <= len(metaPrefix)+len(metaSuffix) {
			continue
		}
		name := n[len(metaPrefix) : len(n)-len(metaSuffix)]
		info := Info{Name: name, Size: -1}
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			var m metaFile
			if json.Unmarshal(b, &m) == nil {
				info.PID, info.Created = m.PID, m.Created
				info.Alive = m.PID > 0 && processAlive(m.PID, m.Start)
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			info.Size = fi.Size()
		}
		ours[name] = true
		out = append(out, info)
	}
	if all {
		for _, e := range entries {
			n := e.Name()
			if ours[n] || strings.HasPrefix(n, metaPrefix) || !e.Type().IsRegular() {
				continue
			}
			info := Info{Name: n, Size: -1}
			if fi, err := e.Info(); err == nil {
				info.Size = fi.Size()
				info.Created = fi.ModTime().UTC().Truncate(time.Second)
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

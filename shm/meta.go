package shm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// maxMetaSize caps the metadata file List reads (and the one Create
// writes is far smaller): a larger one, such as a sparse file another user
// planted, is refused without being read.
const maxMetaSize = 64 << 10

// writeMeta writes NAME's metadata file. Create calls it right after it
// created the segment exclusively, so a metadata file already there is
// stale (left by a segment Python unlinked) or planted: it is removed, and
// the new one is created exclusively, never through a symbolic link. A
// planted file that cannot be removed (another user's, in the sticky
// /dev/shm) makes Create fail rather than trust it.
func writeMeta(dir, name string, size int) error {
	pid := os.Getpid()
	m := metaFile{PID: pid, Start: processStart(pid), Size: size, Created: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(m) // cannot fail: plain fields
	path := metaPath(dir, name)
	f, err := openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if err = os.Remove(path); err == nil {
			f, err = openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	if err == nil {
		_, err = f.Write(append(b, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}
	if err != nil {
		return fmt.Errorf("shm: create %q: write metadata: %w", name, err)
	}
	return nil
}

// removeMeta removes NAME's metadata file; nil if it was removed, an error
// wrapping fs.ErrNotExist if there was none.
func removeMeta(dir, name string) error {
	return os.Remove(metaPath(dir, name))
}

// Info describes a named segment, as List and ListAll report it.
type Info struct {
	Name string // segment name, as found in Dir(): any bytes but '/' and NUL
	Size int64  // current size in bytes; -1 when the segment itself is gone (or not a regular file)

	// UID is the owner of the segment file, or of the metadata file when
	// the segment is gone; -1 where unknown (systems without file owners).
	UID int

	PID     int       // creator's process id; 0 when unknown (see Err)
	Alive   bool      // whether the creator (same pid and start time) still runs
	Created time.Time // creation time, second precision; zero when unknown

	// Err is a *MetaError when the segment has a metadata file that List
	// did not trust; PID is then 0 and Alive false. It is nil for a
	// trusted metadata file, and for ListAll's segments without one.
	Err error
}

// List returns the named segments that this package created (those with a
// metadata file in Dir()), sorted by name. Segments created by other
// programs (Python's) are not listed; see ListAll. A metadata file whose
// segment is gone is listed with Size -1 so that Remove can clean it up.
//
// Dir() is writable by every local user, so List reads a metadata file
// only when it is a regular file (not a symbolic link, FIFO or device: it
// is opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat), at most 64
// KiB long, and owned by the segment's owner (nobody else can plant
// metadata next to someone's segment); one that fails these checks, or is
// not valid metadata, is listed with a *MetaError in Info.Err. Segment
// entries that are not regular files are never opened. List does not
// block on any file another user can plant.
func List() ([]Info, error) { return list(Dir(), false) }

// ListAll is List plus every other regular file in Dir() (Python's
// segments among them), with PID 0 and Alive false since their creator is
// unknown.
func ListAll() ([]Info, error) { return list(Dir(), true) }

func list(dir string, all bool) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("shm: list: %w", err)
	}
	byName := make(map[string]fs.DirEntry, len(entries))
	for _, e := range entries {
		byName[e.Name()] = e
	}
	var out []Info
	ours := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, metaPrefix) || !strings.HasSuffix(n, metaSuffix) || len(n) <= len(metaPrefix)+len(metaSuffix) {
			continue
		}
		name := n[len(metaPrefix) : len(n)-len(metaSuffix)]
		ours[name] = true
		out = append(out, describe(dir, name, byName[name], e))
	}
	if all {
		for _, e := range entries {
			n := e.Name()
			if ours[n] || strings.HasPrefix(n, metaPrefix) || !e.Type().IsRegular() {
				continue
			}
			info := Info{Name: n, Size: -1, UID: -1}
			if fi, err := e.Info(); err == nil {
				info.Size = fi.Size()
				info.UID = fileUID(fi)
				info.Created = fi.ModTime().UTC().Truncate(time.Second)
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// describe returns the Info of segment name, whose directory entry is seg
// (nil when there is none) and whose metadata file's entry is meta.
func describe(dir, name string, seg, meta fs.DirEntry) Info {
	info := Info{Name: name, Size: -1, UID: -1}
	bad := func(format string, args ...any) Info {
		info.PID, info.Alive, info.Created = 0, false, time.Time{}
		info.Err = &MetaError{Name: name, Reason: fmt.Sprintf(format, args...)}
		return info
	}
	if fi, err := meta.Info(); err == nil {
		info.UID = fileUID(fi)
	}
	if seg != nil {
		fi, err := seg.Info() // lstat: a link is not followed
		switch {
		case errors.Is(err, fs.ErrNotExist): // removed since ReadDir
		case err != nil:
			return bad("segment: %v", errno(err))
		case !fi.Mode().IsRegular():
			info.UID = fileUID(fi)
			return bad("the segment is not a regular file but %s", describeType(fi.Mode()))
		default:
			info.Size, info.UID = fi.Size(), fileUID(fi)
		}
	}
	if t := meta.Type(); !t.IsRegular() {
		return bad("the metadata file is not a regular file but %s", describeType(t))
	}
	f, err := openNoFollow(filepath.Join(dir, meta.Name()), os.O_RDONLY, 0)
	if err != nil {
		return bad("open metadata: %v", errno(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return bad("stat metadata: %v", errno(err))
	case !fi.Mode().IsRegular(): // replaced since ReadDir
		return bad("the metadata file is not a regular file but %s", describeType(fi.Mode()))
	case fi.Size() > maxMetaSize:
		return bad("the metadata file has %d bytes, more than the %d allowed", fi.Size(), maxMetaSize)
	case info.Size >= 0 && fileUID(fi) != info.UID:
		return bad("the metadata file is owned by uid %d, the segment by uid %d", fileUID(fi), info.UID)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	switch {
	case err != nil:
		return bad("read metadata: %v", errno(err))
	case len(b) > maxMetaSize: // grew since fstat
		return bad("the metadata file has more than the %d bytes allowed", maxMetaSize)
	}
	var m metaFile
	if err := json.Unmarshal(b, &m); err != nil {
		return bad("the metadata file is not valid JSON")
	}
	if m.PID <= 0 {
		return bad("the metadata file has no valid pid")
	}
	info.PID, info.Created = m.PID, m.Created
	info.Alive = processAlive(m.PID, m.Start)
	return info
}

// describeType names a file type for a MetaError.
func describeType(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	default:
		return "of type " + t.String()
	}
}

// errno strips the path from a *fs.PathError: a MetaError names the
// segment once, quoted, and must not repeat the raw name in a path.
func errno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

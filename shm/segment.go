package shm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MaxNameLen is the longest name Create accepts. Named segments are files
// in a directory (/dev/shm on Linux) whose entries hold at most 255 bytes;
// Create also writes a metadata file ".procshare-NAME.meta" next to the
// segment, hence the smaller limit. Open accepts names up to 255 bytes, so
// it can open any segment Python created.
const MaxNameLen = 239 // 255 - len(".procshare-") - len(".meta")

const maxOpenNameLen = 255

// Segment is a block of memory shared between processes: an anonymous one
// (New) that travels to children as an inherited file descriptor, or a
// named one (Create, Open) that any process, Python's
// multiprocessing.shared_memory.SharedMemory included, opens by name.
//
// The bytes returned by Bytes are a MAP_SHARED mapping: every process that
// maps the segment sees every write immediately. Access to them is not
// synchronised; use the atomic operations of Value and Array, or a lock.
//
// A Segment is safe for use by multiple goroutines. The zero value is an
// unattached segment, usable only as the receiver of AttachFiles.
//
// # Platform notes
//
// On Linux an anonymous segment is a memfd (memfd_create with MFD_CLOEXEC)
// and a named segment is the file /dev/shm/NAME, the object that
// shm_open("/NAME") and therefore Python's SharedMemory(name=NAME) use.
// Elsewhere (darwin) an anonymous segment is an unlinked temporary file and
// a named segment is a file in the directory returned by [Dir]
// (os.TempDir()/procshare-shm); POSIX shm_open needs libc there, so named
// segments on those systems are shared between procshare programs only,
// not with Python.
type Segment struct {
	mu     sync.Mutex // guards closed and the teardown of f and mapping
	closed bool

	name    string // "" for an anonymous segment
	f       *os.File
	mapping []byte // as returned by mmap, for munmap
	size    int
}

// segmentMeta is the metadata that ShareFiles hands to a child.
type segmentMeta struct {
	Name string `json:"name,omitempty"`
	Size int    `json:"size"`
}

// New creates an anonymous segment of size bytes, zero-filled. It is
// shared with child processes by passing it (or an object living in it)
// through procshare.Process, which uses ShareFiles and AttachFiles.
func New(size int) (*Segment, error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	f, err := createAnon(size)
	if err != nil {
		return nil, fmt.Errorf("shm: create anonymous segment: %w", err)
	}
	return mapFile(f, "", size)
}

// Create creates the named segment NAME of size bytes, zero-filled. It
// fails with an error satisfying errors.Is(err, fs.ErrExist) when NAME
// exists already. The segment outlives the process until Unlink (or
// "procshare shm rm NAME"); the creator's pid and start time are recorded
// in a metadata file so "procshare shm ls" can tell leaked segments.
//
// Size() of the result, and Python's SharedMemory(NAME).size, are exactly
// size.
func Create(name string, size int) (*Segment, error) {
	if err := validName(name, MaxNameLen); err != nil {
		return nil, err
	}
	if err := checkSize(size); err != nil {
		return nil, err
	}
	dir, err := ensureDir()
	if err != nil {
		return nil, err
	}
	return createIn(dir, name, size)
}

// createIn is Create in directory dir.
func createIn(dir, name string, size int) (*Segment, error) {
	path := filepath.Join(dir, name)
	f, err := openNamed(path, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return nil, fmt.Errorf("shm: create %q: %w", name, err)
	}
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("shm: create %q: %w", name, err)
	}
	if err := writeMeta(dir, name, size); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	s, err := mapFile(f, name, size)
	if err != nil {
		os.Remove(path)
		removeMeta(dir, name)
		return nil, err
	}
	return s, nil
}

// Open maps the existing named segment NAME, whoever created it (a Go
// program with Create, or Python's SharedMemory(name=NAME, create=True)).
// A missing segment gives an error satisfying errors.Is(err,
// fs.ErrNotExist). Size() is the segment's current size. Open does not
// follow a symbolic link and refuses (without blocking) a name that is not
// a regular file, such as a FIFO.
func Open(name string) (*Segment, error) {
	if err := validName(name, maxOpenNameLen); err != nil {
		return nil, err
	}
	return openIn(Dir(), name)
}

// openIn is Open in directory dir.
func openIn(dir, name string) (*Segment, error) {
	f, err := openNamed(filepath.Join(dir, name), os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("shm: open %q: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: open %q: %w", name, err)
	}
	size := fi.Size()
	if size <= 0 {
		f.Close()
		return nil, &wrapError{fmt.Sprintf("shm: open %q: segment is empty", name), ErrTooSmall}
	}
	if int64(int(size)) != size {
		f.Close()
		return nil, fmt.Errorf("shm: open %q: size %d does not fit in memory", name, size)
	}
	return mapFile(f, name, int(size))
}

func checkSize(size int) error {
	if size <= 0 {
		return fmt.Errorf("shm: segment size must be positive, got %d", size)
	}
	return nil
}

// validName checks a segment name the way shm_open and Python see it:
// Python passes "/"+NAME to shm_open, which allows no other '/'.
func validName(name string, max int) error {
	reason := ""
	switch {
	case name == "":
		reason = "empty"
	case strings.ContainsRune(name, '/'):
		reason = "contains '/'"
	case strings.ContainsRune(name, 0):
		reason = "contains NUL"
	case name == "." || name == "..":
		reason = "reserved"
	case strings.HasPrefix(name, metaPrefix):
		reason = "prefix " + metaPrefix + " is reserved for procshare metadata"
	case len(name) > max:
		reason = fmt.Sprintf("longer than %d bytes", max)
	default:
		return nil
	}
	return &NameError{Name: name, Reason: reason}
}

func mapFile(f *os.File, name string, size int) (*Segment, error) {
	m, err := mmap(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: mmap %d bytes: %w", size, err)
	}
	return &Segment{name: name, f: f, mapping: m, size: size}, nil
}

// Bytes returns the segment's memory, Size() bytes. The slice stays valid
// until Close; using it after Close faults.
func (s *Segment) Bytes() []byte { return s.mapping[:s.size:s.size] }

// Size returns the size of the segment in bytes, as requested from New or
// Create (or found by Open).
func (s *Segment) Size() int { return s.size }

// Name returns the name of a named segment, "" for an anonymous one.
func (s *Segment) Name() string { return s.name }

// Close unmaps the segment and closes its descriptor. It does not remove a
// named segment (see Unlink). Close is idempotent; slices from Bytes and
// the objects living in the segment must not be used afterwards.
func (s *Segment) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.f == nil {
		return nil
	}
	s.closed = true
	err := munmap(s.mapping)
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shm: close: %w", err)
	}
	return nil
}

// Unlink removes a named segment's name (and procshare's metadata file);
// the memory lives on until every process has closed it. Like Python's
// unlink, call it once, in one process. Unlink works before or after Close.
// For an anonymous segment it does nothing.
func (s *Segment) Unlink() error {
	if s.name == "" {
		return nil
	}
	return Remove(s.name)
}

// Remove removes the named segment NAME and its metadata file. It returns
// an error satisfying errors.Is(err, fs.ErrNotExist) when neither exists.
func Remove(name string) error {
	if err := validName(name, maxOpenNameLen); err != nil {
		return err
	}
	dir := Dir()
	err := os.Remove(filepath.Join(dir, name))
	merr := removeMeta(dir, name)
	if err != nil && errors.Is(err, os.ErrNotExist) && merr == nil {
		err = nil // a stale metadata file only
	}
	if err != nil {
		return fmt.Errorf("shm: remove %q: %w", name, err)
	}
	return nil
}

// ShareFiles implements the procshare sharing contract: it returns a
// duplicate of the segment's descriptor (the caller owns it and closes it
// once the child has started) and metadata for AttachFiles.
func (s *Segment) ShareFiles() ([]*os.File, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.f == nil {
		return nil, nil, ErrClosed
	}
	f, err := dupFile(s.f)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: share: %w", err)
	}
	meta, err := json.Marshal(segmentMeta{Name: s.name, Size: s.size})
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return []*os.File{f}, meta, nil
}

// AttachFiles implements the procshare sharing contract in the child: it
// maps files[0] as described by meta (from ShareFiles) into the zero
// Segment s. It takes ownership of the files.
func (s *Segment) AttachFiles(files []*os.File, meta []byte) error {
	var m segmentMeta
	if err := json.Unmarshal(meta, &m); err != nil {
		closeFiles(files)
		return fmt.Errorf("shm: attach: bad metadata: %w", err)
	}
	return s.attach(files, m)
}

func (s *Segment) attach(files []*os.File, m segmentMeta) error {
	if s.f != nil {
		closeFiles(files)
		return errors.New("shm: attach: segment already attached")
	}
	if len(files) == 0 || files[0] == nil {
		closeFiles(files)
		return errors.New("shm: attach: no file descriptor")
	}
	closeFiles(files[1:])
	f := files[0]
	if err := checkSize(m.Size); err != nil {
		f.Close()
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("shm: attach: %w", err)
	}
	if fi.Size() < int64(m.Size) {
		f.Close()
		return &wrapError{fmt.Sprintf("shm: attach: segment too small: file has %d bytes, want %d", fi.Size(), m.Size), ErrTooSmall}
	}
	ns, err := mapFile(f, m.Name, m.Size)
	if err != nil {
		return err
	}
	s.name, s.f, s.mapping, s.size = ns.name, ns.f, ns.mapping, ns.size
	return nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

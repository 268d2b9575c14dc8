package shm

import (
	"errors"
	"fmt"
)

// Errors of segment management.
var (
	// ErrClosed is returned by operations on a closed Segment (and by the
	// objects living in it).
	ErrClosed = errors.New("shm: segment closed")

	// ErrBadName is wrapped by every error about an invalid segment name;
	// test with errors.Is. The concrete error is a *NameError.
	ErrBadName = errors.New("shm: invalid segment name")

	// ErrBadMeta is wrapped by every *MetaError: a segment's metadata file
	// that List did not trust.
	ErrBadMeta = errors.New("shm: untrusted segment metadata")

	// ErrUnsupported is returned where the platform lacks a mechanism.
	ErrUnsupported = errors.New("shm: not supported on this platform")
)

// Errors of attaching typed objects (Value, Array, ShareableList) to bytes.
var (
	// ErrTooSmall is wrapped when a segment (or the part of it after an
	// offset) is too small for the object requested.
	ErrTooSmall = errors.New("shm: segment too small")

	// ErrBadHeader is wrapped when the bytes at an offset are not the
	// header of the object requested: wrong magic, version, typecode,
	// element size or length.
	ErrBadHeader = errors.New("shm: bad object header")

	// ErrBadList is wrapped by every error about a malformed ShareableList
	// (count, offsets, packing formats or back-transform codes that Python
	// could not have written).
	ErrBadList = errors.New("shm: malformed ShareableList")
)

// NameError reports an invalid segment name. It wraps ErrBadName.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("shm: invalid segment name %q: %s", e.Name, e.Reason)
}

func (e *NameError) Unwrap() error { return ErrBadName }

// MetaError reports why List did not trust the metadata file of segment
// Name (see List). It wraps ErrBadMeta.
type MetaError struct {
	Name   string
	Reason string
}

func (e *MetaError) Error() string {
	return fmt.Sprintf("shm: metadata of segment %q not trusted: %s", e.Name, e.Reason)
}

func (e *MetaError) Unwrap() error { return ErrBadMeta }

// RangeError reports an index out of range in an Array, BoolArray or
// ShareableList.
type RangeError struct {
	Index, Len int
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("shm: index %d out of range [0:%d]", e.Index, e.Len)
}

// wrapError is an error with a message of its own that wraps err for
// errors.Is and errors.As without repeating err's message (and its "shm: "
// prefix): "shm: open "x": segment is empty", not "…: shm: segment too
// small".
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }

func (e *wrapError) Unwrap() error { return e.err }

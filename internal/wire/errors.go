package wire

import (
	"errors"
	"strconv"
)

// Framing errors.
var (
	// ErrFrameTooLarge is matched (errors.Is) by every *FrameTooLargeError:
	// a peer announced a frame longer than the reader's limit. Its payload
	// has not been read: Conn.SkipFrame discards it, after which the
	// connection can be read again. In the handshake it fails the
	// handshake (wrapped in ErrBadHandshake).
	ErrFrameTooLarge = errors.New("wire: frame too large")

	// ErrBadFrame reports a length prefix no CPython sender produces: a
	// negative 4-byte length other than -1. The connection is no longer
	// usable for reading.
	ErrBadFrame = errors.New("wire: bad frame length")
)

// Handshake errors.
var (
	// ErrAuthFailed means the two sides do not share the authkey: either
	// the peer's answer to our challenge was wrong (we then sent it
	// #FAILURE#), or the peer rejected our answer (it sent us #FAILURE#).
	// The connection must be closed.
	ErrAuthFailed = errors.New("wire: authentication failed")

	// ErrRefused means the server sent a refusal (#REFUSED# and a reason,
	// see Refuse) instead of its challenge: it did not take the connection,
	// typically because it is at a connection limit. The error's message
	// carries the server's reason. The server closes the connection.
	ErrRefused = errors.New("wire: connection refused by the server")

	// ErrBadHandshake means the peer did not follow the handshake protocol:
	// a message that is not a #CHALLENGE#, a challenge too short or naming
	// an unknown digest, a malformed answer, a handshake frame over 256
	// bytes, or a reply other than #WELCOME#/#FAILURE#. When the bad message
	// was the answer to our challenge, the peer was sent #FAILURE# (as
	// CPython does). The connection must be closed.
	ErrBadHandshake = errors.New("wire: bad handshake")
)

// FrameTooLargeError reports a frame whose announced payload length Size
// exceeds the reader's limit Max (Config.MaxFrame, or 256 bytes during the
// handshake). It is returned before anything is allocated for the payload.
type FrameTooLargeError struct {
	Size uint64 // announced payload length
	Max  int64  // the limit in force
}

func (e *FrameTooLargeError) Error() string {
	return "wire: frame of " + strconv.FormatUint(e.Size, 10) +
		" bytes exceeds the limit of " + strconv.FormatInt(e.Max, 10)
}

// Is makes errors.Is(err, ErrFrameTooLarge) true.
func (e *FrameTooLargeError) Is(target error) bool { return target == ErrFrameTooLarge }

// frameError is an error with a message of its own that matches several
// sentinels (errors.Is).
type frameError struct {
	msg   string
	errs  []error
	phase string // the ClientHandshake phase it arose in (HandshakePhase), or ""
}

func (e *frameError) Error() string   { return e.msg }
func (e *frameError) Unwrap() []error { return e.errs }

// errIsFraming reports whether err is a framing violation by the peer.
func errIsFraming(err error) bool {
	return errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrBadFrame)
}

package wire

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
)

// Handshake messages and sizes (CPython multiprocessing/connection.py).
const (
	handshakeMaxFrame = 256 // recv_bytes(256) on both sides

	legacyMessageLen = 20 // 3.8–3.11: os.urandom(20), and the "answer with raw MD5" signal
	md5Len           = 16 // a raw HMAC-MD5 answer: the legacy response
	modernRandomLen  = 40 // 3.12+: {digest} + os.urandom(40)
	maxDigestNameLen = 8  // len("sha3_384"): the '}' must come within 1+8+1 bytes

	defaultDigest = "sha256" // the digest our challenges offer, as 3.12+ does
)

// The handshake's fixed messages.
const (
	challengePrefix = "#CHALLENGE#"
	offeredDigest   = "{" + defaultDigest + "}"
)

// refusedPrefix starts the frame a server sends instead of its challenge
// when it does not take a connection (Refuse).
const refusedPrefix = "#REFUSED# "

var (
	msgChallenge = []byte(challengePrefix)
	msgWelcome   = []byte("#WELCOME#")
	msgFailure   = []byte("#FAILURE#")
)

// digest is one HMAC algorithm a {name} prefix may select.
type digest struct {
	name string
	new  func() hash.Hash
}

// digests is CPython 3.12's _ALLOWED_DIGESTS.
var digests = []digest{
	{"md5", md5.New},
	{"sha256", sha256.New},
	{"sha384", sha512.New384},
	{"sha3_256", func() hash.Hash { return sha3.New256() }},
	{"sha3_384", func() hash.Hash { return sha3.New384() }},
}

var digestMD5 = &digests[0]

func lookupDigest(name []byte) *digest {
	for i := range digests {
		if string(name) == digests[i].name {
			return &digests[i]
		}
	}
	return nil
}

func (d *digest) mac(key, msg []byte) []byte {
	m := hmac.New(d.new, key)
	m.Write(msg)
	return m.Sum(nil)
}

// parseAuthMessage interprets a challenge message (after #CHALLENGE#) or a
// response the way CPython 3.12+ does (_get_digest_name_and_payload): a
// 16- or 20-byte message is legacy (d is MD5, prefixed false, payload the
// whole message); any other must start with {name} for an allowed digest,
// and payload is what follows the prefix.
func parseAuthMessage(m []byte) (d *digest, prefixed bool, payload []byte, ok bool) {
	if len(m) == legacyMessageLen || len(m) == md5Len {
		return digestMD5, false, m, true
	}
	if len(m) > 0 && m[0] == '{' {
		end := len(m)
		if end > maxDigestNameLen+2 {
			end = maxDigestNameLen + 2
		}
		if i := bytes.IndexByte(m[1:end], '}'); i >= 0 {
			if d := lookupDigest(m[1 : 1+i]); d != nil {
				return d, true, m[2+i:], true
			}
		}
	}
	return nil, false, nil, false
}

// unparsable describes a message parseAuthMessage rejected.
func unparsable(m []byte) string {
	return "message of " + strconv.Itoa(len(m)) + " bytes has neither a legacy length nor a {digest} prefix naming an allowed digest: " + quoteStart(m)
}

// ServerHandshake authenticates a freshly accepted connection in the server
// role of multiprocessing.connection.Listener.accept: it delivers a
// challenge and checks the answer (sending #WELCOME# or #FAILURE#), then
// answers the client's challenge and waits for its verdict. It speaks to
// CPython 3.8–3.13 clients and to ClientHandshake.
//
// The challenge is the 3.12+ form, #CHALLENGE#{sha256} + 40 random bytes;
// accepted answers are a raw 16-byte HMAC-MD5 of the 48 bytes after
// #CHALLENGE# (what 3.8–3.11 send) or {name} + HMAC-name of them for name in
// md5, sha256, sha384, sha3_256, sha3_384. The client's challenge is
// answered in the form it uses: raw HMAC-MD5 for a 20-byte message, {name}
// + HMAC-name over the whole message for a prefixed one.
//
// Every handshake frame is limited to 256 bytes. Errors: ErrAuthFailed
// when the keys differ (the client was sent #FAILURE#, or it sent us
// #FAILURE#), ErrBadHandshake when the client broke the protocol, and I/O
// errors (io.EOF, timeouts) wrapped. ServerHandshake blocks on the network:
// bound it with c.SetDeadline. On TCP it enables TCP_QUICKACK before each
// read (see SetQuickAck). After any error, close c.
func ServerHandshake(c *Conn, authkey []byte) error {
	return ServerHandshakeNotify(c, authkey, nil)
}

// ServerHandshakeNotify is ServerHandshake that calls proved (unless nil)
// as soon as the client's answer to our challenge is verified, before the
// #WELCOME# that tells the client so: whatever proved does therefore
// happens before the client can complete its side of the handshake. A
// server uses it to stop counting the connection as unauthenticated.
func ServerHandshakeNotify(c *Conn, authkey []byte, proved func()) error {
	if err := deliverChallenge(c, authkey, proved); err != nil {
		return err
	}
	return answerChallenge(c, authkey)
}

// ClientHandshake authenticates a freshly dialled connection in the client
// role of multiprocessing.connection.Client: it answers the server's
// challenge and waits for its verdict, then delivers a challenge of its own
// and checks the answer. It speaks to CPython 3.8–3.13 servers (managers
// and Listeners) and to ServerHandshake, with the same forms, limits, errors
// and blocking behaviour as ServerHandshake.
//
// An error it returns names the phase that failed; [HandshakePhase] tells
// which.
func ClientHandshake(c *Conn, authkey []byte) error {
	if err := answerChallenge(c, authkey); err != nil {
		return err
	}
	return inPhase(PhaseVerify, deliverChallenge(c, authkey, nil))
}

// The phases of ClientHandshake, in order, as HandshakePhase reports them.
const (
	// PhaseChallenge: reading the server's challenge, which a server sends
	// as soon as it accepts a connection (a peer that is not a manager
	// fails here: it sends nothing, or something else), and answering it.
	PhaseChallenge = "challenge"
	// PhaseWelcome: waiting for the server's verdict on the answer,
	// #WELCOME# or #FAILURE# (a wrong authkey fails here).
	PhaseWelcome = "welcome"
	// PhaseVerify: challenging the server in turn and checking its answer.
	PhaseVerify = "verify"
)

// HandshakePhase returns the phase of ClientHandshake (PhaseChallenge,
// PhaseWelcome or PhaseVerify) in which err, returned by it, arose, or ""
// if err did not come from ClientHandshake.
func HandshakePhase(err error) string {
	var fe *frameError
	if errors.As(err, &fe) {
		return fe.phase
	}
	return ""
}

// inPhase records in err, if it is a handshake error, the client phase it
// arose in, and returns it.
func inPhase(phase string, err error) error {
	if fe, ok := err.(*frameError); ok {
		fe.phase = phase
	}
	return err
}

// Refuse sends, on a freshly accepted connection and in place of the
// server's challenge, the frame "#REFUSED# " + reason: the server does not
// take the connection (it is at a connection limit, say) and will close it.
// The reason is cut to fit the 256 bytes of a handshake frame. Peers report
// it as follows: ClientHandshake returns an error wrapping ErrRefused that
// carries the reason; a CPython 3.12+ client raises AuthenticationError
// ("Protocol error, expected challenge: message=b'#REFUSED# ...'"), a
// 3.8–3.11 client AssertionError ("message = b'#REFUSED# ...'"), both with
// the reason in the message. Refuse blocks until the kernel has taken the
// frame: bound it with c.SetWriteDeadline. The caller then closes c.
func Refuse(c *Conn, reason string) error {
	msg := refusedPrefix + reason
	if len(msg) > handshakeMaxFrame {
		msg = msg[:handshakeMaxFrame]
	}
	return c.WriteFrame([]byte(msg))
}

// deliverChallenge sends a 3.12+ challenge, verifies the answer and sends
// the verdict (CPython's deliver_challenge); proved, if not nil, is called
// before a #WELCOME# is sent.
func deliverChallenge(c *Conn, key []byte, proved func()) error {
	var frame [len(challengePrefix) + len(offeredDigest) + modernRandomLen]byte
	copy(frame[:], challengePrefix+offeredDigest)
	if _, err := io.ReadFull(c.random(), frame[len(challengePrefix)+len(offeredDigest):]); err != nil {
		return errors.New("wire: handshake: reading random bytes: " + err.Error())
	}
	msg := frame[:]
	if err := c.WriteFrame(msg); err != nil {
		return ioError("sending challenge", err)
	}
	resp, err := c.readHandshake("reading the answer to our challenge")
	if err != nil {
		return err
	}
	verr := verifyResponse(key, msg[len(msgChallenge):], resp)
	verdict := msgWelcome
	if verr != nil {
		verdict = msgFailure
	} else if proved != nil {
		proved()
	}
	if err := c.WriteFrame(verdict); err != nil && verr == nil {
		return ioError("sending #WELCOME#", err)
	}
	return verr
}

// verifyResponse checks an answer to our challenge message (the bytes
// after #CHALLENGE#), as CPython 3.12+'s _verify_challenge does.
func verifyResponse(key, msg, resp []byte) error {
	d, _, mac, ok := parseAuthMessage(resp)
	if !ok {
		return handshakeError("bad answer to our challenge: "+unparsable(resp), nil)
	}
	want := d.mac(key, msg)
	if len(mac) != len(want) {
		return handshakeError("bad answer to our challenge: "+d.name+" digest of "+
			strconv.Itoa(len(mac))+" bytes, want "+strconv.Itoa(len(want)), nil)
	}
	if !hmac.Equal(mac, want) {
		return authError("digest received was wrong")
	}
	return nil
}

// answerChallenge reads the peer's challenge, answers it and reads the
// verdict (CPython's answer_challenge).
func answerChallenge(c *Conn, key []byte) error {
	m, err := c.readHandshake("reading the challenge")
	if err != nil {
		return inPhase(PhaseChallenge, err)
	}
	if reason, ok := bytes.CutPrefix(m, []byte(refusedPrefix)); ok {
		return &frameError{msg: "wire: connection refused by the server: " + strconv.QuoteToGraphic(string(reason)), errs: []error{ErrRefused}, phase: PhaseChallenge}
	}
	if !bytes.HasPrefix(m, msgChallenge) {
		return inPhase(PhaseChallenge, handshakeError("expected #CHALLENGE#, got "+quoteStart(m), nil))
	}
	m = m[len(msgChallenge):]
	if len(m) < legacyMessageLen {
		return inPhase(PhaseChallenge, handshakeError("challenge too short: "+strconv.Itoa(len(m))+" bytes", nil))
	}
	d, prefixed, _, ok := parseAuthMessage(m)
	if !ok {
		return inPhase(PhaseChallenge, handshakeError("bad challenge: "+unparsable(m), nil))
	}
	// The MAC always covers the whole message, {digest} prefix included.
	var resp []byte
	if prefixed {
		resp = append(append(append(resp, '{'), d.name...), '}')
	}
	resp = append(resp, d.mac(key, m)...)
	if err := c.WriteFrame(resp); err != nil {
		return inPhase(PhaseChallenge, ioError("sending our answer", err))
	}
	v, err := c.readHandshake("reading the verdict on our answer")
	if err != nil {
		return inPhase(PhaseWelcome, err)
	}
	switch {
	case bytes.Equal(v, msgWelcome):
		return nil
	case bytes.Equal(v, msgFailure):
		return inPhase(PhaseWelcome, authError("digest sent was rejected"))
	}
	return inPhase(PhaseWelcome, handshakeError("expected #WELCOME# or #FAILURE#, got "+quoteStart(v), nil))
}

// readHandshake reads one handshake frame (at most 256 bytes).
func (c *Conn) readHandshake(what string) ([]byte, error) {
	c.quickAck()
	p, err := c.readFrame(handshakeMaxFrame)
	if err == nil {
		return p, nil
	}
	if errIsFraming(err) {
		return nil, handshakeError(trimPrefix(err.Error()), err)
	}
	return nil, ioError(what, err)
}

// random is the source of our challenge bytes: crypto/rand, unless a test
// substituted c.rand.
func (c *Conn) random() io.Reader {
	if c.rand != nil {
		return c.rand
	}
	return rand.Reader
}

// quickAck enables TCP_QUICKACK on TCP connections (see SetQuickAck).
func (c *Conn) quickAck() {
	if c.tcp {
		SetQuickAck(c.nc) // best effort: latency only
	}
}

func handshakeError(detail string, cause error) error {
	errs := []error{ErrBadHandshake}
	if cause != nil {
		errs = append(errs, cause)
	}
	return &frameError{msg: "wire: bad handshake: " + detail, errs: errs}
}

func authError(detail string) error {
	return &frameError{msg: "wire: authentication failed: " + detail, errs: []error{ErrAuthFailed}}
}

func ioError(what string, err error) error {
	return &frameError{msg: "wire: handshake: " + what + ": " + err.Error(), errs: []error{err}}
}

func trimPrefix(s string) string { return strings.TrimPrefix(s, "wire: ") }

// quoteStart quotes the first bytes of a peer's message for an error.
func quoteStart(m []byte) string {
	const limit = 32
	if len(m) > limit {
		return strconv.Quote(string(m[:limit])) + "..."
	}
	return strconv.Quote(string(m))
}

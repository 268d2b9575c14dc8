package wire_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/procshare/procshare/internal/wire"
)

var (
	goldenKey   = []byte("procshare")
	random40    = seq(0, 40)   // bytes 0..39: our challenge's random part
	random20    = seq(100, 20) // bytes 100..119: a legacy peer's challenge
	challenge   = append([]byte("#CHALLENGE#{sha256}"), random40...)
	welcome     = []byte("#WELCOME#")
	failure     = []byte("#FAILURE#")
	md5OfModern = unhex("8a5d46a346919d0968bc6e9167163e0e") // HMAC-MD5(key, "{sha256}"+random40)
)

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// Answers to our challenge #CHALLENGE#{sha256}+random40 under goldenKey,
// computed with CPython 3.12's hmac module: every form a 3.8–3.13 client
// may send.
var goldenAnswers = []struct {
	name   string
	answer []byte
}{
	{"legacy md5 (3.8-3.11 client)", md5OfModern},
	{"{md5}", unhex("7b6d64357d8a5d46a346919d0968bc6e9167163e0e")},
	{"{sha256} (3.12+ client)", unhex("7b7368613235367df962ee3e4a02d3063420ea4fa87b97b3170ebfcee38831bc94bf073c7a246f95")},
	{"{sha384}", unhex("7b7368613338347d12d9f7a9713a96c8930ce30741caff2c809f145760ecf37d8bf9b2acbf22d9c0caff3a3a4b6f814e346acfc908680bae")},
	{"{sha3_256}", unhex("7b736861335f3235367d5e29cd161a6360b71c65d0f9ba1b183f928cfb7335505c2d10baaae8bb12db0a")},
	{"{sha3_384}", unhex("7b736861335f3338347d63fc2806bbe3df5f04a9176ce3fa13d374fc2a26c21d713876240d3f0fe3e76b40803c23ead4b909ea9dee6c0409084f")},
}

// Challenges a peer may send and the answers CPython 3.12's
// _create_response gives to them under goldenKey.
var goldenResponses = []struct {
	name     string
	message  []byte // after #CHALLENGE#
	response []byte
}{
	{"legacy 20 bytes (3.8-3.11 peer)", random20, unhex("5a0555a83d2a24d127e7a07345395e82")},
	{"{sha256} (3.12+ peer)", append([]byte("{sha256}"), random40...), unhex("7b7368613235367df962ee3e4a02d3063420ea4fa87b97b3170ebfcee38831bc94bf073c7a246f95")},
	{"{md5}", append([]byte("{md5}"), random40...), unhex("7b6d64357d8d1775066fdb9342c377345b30dcc0bc")},
	{"{sha384}", append([]byte("{sha384}"), random40...), unhex("7b7368613338347db76daccc8a5db961b7c3ff9a9d5610382d83cd19c9241a3533dd0752bb9ff48ff96094bdb16b1488e737e14b09c2343b")},
	{"{sha3_256}", append([]byte("{sha3_256}"), random40...), unhex("7b736861335f3235367d72b425deb5f4b0d4d56d747349f00f86d0fcfac85e34ef15884d691da8d60462")},
	{"{sha3_384}", append([]byte("{sha3_384}"), random40...), unhex("7b736861335f3338347d916402208635a115dd429a5b0f48808cfe67b4c59843a8f20076472c06b0e34b4dbc559549398ce7bd9c306b9337eaaa")},
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestServerHandshakeGolden replays each client answer form against
// ServerHandshake and checks every byte the server writes.
func TestServerHandshakeGolden(t *testing.T) {
	t.Parallel()
	for _, a := range goldenAnswers {
		for _, r := range goldenResponses {
			peerChallenge := cat([]byte("#CHALLENGE#"), r.message)
			sc := newScriptConn(frame(a.answer, peerChallenge, welcome))
			c := wire.NewConn(sc, nil)
			wire.SetRandom(c, bytes.NewReader(random40))
			if err := wire.ServerHandshake(c, goldenKey); err != nil {
				t.Fatalf("%s / %s: %v", a.name, r.name, err)
			}
			if want := frame(challenge, welcome, r.response); !bytes.Equal(sc.out.Bytes(), want) {
				t.Fatalf("%s / %s: server wrote\n% x\nwant\n% x", a.name, r.name, sc.out.Bytes(), want)
			}
		}
	}
}

// TestClientHandshakeGolden replays each server challenge form against
// ClientHandshake.
func TestClientHandshakeGolden(t *testing.T) {
	t.Parallel()
	for _, r := range goldenResponses {
		for _, a := range goldenAnswers {
			sc := newScriptConn(frame(cat([]byte("#CHALLENGE#"), r.message), welcome, a.answer))
			c := wire.NewConn(sc, nil)
			wire.SetRandom(c, bytes.NewReader(random40))
			if err := wire.ClientHandshake(c, goldenKey); err != nil {
				t.Fatalf("%s / %s: %v", r.name, a.name, err)
			}
			if want := frame(r.response, challenge, welcome); !bytes.Equal(sc.out.Bytes(), want) {
				t.Fatalf("%s / %s: client wrote\n% x\nwant\n% x", r.name, a.name, sc.out.Bytes(), want)
			}
		}
	}
}

func TestHandshake(t *testing.T) {
	forEachTransport(t, func(t *testing.T, a, b net.Conn) {
		cc, sc := wire.NewConn(a, nil), wire.NewConn(b, nil)
		errc := make(chan error, 1)
		go func() { errc <- wire.ServerHandshake(sc, []byte("k")) }()
		if err := wire.ClientHandshake(cc, []byte("k")); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		go func() { errc <- cc.WriteFrame([]byte("request")) }()
		if p, err := sc.ReadFrame(); err != nil || string(p) != "request" {
			t.Fatalf("after the handshake: %q, %v", p, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

func TestHandshakeWrongKey(t *testing.T) {
	forEachTransport(t, func(t *testing.T, a, b net.Conn) {
		cc, sc := wire.NewConn(a, nil), wire.NewConn(b, nil)
		errc := make(chan error, 1)
		go func() {
			err := wire.ServerHandshake(sc, []byte("server key"))
			sc.Close()
			errc <- err
		}()
		cerr := wire.ClientHandshake(cc, []byte("client key"))
		serr := <-errc
		if !errors.Is(serr, wire.ErrAuthFailed) || serr.Error() != "wire: authentication failed: digest received was wrong" {
			t.Errorf("server: %v", serr)
		}
		if !errors.Is(cerr, wire.ErrAuthFailed) || cerr.Error() != "wire: authentication failed: digest sent was rejected" {
			t.Errorf("client: %v", cerr)
		}
	})
}

// The empty key is a key like any other (CPython authenticates with b”).
func TestHandshakeEmptyKey(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- wire.ServerHandshake(wire.NewConn(b, nil), nil) }()
	if err := wire.ClientHandshake(wire.NewConn(a, nil), []byte{}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeBadInput(t *testing.T) {
	t.Parallel()
	goodAnswer := goldenAnswers[2].answer
	long := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	for _, tc := range []struct {
		name   string
		server bool   // ServerHandshake (else ClientHandshake)
		in     []byte // the peer's bytes
		want   error
		wrote  []byte // what we must have written, when checked
	}{
		// Answers to our challenge (server role).
		{"wrong md5 answer", true, frame(seq(1, 16)), wire.ErrAuthFailed, frame(challenge, failure)},
		{"wrong sha256 answer", true, frame(cat([]byte("{sha256}"), seq(1, 32))), wire.ErrAuthFailed, frame(challenge, failure)},
		{"20-byte answer", true, frame(seq(1, 20)), wire.ErrBadHandshake, frame(challenge, failure)},
		{"unknown digest in answer", true, frame(cat([]byte("{sha1}"), seq(1, 20))), wire.ErrBadHandshake, frame(challenge, failure)},
		{"short prefixed answer", true, frame(cat([]byte("{sha256}"), seq(1, 31))), wire.ErrBadHandshake, frame(challenge, failure)},
		{"empty answer", true, frame(nil), wire.ErrBadHandshake, frame(challenge, failure)},
		{"oversized answer", true, frame(long(257)), wire.ErrBadHandshake, frame(challenge)},
		{"oversized answer is too large", true, frame(long(257)), wire.ErrFrameTooLarge, nil},
		{"answer then EOF", true, nil, io.EOF, frame(challenge)},
		{"truncated answer", true, frame(goodAnswer)[:10], io.ErrUnexpectedEOF, nil},
		// The peer's challenge (server role, after a good answer).
		{"garbage challenge", true, frame(goodAnswer, long(40)), wire.ErrBadHandshake, frame(challenge, welcome)},
		{"challenge without #CHALLENGE#", true, frame(goodAnswer, cat([]byte("#CHALLENGX#"), random20)), wire.ErrBadHandshake, nil},
		{"short challenge", true, frame(goodAnswer, cat([]byte("#CHALLENGE#"), seq(0, 19))), wire.ErrBadHandshake, nil},
		{"unknown digest", true, frame(goodAnswer, cat([]byte("#CHALLENGE#{sha1}"), random40)), wire.ErrBadHandshake, nil},
		{"unclosed digest", true, frame(goodAnswer, cat([]byte("#CHALLENGE#{sha256"), random40)), wire.ErrBadHandshake, nil},
		{"brace too far", true, frame(goodAnswer, cat([]byte("#CHALLENGE#{sha3_3844}"), random40)), wire.ErrBadHandshake, nil},
		{"empty digest name", true, frame(goodAnswer, cat([]byte("#CHALLENGE#{}"), random40)), wire.ErrBadHandshake, nil},
		{"oversized challenge", true, frame(goodAnswer, cat([]byte("#CHALLENGE#"), long(300))), wire.ErrBadHandshake, nil},
		// The verdict on our answer.
		{"failure verdict", true, frame(goodAnswer, cat([]byte("#CHALLENGE#"), random20), failure), wire.ErrAuthFailed, nil},
		{"odd verdict", true, frame(goodAnswer, cat([]byte("#CHALLENGE#"), random20), []byte("#WELCOME")), wire.ErrBadHandshake, nil},
		{"no verdict", true, frame(goodAnswer, cat([]byte("#CHALLENGE#"), random20)), io.EOF, nil},
		// Client role.
		{"client: not a challenge", false, frame([]byte("hello")), wire.ErrBadHandshake, []byte{}},
		{"client: oversized challenge", false, frame(long(1000)), wire.ErrBadHandshake, []byte{}},
		{"client: failure verdict", false, frame(cat([]byte("#CHALLENGE#"), random20), failure), wire.ErrAuthFailed, nil},
		{"client: wrong answer from the server", false, frame(cat([]byte("#CHALLENGE#"), random20), welcome, seq(1, 16)), wire.ErrAuthFailed, nil},
	} {
		sc := newScriptConn(tc.in)
		c := wire.NewConn(sc, nil)
		wire.SetRandom(c, bytes.NewReader(random40))
		var err error
		if tc.server {
			err = wire.ServerHandshake(c, goldenKey)
		} else {
			err = wire.ClientHandshake(c, goldenKey)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "wire: ") {
			t.Errorf("%s: message %q lacks the package prefix", tc.name, err)
		}
		if tc.wrote != nil && !bytes.Equal(sc.out.Bytes(), tc.wrote) {
			t.Errorf("%s: wrote %q, want %q", tc.name, sc.out.Bytes(), tc.wrote)
		}
	}
}

// A refusal in place of the challenge is ErrRefused with the server's
// reason; a reason too long for a handshake frame is cut.
func TestRefuse(t *testing.T) {
	t.Parallel()
	sc := newScriptConn(nil)
	if err := wire.Refuse(wire.NewConn(sc, nil), "too many connections"); err != nil {
		t.Fatal(err)
	}
	if want := frame([]byte("#REFUSED# too many connections")); !bytes.Equal(sc.out.Bytes(), want) {
		t.Fatalf("Refuse wrote % x, want % x", sc.out.Bytes(), want)
	}
	err := wire.ClientHandshake(wire.NewConn(newScriptConn(sc.out.Bytes()), nil), []byte("k"))
	if !errors.Is(err, wire.ErrRefused) || err.Error() != `wire: connection refused by the server: "too many connections"` {
		t.Fatalf("ClientHandshake = %v", err)
	}

	sc = newScriptConn(nil)
	wire.Refuse(wire.NewConn(sc, nil), strings.Repeat("x", 300))
	err = wire.ClientHandshake(wire.NewConn(newScriptConn(sc.out.Bytes()), nil), []byte("k"))
	if !errors.Is(err, wire.ErrRefused) || len(sc.out.Bytes()) != 4+256 {
		t.Fatalf("long reason: %d bytes written, %v", len(sc.out.Bytes()), err)
	}
}

// ServerHandshakeNotify calls proved once the answer is verified and
// before #WELCOME# is written; not at all for a wrong key.
func TestServerHandshakeNotify(t *testing.T) {
	t.Parallel()
	a := goldenAnswers[0]
	r := goldenResponses[0]
	sc := newScriptConn(frame(a.answer, cat([]byte("#CHALLENGE#"), r.message), welcome))
	c := wire.NewConn(sc, nil)
	wire.SetRandom(c, bytes.NewReader(random40))
	calls := 0
	err := wire.ServerHandshakeNotify(c, goldenKey, func() {
		calls++
		if want := frame(challenge); !bytes.Equal(sc.out.Bytes(), want) {
			t.Errorf("proved called after the server wrote % x", sc.out.Bytes())
		}
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d calls", err, calls)
	}

	sc = newScriptConn(frame(a.answer))
	c = wire.NewConn(sc, nil)
	wire.SetRandom(c, bytes.NewReader(random40))
	err = wire.ServerHandshakeNotify(c, []byte("another key"), func() { calls++ })
	if !errors.Is(err, wire.ErrAuthFailed) || calls != 1 {
		t.Fatalf("wrong key: err %v, %d calls", err, calls-1)
	}
}

// TestHandshakePhase checks that ClientHandshake's errors name the phase
// that failed.
func TestHandshakePhase(t *testing.T) {
	t.Parallel()
	peerChallenge := cat([]byte("#CHALLENGE#"), goldenResponses[1].message)
	for _, tc := range []struct {
		name   string
		script []byte // what the peer sends
		phase  string
	}{
		{"nothing", nil, wire.PhaseChallenge},
		{"not a manager", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), wire.PhaseChallenge},
		{"refusal", frame([]byte("#REFUSED# full")), wire.PhaseChallenge},
		{"no verdict", frame(peerChallenge), wire.PhaseWelcome},
		{"failure", frame(peerChallenge, failure), wire.PhaseWelcome},
		{"no answer to our challenge", frame(peerChallenge, welcome), wire.PhaseVerify},
		{"wrong answer", frame(peerChallenge, welcome, md5OfModern[:15]), wire.PhaseVerify},
	} {
		c := wire.NewConn(newScriptConn(tc.script), nil)
		wire.SetRandom(c, bytes.NewReader(random40))
		err := wire.ClientHandshake(c, goldenKey)
		if err == nil {
			t.Fatalf("%s: handshake succeeded", tc.name)
		}
		if got := wire.HandshakePhase(err); got != tc.phase {
			t.Errorf("%s: HandshakePhase(%v) = %q, want %q", tc.name, err, got, tc.phase)
		}
	}
	if got := wire.HandshakePhase(io.EOF); got != "" {
		t.Errorf("HandshakePhase(io.EOF) = %q", got)
	}
}

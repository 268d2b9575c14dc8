package manager_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/internal/wire"
	"github.com/procshare/procshare/manager"
)

// fakePeer listens on 127.0.0.1 and runs serve on every connection it
// accepts, until the test ends.
func fakePeer(t *testing.T, serve func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				serve(nc)
			}()
		}
	}()
	return ln.Addr().String()
}

// silent reads what the client sends and never answers, until the client
// hangs up.
func silent(nc net.Conn) {
	var b [256]byte
	for {
		if _, err := nc.Read(b[:]); err != nil {
			return
		}
	}
}

// TestDialPhases dials peers that fail each phase of a connection's setup
// and checks that Dial returns (within Config.DialTimeout, never hanging)
// a *DialError that names the address and the phase.
func TestDialPhases(t *testing.T) {
	t.Parallel()
	key := []byte("the key")
	refused := func() string { // a port with no listener
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	for _, tc := range []struct {
		name    string
		addr    string
		phase   string
		timeout bool  // a *DialTimeoutError
		is      error // errors.Is target, if any
		text    string
	}{
		{name: "connection refused", addr: refused, phase: manager.PhaseDial, text: "connection refused"},
		{name: "silent peer", addr: fakePeer(t, silent), phase: manager.PhaseChallenge, timeout: true,
			text: "no challenge within 300ms: a manager sends one at once; is this a manager?"},
		{name: "web server", addr: fakePeer(t, func(nc net.Conn) {
			nc.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			silent(nc)
		}), phase: manager.PhaseChallenge, is: wire.ErrBadHandshake, text: "is this a manager?"},
		{name: "no verdict", addr: fakePeer(t, func(nc net.Conn) {
			wc := wire.NewConn(nc, nil)
			wc.WriteFrame([]byte("#CHALLENGE#01234567890123456789"))
			silent(nc)
		}), phase: manager.PhaseWelcome, timeout: true, text: "no verdict on our answer within 300ms"},
		{name: "wrong authkey", addr: fakePeer(t, func(nc net.Conn) {
			wire.ServerHandshake(wire.NewConn(nc, nil), []byte("another key"))
		}), phase: manager.PhaseWelcome, is: manager.ErrAuthFailed},
		{name: "no answer to our challenge", addr: fakePeer(t, func(nc net.Conn) {
			wc := wire.NewConn(nc, nil)
			wc.WriteFrame([]byte("#CHALLENGE#01234567890123456789"))
			wc.ReadFrame()
			wc.WriteFrame([]byte("#WELCOME#"))
			silent(nc)
		}), phase: manager.PhaseVerify, timeout: true, text: "no answer to our challenge within 300ms"},
		{name: "a Listener that is not a manager", addr: fakePeer(t, func(nc net.Conn) {
			// multiprocessing.connection.Listener with the same key:
			// the handshake succeeds, then it waits for its own messages.
			if wire.ServerHandshake(wire.NewConn(nc, nil), key) == nil {
				silent(nc)
			}
		}), phase: manager.PhaseAccept, timeout: true, text: "no reply to accept_connection within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &manager.Config{DialTimeout: 300 * time.Millisecond}
			c, err := manager.Dial(context.Background(), tc.addr, key, cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			t.Log(err)
			var de *manager.DialError
			if !errors.As(err, &de) {
				t.Fatalf("Dial = %v (%T), want a *DialError", err, err)
			}
			if de.Phase != tc.phase || de.Addr.Addr != tc.addr {
				t.Errorf("Dial = %v: phase %q at %s, want %q at %s", err, de.Phase, de.Addr, tc.phase, tc.addr)
			}
			if !strings.HasPrefix(err.Error(), "manager: tcp "+tc.addr+": "+tc.phase+": ") || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("message %q, want the address, the phase and %q", err, tc.text)
			}
			var te *manager.DialTimeoutError
			if errors.As(err, &te) != tc.timeout || de.Timeout() != tc.timeout || errors.Is(err, context.DeadlineExceeded) != tc.timeout {
				t.Errorf("Dial = %v: timeout %v, want %v", err, de.Timeout(), tc.timeout)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Dial = %v, want an error matching %v", err, tc.is)
			}
		})
	}
}

// TestDialCallerDeadline checks that the caller's ctx bounds Dial too, and
// that its error is reported as such (not as Config.DialTimeout's).
func TestDialCallerDeadline(t *testing.T) {
	t.Parallel()
	addr := fakePeer(t, silent)
	for _, timeout := range []time.Duration{-1, time.Minute} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := manager.Dial(ctx, addr, []byte("k"), &manager.Config{DialTimeout: timeout})
		cancel()
		var de *manager.DialError
		var te *manager.DialTimeoutError
		if !errors.As(err, &de) || de.Phase != manager.PhaseChallenge || de.Err != context.DeadlineExceeded || errors.As(err, &te) {
			t.Errorf("DialTimeout %v: Dial = %v, want the caller's deadline in phase challenge", timeout, err)
		}
	}
}

// TestDialDefaultTimeout checks that Dial with no Config and a ctx without
// deadline returns from a silent peer: the default DialTimeout.
func TestDialDefaultTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the default DialTimeout (10s)")
	}
	t.Parallel()
	_, err := manager.Dial(context.Background(), fakePeer(t, silent), []byte("k"), nil)
	var te *manager.DialTimeoutError
	if !errors.As(err, &te) || te.Timeout != 10*time.Second {
		t.Fatalf("Dial = %v, want a DialTimeoutError of 10s", err)
	}
}

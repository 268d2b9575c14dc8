//go:build unix

package manager

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestPeerHungUp: the check made before replying to a call that waited
// sees a closed peer over TCP and Unix sockets, with or without unread
// bytes before the end, on netpoller and dedicated-thread sockets alike.
func TestPeerHungUp(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		for _, detach := range []bool{false, true} {
			for _, unread := range []bool{false, true} {
				if unread && runtime.GOOS != "linux" {
					continue // only Linux's POLLRDHUP sees past unread bytes
				}
				addr := "127.0.0.1:0"
				if network == "unix" {
					addr = t.TempDir() + "/s"
				}
				ln, err := net.Listen(network, addr)
				if err != nil {
					t.Fatal(err)
				}
				client, err := net.Dial(network, ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				server, err := ln.Accept()
				ln.Close()
				if err != nil {
					t.Fatal(err)
				}
				if detach {
					tc, err := detachConn(server, 0)
					if err != nil {
						t.Fatal(err)
					}
					server = tc
					defer tc.release()
				} else {
					defer server.Close()
				}
				if peerHungUp(server) {
					t.Fatalf("%s detach=%v: hung up before the peer closed", network, detach)
				}
				if unread {
					client.Write([]byte("request"))
				}
				client.Close()
				deadline := time.Now().Add(5 * time.Second)
				for !peerHungUp(server) {
					if time.Now().After(deadline) {
						t.Fatalf("%s detach=%v unread=%v: the peer's close was never seen", network, detach, unread)
					}
					time.Sleep(time.Millisecond)
				}
			}
		}
	}
}

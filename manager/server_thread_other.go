//go:build !unix

package manager

import (
	"errors"
	"net"
	"time"
)

// threadConnSupported is false: without Unix descriptors every connection
// is served through Go's netpoller.
const threadConnSupported = false

// threadConn is never made on this system (takeThread always refuses).
type threadConn struct{ net.Conn }

func detachConn(net.Conn, time.Duration) (*threadConn, error) {
	return nil, errors.New("manager: dedicated threads need a Unix system")
}

func (c *threadConn) release() {}
func (c *threadConn) watchConn() (net.Conn, error) {
	return nil, errors.New("manager: no dedicated threads")
}
func (c *threadConn) unwatch(net.Conn) {}
func (c *threadConn) toNetpoller() (net.Conn, error) {
	return nil, errors.New("manager: no dedicated threads")
}

// peerHungUp cannot look at the socket here: a dead peer is noticed by the
// watcher or when the reply is written.
func peerHungUp(net.Conn) bool { return false }

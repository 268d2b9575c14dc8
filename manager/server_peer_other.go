//go:build !linux && !darwin

package manager

import "net"

// unixPeerPID returns 0: this system does not tell who connected a Unix
// socket (in a form this package reads), so all Unix-socket clients count
// as one peer.
func unixPeerPID(net.Conn) int { return 0 }

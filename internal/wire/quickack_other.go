//go:build !linux

package wire

import "net"

// SetQuickAck enables TCP_QUICKACK on Linux (see the Linux documentation of
// this function). Elsewhere there is no such option, and it does nothing.
func SetQuickAck(c net.Conn) error { return nil }

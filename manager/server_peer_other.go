//go:build !linux && !darwin

package manager

// fdPeerPID returns 0: this system does not tell who connected a Unix
// socket (in a form this package reads), so all Unix-socket clients count
// as one peer.
func fdPeerPID(uintptr) int { return 0 }

//go:build !unix

package manager

// fdLimit returns 0: the descriptor limit is not known here.
func fdLimit() int { return 0 }

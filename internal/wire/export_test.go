package wire

import "io"

// SetRandom makes c's challenges use r instead of crypto/rand.
func SetRandom(c *Conn, r io.Reader) { c.rand = r }

// ReadBufferCap is the capacity of c's large-frame buffer.
func ReadBufferCap(c *Conn) int { return cap(c.rbuf) }

const ReadBufferSize = readBufferSize

// Package wire implements the transport of CPython's
// multiprocessing.connection, which multiprocessing managers, Listener and
// Client use over stream sockets: length-prefixed frames and the mutual
// HMAC challenge-response handshake, in both its legacy (CPython 3.8–3.11)
// and its {digest} (3.12+) form. The manager server and client are built on
// it; the messages inside the frames (pickles) are not its business.
//
// # Frames
//
// Every message in both directions, handshake included, is one frame: a
// length header followed by that many payload bytes. There is no other
// delimiter, no checksum and no type byte.
//
//	short form (payload up to 0x7fffffff bytes; what every sender uses):
//	  +----------------------------+-----------------+
//	  | length: int32, big-endian  | payload bytes   |
//	  +----------------------------+-----------------+
//	     4 bytes                      length bytes
//
//	long form (payload over 0x7fffffff bytes; CPython 3.8+ only):
//	  +-------------+------------------------------+---------------+
//	  | ff ff ff ff | length: uint64, big-endian   | payload bytes |
//	  +-------------+------------------------------+---------------+
//	     4 bytes       8 bytes                        length bytes
//
// Examples: the empty frame is 00 00 00 00; "#WELCOME#" is
// 00 00 00 09 23 57 45 4c 43 4f 4d 45 23.
//
// [Conn.ReadFrame] accepts both forms (the long form with any length) and
// rejects, before allocating anything, a length above [Config].MaxFrame
// ([*FrameTooLargeError], 64 MiB by default) and a negative 4-byte length
// other than -1 ([ErrBadFrame]; CPython would read such a header as an empty
// payload, but no CPython sender writes one). [Conn.SkipFrame] discards the
// payload of a frame over the limit, through the fixed read buffer, so that
// a server can answer the request with an error and go on reading. [Conn.WriteFrame] writes the
// long form only above 0x7fffffff bytes, so CPython 3.7 and older can read
// everything else. The end of the stream between two frames is a clean
// close (io.EOF); inside a frame it is io.ErrUnexpectedEOF.
//
// CPython writes the header and a payload of up to 16 KiB with one write()
// (to avoid Nagle delays) and larger payloads with two. This package writes
// a frame with one write call whatever its size on TCP and Unix sockets (a
// writev for payloads over 64 KiB), and [Conn.BufferFrame] with [Conn.Flush]
// puts several frames in one write.
//
// # Handshake
//
// Right after connecting, and before any other frame, both sides prove they
// hold the same secret authkey; authentication is mutual. The server speaks
// first. Each line is one frame; every handshake frame is at most 256 bytes
// (a longer one fails the handshake, as CPython's recv_bytes(256) does).
//
//	server → client  "#CHALLENGE#" + M1     challenge (server delivers)
//	client → server  answer(M1)
//	server → client  "#WELCOME#" | "#FAILURE#"
//	client → server  "#CHALLENGE#" + M2     challenge (client delivers)
//	server → client  answer(M2)
//	client → server  "#WELCOME#" | "#FAILURE#"
//
// [ServerHandshake] plays the server's lines (deliver, then answer),
// [ClientHandshake] the client's (answer, then deliver).
//
// A server that does not take a connection (at a connection limit) sends,
// in place of its challenge, one frame "#REFUSED# " + reason ([Refuse]) and
// closes. ClientHandshake reports it as [ErrRefused] with the reason; CPython
// clients, which expect a challenge, raise AuthenticationError (3.12+) or
// AssertionError (3.8–3.11) with the frame's bytes in the message.
//
// Legacy form (CPython 3.8–3.11 challengers): M is 20 random bytes (the
// challenge frame is 31 bytes) and the answer is the raw 16-byte
// HMAC-MD5(authkey, M), without any prefix.
//
//	challenge: 23 43 48 41 4c 4c 45 4e 47 45 23 | 20 random bytes
//	           "#CHALLENGE#"
//	answer:    HMAC-MD5(authkey, M)                   16 bytes
//
// Modern form (CPython 3.12+ challengers, and this package): M is "{sha256}"
// followed by 40 random bytes (48 bytes; challenge frame 59 bytes). The
// answer is "{name}" followed by HMAC-name(authkey, M), computed over the
// whole of M, its "{sha256}" prefix included, so the offered digest cannot
// be stripped; for sha256 the answer is 40 bytes.
//
//	challenge: "#CHALLENGE#" | "{sha256}" | 40 random bytes       59 bytes
//	answer:    "{sha256}" | HMAC-SHA256(authkey, "{sha256}"+random) 40 bytes
//
// Allowed names are md5, sha256, sha384, sha3_256 and sha3_384 (CPython's
// _ALLOWED_DIGESTS). Both the challenge message M and an answer are
// classified by one rule: exactly 16 or 20 bytes means legacy (MD5, no
// prefix); anything else must start with "{name}" for an allowed name, the
// closing brace within its first 10 bytes.
//
// What this package does, in either role:
//
//   - Delivering: it always sends the modern challenge. It accepts a raw
//     16-byte answer checked as HMAC-MD5 over all 48 bytes of M (what a
//     3.8–3.11 peer, which treats M as opaque, sends), or a "{name}" answer
//     for any allowed name; the MAC is compared in constant time and its
//     length must match. It then sends "#WELCOME#", or "#FAILURE#" and fails
//     with [ErrAuthFailed] (wrong MAC) or [ErrBadHandshake] (malformed
//     answer).
//   - Answering: the challenge must start with "#CHALLENGE#" and M must be
//     at least 20 bytes. A 20-byte M (legacy peer) is answered with raw
//     HMAC-MD5(authkey, M); a prefixed M with "{name}" + HMAC-name(authkey,
//     M). Anything else is [ErrBadHandshake] (as in CPython 3.12+). A
//     "#FAILURE#" verdict is [ErrAuthFailed]; a verdict other than
//     "#WELCOME#"/"#FAILURE#" is [ErrBadHandshake].
//
// So every pairing of CPython 3.8–3.13 and this package authenticates:
// legacy peers get answers they can check and answer our modern challenge
// with MD5 over all of it; modern peers use sha256 both ways.
//
// What CPython reports on a wrong key: a CPython client connecting to our
// server raises AuthenticationError('digest sent was rejected') (it reads
// our "#FAILURE#"); a CPython Listener.accept (or manager server) raises
// AuthenticationError('digest received was wrong') when our client's
// answer is wrong, and our ClientHandshake returns [ErrAuthFailed]
// ("digest sent was rejected"). An empty authkey is still a key.
//
// # TCP latency
//
// CPython does not set TCP_NODELAY, so a CPython client that writes twice
// without reading in between (#WELCOME# then its first request, or the two
// writes of a frame over 16 KiB) stalls for a delayed ACK (~40 ms on Linux)
// unless the server acknowledges at once. The handshake functions enable
// TCP_QUICKACK before each of their reads, and ReadFrame before it waits for
// the rest of a frame whose header has arrived (the flag is not sticky, so
// it is set where an ACK is awaited). In between, replies carry the ACKs.
// Unix-domain sockets are not affected.
//
// # Concurrency
//
// A [Conn] allows one reading goroutine and one writing goroutine at a
// time; see its documentation. Nothing in this package is process-shared.
package wire

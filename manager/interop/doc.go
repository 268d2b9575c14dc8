// Package interop holds procshare's Python interoperability suite for the
// manager server: unmodified CPython 3.8–3.13 clients (SyncManager.connect
// and the stock proxies) run against a [manager.Server] over a Unix socket
// and over TCP.
//
// Its exported functions are test harness, used by its own tests and by
// manager/conformance: [StartServer] (an
// in-process server on a Unix socket or TCP), [StartCPythonServer],
// [RunScript] and [ParseOutput] (scripts that print "@@RESULT {json}"
// lines), [NewAuthkey], [SocketPath], [Testdata]. They take a testing.TB
// and are not meant for programs. The checks themselves are in testdata/:
//
//   - testdata/interop_suite.py is a stdlib unittest module, one named test
//     per check: every SyncManager typeid and exposed method, nested
//     proxies, opaque values (a dataclass, datetime, Decimal, numpy when
//     importable, opaque dict keys), recursive and shared values, remote
//     exceptions with their messages, timeouts (0 and negative too), forked
//     and spawned child processes, clients killed mid-call, a named shared
//     object (get_queue), proxies to a second server stored in the first,
//     bad input (wrong authkey, unknown methods, wrong arguments) and the
//     procshare extensions (ps_add, …). It prints one "@@RESULT {json}"
//     line per test (116 tests).
//   - testdata/cpython_server.py serves CPython's own SyncManager (plus
//     get_queue) as a separate process: the baseline that shows the suite
//     itself is right.
//
// # Tests
//
// TestSuite starts procshare's server in-process (two of them: the second
// for the cross-server tests) and runs the suite once per interpreter and
// transport; each Python test becomes a Go subtest
// (TestSuite/py3.12/unix/TestQueue.test_put_get), so a failure names the
// failing check. TestSuiteAgainstCPython runs the same suite against
// CPython's server of the same version (Unix socket; TCP too without
// -short: CPython's server pays a ~40 ms delayed-ACK stall per connection
// over TCP, see PROTOCOL.md). TestNumpyArray runs the numpy case with
// Debian's /usr/bin/python3 when it has python3-numpy. With -short, TCP runs
// only with the oldest and newest interpreters and CPython's server only
// with the newest.
//
//	go test ./manager/interop/                       # all interpreters
//	go test ./manager/interop/ -run 'TestSuite/py3.13/tcp'
//
// [manager.Server]: github.com/procshare/procshare/manager.Server
package interop

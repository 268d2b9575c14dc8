// Package conformance runs CPython's own manager tests against procshare's
// manager server.
//
// Each CPython version ships its multiprocessing test suite
// (lib/python3.X/test/_test_multiprocessing.py). Its manager tests — the
// WithManager* classes that install_tests_in_module_dict builds,
// TestSyncManagerTypes, and TestManagerExceptions on 3.13 — normally start
// a manager server process of their own. testdata/runner.py imports the
// suite, patches BaseManager.start so that it connect()s to an external
// server instead (with that server's authkey, also set as the process
// authkey, since nested proxies authenticate with it), makes shutdown
// local, runs the selected tests with unittest and prints one
// "@@RESULT {json}" line per test.
//
// Some tests cannot apply to a server that does not run Python code (the
// Pool, a Barrier action, MyManager's Python classes, the xmlrpclib
// RemoteManager); testdata/not_applicable.txt lists them with the reason,
// found by running the runner against CPython's own server started as a
// separate process. Everything else must pass.
//
// # Running
//
//	go test ./manager/conformance/                  # every interpreter
//	go test -short ./manager/conformance/           # the newest only (CI)
//	PROCSHARE_CONFORMANCE=3.8,3.13 go test -short ./manager/conformance/
//	PROCSHARE_CONFORMANCE_CPYTHON=1 go test -run AgainstCPython ./manager/conformance/
//	PROCSHARE_CONFORMANCE_START=spawn go test ./manager/conformance/  # children spawned, not forked
//
// With -v each interpreter's run ends with a "summary" line: tests passed,
// failed, skipped by CPython's suite itself, and not applicable.
//
// By hand, against any server:
//
//	python3.13 testdata/runner.py --address /tmp/m.sock --authkey-hex 736563726574 [-k WithManagerTestQueue]
//
// FINDINGS.md records the differences from CPython found this way.
package conformance

#!/usr/bin/env python3
"""Run CPython's own manager tests against an external manager server.

    python runner.py --address ADDR --authkey-hex HEX [--start-method fork]
                     [-k SUBSTRING] [--list]

Imports this interpreter's test._test_multiprocessing, builds its manager
test classes (the WithManager* classes that install_tests_in_module_dict
makes, TestSyncManagerTypes, and TestManagerExceptions on 3.13) in the
module procshare_conformance.py (next to this file, so spawned children
can import them too) and runs them with unittest, after patching BaseManager.start so that instead of
spawning a server process it connect()s to ADDR with the external authkey
(also set as current_process().authkey, since nested proxies authenticate
with the process key). BaseManager.shutdown becomes local: it marks the
manager shut down without stopping the external server, which every test
class shares.

Output: unittest's report on stderr, and one line per test on stdout:

    @@RESULT {"test": "WithManagerTestQueue.test_fork", "status": "pass", "detail": ""}

status is pass, fail, error or skip (detail: traceback or skip reason).
Errors of class/module fixtures are reported under the fixture's name
("setUpClass (procshare_conformance.WithManagerTestBarrier)").
"""
import argparse
import faulthandler
import json
import multiprocessing
import os
import sys
import time
import unittest

from multiprocessing import managers, process, util


def parse_address(s):
    if '/' not in s and s.count(':') == 1:
        host, port = s.rsplit(':', 1)
        if port.isdigit():
            return (host, int(port))
    return s


def patch_managers(address, authkey):
    """Make every BaseManager.start connect to the external server."""
    State = managers.State

    def start(self, initializer=None, initargs=()):
        if self._state.value != State.INITIAL:
            raise managers.ProcessError('Manager has already been started'
                                        if self._state.value == State.STARTED
                                        else 'Manager has shut down')
        # The tests start managers with the default address and key; the
        # external server has its own.
        self._address = address
        self._authkey = process.AuthenticationString(authkey)
        self._process = None
        self.connect()

        def shutdown():
            # Local only: the external server is shared by all tests.
            self._state.value = State.SHUTDOWN
        self.shutdown = shutdown

    managers.BaseManager.start = start
    if not hasattr(managers.BaseManager, '_process'):
        managers.BaseManager._process = None


def build_suite(start_method, pattern, exclude):
    os.environ['PROCSHARE_CONFORMANCE_START_METHOD'] = start_method
    import procshare_conformance as mod
    loader = unittest.TestLoader()
    tests = []
    for name in mod.MANAGER_CLASSES:
        for t in loader.loadTestsFromTestCase(getattr(mod, name)):
            name = test_name(t)
            if pattern is not None and pattern not in name:
                continue
            if name in exclude or name.split('.')[0] in exclude:
                continue
            tests.append(t)
    return unittest.TestSuite(tests)


def test_name(test):
    tid = test.id()
    if tid.startswith('procshare_conformance.'):
        return tid[len('procshare_conformance.'):]
    return tid


class LineResult(unittest.TextTestResult):
    timeout = 120  # seconds one test may take before the run is abandoned

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        sys.stdout.write('@@START ' + json.dumps({'test': test_name(test)}) + '\n')
        sys.stdout.flush()
        # A test that hangs (a call the server never answers) would stall
        # the whole run: dump every thread's stack and exit instead. The
        # driver reports the test named by the last @@START line.
        faulthandler.dump_traceback_later(self.timeout, exit=True)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)

    def _emit(self, test, status, detail=''):
        secs = time.monotonic() - getattr(self, '_t0', time.monotonic())
        sys.stdout.write('@@RESULT ' + json.dumps(
            {'test': test_name(test), 'status': status, 'detail': detail,
             'secs': round(secs, 3)}) + '\n')
        sys.stdout.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(test, 'pass')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(test, 'fail', self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(test, 'error', self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(test, 'skip', reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(test, 'pass', 'expected failure')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(test, 'fail', 'unexpected success')

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            status = 'fail' if issubclass(err[0], test.failureException) else 'error'
            self._emit(subtest, status, self._exc_info_to_string(err, test))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--address', required=True)
    ap.add_argument('--authkey-hex', required=True)
    ap.add_argument('--start-method', default='fork')
    ap.add_argument('-k', dest='pattern', help='run tests whose name contains this')
    ap.add_argument('--exclude', default='',
                    help='comma-separated test or class names not to run')
    ap.add_argument('--timeout', type=float, default=120,
                    help='seconds one test may take before the run is abandoned')
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args()

    authkey = bytes.fromhex(args.authkey_hex)
    multiprocessing.current_process().authkey = authkey
    patch_managers(parse_address(args.address), authkey)
    exclude = set(x.strip() for x in args.exclude.split(',') if x.strip())
    suite = build_suite(args.start_method, args.pattern, exclude)
    LineResult.timeout = args.timeout
    if args.list:
        for t in suite:
            print(test_name(t))
        return 0
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2,
                                     resultclass=LineResult).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())

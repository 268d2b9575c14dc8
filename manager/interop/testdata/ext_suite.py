#!/usr/bin/env python3
"""Tests of python/procshare_ext.py against a procshare manager server.

    PS_ADDRESS=host:port|/path PS_AUTHKEY=<hex> PS_EXT_DIR=<dir of procshare_ext.py> \
        python ext_suite.py

One "@@RESULT {json}" line per test on stdout, as interop_suite.py prints
(its LineResult). The server exposes get_queue=Queue (the harness default).
Stdlib only; CPython 3.8 - 3.13.
"""
import multiprocessing
import os
import queue
import sys
import unittest
from multiprocessing.managers import BaseManager, SyncManager

sys.path.insert(0, os.environ['PS_EXT_DIR'])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procshare_ext  # noqa: E402
from interop_suite import ADDRESS, AUTHKEY, LineResult  # noqa: E402

procshare_ext.install()


def connect():
    m = SyncManager(address=ADDRESS, authkey=AUTHKEY)
    m.connect()
    return m


class Named(BaseManager):
    pass


Named.register('get_queue', proxytype=procshare_ext.QueueProxy)


def child_adds(v, d, q, n):
    for _ in range(n):
        v.add(1)
        d.incr('k')
    q.put_many(list(range(n)))


class TestExt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = connect()

    def test_value(self):
        v = self.m.Value('i', 0)
        self.assertEqual(v.add(5), 5)
        self.assertTrue(v.cas(5, 7))
        self.assertFalse(v.cas(5, 8))
        self.assertEqual(v.get(), 7)
        self.assertEqual(procshare_ext.add(v, 1), 8)
        f = self.m.Value('d', 0.5)
        self.assertEqual(f.add(0.25), 0.75)
        s = self.m.Value('u', 'a')  # Python + on any value
        self.assertEqual(s.add('b'), 'ab')

    def test_dict(self):
        d = self.m.dict()
        self.assertEqual(d.incr('hits'), 1)
        self.assertEqual(d.incr('hits', 41), 42)
        self.assertEqual(d.setdefault_add('l', [], [1]), [1])
        self.assertEqual(d.setdefault_add('l', [], [2]), [1, 2])
        self.assertEqual(d['hits'], 42)
        with self.assertRaises(TypeError):
            d.incr('l', 1)  # list + int

    def test_list(self):
        lst = self.m.list(range(10))
        self.assertEqual(lst.pop_many(3), [0, 1, 2])
        self.assertEqual(lst.pop_many(2, -1), [9, 8])
        self.assertEqual(lst.pop_many(100), [3, 4, 5, 6, 7])
        self.assertEqual(lst.pop_many(1), [])

    def test_queue(self):
        q = self.m.Queue()
        self.assertIsInstance(q, procshare_ext.QueueProxy)
        self.assertIsNone(q.put_many([1, 2, 3]))
        self.assertEqual(q.qsize(), 3)
        self.assertEqual(q.get_many(2), [1, 2])
        q.unget('first')
        self.assertEqual(q.get_many(10), ['first', 3])
        self.assertTrue(q.empty())
        with self.assertRaises(queue.Empty):
            q.get_many(1, block=False)
        with self.assertRaises(queue.Empty):
            q.get_many(1, timeout=0.01)
        q.put('x')
        self.assertEqual(q.get(), 'x')

    def test_bounded_queue(self):
        q = self.m.Queue(2)
        with self.assertRaises(ValueError):
            q.put_many([1, 2, 3])  # more than maxsize: never fits
        q.put_many([1, 2])
        self.assertTrue(q.full())
        with self.assertRaises(queue.Full):
            q.put_many([3], block=False)
        with self.assertRaises(queue.Full):
            q.put_many([3], timeout=0.01)
        self.assertEqual(q.get_many(5), [1, 2])

    def test_joinable_queue(self):
        q = self.m.JoinableQueue()
        q.put_many(['a', 'b'])
        for _ in q.get_many(2):
            q.task_done()
        q.join()  # returns: both tasks done

    def test_named_queue(self):
        n = Named(address=ADDRESS, authkey=AUTHKEY)
        n.connect()
        q = n.get_queue()
        q.put_many([1, 2])
        self.assertEqual(q.get_many(2), [1, 2])

    def test_functions_on_autoproxy(self):
        # Without a proxy type the named queue is an AutoProxy: the
        # functions work on it all the same.
        class Auto(BaseManager):
            pass
        Auto.register('get_queue')
        a = Auto(address=ADDRESS, authkey=AUTHKEY)
        a.connect()
        q = a.get_queue()
        procshare_ext.put_many(q, [7, 8])
        self.assertEqual(procshare_ext.get_many(q, 5), [7, 8])

    def test_server_info(self):
        q = self.m.Queue()
        info = procshare_ext.server_info(self.m)
        ids = {o['id']: o for o in info}
        self.assertIn(q._id, ids)
        self.assertEqual(ids[q._id]['typeid'], 'Queue')
        self.assertGreaterEqual(ids[q._id]['refcount'], 1)

    def test_child_process(self):
        # Forked children inherit the installed methods; the parent keeps
        # its proxies until the child is joined (see the module's notes).
        ctx = multiprocessing.get_context('fork')
        v, d, q = self.m.Value('i', 0), self.m.dict(), self.m.Queue()
        ps = [ctx.Process(target=child_adds, args=(v, d, q, 10)) for _ in range(3)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
            self.assertEqual(p.exitcode, 0)
        self.assertEqual(v.get(), 30)
        self.assertEqual(d['k'], 30)
        self.assertEqual(sorted(q.get_many(100)), sorted(list(range(10)) * 3))


def main():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(TestExt)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=1, resultclass=LineResult)
    return 0 if runner.run(suite).wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())

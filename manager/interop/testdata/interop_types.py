"""Helpers for interop_suite.py that must be importable by child processes:
a user-defined dataclass (an opaque object to the server) and the functions
that forked and spawned children run with manager proxies as arguments.

Stdlib only; runs on CPython 3.8 - 3.13.
"""
import dataclasses
import multiprocessing


@dataclasses.dataclass
class Point:
    """A class the server cannot know: it must store it as an opaque value
    and hand the same pickle back."""
    x: int
    y: float
    label: str = ''
    tags: tuple = ()


def set_authkey(authkey):
    """Children that talk to an external manager need its key as the
    process key: nested proxies they unpickle authenticate with it."""
    multiprocessing.current_process().authkey = authkey


def add_under_lock(value, lock, n):
    for _ in range(n):
        with lock:
            value.value += 1


def add_under_lock_spawned(authkey, value, lock, n, done):
    set_authkey(authkey)
    add_under_lock(value, lock, n)
    done.put(multiprocessing.current_process().name)


def child_sets_event(authkey, start, reply):
    set_authkey(authkey)
    if not start.wait(10):
        raise SystemExit(3)
    reply.set()


def child_appends_to_nested(authkey, outer, x):
    """outer is a list proxy holding dict proxies; reading outer[i] rebuilds
    a nested proxy inside the child (an incref with the process authkey)."""
    set_authkey(authkey)
    for i in range(len(outer)):
        outer[i][x] = i


def child_barrier_wait(authkey, barrier, results):
    set_authkey(authkey)
    results.put(barrier.wait(10))


def child_condition_notify(authkey, cond, value):
    set_authkey(authkey)
    with cond:
        value.value = 1
        cond.notify_all()

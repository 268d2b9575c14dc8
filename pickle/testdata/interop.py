"""Helper of interop_test.go; one process per interpreter and mode.

check:  stdin has JSON lines {"expr", "hex", "proto"}; each pickle (written
        by Go) is loaded and compared with eval(expr). Prints one JSON line
        per case: {"ok", "got", "same"} where same says whether CPython's
        own pickle of eval(expr) has the same bytes.
make:   prints JSON lines {"name", "proto", "hex"}: CPython pickles of
        objects the Go codec keeps opaque.
verify: stdin has JSON lines {"name", "hex"} (Go's re-encoding of the
        "make" pickles); prints {"ok", "got"} per line.
"""
import collections
import datetime
import decimal
import fractions
import json
import os
import pickle
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyobjs  # noqa: E402


def recursive_list():
    x = [1]
    x.append(x)
    return x


def shared():
    a = [1, 2]
    return {"first": a, "second": a, "t": (a,)}


def recursive_dict():
    d = {"k": 1}
    d["self"] = d
    return d


OBJECTS = {
    "dataclass": lambda: pyobjs.Point(1, 2.5, ["a"]),
    "slots": lambda: pyobjs.Slotted(1, "b"),
    "kwonly": lambda: pyobjs.KwOnly(size=3),
    "datetime": lambda: datetime.datetime(2024, 2, 29, 12, 30, 1, 5),
    "datetime_tz": lambda: datetime.datetime(2024, 2, 29, 12, 30, tzinfo=datetime.timezone.utc),
    "date": lambda: datetime.date(1999, 12, 31),
    "timedelta": lambda: datetime.timedelta(days=1, seconds=5),
    "decimal": lambda: decimal.Decimal("3.14159265358979323846"),
    "fraction": lambda: fractions.Fraction(3, 7),
    "uuid": lambda: uuid.UUID(int=0x1234),
    "ordereddict": lambda: collections.OrderedDict([("b", 1), ("a", [2])]),
    "defaultdict": lambda: collections.defaultdict(list, {"x": [1]}),
    "counter": lambda: collections.Counter("abracadabra"),
    "deque": lambda: collections.deque([1, 2, 3], maxlen=5),
    "namedtuple_like": lambda: os.stat_result(tuple(range(10))),
    "exception": lambda: KeyError("missing"),
    "recursive_list": recursive_list,
    "recursive_dict": recursive_dict,
    "shared": shared,
    "nested": lambda: [pyobjs.Point(i, float(i)) for i in range(3)],
    "class": lambda: pyobjs.Point,
    "nested_class": lambda: pyobjs.Outer.Inner(5),
}


def same(name, a, b):
    if name == "recursive_list":
        return isinstance(b, list) and b[0] == 1 and b[1] is b
    if name == "recursive_dict":
        return isinstance(b, dict) and b["k"] == 1 and b["self"] is b
    if name == "shared":
        return b == a and b["first"] is b["second"] and b["t"][0] is b["first"]
    if name == "exception":
        return type(b) is KeyError and b.args == a.args
    if name == "defaultdict":
        return b == a and b.default_factory is list
    return type(b) is type(a) and b == a


def equal(want, got):
    if repr(want) == repr(got) and type(want) is type(got):
        return True
    try:
        return type(want) is type(got) and want == got
    except RecursionError:
        return False


def random_values():
    """Random strs (every plane, escapes, surrogates) and floats, for the
    repr comparison."""
    import random
    import struct
    rng = random.Random(1)
    for _ in range(3000):
        n = rng.randrange(1, 8)
        chars = []
        for _ in range(n):
            r = rng.random()
            if r < 0.3:
                chars.append(chr(rng.randrange(0, 0x100)))
            elif r < 0.8:
                chars.append(chr(rng.randrange(0x100, 0x10000)))
            else:
                chars.append(chr(rng.randrange(0x10000, 0x110000)))
        yield "".join(chars)
    for _ in range(3000):
        yield struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    for e in range(-30, 30):
        yield rng.random() * 10.0 ** e
        yield float(rng.randrange(1, 10) * 10 ** max(e, 0))


def main():
    mode = sys.argv[1]
    if mode == "reprs":
        for v in random_values():
            print(json.dumps({"hex": pickle.dumps(v, 4).hex(), "repr": repr(v)}))
        return
    if mode == "make":
        for name, make in OBJECTS.items():
            for proto in range(pickle.HIGHEST_PROTOCOL + 1):
                try:
                    data = pickle.dumps(make(), proto)
                except TypeError:
                    continue  # e.g. __slots__ without __getstate__ before protocol 2
                print(json.dumps({"name": name, "proto": proto, "hex": data.hex()}))
        return
    for line in sys.stdin:
        case = json.loads(line)
        try:
            got = pickle.loads(bytes.fromhex(case["hex"]))
        except Exception as e:  # report, do not stop the batch
            print(json.dumps({"ok": False, "got": "%s: %s" % (type(e).__name__, e)}))
            continue
        if mode == "verify":
            ok = same(case["name"], OBJECTS[case["name"]](), got)
            print(json.dumps({"ok": ok, "got": repr(got)[:300]}))
            continue
        expr = case["expr"]
        if expr == "RECURSIVE":
            ok = isinstance(got, list) and got[0] is got
        elif expr == "SHARED":
            ok = got[0] is got[1] and got[0] == [1]
        else:
            want = eval(expr)
            ok = equal(want, got)
        same_bytes = False
        if expr not in ("RECURSIVE", "SHARED"):
            same_bytes = pickle.dumps(eval(expr), case["proto"]).hex() == case["hex"]
        print(json.dumps({"ok": ok, "got": repr(got)[:300], "same": same_bytes}))


main()

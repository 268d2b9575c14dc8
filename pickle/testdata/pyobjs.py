"""Classes that both the interop test's Python processes can import."""
import dataclasses


@dataclasses.dataclass
class Point:
    x: int
    y: float
    tags: list = dataclasses.field(default_factory=list)


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __eq__(self, other):
        return type(other) is Slotted and (self.a, self.b) == (other.a, other.b)


class KwOnly:
    """Pickled with NEWOBJ_EX (protocol 4+): __getnewargs_ex__ has kwargs."""

    def __new__(cls, *, size):
        o = object.__new__(cls)
        o.size = size
        return o

    def __getnewargs_ex__(self):
        return (), {"size": self.size}

    def __eq__(self, other):
        return type(other) is KwOnly and self.size == other.size


class Outer:
    class Inner:
        """A nested class: protocols 2-3 name it getattr(Outer, 'Inner')."""

        def __init__(self, v):
            self.v = v

        def __eq__(self, other):
            return type(other) is Outer.Inner and self.v == other.v

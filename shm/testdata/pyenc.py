"""Helpers shared by the interop scripts (imported from the script's directory)."""
from multiprocessing import resource_tracker


def enc(v):
    """Renders a ShareableList item as [type name, JSON value]."""
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, float):
        return ["float", repr(v)]
    return [type(v).__name__, v]


def untrack(shm):
    """Stops 3.8-3.12's resource tracker from unlinking an attached segment at exit."""
    try:
        resource_tracker.unregister(shm._name, "shared_memory")
    except Exception:
        pass

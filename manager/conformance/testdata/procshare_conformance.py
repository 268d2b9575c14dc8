"""The manager test classes of this interpreter's CPython test suite,
installed as a real module so that children started with the spawn or
forkserver method can import them by name (runner.py imports it).

The start method comes from PROCSHARE_CONFORMANCE_START_METHOD (default
fork); children inherit the environment, so they install the same classes.
"""
import os

from test import _test_multiprocessing as _T

START_METHOD = os.environ.get('PROCSHARE_CONFORMANCE_START_METHOD', 'fork')

try:
    _T.install_tests_in_module_dict(globals(), START_METHOD, only_type='manager')
except TypeError:  # 3.8 - 3.11 have no only_type: install all, keep managers
    _T.install_tests_in_module_dict(globals(), START_METHOD)
    for _name in [n for n in globals() if n.startswith(('WithProcesses', 'WithThreads'))]:
        del globals()[_name]

# Plain TestCases about managers (install_tests_in_module_dict with
# only_type skips them).
for _name in ('TestSyncManagerTypes', 'TestManagerExceptions'):
    _cls = getattr(_T, _name, None)
    if _cls is not None:
        globals()[_name] = type(_name, (_cls,), {'__module__': __name__, '__qualname__': _name})

MANAGER_CLASSES = sorted(n for n in globals()
                         if n.startswith('WithManager') or n in ('TestSyncManagerTypes', 'TestManagerExceptions'))

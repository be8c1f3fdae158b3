"""State the analysis code relies on being per thread really is per thread.

The statistical fits in ``locmap.assessment`` silence numpy's floating-point warnings with
``np.errstate`` (overflow on the way to a diverging estimate, a zero-degrees-of-freedom
scale they do not use). Under a threaded web server that is only safe because numpy keeps
its error state in a context variable (numpy >= 2.0), so one thread's ``errstate`` is not
another's. If a numpy upgrade or downgrade changed that, this test says so.
"""

from __future__ import annotations

import threading

import numpy as np


def test_numpy_errstate_is_per_thread() -> None:
    inside, seen = threading.Event(), threading.Event()
    other: dict[str, str] = {}

    def quiet() -> None:
        with np.errstate(all="ignore"):
            inside.set()
            seen.wait(timeout=10)

    def look() -> None:
        inside.wait(timeout=10)
        other.update(np.geterr())
        seen.set()

    threads = [threading.Thread(target=quiet), threading.Thread(target=look)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inside.is_set() and seen.is_set()
    assert other["over"] != "ignore" and other["invalid"] != "ignore"
    assert other == np.geterr()  # the other thread saw the defaults, as this one does now

"""Pause Python's cyclic garbage collector while a network analysis allocates.

Building NetworkX graphs of tens of thousands of edges allocates hundreds of thousands of
dicts and tuples, which keeps triggering the cyclic collector; its oldest generation walks
the whole heap each time. On the 10,000-person benchmark that was about a fifth of
``analyse_network`` (docs/perf/network.md). Nothing the analysis builds relies on the
collector — graphs are freed by reference counting — so it is paused for the analysis and
resumed after, when any cycles are collected as usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable ``gc`` inside the block; re-enable it when the last such block ends.

    Nested and concurrent blocks (threads of one web process) share one count, so the
    collector comes back on only when none is running, and only if it was on before.

    Examples
    --------
    >>> import gc
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()

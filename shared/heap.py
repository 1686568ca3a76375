"""A long-running process settles its heap once it has started.

Everything loaded at start-up (modules, the app and its routes, mappers, settings) lives as long as the process.
Left in the collector's generations, each full collection walks it again: with large answers in flight (an idea's
2,000 events, a reviewer's 500 tasks) those collections took 110-150 ms, most of a slow request's time.
`gc.freeze()` moves what exists now out of the collector's sight (CPython's documented use, after start-up and
before work begins), so collections walk only what requests and messages make.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect once, then freeze what is left; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

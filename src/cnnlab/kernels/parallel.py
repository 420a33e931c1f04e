"""Threads for the work NumPy does on one core.

BLAS matrix products already use every core; NumPy's elementwise loops (the strided
copies of im2col, the ``np.maximum`` folds of pooling) use one. They release the GIL
while they run, so two Python threads working on different images run them on two
cores. Kernels hand :func:`map_threads` independent pieces of work; it runs them on
a shared pool of :func:`get_num_threads` threads.

The default thread count follows the standard variables (``OMP_NUM_THREADS``, then
``OPENBLAS_NUM_THREADS``), else the number of CPUs; :func:`set_num_threads` changes it,
as ``torch.set_num_threads`` does.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

MIN_ELEMENTS_PER_THREAD = 1 << 20
"""Below this many elements per thread, splitting costs more than it saves."""


def _default_threads() -> int:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    return max(1, os.cpu_count() or 1)


_state = {"threads": _default_threads(), "executor": None}


def get_num_threads() -> int:
    """Threads cnnlab's kernels use for elementwise work."""
    return _state["threads"]


def set_num_threads(threads: int) -> int:
    """Set the threads cnnlab's kernels use (not BLAS's own); returns the previous count."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive int, got {threads!r}")
    previous = _state["threads"]
    if threads != previous:
        if _state["executor"] is not None:
            _state["executor"].shutdown(wait=True)
        _state.update(threads=threads, executor=None)
    return previous


def threads_for(elements: int) -> int:
    """How many threads are worth using on ``elements`` elements of work."""
    return max(1, min(get_num_threads(), elements // MIN_ELEMENTS_PER_THREAD))


def map_threads(function, items):
    """Yield ``function(item)`` for each item, in order, computed on the thread pool.

    Items run in waves of :func:`get_num_threads`, and a wave's results are handed
    out before the next wave starts: at most that many results exist at once, so a
    caller that consumes them as they come keeps its memory bounded.
    """
    items = list(items)
    threads = get_num_threads()
    if len(items) <= 1 or threads == 1:
        for item in items:
            yield function(item)
        return
    if _state["executor"] is None:
        _state["executor"] = ThreadPoolExecutor(threads, thread_name_prefix="cnnlab")
    for start in range(0, len(items), threads):
        yield from _state["executor"].map(function, items[start:start + threads])


def split(n: int, parts: int) -> list:
    """``parts`` contiguous slices covering ``range(n)`` as evenly as possible."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]

"""Threads for the work NumPy does on one core.

BLAS matrix products already use every core; NumPy's elementwise loops (the strided
copies of im2col, the ``np.maximum`` folds of pooling) use one. They release the GIL
while they run, so two Python threads working on different images run them on two
cores. Kernels hand :func:`map_threads` independent pieces of work; it runs them on
a shared pool of :func:`get_num_threads` threads.

The thread count is ``CONFIG.threads`` (:mod:`cnnlab.kernels.config`: from
``OMP_NUM_THREADS``, then ``OPENBLAS_NUM_THREADS``, else the number of CPUs);
:func:`set_num_threads` changes it, as ``torch.set_num_threads`` does.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .config import CONFIG

MIN_ELEMENTS_PER_THREAD = 1 << 20
"""Below this many elements per thread, splitting costs more than it saves."""


_executor = {"pool": None}   # the thread pool, made on first use


def get_num_threads() -> int:
    """Threads cnnlab's kernels use for elementwise work."""
    return CONFIG.threads


def set_num_threads(threads: int) -> int:
    """Set the threads cnnlab's kernels use (not BLAS's own); returns the previous count."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: threads must be a positive int, got {threads!r}")
    previous = CONFIG.threads
    if threads != previous:
        if _executor["pool"] is not None:
            _executor["pool"].shutdown(wait=True)
        _executor["pool"] = None
        CONFIG.threads = threads
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
    if _executor["pool"] is None:
        _executor["pool"] = ThreadPoolExecutor(threads, thread_name_prefix="cnnlab")
    for start in range(0, len(items), threads):
        yield from _executor["pool"].map(function, items[start:start + threads])


def split(n: int, parts: int) -> list:
    """``parts`` contiguous slices covering ``range(n)`` as evenly as possible."""
    parts = max(1, min(parts, n))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]

"""A small pool of scratch buffers reused across calls.

A freshly allocated large array costs a page fault per 4 KiB the first time it is
written: filling a new 60 MiB im2col buffer took 13 ms here, refilling a used one
4.4 ms. Kernels therefore take their scratch from this pool and give it back when
they return, so that the next call (the next layer, the next training step) writes
into memory that is already mapped.

A buffer that escapes a call (im2col columns kept for the backward pass) is wrapped
in a :class:`Lent`, which gives it back when the last reference to it goes (when
autograd frees the graph after ``backward``). The pool is per thread, and holds at
most ``2 * CONFIG.scratch_bytes``.
"""

from __future__ import annotations

import threading

import numpy as np

from . import window

_local = threading.local()


def _free() -> list:
    if not hasattr(_local, "free"):
        _local.free = []
    return _local.free


def take(size: int, dtype) -> np.ndarray:
    """A flat, uninitialised array of at least ``size`` elements of ``dtype``.

    Reuses the smallest pooled buffer that is large enough (but not more than four
    times too large), else allocates.
    """
    dtype = np.dtype(dtype)
    needed = size * dtype.itemsize
    free = _free()
    best = None
    for index, buffer in enumerate(free):
        if needed <= buffer.nbytes <= 4 * max(needed, 1) and (
                best is None or buffer.nbytes < free[best].nbytes):
            best = index
    if best is None:
        return np.empty(size, dtype)
    return free.pop(best)[:needed].view(dtype)


def give(array: np.ndarray) -> None:
    """Return a buffer from :func:`take` to the pool (dropped if the pool is full)."""
    base = array
    while base.base is not None:
        base = base.base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return
    raw = base.view(np.uint8)
    free = _free()
    if any(buffer is raw or np.shares_memory(buffer, raw) for buffer in free):
        return
    if sum(b.nbytes for b in free) + raw.nbytes <= 2 * window.CONFIG.scratch_bytes:
        free.append(raw)


class Kept:
    """An array kept beyond the call that made it (for a backward pass)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array


class Lent(Kept):
    """A pooled buffer kept beyond the call that took it; back to the pool when freed.

    Whoever holds the ``Lent`` may use ``array``; nobody may keep a view of it longer
    than the ``Lent`` itself (the memory is reused once the ``Lent`` is gone).
    """

    __slots__ = ()

    def __del__(self):
        give(self.array)


def clear() -> None:
    """Drop every pooled buffer of this thread (their memory goes back to the system)."""
    _free().clear()

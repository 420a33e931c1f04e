"""The one windowing helper shared by convolution and pooling, for any number of axes.

A window of ``kernel_size`` taps (one size per spatial axis: 1, 2 or 3 of them),
moved with ``stride`` and spread by ``dilation``, reads each tap ``t`` from the same
strided grid of the padded input, shifted by ``t * dilation`` (``(i * dilation_h,
j * dilation_w)`` in 2-D). So instead of looping over windows
(output pixels), every kernel reads and reduces whole shifted grids, one per tap:

- convolution copies each tap's grid into one row block of an im2col buffer and
  calls one matrix product (:mod:`cnnlab.kernels.conv`);
- pooling folds the grids together with ``np.maximum`` or ``np.add``, one axis at a
  time (:mod:`cnnlab.kernels.pool`).

Python loops here run over the k taps of an axis (or the taps of a window), never
over pixels.
"""

from __future__ import annotations

import functools
import itertools
import math
import os

import numpy as np

from .config import CONFIG



def tap_slices(kernel_size: int, stride: int, dilation: int, out_size: int) -> list:
    """For each tap ``t`` of a 1-D window, the slice of the padded axis it reads.

    Tap ``t`` of output position ``o`` reads padded index ``o * stride + t * dilation``,
    so over all ``o`` it reads ``slice(t * dilation, t * dilation + (out_size - 1) * stride
    + 1, stride)``: ``out_size`` elements.

    Examples
    --------
    >>> tap_slices(kernel_size=2, stride=2, dilation=1, out_size=3)
    [slice(0, 5, 2), slice(1, 6, 2)]
    """
    span = (out_size - 1) * stride + 1
    return [slice(t * dilation, t * dilation + span, stride) for t in range(kernel_size)]


def tap_parts(size: int, kernel_size: int, stride: int, dilation: int, out_size: int,
              low: int) -> list:
    """For each tap of a 1-D window, the outputs at which it reads the input itself.

    Like :func:`tap_slices`, but in input coordinates, skipping positions in the
    padding (``low`` elements before the input, and whatever lies past its end): a
    reduction whose padding is its identity (0 for sums, -inf for maxima) can then
    read the unpadded input directly.

    Returns
    -------
    list of ``(out_slice, in_slice)``, one per tap that reads the input anywhere:
    tap ``t`` of outputs ``out_slice`` reads the input elements ``in_slice``.

    Examples
    --------
    >>> tap_parts(size=5, kernel_size=3, stride=2, dilation=1, out_size=3, low=1)
    [(slice(1, 3, None), slice(1, 4, 2)), (slice(0, 3, None), slice(0, 5, 2)), \
(slice(0, 2, None), slice(1, 4, 2))]
    """
    parts = []
    for t in range(kernel_size):
        start = t * dilation - low                # input index read at output 0
        first = -(start // stride) if start < 0 else 0         # ceil(-start / stride)
        stop = min(out_size, (size - 1 - start) // stride + 1) if size > start else 0
        if stop > first:
            parts.append((slice(first, stop),
                          slice(start + first * stride, start + (stop - 1) * stride + 1, stride)))
    return parts


def windows(padded, kernel_size, stride, dilation, out_shape):
    """Yield ``(tap, grid)`` for every tap of a window, in row-major tap order.

    Any number of spatial axes (the trailing ``len(kernel_size)`` axes of ``padded``).

    Parameters
    ----------
    padded : np.ndarray, shape (..., *padded_size)
    kernel_size, stride, dilation : tuple of int, one per spatial axis
    out_shape : tuple of int
        The number of windows along each axis (:func:`cnnlab.shapes.output_size`).

    Yields
    ------
    tap : tuple of int
        The tap's position in the kernel, ``(i, j)`` in 2-D.
    grid : np.ndarray view, shape (..., *out_shape)
        ``padded[..., o_0 * stride_0 + tap_0 * dilation_0, ...]`` for every output
        position ``o``.

    Examples
    --------
    >>> [(tap, grid.tolist()) for tap, grid in windows(np.arange(5), (2,), (2,), (1,), (2,))]
    [((0,), [0, 2]), ((1,), [1, 3])]
    """
    per_axis = [tap_slices(k, s, d, o) for k, s, d, o
                in zip(kernel_size, stride, dilation, out_shape)]
    for tap in itertools.product(*(range(k) for k in kernel_size)):
        yield tap, padded[(Ellipsis,) + tuple(axis[t] for axis, t in zip(per_axis, tap))]


def flat_windows(flat, kernel_size, dilation, padded_size, length: int):
    """Yield ``(tap, run)`` for every tap, reading a *flattened* stride-1 input.

    With stride 1, tap ``t`` of output ``o`` reads padded position ``o + t * d`` (per
    axis), i.e. flat index ``sum_k (o_k + t_k d_k) * step_k`` with ``step_k`` the
    product of the padded sizes after axis ``k``. Letting ``o_1, o_2, ...`` run over
    the whole padded extent of their axes (of which only the first ``out_k`` are real
    outputs), the tap reads ONE contiguous run of the flattened input, starting at
    ``sum_k t_k d_k step_k``. Copying long runs is several times faster than copying
    many short rows; the extra "wide" positions are computed and discarded. The caller
    gives ``flat`` enough slack at the end for the last tap's run.

    Parameters
    ----------
    flat : np.ndarray, shape (..., padded_size_0_plus_slack * prod(padded_size[1:]))
    kernel_size, dilation : tuple of int, one per spatial axis
    padded_size : tuple of int
        The padded sizes (only ``padded_size[1:]`` matter).
    length : int
        ``out_0 * prod(padded_size[1:])``.

    Yields
    ------
    tap : tuple of int
    run : np.ndarray view, shape (..., length)
    """
    steps = [math.prod(padded_size[k + 1:]) for k in range(len(padded_size))]
    for tap in itertools.product(*(range(k) for k in kernel_size)):
        start = sum(t * d * step for t, d, step in zip(tap, dilation, steps))
        yield tap, flat[..., start:start + length]


def set_scratch_budget(nbytes: int) -> int:
    """Set the scratch memory a kernel may use beyond its inputs and outputs.

    Convolutions split the batch, pooling splits its planes, so that their working
    buffers stay within ``nbytes`` (default 256 MiB; one image or plane is never
    split, so a single huge one may still exceed it). Returns the previous budget,
    as :func:`numpy.setbufsize` does.

    Examples
    --------
    >>> previous = set_scratch_budget(64 * 2**20)
    >>> set_scratch_budget(previous) == 64 * 2**20
    True
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 1:
        raise ValueError(f"set_scratch_budget: nbytes must be a positive int, got {nbytes!r}")
    previous, CONFIG.scratch_bytes = CONFIG.scratch_bytes, int(nbytes)
    return previous


def batch_chunks(n: int, bytes_per_item: int):
    """Yield slices over ``n`` batch items so that each chunk needs <= the scratch budget
    (``CONFIG.scratch_bytes``).

    ``bytes_per_item`` is the scratch one batch item needs. A chunk always holds at
    least one item, so a single huge item still runs (over the budget). All chunks
    have the same size except the last, so one buffer sized for the first chunk
    serves every chunk.

    Examples
    --------
    >>> list(batch_chunks(5, CONFIG.scratch_bytes // 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    per_chunk = max(1, CONFIG.scratch_bytes // max(int(bytes_per_item), 1))
    for start in range(0, n, per_chunk):
        yield slice(start, min(start + per_chunk, n))


@functools.lru_cache(maxsize=None)
def physical_memory() -> int:
    """Bytes of physical memory on this machine (a large number if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 60


def format_bytes(count: int) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} EiB"


def check_fits(function: str, what: str, shape, dtype) -> None:
    """Raise a clear MemoryError, before allocating, if an array cannot fit in memory.

    NumPy would either fail with a bare "Unable to allocate" or, on systems that
    overcommit memory, succeed and get the process killed while filling the array.
    """
    count = 1
    for size in shape:
        count *= int(size)
    needed = count * np.dtype(dtype).itemsize
    available = physical_memory()
    if needed > available:
        raise MemoryError(
            f"{function}: the {what} of shape {tuple(int(s) for s in shape)} "
            f"({np.dtype(dtype).name}) would need {format_bytes(needed)}, more than this "
            f"machine's memory ({format_bytes(available)}); use a smaller batch or input")

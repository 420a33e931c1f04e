"""The one windowing helper shared by convolution and pooling.

A 2-D window of ``kernel_size`` taps, moved with ``stride`` and spread by
``dilation``, reads each tap ``(i, j)`` from the same strided grid of the padded input,
shifted by ``(i * dilation_h, j * dilation_w)``. So instead of looping over windows
(output pixels), every kernel reads and reduces whole shifted grids, one per tap:

- convolution copies each tap's grid into one row block of an im2col buffer and
  calls one matrix product (:mod:`cnnlab.kernels.conv`);
- pooling folds the grids together with ``np.maximum`` or ``np.add``, one axis at a
  time (:mod:`cnnlab.kernels.pool`).

Python loops here run over the k taps of an axis (or the k_h * k_w taps of a window),
never over pixels.
"""

from __future__ import annotations

import functools
import os

import numpy as np

#: Upper bound, in bytes, for one scratch buffer of a kernel (e.g. the im2col matrix).
#: Kernels split the batch with :func:`batch_chunks` to stay under it.
SCRATCH_BYTES = 256 * 2**20


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
    """Yield ``(i, j, grid)`` for every tap of a 2-D window, in row-major tap order.

    Parameters
    ----------
    padded : np.ndarray, shape (..., H_padded, W_padded)
    kernel_size, stride, dilation : (int, int)
    out_shape : (int, int)
        ``(out_height, out_width)`` from :func:`cnnlab.shapes.output_size`.

    Yields
    ------
    i, j : int
        The tap's row and column in the kernel.
    grid : np.ndarray view, shape (..., out_height, out_width)
        ``padded[..., oh * stride_h + i * dilation_h, ow * stride_w + j * dilation_w]``
        for every output position.
    """
    rows = tap_slices(kernel_size[0], stride[0], dilation[0], out_shape[0])
    cols = tap_slices(kernel_size[1], stride[1], dilation[1], out_shape[1])
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            yield i, j, padded[..., row, col]


def flat_windows(flat, kernel_size, dilation, row_length: int, length: int):
    """Yield ``(i, j, run)`` for every tap, reading a *flattened* stride-1 image.

    With stride 1, tap ``(i, j)`` of output ``(p, q)`` reads padded pixel
    ``(p + i * dh, q + j * dw)``, i.e. flat index ``(p + i*dh) * row_length + q + j*dw``.
    Letting ``q`` run over the whole padded row (``row_length`` values, of which only
    the first ``out_width`` are real outputs), the tap reads ONE contiguous run of the
    flattened image, starting at ``i * dh * row_length + j * dw``. Copying long runs is
    several times faster than copying ``out_height`` short rows; the extra "wide"
    columns are computed and discarded. The caller gives ``flat`` enough slack at the
    end for the last tap's run.

    Parameters
    ----------
    flat : np.ndarray, shape (..., padded_height_plus_slack * row_length)
    kernel_size, dilation : (int, int)
    row_length : int
        The padded width.
    length : int
        ``out_height * row_length``.

    Yields
    ------
    i, j : int
    run : np.ndarray view, shape (..., length)
    """
    for i in range(kernel_size[0]):
        for j in range(kernel_size[1]):
            start = i * dilation[0] * row_length + j * dilation[1]
            yield i, j, flat[..., start:start + length]


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
    global SCRATCH_BYTES
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 1:
        raise ValueError(f"set_scratch_budget: nbytes must be a positive int, got {nbytes!r}")
    previous, SCRATCH_BYTES = SCRATCH_BYTES, int(nbytes)
    return previous


def batch_chunks(n: int, bytes_per_item: int):
    """Yield slices over ``n`` batch items so that each chunk needs <= ``SCRATCH_BYTES``.

    ``bytes_per_item`` is the scratch one batch item needs. A chunk always holds at
    least one item, so a single huge item still runs (over the budget). All chunks
    have the same size except the last, so one buffer sized for the first chunk
    serves every chunk.

    Examples
    --------
    >>> list(batch_chunks(5, SCRATCH_BYTES // 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    per_chunk = max(1, SCRATCH_BYTES // max(int(bytes_per_item), 1))
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

"""The speed tricks of the pooling kernels: separable passes over flat, contiguous runs.

A pooling window is the product of one window per spatial axis, so a window
reduction (a maximum or a sum) is a reduction along the last axis over its taps,
then along the axis before it, and so on: ``k_0 + k_1 + ...`` passes instead of
``k_0 * k_1 * ...``. :func:`reduce_windows` does that for any number of axes, in
cache-sized blocks; each pass (:func:`reduce_along`) is a few shifted operations on
the flattened input followed by strided copies that pick the windows out. NumPy
runs one long contiguous loop several times faster than the many short strided rows
of a :func:`~cnnlab.kernels.window.tap_slices` view. The padding is never built: it
cannot change a sum (zeros) or a maximum (``-inf``), so windows at the edges just
combine fewer taps.
"""

from __future__ import annotations

import math

import numpy as np

from . import buffers

POOL_BLOCK_BYTES = 1 << 20
"""Input bytes reduced at a time, so that the passes run in cache (measured: 1 MiB
blocks took about 0.65x the time of whole 25 MiB inputs, 2-D)."""


def along(axis: int, index) -> tuple:
    """An index expression applying ``index`` to ``axis`` (negative: -1 is the last)."""
    return (Ellipsis, index) + (slice(None),) * (-axis - 1)


def broadcast_along(values: np.ndarray, axis: int) -> np.ndarray:
    """A 1-D array, one value per position along ``axis``, shaped to broadcast there."""
    return values.reshape((-1,) + (1,) * (-axis - 1))


def window_runs(parts, out_size: int, stride: int) -> list:
    """Outputs grouped by the run of taps that read the input, along one axis.

    Padding only ever cuts taps off the ends of a window, so each output ``q`` reads
    the input through consecutive taps ``t0 .. t0 + count - 1``, from input index
    ``start + q * stride`` on. Returns ``(q_start, q_stop, start, count)`` for each
    stretch of outputs that share ``t0`` and ``count`` (one stretch for the inner
    outputs, a few more at padded edges). ``parts``: :func:`~cnnlab.kernels.window.tap_parts`
    of the axis.
    """
    first = np.full(out_size, len(parts) + out_size, dtype=np.int64)
    last = np.full(out_size, -1, dtype=np.int64)
    for t, (outputs, inputs) in enumerate(parts):
        # tap t (in input order) serves `outputs`, reading from inputs.start on
        first[outputs] = np.minimum(first[outputs], t)
        last[outputs] = np.maximum(last[outputs], t)
    starts = [inputs.start - outputs.start * stride for outputs, inputs in parts]
    edges = np.flatnonzero((np.diff(first) != 0) | (np.diff(last) != 0)) + 1
    runs = []
    for q_start, q_stop in zip([0, *edges.tolist()], [*edges.tolist(), out_size]):
        tap = int(first[q_start])
        runs.append((q_start, q_stop, starts[tap], int(last[q_start]) - tap + 1))
    return runs


def reduce_along(ufunc, x: np.ndarray, runs, axis: int, stride: int, dilation: int,
                 out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``ufunc``-reduce the windows of ``x`` along ``axis`` (negative) into ``out``.

    The taps are combined on ``x`` flattened, shifted by one tap at a time: after
    ``c - 1`` passes, ``m[j] = ufunc(x[j], x[j + u], ...)`` over ``c`` taps (``u``:
    one dilation step in flat elements), for every ``j``. Windows are then picked out
    of ``m`` by one strided copy per run of :func:`window_runs`. Entries of ``m``
    whose taps cross a row or plane end are computed but never picked.

    ``x`` is C-contiguous; ``scratch`` is a flat array of at least ``x.size`` elements.
    """
    flat = x.reshape(-1)
    unit = dilation * math.prod(x.shape[x.ndim + axis + 1:])
    combined, taps = flat, 1
    for count in sorted({run[3] for run in runs}):
        while taps < count:
            length = flat.size - taps * unit
            ufunc(flat[:length] if taps == 1 else scratch[:length],
                  flat[taps * unit:taps * unit + length], out=scratch[:length])
            combined, taps = scratch[:flat.size], taps + 1
        grid = combined.reshape(x.shape)
        for q_start, q_stop, start, run_count in runs:
            if run_count == count:
                first = start + q_start * stride
                picked = slice(first, first + (q_stop - q_start - 1) * stride + 1, stride)
                out[along(axis, slice(q_start, q_stop))] = grid[along(axis, picked)]
    return out


def pass_shapes(size, out_shape) -> list:
    """The spatial shape entering each pass, last axis first, then the result's.

    Examples
    --------
    >>> pass_shapes((8, 6), (4, 3))
    [(8, 6), (8, 3), (4, 3)]
    """
    shapes = [tuple(size)]
    for axis in reversed(range(len(size))):
        shapes.append(shapes[-1][:axis] + (out_shape[axis],) + shapes[-1][axis + 1:])
    return shapes


def reduce_windows(ufunc, x: np.ndarray, grid) -> np.ndarray:
    """``ufunc`` over every pooling window of ``x``, separably (last axis first), for
    reductions that padding cannot change (sums with zero padding, maxima with
    ``-inf``): the padding is never built (:func:`reduce_along`).

    ``grid``: a :class:`cnnlab.kernels.pool.Grid` (its ``runs``, ``stride``,
    ``dilation`` and ``out_shape``, one entry per spatial axis).
    """
    spatial = len(grid.out_shape)
    size = x.shape[x.ndim - spatial:]
    planes = np.ascontiguousarray(x).reshape((-1,) + size)
    out = np.empty((len(planes),) + grid.out_shape, dtype=x.dtype)
    per_block = max(1, POOL_BLOCK_BYTES // max(1, math.prod(size) * x.itemsize))
    block = max(1, min(per_block, len(planes)))
    shapes = pass_shapes(size, grid.out_shape)
    scratch = buffers.take(block * max(math.prod(s) for s in shapes[:-1]), x.dtype)
    # the results between passes alternate between two buffers
    middle = [math.prod(s) for s in shapes[1:-1]]
    between = [buffers.take(block * max(middle), x.dtype) for _ in range(min(len(middle), 2))]
    with np.errstate(all="ignore"):  # flat passes also combine values across row ends
        for start in range(0, len(planes), block):
            current = planes[start:start + block]
            count = len(current)
            for step, axis in enumerate(reversed(range(spatial))):
                shape = (count,) + shapes[step + 1]
                if axis == 0:
                    target = out[start:start + block]
                else:
                    target = between[step % 2][:math.prod(shape)].reshape(shape)
                reduce_along(ufunc, current, grid.runs[axis], axis - spatial, grid.stride[axis],
                             grid.dilation[axis], target, scratch)
                current = target
    buffers.give(scratch)
    for buffer in between:
        buffers.give(buffer)
    return out.reshape(x.shape[:x.ndim - spatial] + grid.out_shape)


def fold(ufunc, taps) -> np.ndarray:
    """Combine a sequence of equally shaped arrays with ``ufunc`` into a new array."""
    taps = iter(taps)
    first = next(taps)
    second = next(taps, None)
    out = np.array(first, copy=True) if second is None else ufunc(first, second)
    for tap in taps:
        ufunc(out, tap, out=out)
    return out

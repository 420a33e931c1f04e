"""Pooling kernels: max, average, Lp, adaptive average and max, max-unpooling.

Pure NumPy, arrays in and out, each forward next to its backward. Inputs are
``(N, C, H, W)``; sizes arrive as ``(height, width)`` pairs and padding as
``((top, bottom), (left, right))`` (normalised by :mod:`cnnlab.functional.pool`).

Windowed pools are *separable*: a 2-D window reduction is a reduction along the
width over the ``k_w`` taps of each row (:func:`cnnlab.kernels.window.tap_slices`),
followed by a reduction of those row results along the height over the ``k_h`` taps.
That costs ``k_h + k_w`` passes instead of ``k_h * k_w``. Backward passes run the
same two phases in reverse (height first, then width).

Forward values of max, average and Lp pooling (:func:`_reduce_windows`) make each
pass a shifted operation on the flattened input, in cache-sized blocks, and pick the
windows out afterwards: NumPy runs one long contiguous loop several times faster than
the many short strided rows of a ``tap_slices`` view. They never build the padding
either (it cannot change a sum or a maximum). Max pooling with indices, and the
backward passes, use the strided taps of a padded copy.

Max pooling follows PyTorch's scan exactly. PyTorch visits the input positions of a
window in row-major order, starting from the first one inside the input with
``max = -inf``, and takes ``val`` when ``val > max or isnan(val)``, so:

- ties: the *first* maximum in row-major window order wins (its index is returned and
  it alone receives the gradient);
- NaN: the result is NaN and the *last* NaN of the window wins;
- padding never wins: a window whose real elements are all ``-inf`` reports its first
  real position.

Row-major order is lexicographic in (row, column), so the same scan done separably
(each window row over its column taps, then the row results over the row taps) picks
the same winner. The backward pass reruns that scan on the saved input rather than
storing index arrays in the forward pass.
"""

from __future__ import annotations

import numpy as np

import functools

from ..shapes import output_size, taps_inside, transposed_output_size
from . import buffers, parallel, window
from .pad import pad as pad_array
from .pad import pad_backward
from .window import tap_parts, tap_slices


# ----------------------------------------------------------------- helpers


def _along(axis: int, index) -> tuple:
    """An index expression applying ``index`` to ``axis`` (-1: width, -2: height)."""
    if axis == -1:
        return (Ellipsis, index)
    if axis == -2:
        return (Ellipsis, index, slice(None))
    raise ValueError(f"pool kernels reduce along axis -1 or -2, got {axis}")


def _broadcast_along(values: np.ndarray, axis: int) -> np.ndarray:
    """A 1-D array per output position along ``axis``, shaped to broadcast there."""
    return values if axis == -1 else values[:, None]


def _window_runs(parts, out_size: int, stride: int) -> list:
    """Outputs grouped by the run of taps that read the input, along one axis.

    Padding only ever cuts taps off the ends of a window, so each output ``q`` reads
    the input through consecutive taps ``t0 .. t0 + count - 1``, from input index
    ``start + q * stride`` on. Returns ``(q_start, q_stop, start, count)`` for each
    stretch of outputs that share ``t0`` and ``count`` (one stretch for the inner
    outputs, a few more at padded edges). ``parts``: :func:`tap_parts` of the axis.
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


def _reduce_along(ufunc, x: np.ndarray, runs, axis: int, stride: int, dilation: int,
                  out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``ufunc``-reduce the windows of ``x`` along ``axis`` (-1 or -2) into ``out``.

    NumPy's loops run several times faster on one long contiguous run than on short
    rows or strided views. So the taps are combined on ``x`` flattened, shifted by one
    tap at a time: after ``c - 1`` passes, ``m[j] = ufunc(x[j], x[j + u], ...)`` over
    ``c`` taps (``u``: one dilation step in flat elements), for every ``j``. Windows
    are then picked out of ``m`` by one strided copy per run of
    :func:`_window_runs`. Entries of ``m`` whose taps cross a row or plane end are
    computed but never picked. Padding is never read: it would not change a sum
    (zeros) or a maximum (``-inf``), so windows at the edges just combine fewer taps.

    ``x`` is C-contiguous; ``scratch`` is a flat array of at least ``x.size`` elements.
    """
    flat = x.reshape(-1)
    unit = dilation * (1 if axis == -1 else x.shape[-1])
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
                out[_along(axis, slice(q_start, q_stop))] = grid[_along(axis, picked)]
    return out


POOL_BLOCK_BYTES = 1 << 20
"""Input bytes reduced at a time, so that both passes run in cache (measured: 1 MiB
blocks took about 0.65x the time of whole 25 MiB inputs)."""


def _reduce_windows(ufunc, x: np.ndarray, grid) -> np.ndarray:
    """``ufunc`` over every pooling window of ``x`` (separably: columns, then rows), for
    reductions that padding cannot change (sums with zero padding, maxima with
    ``-inf``): the padding is never built (:func:`_reduce_along`)."""
    (row_runs, column_runs), (stride_h, stride_w), (dilation_h, dilation_w) = (
        grid.runs, grid.stride, grid.dilation)
    out_height, out_width = grid.out_shape
    height, width = x.shape[-2:]
    planes = np.ascontiguousarray(x).reshape((-1, height, width))
    out = np.empty((len(planes), out_height, out_width), dtype=x.dtype)
    per_block = max(1, POOL_BLOCK_BYTES // max(1, height * width * x.itemsize))
    block = max(1, min(per_block, len(planes)))
    scratch = buffers.take(block * height * max(width, out_width), x.dtype)
    row_reduced = buffers.take(block * height * out_width, x.dtype)
    with np.errstate(all="ignore"):  # flat passes also combine values across row ends
        for start in range(0, len(planes), block):
            piece = planes[start:start + block]
            rows = row_reduced[:len(piece) * height * out_width].reshape(
                len(piece), height, out_width)
            _reduce_along(ufunc, piece, column_runs, -1, stride_w, dilation_w, rows, scratch)
            _reduce_along(ufunc, rows, row_runs, -2, stride_h, dilation_h,
                          out[start:start + block], scratch)
    buffers.give(scratch)
    buffers.give(row_reduced)
    return out.reshape(x.shape[:-2] + (out_height, out_width))


def _fold(ufunc, taps) -> np.ndarray:
    """Combine a sequence of equally shaped arrays with ``ufunc`` into a new array."""
    taps = iter(taps)
    first = next(taps)
    second = next(taps, None)
    out = np.array(first, copy=True) if second is None else ufunc(first, second)
    for tap in taps:
        ufunc(out, tap, out=out)
    return out


def accumulate_dtype(dtype) -> np.dtype:
    """The dtype sums are computed in: float64 for integers, float32 for float16."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def result_dtype(dtype) -> np.dtype:
    """Average and Lp pooling return floats: the input's, or float32 for integers."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def max_fill(dtype):
    """The padding value that never wins a maximum: -inf, or the smallest integer."""
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


class _Grid:
    """Where every tap of every window reads, along each axis, for one pooling call.

    Attributes
    ----------
    out_shape : (int, int)
    widths : ((int, int), (int, int))
        Padding actually applied: the user's low padding, and on the high side
        whatever the last window reads (more than the user's padding in ceil mode,
        less when the trailing input is never read; negative widths crop).
    slices : ([slice], [slice])
        Per axis, :func:`tap_slices`: the padded positions tap ``t`` reads for all
        output positions.
    runs : (list, list)
        Per axis, :func:`_window_runs`: the outputs grouped by which taps read the
        input itself (padding skipped).
    stride, dilation : (int, int)
    first_inside : (np.ndarray, np.ndarray)
        Per axis and output position, the first tap that reads the input rather than
        the padding (where PyTorch's scan starts).
    overlapping : (bool, bool)
        Per axis, whether two (window, tap) pairs read the same position.
    """

    def __init__(self, input_size, kernel_size, stride, padding, dilation, ceil_mode):
        self.out_shape = tuple(output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d
                               in zip(input_size, kernel_size, stride, padding, dilation))
        widths, slices, first_inside, overlapping, parts = [], [], [], [], []
        for n, k, s, (lo, _), d, o in zip(input_size, kernel_size, stride, padding,
                                          dilation, self.out_shape):
            reach = (o - 1) * s + d * (k - 1) + 1  # padded extent the last window reads
            widths.append((lo, reach - n - lo))
            slices.append(tap_slices(k, s, d, o))
            # positions[o, t]: padded position read by tap t of window o
            positions = (np.arange(o, dtype=np.int64)[:, None] * s
                         + np.arange(k, dtype=np.int64)[None, :] * d)
            inside = (positions >= lo) & (positions < lo + n)
            first_inside.append(np.argmax(inside, axis=1))
            overlapping.append(np.unique(positions).size < positions.size)
            parts.append(tap_parts(n, k, s, d, o, lo))
        self.stride, self.dilation = tuple(stride), tuple(dilation)
        self.runs = tuple(_window_runs(p, o, s) for p, o, s in zip(parts, self.out_shape,
                                                                      stride))
        self.widths = tuple(widths)
        self.slices = tuple(slices)
        self.first_inside = tuple(first_inside)
        self.overlapping = tuple(overlapping)

    def pad(self, x: np.ndarray, value) -> np.ndarray:
        """``x`` padded with ``value`` to exactly the extent the windows read."""
        widths = ((0, 0),) * (x.ndim - 2) + self.widths
        if all(lo == 0 and hi <= 0 for lo, hi in self.widths):
            (_, bottom), (_, right) = self.widths
            return x[..., :x.shape[-2] + bottom, :x.shape[-1] + right]
        return pad_array(x, widths, "constant", value)

    def unpad(self, grad_padded: np.ndarray, input_shape) -> np.ndarray:
        """Gradient of :meth:`pad`: the part of ``grad_padded`` over the input."""
        if all(lo == 0 and hi == 0 for lo, hi in self.widths):
            return grad_padded
        widths = ((0, 0),) * (grad_padded.ndim - 2) + self.widths
        return pad_backward(grad_padded, widths, "constant", input_shape)


@functools.lru_cache(maxsize=256)
def _cached_grid(*arguments) -> _Grid:
    grid = _Grid(*arguments)
    for positions in grid.first_inside:
        positions.setflags(write=False)  # shared by every call with these arguments
    return grid


def _grid(input_size, kernel_size, stride, padding, dilation, ceil_mode) -> _Grid:
    """The :class:`_Grid` of these arguments, built once per distinct call: a network
    pools the same shapes every step, and the grid costs more than a small pool."""
    return _cached_grid(tuple(input_size), tuple(kernel_size), tuple(stride),
                        tuple(map(tuple, padding)), tuple(dilation), bool(ceil_mode))


def _tap_dtype(taps: int) -> np.dtype:
    return np.dtype(np.int8 if taps <= 127 else np.int32)


def _max_with_winner(taps, first_inside, axis: int, nan_aware: bool):
    """The maximum over ``taps`` and, per element, the tap PyTorch's scan picks.

    PyTorch starts at the first tap inside the input with ``max = -inf`` and takes
    tap ``t`` when ``tap > max or isnan(tap)``: the first maximum wins, and for
    windows holding NaN the last NaN. Padding (``-inf`` or the smallest integer) is
    never strictly greater than the running maximum, so it cannot win.

    Parameters
    ----------
    taps : list of np.ndarray, equally shaped
        The values tap ``t`` reads for every output, in tap order.
    first_inside : np.ndarray of int, one per output position along ``axis``
        The tap each scan starts from.
    nan_aware : bool
        Apply the NaN rule (needed only when the result holds NaN).

    Returns
    -------
    maximum : np.ndarray, shaped like a tap
    winner : np.ndarray of int8 (int32 for > 127 taps), same shape
    """
    maximum = np.array(taps[0], copy=True)
    winner = np.empty(maximum.shape, dtype=_tap_dtype(len(taps)))
    winner[...] = _broadcast_along(first_inside, axis)
    for t in range(1, len(taps)):
        better = np.greater(taps[t], maximum)
        if nan_aware:
            better |= np.isnan(taps[t])
        # winner = t where better, else unchanged: t exceeds every earlier winner, so
        # a maximum with better * t does it (cheaper than a masked copy).
        candidate = better.view(np.int8).astype(winner.dtype, copy=False)
        candidate *= t
        np.maximum(winner, candidate, out=winner)
        np.maximum(maximum, taps[t], out=maximum)
    return maximum, winner


def _max_and_winners(column_taps, row_taps_of, first_inside):
    """Separable max with winners: over the width taps, then over the height taps.

    Parameters
    ----------
    column_taps : list of np.ndarray, shape (N, C, H_padded, W_out)
    row_taps_of : callable
        ``row_taps_of(row_max)``: the height taps of the width-reduced grid, each
        shaped (N, C, H_out, W_out).
    runs : (list, list)
        Per axis, :func:`_window_runs`: the outputs grouped by which taps read the
        input itself (padding skipped).
    stride, dilation : (int, int)
    first_inside : (np.ndarray, np.ndarray)
        Per axis, the tap each scan starts from.

    Returns
    -------
    row_max, out, row_winner, column_winner : np.ndarray
    """
    def scan(nan_aware):
        row_max, column_winner = _max_with_winner(column_taps, first_inside[1], -1, nan_aware)
        out, row_winner = _max_with_winner(row_taps_of(row_max), first_inside[0], -2, nan_aware)
        return row_max, out, row_winner, column_winner

    result = scan(nan_aware=False)
    out = result[1]
    if out.dtype.kind == "f" and np.isnan(out).any():
        result = scan(nan_aware=True)  # the NaN rule costs a pass per tap: only if needed
    return result


def _route(grad: np.ndarray, winner: np.ndarray, slices, axis: int, accumulate: bool,
           out_shape) -> np.ndarray:
    """Send each element of ``grad`` to the tap ``winner`` names along ``axis``.

    The transpose of one max-reduction phase: tap ``t`` passes the gradient of the
    outputs it won back to the positions it read. Without overlap every position is
    read by one (window, tap) pair, so a strided assignment does it; with overlap the
    contributions are added.
    """
    routed = np.zeros(out_shape, dtype=grad.dtype)
    finite = bool(np.isfinite(grad).all())
    for t, piece in enumerate(slices):
        won = winner == t
        view = routed[_along(axis, piece)]
        # grad * won is the fast path; it would turn an inf/NaN gradient that was not
        # won into NaN, so those take np.where.
        if finite and not accumulate:
            np.multiply(grad, won, out=view)
        elif finite:
            view += grad * won
        elif accumulate:
            view += np.where(won, grad, 0)
        else:
            view[...] = np.where(won, grad, 0)
    return routed


def _spread(grad: np.ndarray, slices, axis: int, accumulate: bool, out_shape) -> np.ndarray:
    """Transpose of a sum over taps along ``axis``: every tap receives ``grad``."""
    spread = np.zeros(out_shape, dtype=grad.dtype)
    for piece in slices:
        if accumulate:
            spread[_along(axis, piece)] += grad
        else:
            spread[_along(axis, piece)] = grad
    return spread


def _row_shape(padded_shape, out_width) -> tuple:
    return tuple(padded_shape[:-1]) + (out_width,)


# ------------------------------------------------------- bounded scratch


def _plane_chunks(n: int, c: int, bytes_per_plane: int, elements_per_plane: int):
    """``(batch slice, channel slice)`` pairs covering all ``n * c`` planes.

    Each chunk's scratch stays within ``window.SCRATCH_BYTES`` divided among the
    threads that run chunks at once (whole images when one fits, else groups of
    channels of one image), and there are at least as many chunks as threads worth
    using. Slices give views: nothing is copied to split.
    """
    threads = parallel.threads_for(n * c * elements_per_plane)
    budget = max(1, window.SCRATCH_BYTES // threads)
    per_image = bytes_per_plane * c
    if n >= threads and (per_image <= budget or c == 1):
        per_chunk = _balanced(n, max(1, budget // max(per_image, 1)), threads)
        return [(slice(start, min(start + per_chunk, n)), slice(None))
                for start in range(0, n, per_chunk)]
    per_chunk = _balanced(c, max(1, budget // max(bytes_per_plane, 1)), threads)
    return [(slice(i, i + 1), channels) for i in range(n)
            for channels in (slice(start, min(start + per_chunk, c))
                             for start in range(0, c, per_chunk))]


def _balanced(n: int, most: int, threads: int) -> int:
    """Items per chunk: at most ``most``, and chunks in whole waves of ``threads``.

    Threads take chunks in waves (:func:`cnnlab.kernels.parallel.map_threads`), so
    3 chunks on 2 threads take as long as 4: use 4 smaller ones instead.
    """
    chunks = -(-n // max(1, most))
    chunks = -(-chunks // threads) * threads
    return max(1, -(-n // chunks))


def planes_in_chunks(plane_arrays, shape_argument=None, scratch_per_plane=6, plane_keywords=()):
    """Run a pooling kernel on groups of (image, channel) planes, never all at once.

    Pooling treats every plane on its own, so a kernel's scratch (padded copies,
    per-tap partial results: a few plane-sized arrays per plane) can be bounded by
    feeding it a slice of the planes at a time, and the slices can run on several
    threads (:mod:`cnnlab.kernels.parallel`). The decorated kernel then needs at most
    about ``window.SCRATCH_BYTES`` beyond its input and output, whatever the batch size.

    Parameters
    ----------
    plane_arrays : tuple of int
        Positions of the arguments shaped ``(N, C, ...)`` to slice.
    shape_argument : int, optional
        Position of an ``input_shape`` argument ``(N, C, H, W)`` to adjust per chunk.
    scratch_per_plane : float or callable
        Scratch estimate, in float64 copies of the largest plane; or a function of
        the call's keyword arguments that returns it.
    plane_keywords : tuple of str
        Keyword arguments shaped ``(N, C, ...)`` (or None) to slice as well.
    """
    def decorate(kernel):
        @functools.wraps(kernel)
        def chunked(*args, **kwargs):
            arrays = [args[i] for i in plane_arrays]
            n, c = arrays[0].shape[:2]
            largest = max(int(np.prod(a.shape[2:], dtype=np.int64)) for a in arrays)
            if shape_argument is not None:
                largest = max(largest, int(np.prod(args[shape_argument][2:], dtype=np.int64)))
            scratch = (scratch_per_plane(kwargs) if callable(scratch_per_plane)
                       else scratch_per_plane)
            chunks = (_plane_chunks(n, c, int(largest * 8 * scratch), largest)
                      if n * c else [])
            if len(chunks) <= 1:
                return kernel(*args, **kwargs)

            def run(chunk):
                batch, channels = chunk
                chunk_args = list(args)
                for i in plane_arrays:
                    chunk_args[i] = args[i][batch, channels]
                if shape_argument is not None:
                    piece = chunk_args[plane_arrays[0]].shape[:2]
                    chunk_args[shape_argument] = piece + tuple(args[shape_argument][2:])
                chunk_kwargs = dict(kwargs)
                for name in plane_keywords:
                    if kwargs.get(name) is not None:
                        chunk_kwargs[name] = kwargs[name][batch, channels]
                return kernel(*chunk_args, **chunk_kwargs)

            outputs = None
            for (batch, channels), result in zip(chunks, parallel.map_threads(run, chunks)):
                parts = result if isinstance(result, tuple) else (result,)
                if outputs is None:
                    outputs = tuple(np.empty((n, c) + p.shape[2:], p.dtype) for p in parts)
                for output, part in zip(outputs, parts):
                    output[batch, channels] = part
            return outputs if isinstance(result, tuple) else outputs[0]
        return chunked
    return decorate


# --------------------------------------------------------------- max pooling


def _strided_taps(padded: np.ndarray, grid: _Grid):
    rows, cols = grid.slices
    column_taps = [padded[..., piece] for piece in cols]
    return column_taps, lambda row_max: [row_max[..., piece, :] for piece in rows]


def _values_or_indices(kwargs) -> float:
    """Scratch of max pooling: values only need the output and a block
    (:func:`_reduce_windows`); indices need the padded input and per-tap winners."""
    return 6 if kwargs.get("return_indices") else 1


@planes_in_chunks((0,), scratch_per_plane=_values_or_indices)
def max_pool2d(x: np.ndarray, kernel_size, stride, padding, dilation, ceil_mode=False,
               return_indices=False):
    """2-D max pooling.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
        Any real dtype; integers stay integers (exact).
    kernel_size, stride, dilation : (int, int)
    padding : ((int, int), (int, int))
        ``((top, bottom), (left, right))``, filled with ``-inf`` (integers: the
        dtype's minimum); padding never wins a window.
    ceil_mode : bool
    return_indices : bool
        Also return the flat index ``h * W + w`` of each maximum in its input plane.

    Returns
    -------
    out : np.ndarray, shape (N, C, H_out, W_out), dtype of ``x``
    indices : np.ndarray of int64, same shape (only with ``return_indices``)
        PyTorch's rule: the first maximum in row-major window order; for a window
        holding NaN, the last NaN.

    Notes
    -----
    ``H_out = floor((H + top + bottom - dilation_h * (k_h - 1) - 1) / stride_h) + 1``
    (:func:`cnnlab.shapes.output_size`; ceiling with ``ceil_mode``), likewise ``W_out``.

    Examples
    --------
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1))[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    grid = _grid(x.shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return _reduce_windows(np.maximum, x, grid)
    column_taps, row_taps_of = _strided_taps(grid.pad(x, max_fill(x.dtype)), grid)
    _, out, row_winner, column_winner = _max_and_winners(column_taps, row_taps_of,
                                                         grid.first_inside)
    # The winning row of each output, in padded coordinates; column_winner holds the
    # winning column tap of every padded row.
    (out_height, out_width) = grid.out_shape
    row = (np.arange(out_height)[:, None] * stride[0]
           + row_winner.astype(np.int64) * dilation[0])
    column_tap = np.take_along_axis(column_winner, row, axis=-2)
    column = np.arange(out_width) * stride[1] + column_tap.astype(np.int64) * dilation[1]
    (top, _), (left, _) = grid.widths
    return out, (row - top) * x.shape[-1] + (column - left)


def _max_pool2d_backward_tiled(grad_output, x, out, kernel_size) -> np.ndarray:
    """Max-pool backward for windows that tile the input (kernel == stride, no
    padding or dilation, no NaN in ``out``): each window's gradient goes to its first
    element equal to the maximum, in row-major tap order, by direct strided writes."""
    kernel_h, kernel_w = kernel_size
    out_h, out_w = out.shape[-2:]
    finite = grad_output.dtype.kind != "f" or bool(np.isfinite(np.sum(grad_output)))
    grad_x = np.empty(x.shape, dtype=grad_output.dtype)
    grad_x[..., out_h * kernel_h:, :] = 0  # the rows and columns that no window reads;
    grad_x[..., :, out_w * kernel_w:] = 0  # the loop below writes every other entry
    taken = None
    for i in range(kernel_h):
        for j in range(kernel_w):
            window = (Ellipsis, slice(i, out_h * kernel_h, kernel_h),
                      slice(j, out_w * kernel_w, kernel_w))
            hit = x[window] == out
            if taken is None:
                taken = hit
            else:
                np.greater(hit, taken, out=hit)  # hit and not taken before (bools)
                taken |= hit
            if finite:
                np.multiply(grad_output, hit, out=grad_x[window])
            else:  # inf * False would be NaN
                grad_x[window] = np.where(hit, grad_output, 0)
    return grad_x


@planes_in_chunks((0, 1), plane_keywords=("out",))
def max_pool2d_backward(grad_output: np.ndarray, x: np.ndarray, kernel_size, stride, padding,
                        dilation, ceil_mode=False, out=None) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to ``x``.

    Each output's gradient goes to the one input position that won its window (the
    first maximum in row-major order; the last NaN): ties do not split the gradient.
    Overlapping windows that share a winner add their gradients there.

    The winners are recomputed here from the saved ``x`` (nothing is stored by the
    forward pass), and the gradient is routed through the forward's two phases in
    reverse: first each output's gradient goes to its winning row of the
    width-reduced grid, then each row's gradient goes to its winning column.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, H_out, W_out)
    x : np.ndarray, shape (N, C, H, W)
        The forward input.
    out : np.ndarray, shape (N, C, H_out, W_out), optional
        The forward output. When windows tile the input (kernel == stride, no padding,
        no dilation), it lets the winners be found by comparison, several times faster.

    Returns
    -------
    np.ndarray, shape (N, C, H, W), dtype of ``grad_output``
    """
    grid = _grid(x.shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    tiles = (tuple(kernel_size) == tuple(stride) and tuple(dilation) == (1, 1)
             and all(lo == 0 and hi <= 0 for lo, hi in grid.widths))
    if (out is not None and tiles
            and (out.dtype.kind != "f" or not np.isnan(np.sum(out)))):
        return _max_pool2d_backward_tiled(grad_output, x, out, kernel_size)
    padded = grid.pad(x, max_fill(x.dtype))
    row_max, _, row_winner, column_winner = _max_and_winners(*_strided_taps(padded, grid),
                                                             grid.first_inside)
    rows, cols = grid.slices
    grad_rows = _route(grad_output, row_winner, rows, -2, grid.overlapping[0], row_max.shape)
    grad_padded = _route(grad_rows, column_winner, cols, -1, grid.overlapping[1], padded.shape)
    return grid.unpad(grad_padded, x.shape)


# ----------------------------------------------------------- average pooling


def _window_sums_backward(grad: np.ndarray, grid: _Grid, padded_shape) -> np.ndarray:
    rows, cols = grid.slices
    grad_rows = _spread(grad, rows, -2, grid.overlapping[0],
                        _row_shape(padded_shape, grad.shape[-1]))
    return _spread(grad_rows, cols, -1, grid.overlapping[1], padded_shape)


def _padded_shape(input_shape, grid: _Grid) -> tuple:
    (top, bottom), (left, right) = grid.widths
    return tuple(input_shape[:-2]) + (input_shape[-2] + top + bottom,
                                      input_shape[-1] + left + right)


def avg_divisor(input_size, out_shape, kernel_size, stride, padding, dilation,
                count_include_pad=True, divisor_override=None):
    """What each window's sum is divided by: a scalar or an (H_out, W_out) array.

    ``count_include_pad=True`` counts the taps inside the padded input
    ``[-top, H + bottom)`` (so ceil-mode windows that run past it count less, as in
    PyTorch); ``False`` counts the taps on real input elements. ``divisor_override``
    wins over both.
    """
    if divisor_override is not None:
        return divisor_override
    counts = []
    for n, o, k, s, (lo, hi), d in zip(input_size, out_shape, kernel_size, stride,
                                        padding, dilation):
        if count_include_pad:
            counts.append(taps_inside(n, o, k, s, d, lo, low=-lo, high=n + hi))
        else:
            counts.append(taps_inside(n, o, k, s, d, lo))
    return np.outer(counts[0], counts[1])


@planes_in_chunks((0,), scratch_per_plane=1)
def avg_pool2d(x: np.ndarray, kernel_size, stride, padding, dilation, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> np.ndarray:
    """2-D average pooling.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    kernel_size, stride, dilation : (int, int)
    padding : ((int, int), (int, int))
        ``((top, bottom), (left, right))``, zeros.
    ceil_mode, count_include_pad : bool
    divisor_override : int or None
        Divide every window's sum by this instead of a count.

    Returns
    -------
    np.ndarray, shape (N, C, H_out, W_out), dtype of ``x``
        Integers (as PyTorch's int64): the exact int64 sum divided with truncation
        toward zero (:func:`truncating_divide`).

    Notes
    -----
    Output shape as :func:`max_pool2d`. See :func:`avg_divisor` for the divisor.

    Examples
    --------
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> avg_pool2d(x, (2, 2), (2, 2), ((1, 1), (1, 1)), (1, 1), count_include_pad=False)[0, 0]
    array([[ 0. ,  1.5,  3. ],
           [ 6. ,  7.5,  9. ],
           [12. , 13.5, 15. ]])
    """
    grid = _grid(x.shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    divisor = avg_divisor(x.shape[-2:], grid.out_shape, kernel_size, stride, padding, dilation,
                          count_include_pad, divisor_override)
    if x.dtype.kind in "biu":
        # PyTorch's integer average: an exact int64 sum, divided with truncation
        # toward zero, in the input's dtype.
        sums = _reduce_windows(np.add, x.astype(np.int64, copy=False), grid)
        return truncating_divide(sums, divisor).astype(x.dtype, copy=False)
    sums = _reduce_windows(np.add, x.astype(accumulate_dtype(x.dtype), copy=False), grid)
    sums /= np.asarray(divisor, dtype=sums.dtype)  # a float divisor: no float64 detour
    return sums.astype(result_dtype(x.dtype), copy=False)


def truncating_divide(sums: np.ndarray, divisor) -> np.ndarray:
    """``sums / divisor`` rounded toward zero, in integers (C's division, PyTorch's).

    NumPy's ``//`` rounds toward minus infinity; dividing the magnitudes and putting
    the sign back rounds toward zero.

    Examples
    --------
    >>> truncating_divide(np.array([-7, 7, -6]), 2).tolist()
    [-3, 3, -3]
    """
    divisor = np.asarray(divisor, dtype=np.int64)
    quotient = np.abs(sums) // np.abs(divisor)
    negative = (sums < 0) != (divisor < 0)
    return np.where(negative, -quotient, quotient)


@planes_in_chunks((0,), shape_argument=1)
def avg_pool2d_backward(grad_output: np.ndarray, input_shape, kernel_size, stride, padding,
                        dilation, ceil_mode=False, count_include_pad=True,
                        divisor_override=None) -> np.ndarray:
    """Gradient of :func:`avg_pool2d`: each window's gradient / divisor, spread over it.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, H_out, W_out)
    input_shape : tuple (N, C, H, W)

    Returns
    -------
    np.ndarray, shape ``input_shape``
    """
    grid = _grid(input_shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    divisor = avg_divisor(input_shape[-2:], grid.out_shape, kernel_size, stride, padding, dilation,
                          count_include_pad, divisor_override)
    grad = grad_output / np.asarray(divisor, dtype=grad_output.dtype)
    grad_padded = _window_sums_backward(grad, grid, _padded_shape(input_shape, grid))
    return grid.unpad(grad_padded, input_shape)


# ---------------------------------------------------------------- Lp pooling


@planes_in_chunks((0,))
def lp_pool2d(x: np.ndarray, norm_type, kernel_size, stride, padding, dilation,
              ceil_mode=False) -> np.ndarray:
    """2-D power-average pooling: ``(sum |x|^p)^(1/p)`` over each window.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    norm_type : float
        ``p > 0``; ``inf`` gives the maximum of ``|x|``.
    kernel_size, stride, dilation : (int, int)
    padding : ((int, int), (int, int))
        Zeros (they add nothing to the sums).
    ceil_mode : bool

    Returns
    -------
    np.ndarray, shape (N, C, H_out, W_out)
        Dtype of ``x`` for floats; float32 for integers (computed in float64).

    Notes
    -----
    Output shape as :func:`max_pool2d`. Beyond PyTorch: the absolute value (PyTorch
    computes ``sum x^p``, NaN for odd ``p`` on negative inputs), padding, dilation,
    ``p = inf``, and in ceil mode a partial window sums only what it covers (PyTorch
    scales it by ``k_h * k_w / covered``).

    Examples
    --------
    >>> x = np.array([[[[3., -4.], [0., 0.]]]])
    >>> lp_pool2d(x, 2, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    array([[[[5.]]]])
    """
    grid = _grid(x.shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    magnitude = np.abs(x.astype(accumulate_dtype(x.dtype), copy=False))
    if np.isinf(norm_type):
        out = _reduce_windows(np.maximum, magnitude, grid)
    else:
        with np.errstate(over="ignore"):
            sums = _reduce_windows(np.add, magnitude ** norm_type, grid)
            out = sums ** (1.0 / norm_type)
    return out.astype(result_dtype(x.dtype), copy=False)


@planes_in_chunks((0, 1, 2))
def lp_pool2d_backward(grad_output: np.ndarray, x: np.ndarray, out: np.ndarray, norm_type,
                       kernel_size, stride, padding, dilation, ceil_mode=False) -> np.ndarray:
    """Gradient of :func:`lp_pool2d`.

    With ``S = sum_window |x|^p`` and ``out = S^(1/p)``::

        d out / d x = (1/p) S^(1/p - 1) * p |x|^(p-1) sign(x)
                    = sign(x) |x|^(p-1) * out^(1-p)

    defined as 0 where ``out == 0`` (as PyTorch documents) and where ``x == 0``.
    Each window's ``grad * out^(1-p)`` is spread over the window (the transpose of
    the window sum), then multiplied by the elementwise ``sign(x) |x|^(p-1)``.
    For ``p = inf`` the gradient is max pooling's on ``|x|`` times ``sign(x)``.

    Parameters
    ----------
    grad_output, out : np.ndarray, shape (N, C, H_out, W_out)
    x : np.ndarray, shape (N, C, H, W)

    Returns
    -------
    np.ndarray, shape (N, C, H, W)
    """
    dtype = accumulate_dtype(x.dtype)
    x = x.astype(dtype, copy=False)
    magnitude = np.abs(x)
    if np.isinf(norm_type):
        grad = max_pool2d_backward(grad_output, magnitude, kernel_size, stride, padding,
                                   dilation, ceil_mode)
        return grad * np.sign(x)
    grid = _grid(x.shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    out = out.astype(dtype, copy=False)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        window_grad = np.where(out == 0, 0, grad_output * out ** (1.0 - norm_type))
        grad_padded = _window_sums_backward(window_grad, grid, _padded_shape(x.shape, grid))
        local = np.where(x == 0, 0, np.sign(x) * magnitude ** (norm_type - 1.0))
        return grid.unpad(grad_padded, x.shape) * local


# ----------------------------------------------------------- adaptive pooling


def adaptive_windows(in_size: int, out_size: int):
    """PyTorch's adaptive windows along one axis: ``[start_i, end_i)`` for each output.

    ``start_i = floor(i * in / out)``, ``end_i = ceil((i + 1) * in / out)``.

    Examples
    --------
    >>> starts, ends = adaptive_windows(5, 3)
    >>> starts.tolist(), ends.tolist()
    ([0, 1, 3], [2, 4, 5])
    """
    index = np.arange(out_size, dtype=np.int64)
    starts = (index * in_size) // out_size
    ends = -((-(index + 1) * in_size) // out_size)
    return starts, ends


def _membership(in_size: int, out_size: int, dtype) -> np.ndarray:
    """``A[i, j] = 1`` where input position ``j`` lies in adaptive window ``i``.

    Returns
    -------
    np.ndarray, shape (out_size, in_size)
    """
    starts, ends = adaptive_windows(in_size, out_size)
    positions = np.arange(in_size)
    return ((positions >= starts[:, None]) & (positions < ends[:, None])).astype(dtype)


def _sandwich(x: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left @ plane @ right`` for every (H, W) plane of ``x``: two matrix products.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    left : np.ndarray, shape (P, H)
    right : np.ndarray, shape (W, Q)

    Returns
    -------
    np.ndarray, shape (N, C, P, Q)
    """
    height, width = x.shape[-2:]
    # Contiguous operands keep NumPy on BLAS (a transposed view makes it 10x slower).
    left, right = np.ascontiguousarray(left), np.ascontiguousarray(right)
    across = x.reshape(-1, width) @ right                        # (N*C*H, Q)
    both = np.matmul(left, across.reshape(-1, height, right.shape[1]))  # (N*C, P, Q)
    return both.reshape(x.shape[:-2] + both.shape[-2:])


@planes_in_chunks((0,))
def adaptive_avg_pool2d(x: np.ndarray, output_size) -> np.ndarray:
    """Adaptive average pooling to ``output_size`` (PyTorch's windows).

    With the 0/1 window-membership matrices ``A_h`` (H_out, H) and ``A_w``
    (W_out, W), every plane's window sums are ``A_h @ X @ A_w.T``: two matrix
    products, whatever the window sizes (integers: exact, in float64).

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    output_size : (int, int)

    Returns
    -------
    np.ndarray, shape (N, C, H_out, W_out)
        Dtype of ``x`` for floats; float32 for integers.

    Notes
    -----
    Output ``(i, j)`` averages rows ``[floor(i H / H_out), ceil((i + 1) H / H_out))``
    and the matching columns (:func:`adaptive_windows`).

    Examples
    --------
    >>> adaptive_avg_pool2d(np.arange(6.).reshape(1, 1, 2, 3), (1, 2))[0, 0]
    array([[2., 3.]])
    """
    dtype = accumulate_dtype(x.dtype)
    rows = _membership(x.shape[-2], output_size[0], dtype)
    columns = _membership(x.shape[-1], output_size[1], dtype)
    values = x.astype(dtype, copy=False)
    counts = np.outer(rows.sum(axis=1), columns.sum(axis=1))
    finite = np.isfinite(values) if dtype.kind == "f" else None
    if finite is None or finite.all():
        return (_sandwich(values, rows, columns.T) / counts).astype(result_dtype(x.dtype),
                                                                    copy=False)
    # A membership matrix multiplies every value by 0 outside its windows, and
    # inf * 0 = NaN would leak into other windows. So sum the finite values only,
    # count each window's NaN, +inf and -inf with the same products (all finite),
    # and give windows holding them NaN, +inf or -inf as a plain sum would.
    def window_count(mask):
        return _sandwich(mask.astype(dtype), rows, columns.T)

    means = _sandwich(np.where(finite, values, 0), rows, columns.T) / counts
    nans, positive, negative = (window_count(np.isnan(values)), window_count(values == np.inf),
                                window_count(values == -np.inf))
    means = np.where(positive > 0, np.inf, means)
    means = np.where(negative > 0, -np.inf, means)
    means = np.where((nans > 0) | ((positive > 0) & (negative > 0)), np.nan, means)
    return means.astype(result_dtype(x.dtype), copy=False)


@planes_in_chunks((0,), shape_argument=1)
def adaptive_avg_pool2d_backward(grad_output: np.ndarray, input_shape) -> np.ndarray:
    """Gradient of :func:`adaptive_avg_pool2d`: ``A_h.T @ (G / counts) @ A_w`` per
    plane, i.e. each window's gradient / count spread over the window (overlapping
    windows add).

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, H_out, W_out)
    input_shape : tuple (N, C, H, W)

    Returns
    -------
    np.ndarray, shape ``input_shape``
    """
    dtype = grad_output.dtype
    rows = _membership(input_shape[-2], grad_output.shape[-2], dtype)
    columns = _membership(input_shape[-1], grad_output.shape[-1], dtype)
    counts = np.outer(rows.sum(axis=1), columns.sum(axis=1))
    grad = (grad_output / counts).astype(dtype, copy=False)
    return _sandwich(grad, rows.T, columns)


def _adaptive_taps(in_size: int, out_size: int) -> list:
    """What tap ``t`` of every adaptive window reads along one axis.

    Position ``min(start + t, end - 1)`` for ``t`` below the longest window's length:
    shorter windows repeat their last position, which changes neither the maximum
    nor the winner. When ``out`` divides ``in`` the windows are regular
    (kernel = stride = in / out) and each tap is a strided slice instead of a gather.
    """
    if out_size and in_size % out_size == 0:
        return tap_slices(in_size // out_size, in_size // out_size, 1, out_size)
    starts, ends = adaptive_windows(in_size, out_size)
    longest = int((ends - starts).max()) if out_size else 0
    return [np.minimum(starts + t, ends - 1) for t in range(longest)]


def _adaptive_max(x: np.ndarray, output_size, want_indices: bool):
    out_height, out_width = output_size
    if out_height == 0 or out_width == 0:
        empty = np.empty(x.shape[:-2] + (out_height, out_width), dtype=x.dtype)
        return empty, np.zeros(empty.shape, dtype=np.int64)
    row_positions = _adaptive_taps(x.shape[-2], out_height)
    column_positions = _adaptive_taps(x.shape[-1], out_width)
    column_taps = [x[..., position] for position in column_positions]

    def row_taps_of(row_max):                                    # (N, C, H, W_out)
        return [row_max[..., position, :] for position in row_positions]

    if not want_indices:
        return _fold(np.maximum, row_taps_of(_fold(np.maximum, column_taps))), None
    starts = (np.zeros(out_height, dtype=np.int64), np.zeros(out_width, dtype=np.int64))
    _, out, row_winner, column_winner = _max_and_winners(column_taps, row_taps_of, starts)
    # Tap t of window i reads min(start_i + t, end_i - 1) (see _adaptive_taps).
    (row_starts, row_ends), (column_starts, column_ends) = (
        adaptive_windows(n, o) for n, o in zip(x.shape[-2:], output_size))
    row = np.minimum(row_starts[:, None] + row_winner, row_ends[:, None] - 1)
    column_tap = np.take_along_axis(column_winner, row, axis=-2)
    column = np.minimum(column_starts + column_tap, column_ends - 1)
    return out, row * x.shape[-1] + column


@planes_in_chunks((0,))
def adaptive_max_pool2d(x: np.ndarray, output_size, return_indices=False):
    """Adaptive max pooling to ``output_size`` (PyTorch's windows and tie rule).

    A fixed number of taps (the longest window) per axis, each a clipped gather,
    folded with ``np.maximum``: width first, then height.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    output_size : (int, int)
    return_indices : bool
        Also return the flat index ``h * W + w`` of each maximum (first maximum in
        row-major window order; last NaN for windows holding NaN).

    Returns
    -------
    out : np.ndarray, shape (N, C, H_out, W_out), dtype of ``x``
    indices : np.ndarray of int64, same shape (only with ``return_indices``)

    Examples
    --------
    >>> out, indices = adaptive_max_pool2d(np.array([[[[1, 5, 5], [2, 0, 7]]]]), (1, 2), True)
    >>> out.tolist(), indices.tolist()
    ([[[[5, 7]]]], [[[[1, 5]]]])
    """
    out, indices = _adaptive_max(x, output_size, return_indices)
    return (out, indices) if return_indices else out


def _scatter_to_indices(grad_output: np.ndarray, indices: np.ndarray, input_shape) -> np.ndarray:
    """Add each gradient onto its flat plane index (repeated indices add up)."""
    planes = int(np.prod(input_shape[:-2], dtype=np.int64))
    plane_size = input_shape[-2] * input_shape[-1]
    flat = indices.reshape(planes, -1) + (np.arange(planes, dtype=np.int64) * plane_size)[:, None]
    summed = np.bincount(flat.ravel(), weights=grad_output.reshape(-1),
                         minlength=planes * plane_size)
    return summed.reshape(input_shape).astype(grad_output.dtype, copy=False)


@planes_in_chunks((0, 1))
def adaptive_max_pool2d_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`adaptive_max_pool2d`: each output's gradient goes to its
    winner (recomputed from ``x``), adding up where windows overlap.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, H_out, W_out)
    x : np.ndarray, shape (N, C, H, W)
    """
    _, indices = _adaptive_max(x, grad_output.shape[-2:], want_indices=True)
    return _scatter_to_indices(grad_output, indices, x.shape)


# ------------------------------------------------------------- max unpooling


def unpool_output_size(input_size, kernel_size, stride, padding) -> tuple:
    """Default output size of :func:`max_unpool2d`: ``(H - 1) * stride - top - bottom
    + kernel`` (and likewise for the width)."""
    return tuple(transposed_output_size(n, k, s, p)
                 for n, k, s, p in zip(input_size, kernel_size, stride, padding))


@planes_in_chunks((0, 1))
def max_unpool2d(x: np.ndarray, indices: np.ndarray, output_size) -> np.ndarray:
    """Place each value of ``x`` at its flat index in a zero ``output_size`` plane.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    indices : np.ndarray of ints, shape (N, C, H, W)
        Flat indices ``h * W_out + w`` into the output plane (as returned by
        :func:`max_pool2d`). Where an index repeats, the last value is kept.
    output_size : (int, int)

    Returns
    -------
    np.ndarray, shape (N, C, H_out, W_out), dtype of ``x``

    Raises
    ------
    ValueError
        If an index lies outside ``[0, H_out * W_out)``.

    Examples
    --------
    >>> max_unpool2d(np.array([[[[7.]]]]), np.array([[[[3]]]]), (2, 2))[0, 0]
    array([[0., 0.],
           [0., 7.]])
    """
    batch, channels = x.shape[:2]
    plane_size = output_size[0] * output_size[1]
    if indices.size and (indices.min() < 0 or indices.max() >= plane_size):
        bad = indices[(indices < 0) | (indices >= plane_size)].reshape(-1)[0]
        raise ValueError(
            f"max_unpool2d: found an invalid max index {int(bad)}: indices must lie in "
            f"[0, {plane_size}) for an output plane of size {output_size[0]}x{output_size[1]}; "
            "pass the output_size of the input that was pooled")
    out = np.zeros((batch, channels, plane_size), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(batch, channels, -1).astype(np.intp, copy=False),
                      x.reshape(batch, channels, -1), axis=2)
    return out.reshape(batch, channels, *output_size)


@planes_in_chunks((0, 1))
def max_unpool2d_backward(grad_output: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Gradient of :func:`max_unpool2d`: the output gradient gathered at ``indices``.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, H_out, W_out)
    indices : np.ndarray, shape (N, C, H, W)

    Returns
    -------
    np.ndarray, shape (N, C, H, W)
    """
    batch, channels = indices.shape[:2]
    gathered = np.take_along_axis(grad_output.reshape(batch, channels, -1),
                                  indices.reshape(batch, channels, -1).astype(np.intp, copy=False),
                                  axis=2)
    return gathered.reshape(indices.shape)

"""Where pooling windows read, and PyTorch's max scan: the helpers of the pooling kernels.

:class:`Grid` describes one pooling call (per axis: output size, the padding actually
read, every tap's strided slice, which outputs read only padding), built once per
distinct call. :func:`max_and_winners` runs PyTorch's max scan separably and keeps the
winning tap of each pass, from which :func:`winner_positions` recovers each maximum's
position (the indices of ``max_pool``) and the backward pass routes the gradient.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..dtypes import opmath_dtype
from ..shapes import output_size
from .pad import pad as pad_array
from .pad import pad_backward
from .pool_passes import along, broadcast_along, window_runs
from .window import tap_parts, tap_slices


def accumulate_dtype(dtype) -> np.dtype:
    """The dtype sums are computed in: float64 for integers, float32 for float16."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    return opmath_dtype(dtype)


def result_dtype(dtype) -> np.dtype:
    """Lp and adaptive average pooling return floats: the input's, or float32 for integers."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def max_fill(dtype):
    """The padding value that never wins a maximum: -inf, or the smallest integer."""
    dtype = np.dtype(dtype)
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


class Grid:
    """Where every tap of every window reads, along each axis, for one pooling call.

    Attributes (one entry per spatial axis)
    ----------
    out_shape : tuple of int
    widths : tuple of (int, int)
        Padding actually applied: the user's low padding, and on the high side
        whatever the last window reads (more than the user's padding in ceil mode,
        less when the trailing input is never read; negative widths crop).
    slices : tuple of [slice]
        :func:`tap_slices`: the padded positions tap ``t`` reads for all outputs.
    runs : tuple of list
        :func:`~cnnlab.kernels.pool_passes.window_runs`: the outputs grouped by which
        taps read the input itself (padding skipped).
    stride, dilation : tuple of int
    first_inside : tuple of np.ndarray
        Per output position, the first tap that reads the input rather than the
        padding (where PyTorch's scan starts).
    overlapping : tuple of bool
        Whether two (window, tap) pairs read the same position.
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
        self.runs = tuple(window_runs(p, o, s) for p, o, s in zip(parts, self.out_shape, stride))
        self.widths = tuple(widths)
        self.slices = tuple(slices)
        self.first_inside = tuple(first_inside)
        self.overlapping = tuple(overlapping)

    def pad(self, x: np.ndarray, value) -> np.ndarray:
        """``x`` padded with ``value`` to exactly the extent the windows read."""
        spatial = len(self.widths)
        if all(lo == 0 and hi <= 0 for lo, hi in self.widths):
            return x[(Ellipsis,) + tuple(slice(0, n + hi) for n, (_, hi)
                                         in zip(x.shape[x.ndim - spatial:], self.widths))]
        return pad_array(x, ((0, 0),) * (x.ndim - spatial) + self.widths, "constant", value)

    def unpad(self, grad_padded: np.ndarray, input_shape) -> np.ndarray:
        """Gradient of :meth:`pad`: the part of ``grad_padded`` over the input."""
        if all(lo == 0 and hi == 0 for lo, hi in self.widths):
            return grad_padded
        widths = ((0, 0),) * (grad_padded.ndim - len(self.widths)) + self.widths
        return pad_backward(grad_padded, widths, "constant", input_shape)

    def padded_shape(self, input_shape) -> tuple:
        """``input_shape`` with the spatial sizes padded by :attr:`widths`."""
        spatial = len(self.widths)
        lead, sizes = tuple(input_shape[:-spatial]), input_shape[-spatial:]
        return lead + tuple(n + lo + hi for n, (lo, hi) in zip(sizes, self.widths))


@functools.lru_cache(maxsize=256)
def _cached_grid(*arguments) -> Grid:
    grid = Grid(*arguments)
    for positions in grid.first_inside:
        positions.setflags(write=False)  # shared by every call with these arguments
    return grid


def grid_of(input_size, kernel_size, stride, padding, dilation, ceil_mode) -> Grid:
    """The :class:`Grid` of these arguments, built once per distinct call: a network
    pools the same shapes every step, and the grid costs more than a small pool."""
    return _cached_grid(tuple(input_size), tuple(kernel_size), tuple(stride),
                        tuple(map(tuple, padding)), tuple(dilation), bool(ceil_mode))


def spatial_size(x: np.ndarray, kernel_size) -> tuple:
    return x.shape[x.ndim - len(kernel_size):]


# ------------------------------------------------------- max with winners


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
    axis : int (negative)
    nan_aware : bool
        Apply the NaN rule (needed only when the result holds NaN).

    Returns
    -------
    maximum : np.ndarray, shaped like a tap
    winner : np.ndarray of int8 (int32 for > 127 taps), same shape
    """
    maximum = np.array(taps[0], copy=True)
    winner = np.empty(maximum.shape, dtype=_tap_dtype(len(taps)))
    winner[...] = broadcast_along(first_inside, axis)
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


def max_and_winners(x: np.ndarray, taps_of, first_inside):
    """Separable max with winners, last axis first.

    Parameters
    ----------
    x : np.ndarray, shape (..., *spatial)
        The (padded) input.
    taps_of : callable
        ``taps_of(array, axis)``: the taps of ``array`` along spatial ``axis``
        (0-based), each with that axis reduced to the output size.
    first_inside : tuple of np.ndarray
        Per axis, the tap each scan starts from.

    Returns
    -------
    inputs : list of np.ndarray
        ``inputs[axis]``: what the pass along ``axis`` reduced.
    out : np.ndarray
    winners : list of np.ndarray
        ``winners[axis]``: the winning tap of that pass, shaped like its result.
    """
    spatial = len(first_inside)

    def scan(nan_aware):
        inputs, winners = [None] * spatial, [None] * spatial
        current = x
        for axis in reversed(range(spatial)):
            inputs[axis] = current
            current, winners[axis] = _max_with_winner(taps_of(current, axis),
                                                      first_inside[axis], axis - spatial,
                                                      nan_aware)
        return inputs, current, winners

    result = scan(nan_aware=False)
    out = result[1]
    if out.dtype.kind == "f" and np.isnan(out).any():
        result = scan(nan_aware=True)  # the NaN rule costs a pass per tap: only if needed
    return result


def winner_positions(winners, starts_of) -> list:
    """The position, along each axis, of every output's winning input element.

    ``winners`` as :func:`max_and_winners` returns them; ``starts_of(axis, tap)``
    maps a winning tap (an int array shaped like the output) to the position it read
    along ``axis``. The pass along axis ``a`` ran on an array whose axes before ``a``
    still had their full (padded) length, so its winner is looked up at the winning
    positions found for those axes: one ``take_along_axis`` over those axes
    flattened (in 2-D: the winning column tap at each output's winning row).
    """
    spatial = len(winners)
    out_shape = winners[0].shape
    lead, out_size = out_shape[:-spatial], out_shape[-spatial:]
    positions, flat = [], None
    for axis in range(spatial):
        table = winners[axis]
        if axis:
            # the winners' leading (padded) axes as one, indexed by the flat position
            padded = table.shape[len(lead):len(lead) + axis]
            inner = math.prod(out_size[axis:])
            tap = np.take_along_axis(table.reshape(lead + (math.prod(padded), inner)),
                                     flat.reshape(lead + (math.prod(out_size[:axis]), inner)),
                                     axis=-2)
            tap = tap.reshape(out_shape)
        else:
            tap = table
        position = starts_of(axis, tap.astype(np.int64))
        positions.append(position)
        if axis + 1 < spatial:   # row-major flat index over the padded sizes seen so far
            size = winners[axis + 1].shape[len(lead) + axis]
            flat = position if flat is None else flat * size + position
    return positions


def strided_taps(array: np.ndarray, axis: int, grid: Grid) -> list:
    spatial = len(grid.out_shape)
    return [array[along(axis - spatial, piece)] for piece in grid.slices[axis]]


def route(grad: np.ndarray, winner: np.ndarray, slices, axis: int, accumulate: bool,
           out_shape) -> np.ndarray:
    """Send each element of ``grad`` to the tap ``winner`` names along ``axis`` (negative).

    The transpose of one max-reduction pass: tap ``t`` passes the gradient of the
    outputs it won back to the positions it read. Without overlap every position is
    read by one (window, tap) pair, so a strided assignment does it; with overlap the
    contributions are added.
    """
    routed = np.zeros(out_shape, dtype=grad.dtype)
    finite = bool(np.isfinite(grad).all())
    for t, piece in enumerate(slices):
        won = winner == t
        view = routed[along(axis, piece)]
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


def spread(grad: np.ndarray, slices, axis: int, accumulate: bool, out_shape) -> np.ndarray:
    """Transpose of a sum over taps along ``axis`` (negative): every tap receives ``grad``."""
    spread = np.zeros(out_shape, dtype=grad.dtype)
    for piece in slices:
        if accumulate:
            spread[along(axis, piece)] += grad
        else:
            spread[along(axis, piece)] = grad
    return spread


def flat_index(positions, size) -> np.ndarray:
    """Row-major flat index of per-axis positions in a plane of ``size`` (``h * W + w``)."""
    index = positions[0].astype(np.int64, copy=True)
    for position, n in zip(positions[1:], size[1:]):
        index *= n
        index += position
    return index

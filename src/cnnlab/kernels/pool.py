"""Pooling kernels: max, average and Lp pooling, forward next to backward, any number
of spatial axes (1, 2 and 3 are tested).

Pure NumPy, arrays in and out. Inputs are ``(N, C, *spatial)``; sizes arrive as one
int per spatial axis and padding as one ``(lo, hi)`` pair per axis (normalised by
:mod:`cnnlab.functional.pool`). Adaptive pooling and max-unpooling are in
:mod:`cnnlab.kernels.adaptive`; the speed tricks in :mod:`cnnlab.kernels.pool_passes`.

The core is tinygrad's: pad, take every tap's strided grid
(:func:`cnnlab.kernels.window.tap_slices`), reduce. Windows are *separable*, so the
reduction runs one axis at a time, last axis first (``k_0 + k_1 + ...`` passes
instead of ``k_0 * k_1 * ...``); backward passes run the same phases in reverse.
Forward values of max, average and Lp pooling take the fast route,
:func:`~cnnlab.kernels.pool_passes.reduce_windows` (flat shifted passes, no padded
copy). Max pooling with indices and the backward passes use the strided taps of a
padded copy.

Max pooling follows PyTorch's scan exactly. PyTorch visits the input positions of a
window in row-major order, starting from the first one inside the input with
``max = -inf``, and takes ``val`` when ``val > max or isnan(val)``, so:

- ties: the *first* maximum in row-major window order wins (its index is returned and
  it alone receives the gradient);
- NaN: the result is NaN and the *last* NaN of the window wins;
- padding never wins: a window whose real elements are all ``-inf`` reports its first
  real position.

Row-major order is lexicographic in the tap coordinates, so the same scan done
separably (the last axis's taps first, then each earlier axis over those results)
picks the same winner. The backward pass reruns that scan on the saved input rather
than storing index arrays in the forward pass.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from ..shapes import output_size, taps_inside
from .pad import pad as pad_array
from .pad import pad_backward
from .pool_chunks import planes_in_chunks
from .pool_passes import along, broadcast_along, pass_shapes, reduce_windows, window_runs
from .window import tap_parts, tap_slices

# ----------------------------------------------------------------- helpers


def accumulate_dtype(dtype) -> np.dtype:
    """The dtype sums are computed in: float64 for integers, float32 for float16."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


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


def _spatial(x: np.ndarray, kernel_size) -> tuple:
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
    positions found for those axes.
    """
    spatial = len(winners)
    out_shape = winners[0].shape
    lead = math.prod(out_shape[:-spatial])
    grids = np.indices(out_shape[-spatial:], sparse=True)
    batch = np.arange(lead).reshape((-1,) + (1,) * spatial)
    positions = []
    for axis in range(spatial):
        table = winners[axis].reshape((lead,) + winners[axis].shape[-spatial:])
        tap = table[(batch,) + tuple(p.reshape((lead,) + out_shape[-spatial:])
                                     for p in positions) + tuple(grids[axis:])]
        positions.append(starts_of(axis, tap.astype(np.int64)))
    return [p.reshape(out_shape) for p in positions]


def _strided_taps(array: np.ndarray, axis: int, grid: Grid) -> list:
    spatial = len(grid.out_shape)
    return [array[along(axis - spatial, piece)] for piece in grid.slices[axis]]


def _route(grad: np.ndarray, winner: np.ndarray, slices, axis: int, accumulate: bool,
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


def _spread(grad: np.ndarray, slices, axis: int, accumulate: bool, out_shape) -> np.ndarray:
    """Transpose of a sum over taps along ``axis`` (negative): every tap receives ``grad``."""
    spread = np.zeros(out_shape, dtype=grad.dtype)
    for piece in slices:
        if accumulate:
            spread[along(axis, piece)] += grad
        else:
            spread[along(axis, piece)] = grad
    return spread


# --------------------------------------------------------------- max pooling


def _values_or_indices(kwargs) -> float:
    """Scratch of max pooling: values only need the output and a block
    (:func:`~cnnlab.kernels.pool_passes.reduce_windows`); indices need the padded
    input and per-tap winners."""
    return 6 if kwargs.get("return_indices") else 1


@planes_in_chunks((0,), scratch_per_plane=_values_or_indices)
def max_pool(x: np.ndarray, kernel_size, stride, padding, dilation, ceil_mode=False,
             return_indices=False):
    """Max pooling over the trailing ``len(kernel_size)`` axes.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
        Any real dtype; integers stay integers (exact).
    kernel_size, stride, dilation : tuple of int, one per spatial axis
    padding : tuple of (int, int)
        ``(lo, hi)`` per axis, filled with ``-inf`` (integers: the dtype's minimum);
        padding never wins a window.
    ceil_mode : bool
    return_indices : bool
        Also return the flat index of each maximum in its input plane (``h * W + w``
        in 2-D, row-major in any dimension).

    Returns
    -------
    out : np.ndarray, shape (N, C, *out_size), dtype of ``x``
    indices : np.ndarray of int64, same shape (only with ``return_indices``)
        PyTorch's rule: the first maximum in row-major window order; for a window
        holding NaN, the last NaN.

    Notes
    -----
    ``out = floor((in + lo + hi - dilation * (kernel - 1) - 1) / stride) + 1`` per
    axis (:func:`cnnlab.shapes.output_size`; ceiling with ``ceil_mode``).

    Examples
    --------
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1))[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    size = _spatial(x, kernel_size)
    grid = grid_of(size, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return reduce_windows(np.maximum, x, grid)
    padded = grid.pad(x, max_fill(x.dtype))
    _, out, winners = max_and_winners(
        padded, lambda array, axis: _strided_taps(array, axis, grid), grid.first_inside)

    def read(axis, tap):   # the padded position tap `tap` of each output reads
        o = np.arange(grid.out_shape[axis]).reshape((-1,) + (1,) * (len(size) - axis - 1))
        return o * stride[axis] + tap * dilation[axis]
    positions = winner_positions(winners, read)
    return out, flat_index([p - lo for p, (lo, _) in zip(positions, grid.widths)], size)


def flat_index(positions, size) -> np.ndarray:
    """Row-major flat index of per-axis positions in a plane of ``size`` (``h * W + w``)."""
    index = positions[0].astype(np.int64, copy=True)
    for position, n in zip(positions[1:], size[1:]):
        index *= n
        index += position
    return index


def _max_pool_backward_tiled(grad_output, x, out, kernel_size) -> np.ndarray:
    """Max-pool backward for windows that tile the input (kernel == stride, no
    padding or dilation, no NaN in ``out``): each window's gradient goes to its first
    element equal to the maximum, in row-major tap order, by direct strided writes."""
    spatial = len(kernel_size)
    out_size = out.shape[out.ndim - spatial:]
    finite = grad_output.dtype.kind != "f" or bool(np.isfinite(np.sum(grad_output)))
    grad_x = np.empty(x.shape, dtype=grad_output.dtype)
    for axis, (o, k) in enumerate(zip(out_size, kernel_size)):
        # the elements past the last window along each axis; the loop writes the rest
        grad_x[along(axis - spatial, slice(o * k, None))] = 0
    taken = None
    for tap in itertools.product(*(range(k) for k in kernel_size)):
        window = (Ellipsis,) + tuple(slice(t, o * k, k)
                                     for t, o, k in zip(tap, out_size, kernel_size))
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
def max_pool_backward(grad_output: np.ndarray, x: np.ndarray, kernel_size, stride, padding,
                      dilation, ceil_mode=False, out=None) -> np.ndarray:
    """Gradient of :func:`max_pool` with respect to ``x``.

    Each output's gradient goes to the one input position that won its window (the
    first maximum in row-major order; the last NaN): ties do not split the gradient.
    Overlapping windows that share a winner add their gradients there.

    The winners are recomputed here from the saved ``x`` (nothing is stored by the
    forward pass), and the gradient is routed through the forward's passes in
    reverse: first axis first, each output's gradient going to the winning position
    of that pass's input.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, *out_size)
    x : np.ndarray, shape (N, C, *spatial)
        The forward input.
    out : np.ndarray, shape (N, C, *out_size), optional
        The forward output. When windows tile the input (kernel == stride, no padding,
        no dilation), it lets the winners be found by comparison, several times faster.

    Returns
    -------
    np.ndarray, shape (N, C, *spatial), dtype of ``grad_output``
    """
    spatial = len(kernel_size)
    grid = grid_of(_spatial(x, kernel_size), kernel_size, stride, padding, dilation, ceil_mode)
    tiles = (tuple(kernel_size) == tuple(stride) and all(d == 1 for d in dilation)
             and all(lo == 0 and hi <= 0 for lo, hi in grid.widths))
    if (out is not None and tiles
            and (out.dtype.kind != "f" or not np.isnan(np.sum(out)))):
        return _max_pool_backward_tiled(grad_output, x, out, kernel_size)
    padded = grid.pad(x, max_fill(x.dtype))
    inputs, _, winners = max_and_winners(
        padded, lambda array, axis: _strided_taps(array, axis, grid), grid.first_inside)
    grad = grad_output
    for axis in range(spatial):
        grad = _route(grad, winners[axis], grid.slices[axis], axis - spatial,
                      grid.overlapping[axis], inputs[axis].shape)
    return grid.unpad(grad, x.shape)


# ----------------------------------------------------------- average pooling


def _window_sums_backward(grad: np.ndarray, grid: Grid, padded_shape) -> np.ndarray:
    """Transpose of the separable window sums: spread along the first axis first."""
    spatial = len(grid.out_shape)
    lead = tuple(padded_shape[:-spatial])
    shapes = pass_shapes(padded_shape[-spatial:], grid.out_shape)
    for axis in range(spatial):
        # the pass along `axis` produced shapes[spatial - axis] from shapes[spatial - axis - 1]
        grad = _spread(grad, grid.slices[axis], axis - spatial, grid.overlapping[axis],
                       lead + shapes[spatial - axis - 1])
    return grad


def avg_divisor(input_size, out_shape, kernel_size, stride, padding, dilation,
                count_include_pad=True, divisor_override=None):
    """What each window's sum is divided by: a scalar or an array of ``out_shape``.

    ``count_include_pad=True`` counts the taps inside the padded input
    ``[-lo, n + hi)`` (so ceil-mode windows that run past it count less, as in
    PyTorch); ``False`` counts the taps on real input elements. ``divisor_override``
    wins over both. Windows are products of per-axis windows, so the count is the
    outer product of per-axis counts.
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
    return functools.reduce(np.multiply.outer, counts)


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


@planes_in_chunks((0,), scratch_per_plane=1)
def avg_pool(x: np.ndarray, kernel_size, stride, padding, dilation, ceil_mode=False,
             count_include_pad=True, divisor_override=None) -> np.ndarray:
    """Average pooling over the trailing ``len(kernel_size)`` axes.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
    kernel_size, stride, dilation : tuple of int
    padding : tuple of (int, int)
        ``(lo, hi)`` per axis, zeros.
    ceil_mode, count_include_pad : bool
    divisor_override : int or None
        Divide every window's sum by this instead of a count.

    Returns
    -------
    np.ndarray, shape (N, C, *out_size), dtype of ``x``
        Integers (as PyTorch's int64): the exact int64 sum divided with truncation
        toward zero (:func:`truncating_divide`).

    Notes
    -----
    Output shape as :func:`max_pool`. See :func:`avg_divisor` for the divisor.

    Examples
    --------
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> avg_pool(x, (2, 2), (2, 2), ((1, 1), (1, 1)), (1, 1), count_include_pad=False)[0, 0]
    array([[ 0. ,  1.5,  3. ],
           [ 6. ,  7.5,  9. ],
           [12. , 13.5, 15. ]])
    """
    size = _spatial(x, kernel_size)
    grid = grid_of(size, kernel_size, stride, padding, dilation, ceil_mode)
    divisor = avg_divisor(size, grid.out_shape, kernel_size, stride, padding, dilation,
                          count_include_pad, divisor_override)
    if x.dtype.kind in "biu":
        # PyTorch's integer average: an exact int64 sum, divided with truncation
        # toward zero, in the input's dtype.
        sums = reduce_windows(np.add, x.astype(np.int64, copy=False), grid)
        return truncating_divide(sums, divisor).astype(x.dtype, copy=False)
    sums = reduce_windows(np.add, x.astype(accumulate_dtype(x.dtype), copy=False), grid)
    sums /= np.asarray(divisor, dtype=sums.dtype)  # a float divisor: no float64 detour
    return sums.astype(result_dtype(x.dtype), copy=False)


@planes_in_chunks((0,), shape_argument=1)
def avg_pool_backward(grad_output: np.ndarray, input_shape, kernel_size, stride, padding,
                      dilation, ceil_mode=False, count_include_pad=True,
                      divisor_override=None) -> np.ndarray:
    """Gradient of :func:`avg_pool`: each window's gradient / divisor, spread over it.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, *out_size)
    input_shape : tuple (N, C, *spatial)

    Returns
    -------
    np.ndarray, shape ``input_shape``
    """
    size = tuple(input_shape[len(input_shape) - len(kernel_size):])
    grid = grid_of(size, kernel_size, stride, padding, dilation, ceil_mode)
    divisor = avg_divisor(size, grid.out_shape, kernel_size, stride, padding, dilation,
                          count_include_pad, divisor_override)
    grad = grad_output / np.asarray(divisor, dtype=grad_output.dtype)
    grad_padded = _window_sums_backward(grad, grid, grid.padded_shape(input_shape))
    return grid.unpad(grad_padded, input_shape)


# ---------------------------------------------------------------- Lp pooling


@planes_in_chunks((0,))
def lp_pool(x: np.ndarray, norm_type, kernel_size, stride, padding, dilation,
            ceil_mode=False) -> np.ndarray:
    """Power-average pooling: ``(sum |x|^p)^(1/p)`` over each window.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
    norm_type : float
        ``p > 0``; ``inf`` gives the maximum of ``|x|``.
    kernel_size, stride, dilation : tuple of int
    padding : tuple of (int, int)
        Zeros (they add nothing to the sums).
    ceil_mode : bool

    Returns
    -------
    np.ndarray, shape (N, C, *out_size)
        Dtype of ``x`` for floats; float32 for integers (computed in float64).

    Notes
    -----
    Output shape as :func:`max_pool`. Beyond PyTorch: the absolute value (PyTorch
    computes ``sum x^p``, NaN for odd ``p`` on negative inputs), padding, dilation,
    ``p = inf``, and in ceil mode a partial window sums only what it covers (PyTorch
    scales it by ``prod(kernel) / covered``).

    Examples
    --------
    >>> x = np.array([[[[3., -4.], [0., 0.]]]])
    >>> lp_pool(x, 2, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    array([[[[5.]]]])
    """
    grid = grid_of(_spatial(x, kernel_size), kernel_size, stride, padding, dilation, ceil_mode)
    magnitude = np.abs(x.astype(accumulate_dtype(x.dtype), copy=False))
    if np.isinf(norm_type):
        out = reduce_windows(np.maximum, magnitude, grid)
    else:
        with np.errstate(over="ignore"):
            sums = reduce_windows(np.add, magnitude ** norm_type, grid)
            out = sums ** (1.0 / norm_type)
    return out.astype(result_dtype(x.dtype), copy=False)


@planes_in_chunks((0, 1, 2))
def lp_pool_backward(grad_output: np.ndarray, x: np.ndarray, out: np.ndarray, norm_type,
                     kernel_size, stride, padding, dilation, ceil_mode=False) -> np.ndarray:
    """Gradient of :func:`lp_pool`.

    With ``S = sum_window |x|^p`` and ``out = S^(1/p)``::

        d out / d x = (1/p) S^(1/p - 1) * p |x|^(p-1) sign(x)
                    = sign(x) |x|^(p-1) * out^(1-p)

    defined as 0 where ``out == 0`` (as PyTorch documents) and where ``x == 0``.
    Each window's ``grad * out^(1-p)`` is spread over the window (the transpose of
    the window sum), then multiplied by the elementwise ``sign(x) |x|^(p-1)``.
    For ``p = inf`` the gradient is max pooling's on ``|x|`` times ``sign(x)``.

    Parameters
    ----------
    grad_output, out : np.ndarray, shape (N, C, *out_size)
    x : np.ndarray, shape (N, C, *spatial)

    Returns
    -------
    np.ndarray, shape (N, C, *spatial)
    """
    dtype = accumulate_dtype(x.dtype)
    x = x.astype(dtype, copy=False)
    magnitude = np.abs(x)
    if np.isinf(norm_type):
        grad = max_pool_backward(grad_output, magnitude, kernel_size, stride, padding,
                                 dilation, ceil_mode)
        return grad * np.sign(x)
    grid = grid_of(_spatial(x, kernel_size), kernel_size, stride, padding, dilation, ceil_mode)
    out = out.astype(dtype, copy=False)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        window_grad = np.where(out == 0, 0, grad_output * out ** (1.0 - norm_type))
        grad_padded = _window_sums_backward(window_grad, grid, grid.padded_shape(x.shape))
        local = np.where(x == 0, 0, np.sign(x) * magnitude ** (norm_type - 1.0))
        return grid.unpad(grad_padded, x.shape) * local

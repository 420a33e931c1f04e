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
picks the same winner (:mod:`cnnlab.kernels.pool_grid`). The backward pass reruns that scan on the saved input rather
than storing index arrays in the forward pass.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from ..shapes import taps_inside
from .pool_chunks import planes_in_chunks
from .pool_grid import (Grid, accumulate_dtype, flat_index, grid_of, max_and_winners,  # noqa: F401
                        max_fill, result_dtype, route, spatial_size, spread, strided_taps,
                        winner_positions)
from .pool_passes import along, pass_shapes, reduce_windows

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
    size = spatial_size(x, kernel_size)
    grid = grid_of(size, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return reduce_windows(np.maximum, x, grid)
    padded = grid.pad(x, max_fill(x.dtype))
    _, out, winners = max_and_winners(
        padded, lambda array, axis: strided_taps(array, axis, grid), grid.first_inside)

    def read(axis, tap):   # the padded position tap `tap` of each output reads
        o = np.arange(grid.out_shape[axis]).reshape((-1,) + (1,) * (len(size) - axis - 1))
        return o * stride[axis] + tap * dilation[axis]
    positions = winner_positions(winners, read)
    return out, flat_index([p - lo for p, (lo, _) in zip(positions, grid.widths)], size)


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
    grid = grid_of(spatial_size(x, kernel_size), kernel_size, stride, padding, dilation, ceil_mode)
    tiles = (tuple(kernel_size) == tuple(stride) and all(d == 1 for d in dilation)
             and all(lo == 0 and hi <= 0 for lo, hi in grid.widths))
    if (out is not None and tiles
            and (out.dtype.kind != "f" or not np.isnan(np.sum(out)))):
        return _max_pool_backward_tiled(grad_output, x, out, kernel_size)
    padded = grid.pad(x, max_fill(x.dtype))
    inputs, _, winners = max_and_winners(
        padded, lambda array, axis: strided_taps(array, axis, grid), grid.first_inside)
    grad = grad_output
    for axis in range(spatial):
        grad = route(grad, winners[axis], grid.slices[axis], axis - spatial,
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
        grad = spread(grad, grid.slices[axis], axis - spatial, grid.overlapping[axis],
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
    size = spatial_size(x, kernel_size)
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
    grid = grid_of(spatial_size(x, kernel_size), kernel_size, stride, padding, dilation, ceil_mode)
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
    grid = grid_of(spatial_size(x, kernel_size), kernel_size, stride, padding, dilation, ceil_mode)
    out = out.astype(dtype, copy=False)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        window_grad = np.where(out == 0, 0, grad_output * out ** (1.0 - norm_type))
        grad_padded = _window_sums_backward(window_grad, grid, grid.padded_shape(x.shape))
        local = np.where(x == 0, 0, np.sign(x) * magnitude ** (norm_type - 1.0))
        return grid.unpad(grad_padded, x.shape) * local

"""Adaptive average and max pooling, and max-unpooling, over any number of spatial axes.

Pure NumPy, arrays ``(N, C, *spatial)`` in and out, each forward next to its backward.
Adaptive windows are PyTorch's (:func:`adaptive_windows`); like the fixed windows of
:mod:`cnnlab.kernels.pool` they are products of per-axis windows, so both pools work
one axis at a time.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..shapes import transposed_output_size
from .pool_grid import (accumulate_dtype, flat_index, max_and_winners, result_dtype,
                        winner_positions)
from .pool_chunks import planes_in_chunks
from .pool_passes import along, fold
from .window import tap_slices


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
    """``A[i, j] = 1`` where input position ``j`` lies in adaptive window ``i``: (out, in)."""
    starts, ends = adaptive_windows(in_size, out_size)
    positions = np.arange(in_size)
    return ((positions >= starts[:, None]) & (positions < ends[:, None])).astype(dtype)


def _apply_along_axes(x: np.ndarray, matrices) -> np.ndarray:
    """``x`` with ``matrices[k]`` (P_k, n_k) applied along each spatial axis ``k``.

    One matrix product per axis, last axis first: the last axis as one
    ``(-1, n) @ (n, P)`` product, every other as a batched ``(P, n) @ (B, n, R)``
    (``left @ plane @ right`` per plane in 2-D). Contiguous operands keep NumPy on BLAS
    (a transposed view makes it 10x slower).
    """
    spatial = len(matrices)
    for axis in reversed(range(spatial)):
        matrix = np.ascontiguousarray(matrices[axis])
        size = x.shape[x.ndim - spatial + axis]
        if axis == spatial - 1:
            result = x.reshape(-1, size) @ np.ascontiguousarray(matrix.T)
            x = result.reshape(x.shape[:-1] + (matrix.shape[0],))
        else:
            rest = x.shape[x.ndim - spatial + axis + 1:]
            batched = x.reshape((-1, size, math.prod(rest)))
            x = np.matmul(matrix, batched).reshape(
                x.shape[:x.ndim - spatial + axis] + (matrix.shape[0],) + rest)
    return x


def _counts(matrices) -> np.ndarray:
    return functools.reduce(np.multiply.outer, [m.sum(axis=1) for m in matrices])


@planes_in_chunks((0,))
def adaptive_avg_pool(x: np.ndarray, output_size) -> np.ndarray:
    """Adaptive average pooling to ``output_size`` (PyTorch's windows).

    With the 0/1 window-membership matrix ``A_k`` (out_k, in_k) of every axis, the
    window sums are ``x`` times each ``A_k`` along its axis (``A_h @ X @ A_w.T`` per
    plane in 2-D): one matrix product per axis, whatever the window sizes (integers:
    exact, in float64).

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
    output_size : tuple of int, one per spatial axis

    Returns
    -------
    np.ndarray, shape (N, C, *output_size)
        Dtype of ``x`` for floats; float32 for integers.

    Examples
    --------
    >>> adaptive_avg_pool(np.arange(6.).reshape(1, 1, 2, 3), (1, 2))[0, 0]
    array([[2., 3.]])
    """
    dtype = accumulate_dtype(x.dtype)
    spatial = len(output_size)
    matrices = [_membership(n, o, dtype) for n, o in zip(x.shape[x.ndim - spatial:], output_size)]
    values = x.astype(dtype, copy=False)
    counts = _counts(matrices)
    finite = np.isfinite(values) if dtype.kind == "f" else None
    if finite is None or finite.all():
        return (_apply_along_axes(values, matrices) / counts).astype(result_dtype(x.dtype),
                                                                    copy=False)
    # A membership matrix multiplies every value by 0 outside its windows, and
    # inf * 0 = NaN would leak into other windows. So sum the finite values only,
    # count each window's NaN, +inf and -inf with the same products (all finite),
    # and give windows holding them NaN, +inf or -inf as a plain sum would.
    def window_count(mask):
        return _apply_along_axes(mask.astype(dtype), matrices)

    means = _apply_along_axes(np.where(finite, values, 0), matrices) / counts
    nans, positive, negative = (window_count(np.isnan(values)), window_count(values == np.inf),
                                window_count(values == -np.inf))
    means = np.where(positive > 0, np.inf, means)
    means = np.where(negative > 0, -np.inf, means)
    means = np.where((nans > 0) | ((positive > 0) & (negative > 0)), np.nan, means)
    return means.astype(result_dtype(x.dtype), copy=False)


@planes_in_chunks((0,), shape_argument=1)
def adaptive_avg_pool_backward(grad_output: np.ndarray, input_shape) -> np.ndarray:
    """Gradient of :func:`adaptive_avg_pool`: ``G / counts`` times each ``A_k.T`` along
    its axis, i.e. each window's gradient / count spread over the window (overlapping
    windows add).

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, *output_size)
    input_shape : tuple (N, C, *spatial)
    """
    dtype = grad_output.dtype
    spatial = len(input_shape) - 2
    matrices = [_membership(n, o, dtype) for n, o
                in zip(input_shape[2:], grad_output.shape[grad_output.ndim - spatial:])]
    grad = (grad_output / _counts(matrices)).astype(dtype, copy=False)
    return _apply_along_axes(grad, [m.T for m in matrices])


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
    spatial = len(output_size)
    size = x.shape[x.ndim - spatial:]
    if min(output_size) == 0:
        empty = np.empty(x.shape[:x.ndim - spatial] + tuple(output_size), dtype=x.dtype)
        return empty, np.zeros(empty.shape, dtype=np.int64)
    taps = [_adaptive_taps(n, o) for n, o in zip(size, output_size)]

    def taps_of(array, axis):
        return [array[along(axis - spatial, position)] for position in taps[axis]]

    if not want_indices:
        current = x
        for axis in reversed(range(spatial)):
            current = fold(np.maximum, taps_of(current, axis))
        return current, None
    starts = tuple(np.zeros(o, dtype=np.int64) for o in output_size)
    _, out, winners = max_and_winners(x, taps_of, starts)

    def read(axis, tap):   # tap t of window i reads min(start_i + t, end_i - 1)
        first, end = adaptive_windows(size[axis], output_size[axis])
        shape = (-1,) + (1,) * (spatial - axis - 1)
        return np.minimum(first.reshape(shape) + tap, end.reshape(shape) - 1)
    return out, flat_index(winner_positions(winners, read), size)


@planes_in_chunks((0,))
def adaptive_max_pool(x: np.ndarray, output_size, return_indices=False):
    """Adaptive max pooling to ``output_size`` (PyTorch's windows and tie rule).

    A fixed number of taps (the longest window) per axis, each a clipped gather,
    folded with ``np.maximum``: last axis first.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
    output_size : tuple of int
    return_indices : bool
        Also return the flat index of each maximum in its plane (``h * W + w`` in
        2-D): the first maximum in row-major window order; the last NaN for windows
        holding NaN.

    Returns
    -------
    out : np.ndarray, shape (N, C, *output_size), dtype of ``x``
    indices : np.ndarray of int64, same shape (only with ``return_indices``)

    Examples
    --------
    >>> out, indices = adaptive_max_pool(np.array([[[[1, 5, 5], [2, 0, 7]]]]), (1, 2), True)
    >>> out.tolist(), indices.tolist()
    ([[[[5, 7]]]], [[[[1, 5]]]])
    """
    out, indices = _adaptive_max(x, output_size, return_indices)
    out = np.ascontiguousarray(out)   # row-major, as PyTorch's (its passes leave it strided)
    return (out, indices) if return_indices else out


def scatter_to_indices(grad_output: np.ndarray, indices: np.ndarray, input_shape) -> np.ndarray:
    """Add each gradient onto its flat plane index (repeated indices add up)."""
    planes = math.prod(input_shape[:2])
    plane_size = math.prod(input_shape[2:])
    flat = indices.reshape(planes, -1) + (np.arange(planes, dtype=np.int64) * plane_size)[:, None]
    summed = np.bincount(flat.ravel(), weights=grad_output.reshape(-1),
                         minlength=planes * plane_size)
    return summed.reshape(input_shape).astype(grad_output.dtype, copy=False)


@planes_in_chunks((0, 1))
def adaptive_max_pool_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`adaptive_max_pool`: each output's gradient goes to its
    winner (recomputed from ``x``), adding up where windows overlap."""
    spatial = x.ndim - 2
    _, indices = _adaptive_max(x, grad_output.shape[grad_output.ndim - spatial:],
                               want_indices=True)
    return scatter_to_indices(grad_output, indices, x.shape)


# ------------------------------------------------------------- max unpooling


def unpool_output_size(input_size, kernel_size, stride, padding) -> tuple:
    """Default output size of :func:`max_unpool`: ``(in - 1) * stride - lo - hi + kernel``
    along each axis."""
    return tuple(transposed_output_size(n, k, s, p)
                 for n, k, s, p in zip(input_size, kernel_size, stride, padding))


@planes_in_chunks((0, 1))
def max_unpool(x: np.ndarray, indices: np.ndarray, output_size, function: str = "max_unpool2d"):
    """Place each value of ``x`` at its flat index in a zero ``output_size`` plane.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
    indices : np.ndarray of ints, same shape
        Flat row-major indices into the output plane (``h * W_out + w`` in 2-D), as
        returned by :func:`cnnlab.kernels.pool.max_pool`. Where an index repeats, the
        last value is kept.
    output_size : tuple of int
    function : str
        The caller's name, for errors.

    Returns
    -------
    np.ndarray, shape (N, C, *output_size), dtype of ``x``

    Raises
    ------
    ValueError
        If an index lies outside ``[0, prod(output_size))``.

    Examples
    --------
    >>> max_unpool(np.array([[[[7.]]]]), np.array([[[[3]]]]), (2, 2))[0, 0]
    array([[0., 0.],
           [0., 7.]])
    """
    batch, channels = x.shape[:2]
    plane_size = math.prod(output_size)
    if indices.size and (indices.min() < 0 or indices.max() >= plane_size):
        bad = indices[(indices < 0) | (indices >= plane_size)].reshape(-1)[0]
        raise ValueError(
            f"{function}: found an invalid max index {int(bad)}: indices must lie in "
            f"[0, {plane_size}) for an output plane of size "
            f"{'x'.join(str(n) for n in output_size)}; pass the output_size of the input "
            "that was pooled")
    out = np.zeros((batch, channels, plane_size), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(batch, channels, -1).astype(np.intp, copy=False),
                      x.reshape(batch, channels, -1), axis=2)
    return out.reshape((batch, channels) + tuple(output_size))


@planes_in_chunks((0, 1))
def max_unpool_backward(grad_output: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Gradient of :func:`max_unpool`: the output gradient gathered at ``indices``.

    Parameters
    ----------
    grad_output : np.ndarray, shape (N, C, *output_size)
    indices : np.ndarray, shape (N, C, *spatial)
    """
    batch, channels = indices.shape[:2]
    gathered = np.take_along_axis(grad_output.reshape(batch, channels, -1),
                                  indices.reshape(batch, channels, -1).astype(np.intp, copy=False),
                                  axis=2)
    return gathered.reshape(indices.shape)

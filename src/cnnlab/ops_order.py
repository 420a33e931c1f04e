"""Products and orderings: ``prod``, ``sort``, ``argsort``, ``topk``.

Kept apart from :mod:`cnnlab.ops` (which re-exports them) to keep each file readable.
Each forward is NumPy; each backward is written next to it and derived in a comment.
"""

from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from . import dtypes
from .autograd import record
from .ops import as_tensor
from .tensor import Tensor

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _exclusive_cumprod(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """Product of the elements strictly before (or, with ``reverse``, after) each one."""
    if reverse:
        return np.flip(_exclusive_cumprod(np.flip(x, axis), axis, False), axis)
    shifted = np.ones_like(x)
    inner = [slice(None)] * x.ndim
    inner[axis] = slice(1, None)
    outer = [slice(None)] * x.ndim
    outer[axis] = slice(None, -1)
    shifted[tuple(inner)] = x[tuple(outer)]
    return np.cumprod(shifted, axis=axis)


def prod(input, dim=None, keepdim=False, dtype=None) -> Tensor:
    """Product of all elements, or along ``dim``; integers and bools give int64.

    Parameters
    ----------
    input : array_like, any shape
    dim : int, optional
        The dimension to reduce; all elements when omitted.
    keepdim : bool
        Keep ``dim`` with size 1.
    dtype : cnnlab.dtype, optional
        Cast the input to this dtype first (as PyTorch).

    Returns
    -------
    Tensor
        Shape of ``input`` without ``dim`` (with it as 1 under ``keepdim``); 0-d when
        ``dim`` is omitted. An empty reduction gives 1.

    Notes
    -----
    Backward: ``d(prod x)/dx_i = prod_{j != i} x_j``, the product of the elements before
    ``i`` times the product of those after it (two exclusive cumulative products). This
    is exact where some ``x_j`` are zero, unlike ``prod / x_i``: with one zero, only that
    element gets a gradient (the product of the others); with two or more, none does.

    Examples
    --------
    >>> import cnnlab
    >>> cnnlab.tensor([[1., 2.], [3., 4.]]).prod(1)
    tensor([ 2., 12.])
    """
    input = as_tensor(input, "prod", "input")
    x = input.array
    if dtype is not None:
        x = x.astype(dtypes.as_dtype(dtype).numpy)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)
    if dim is None:
        flat = x.reshape(-1)
        out = np.asarray(np.prod(flat)).astype(x.dtype)

        def backward_all(g):
            others = _exclusive_cumprod(flat, 0, False) * _exclusive_cumprod(flat, 0, True)
            return ((g * others).reshape(x.shape),)
        return record("Prod", out, (input,), backward_all)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"prod: dim must be one int, got {dim!r} (reduce one dimension "
                        "at a time)")
    axis = input._dim(dim, "prod")
    work = x if x.ndim else x.reshape(1)
    out = np.prod(work, axis=axis, keepdims=keepdim).astype(x.dtype)   # bool stays bool
    if x.ndim == 0:
        out = out.reshape(())

    def backward(g):
        others = _exclusive_cumprod(work, axis, False) * _exclusive_cumprod(work, axis, True)
        g = g if keepdim or x.ndim == 0 else np.expand_dims(g, axis)
        return ((g * others).reshape(x.shape),)
    return record("Prod", np.asarray(out), (input,), backward)


def _order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along ``axis``; NaN counts as the largest value (PyTorch's rule).

    NumPy's stable sort already puts NaN last. Descending order sorts the reversed
    array ascending and reverses the result: equal elements then keep their original
    order (stable), and NaN comes first.
    """
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    length = x.shape[axis]
    reversed_order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.flip(length - 1 - reversed_order, axis)


def _gather_back(shape, indices, axis):
    """Backward of ``take_along_axis(x, indices, axis)`` for distinct ``indices``:
    each output element's gradient goes back to the input element it was taken from."""
    def backward(g):
        grad = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(grad, indices, g, axis)
        return (grad,)
    return backward


def _check_bool(value, name, function):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: {name} must be True or False, got {value!r}")


def sort(input, dim=-1, descending=False, stable=False) -> SortResult:
    """Sort along ``dim``: ``(values, indices)`` with ``values == input.gather(dim, indices)``.

    Parameters
    ----------
    input : array_like, any shape
    dim : int
        Default: the last dimension.
    descending : bool
        Largest first.
    stable : bool
        Accepted for PyTorch compatibility: cnnlab's sort is always stable (equal
        elements keep their order).

    Returns
    -------
    (values, indices) : named tuple of Tensor, both of the input's shape
        ``indices`` is int64. NaN sorts as the largest value, as in PyTorch.

    Notes
    -----
    Backward: ``values[..., j] = input[..., indices[j]]`` is a permutation, so the
    gradient of ``input`` is the incoming gradient scattered back through ``indices``.

    Examples
    --------
    >>> import cnnlab
    >>> cnnlab.sort(cnnlab.tensor([3., 1., 2.]), descending=True).indices
    tensor([0, 2, 1])
    """
    input = as_tensor(input, "sort", "input")
    _check_bool(descending, "descending", "sort")
    _check_bool(stable, "stable", "sort")
    x = input.array
    axis = input._dim(dim, "sort")
    if x.ndim == 0:
        return SortResult(record("Sort", x.copy(), (input,), lambda g: (g,)),
                          Tensor._wrap(np.zeros((), np.int64)))
    indices = _order(x, axis, descending)
    values = np.take_along_axis(x, indices, axis)
    out = record("Sort", values, (input,), _gather_back(x.shape, indices, axis))
    return SortResult(out, Tensor._wrap(indices.astype(np.int64)))


def argsort(input, dim=-1, descending=False, stable=False) -> Tensor:
    """The ``indices`` of :func:`sort` (int64, same shape as ``input``)."""
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True) -> TopkResult:
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices.

    Parameters
    ----------
    input : array_like, any shape
    k : int
        How many, ``0 <= k <= input.size(dim)``.
    dim : int
        Default: the last dimension.
    largest : bool
        False: the ``k`` smallest.
    sorted : bool
        Accepted for PyTorch compatibility; cnnlab always returns them in order
        (largest first, or smallest first), which PyTorch allows for ``sorted=False``.

    Returns
    -------
    (values, indices) : named tuple of Tensor
        Shape of ``input`` with ``dim`` of size ``k``; ``indices`` is int64. NaN counts
        as the largest value. Among equal values the first ones are taken; PyTorch
        leaves that choice unspecified (its indices may name other equal elements).

    Raises
    ------
    IndexError
        When ``k`` is outside ``0..input.size(dim)``.

    Notes
    -----
    Backward: as for :func:`sort`, the gradient is scattered back through ``indices``;
    elements not selected get 0.

    Examples
    --------
    >>> import cnnlab
    >>> cnnlab.topk(cnnlab.tensor([1., 5., 3., 4.]), 2)
    topk(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    input = as_tensor(input, "topk", "input")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    _check_bool(largest, "largest", "topk")
    _check_bool(sorted, "sorted", "topk")
    x = input.array
    axis = input._dim(dim, "topk")
    length = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= length:
        raise IndexError(f"topk: k = {k} is out of range for dimension {axis} of size "
                         f"{length} (allowed: 0..{length})")
    if x.ndim == 0:
        # PyTorch gives the 0-d input itself back for k = 0 as for k = 1
        return TopkResult(record("Topk", x.copy(), (input,), lambda g: (g,)),
                          Tensor._wrap(np.zeros((), np.int64)))
    taken = np.take(_order(x, axis, largest), np.arange(int(k)), axis=axis)
    values = np.take_along_axis(x, taken, axis)
    out = record("Topk", values, (input,), _gather_back(x.shape, taken, axis))
    return TopkResult(out, Tensor._wrap(taken.astype(np.int64)))

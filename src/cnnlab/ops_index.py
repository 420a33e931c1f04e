"""Matrix products with PyTorch's rank rules (``mm``, ``bmm``, ``dot``, ``outer``) and
index-based selection (``index_select``, ``gather``, ``tril``, ``triu``).

The products are :func:`cnnlab.ops.matmul` (and its gradient) after the rank check
PyTorch makes; the selections record their own scatter-add backward.
"""

from __future__ import annotations

import numbers

import numpy as np

from .autograd import record
from .ops import as_tensor, matmul, mul
from .ops_shape import reshape
from .tensor import Tensor

__all__ = ["bmm", "dot", "gather", "index_select", "mm", "outer", "tril", "triu"]


def _ranks(function, a, b, want):
    a, b = as_tensor(a, function), as_tensor(b, function)
    for name, t in (("input", a), ("other", b)):
        if t.ndim != want:
            raise ValueError(f"{function}: {name} must be {want}-D, got shape "
                             f"{tuple(t.shape)}")
    return a, b


def mm(a, b) -> Tensor:
    """``(n, m) @ (m, p)``: :func:`~cnnlab.ops.matmul` of two matrices."""
    return matmul(*_ranks("mm", a, b, 2))


def bmm(a, b) -> Tensor:
    """``(B, n, m) @ (B, m, p)``: a batch of matrix products (no broadcasting)."""
    a, b = _ranks("bmm", a, b, 3)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


def dot(a, b) -> Tensor:
    """The inner product of two 1-D tensors of the same length."""
    a, b = _ranks("dot", a, b, 1)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"dot: lengths differ: {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


def outer(a, b) -> Tensor:
    """``a[i] * b[j]`` for 1-D ``a`` and ``b``: shape ``(len(a), len(b))``."""
    a, b = _ranks("outer", a, b, 1)
    return mul(reshape(a, -1, 1), reshape(b, 1, -1))


def _index(index, function) -> np.ndarray:
    index = as_tensor(index, function, "index").array
    if index.dtype.kind not in "iu":
        raise TypeError(f"{function}: index must be an integer tensor, got {index.dtype}")
    return index.astype(np.int64, copy=False)


def index_select(a, dim, index) -> Tensor:
    """The slices ``index`` (a 0-d or 1-D integer tensor) of ``a`` along ``dim``.

    Backward: each selected slice's gradient is added back where it was taken
    (repeated indices add up).
    """
    a = as_tensor(a, "index_select")
    axis = a._dim(dim, "index_select")
    idx = _index(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 0-D or 1-D, got shape {idx.shape}")
    size = a.array.shape[axis] if a.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"index_select: index out of range for dimension {dim} of size "
                         f"{size}")
    x = a.array if a.ndim else a.array.reshape(1)
    out = np.take(x, idx.reshape(-1), axis=axis)
    if a.ndim == 0:
        out = out.reshape(())

    def backward(g):
        grad = np.zeros(x.shape, dtype=g.dtype)
        moved = np.moveaxis(grad, axis, 0)
        np.add.at(moved, idx.reshape(-1), np.moveaxis(g.reshape(out.shape if a.ndim else (1,)),
                                                      axis, 0))
        return (grad.reshape(a.array.shape),)
    return record("IndexSelect", out, (a,), backward)


def gather(a, dim, index) -> Tensor:
    """``out[i][j][k] = a[index[i][j][k]][j][k]`` for ``dim = 0`` (likewise for other
    dims): ``index`` has ``a``'s number of dimensions and sizes no larger than ``a``'s
    outside ``dim``. Backward: scatter-add into ``a``'s shape."""
    a = as_tensor(a, "gather")
    axis = a._dim(dim, "gather")
    idx = _index(index, "gather")
    if idx.size == 0:   # PyTorch checks nothing else then: an empty result of idx's shape
        return record("Gather", np.zeros(idx.shape, a.array.dtype), (a,),
                      lambda g: (np.zeros(a.array.shape, g.dtype),))
    if a.ndim == 0:   # a 0-d input reads as one element, whatever the (0-d or 1-D) index
        if idx.ndim > 1 or ((idx != 0) & (idx != -1)).any():
            raise IndexError(f"gather: index {idx.tolist()} out of range for a 0-d input")
        return record("Gather", np.full(idx.shape, a.array), (a,),
                      lambda g: (np.asarray(g.sum(), g.dtype),))
    if idx.ndim != a.ndim or any(i > s for d, (i, s) in enumerate(zip(idx.shape, a.shape))
                                 if d != axis):
        raise ValueError(f"gather: index of shape {idx.shape} must have the input's "
                         f"{a.ndim} dimensions and sizes no larger than {tuple(a.shape)} "
                         f"outside dim {axis}")
    size = a.array.shape[axis] if a.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise IndexError(f"gather: index out of range for dimension {dim} of size {size}")
    region = tuple(slice(0, n) for n in idx.shape)
    region = tuple(slice(None) if d == axis else s for d, s in enumerate(region))
    source = a.array[region]
    out = np.take_along_axis(source, idx, axis)

    def backward(g):
        grad = np.zeros(a.array.shape, dtype=g.dtype)
        positions = list(np.indices(idx.shape, sparse=True))
        positions[axis] = np.where(idx < 0, idx + size, idx)
        np.add.at(grad, tuple(positions), g)
        return (grad,)
    return record("Gather", out, (a,), backward)


def _triangle(function, keep, a, diagonal):
    a = as_tensor(a, function)
    if a.ndim < 2:
        raise ValueError(f"{function}: input must have at least 2 dimensions, got shape "
                         f"{tuple(a.shape)}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, numbers.Integral):
        raise TypeError(f"{function}: diagonal must be an int, got {diagonal!r}")
    out = keep(a.array, int(diagonal))
    return record(function.capitalize(), out, (a,), lambda g: (keep(g, int(diagonal)),))


def tril(a, diagonal=0) -> Tensor:
    """The lower triangle (on and below ``diagonal``) of the last two dimensions."""
    return _triangle("tril", np.tril, a, diagonal)


def triu(a, diagonal=0) -> Tensor:
    """The upper triangle (on and above ``diagonal``) of the last two dimensions."""
    return _triangle("triu", np.triu, a, diagonal)



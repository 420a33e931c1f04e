"""Matrix products with PyTorch's rank rules (``mm``, ``bmm``, ``dot``, ``outer``) and
index-based selection and rearrangement (``index_select``, ``gather``, ``tril``,
``triu``, ``masked_select``, ``nonzero``, ``roll``, ``repeat_interleave``).

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

__all__ = ["bmm", "diag", "dot", "gather", "index_select", "masked_select", "mm",
           "nonzero", "outer", "repeat_interleave", "roll", "trace", "tril", "triu"]


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


def diag(a, diagonal=0) -> Tensor:
    """A 1-D tensor as a square matrix with it on diagonal ``diagonal``, or a 2-D
    tensor's diagonal ``diagonal`` as a new 1-D tensor (a copy, as ``torch.diag``)."""
    a = as_tensor(a, "diag")
    if a.ndim not in (1, 2):
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {tuple(a.shape)}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, numbers.Integral):
        raise TypeError(f"diag: diagonal must be an int, got {diagonal!r}")
    k = int(diagonal)
    if a.ndim == 1:
        return record("Diag", np.diag(a.array, k), (a,), lambda g: (np.diagonal(g, k).copy(),))
    shape = a.array.shape

    def backward(g):
        grad = np.zeros(shape, dtype=g.dtype)
        rows = np.arange(g.shape[0]) + max(-k, 0)
        grad[rows, rows + k] = g
        return (grad,)
    return record("Diag", np.diagonal(a.array, k).copy(), (a,), backward)


def trace(a) -> Tensor:
    """The sum of a 2-D tensor's main diagonal (integers sum in int64, as ``sum``)."""
    a = as_tensor(a, "trace")
    if a.ndim != 2:
        raise ValueError(f"trace: input must be 2-D, got shape {tuple(a.shape)}")
    x = a.array.astype(np.int64) if a.array.dtype.kind in "biu" else a.array
    shape = a.array.shape

    def backward(g):
        grad = np.zeros(shape, dtype=g.dtype)
        n = min(shape)
        grad[np.arange(n), np.arange(n)] = g
        return (grad,)
    return record("Trace", np.asarray(np.trace(x)), (a,), backward)


def tril(a, diagonal=0) -> Tensor:
    """The lower triangle (on and below ``diagonal``) of the last two dimensions."""
    return _triangle("tril", np.tril, a, diagonal)


def triu(a, diagonal=0) -> Tensor:
    """The upper triangle (on and above ``diagonal``) of the last two dimensions."""
    return _triangle("triu", np.triu, a, diagonal)




def _ints(value, function, name) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        raise TypeError(f"{function}: {name} must be an int or a tuple of ints, got {value!r}")
    return tuple(int(v) for v in values)


def roll(a, shifts, dims=None) -> Tensor:
    """Elements shifted by ``shifts`` along ``dims`` with wrap-around (the flattened
    tensor when ``dims`` is None). Backward: the gradient rolled back."""
    a = as_tensor(a, "roll")
    shifts = _ints(shifts, "roll", "shifts")
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts}")
        out = np.roll(a.array.reshape(-1), shifts[0]).reshape(a.array.shape)
        return record("Roll", out, (a,), lambda g: (
            np.roll(g.reshape(-1), -shifts[0]).reshape(g.shape),))
    axes = tuple(a._dim(d, "roll") for d in _ints(dims, "roll", "dims"))
    if len(axes) != len(shifts):
        raise ValueError(f"roll: shifts {shifts} and dims {axes} must have the same length")
    out = np.roll(a.array, shifts, axes)
    return record("Roll", out, (a,), lambda g: (np.roll(g, [-s for s in shifts], axes),))


def repeat_interleave(a, repeats, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place:
    ``[1, 2] -> [1, 1, 2, 2]``; ``repeats`` an int or one count per slice. Without
    ``dim`` the tensor is flattened first. ``output_size``, PyTorch's hint of the
    result's length along ``dim``, is checked. Backward: the copies' gradients summed."""
    a = as_tensor(a, "repeat_interleave")
    x = a.array.reshape(-1) if dim is None else a.array
    axis = 0 if dim is None else a._dim(dim, "repeat_interleave")
    counts = (as_tensor(repeats, "repeat_interleave", "repeats").array
              if isinstance(repeats, Tensor) else np.asarray(repeats))
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be a non-negative int or 1-D "
                         f"tensor of them, got {repeats!r}")
    size = x.shape[axis] if x.ndim else 1
    if counts.ndim == 1 and counts.size not in (1, size):
        raise ValueError(f"repeat_interleave: repeats has {counts.size} counts for "
                         f"{size} slices along dim {axis}")
    counts = np.broadcast_to(counts.reshape(-1), (size,)).astype(np.int64)
    out = np.repeat(x.reshape(-1) if x.ndim == 0 else x, counts, axis=axis)
    if output_size is not None and output_size != out.shape[axis]:
        raise ValueError(f"repeat_interleave: output_size={output_size!r}, but the repeats "
                         f"give {out.shape[axis]}")

    def backward(g):
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        grad = np.zeros(x.shape if x.ndim else (1,), dtype=g.dtype)
        filled = counts > 0
        if filled.any():
            sums = np.add.reduceat(g, starts[filled], axis=axis)
            index = [slice(None)] * grad.ndim
            index[axis] = np.flatnonzero(filled)
            grad[tuple(index)] = sums
        return (grad.reshape(a.array.shape),)
    return record("RepeatInterleave", out, (a,), backward)


def masked_select(a, mask) -> Tensor:
    """The elements of ``a`` where the bool ``mask`` (broadcast with ``a``) is true, as
    a 1-D tensor in row-major order. Backward: scattered back (and summed where ``a``
    was broadcast)."""
    a = as_tensor(a, "masked_select")
    mask = as_tensor(mask, "masked_select", "mask").array
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got {mask.dtype}")
    try:
        shape = np.broadcast_shapes(a.array.shape, mask.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {mask.shape} does not broadcast "
                         f"with the input's {a.array.shape}") from None
    full_mask = np.broadcast_to(mask, shape)
    out = np.broadcast_to(a.array, shape)[full_mask]

    def backward(g):
        grad = np.zeros(shape, dtype=g.dtype)
        grad[full_mask] = g
        return (grad,)   # the engine sums the broadcast axes back to a's shape
    return record("MaskedSelect", out, (a,), backward)


def nonzero(a, as_tuple=False):
    """Indices of the non-zero elements: an int64 ``(count, ndim)`` tensor, or with
    ``as_tuple`` one 1-D tensor per dimension (a 0-d input counts as 1-D)."""
    a = as_tensor(a, "nonzero")
    if as_tuple:
        x = a.array if a.ndim else a.array.reshape(1)
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(x))
    return Tensor._wrap(np.argwhere(a.array).astype(np.int64))

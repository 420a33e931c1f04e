"""Differentiable shape operations: ``reshape``/``view``, ``flatten``, ``squeeze``,
``permute``/``transpose``, ``expand``, ``repeat``, ``flip``, indexing, ``cat``/``stack``,
``split``/``chunk``/``unbind``.

Kept apart from :mod:`cnnlab.ops` (which re-exports them) to keep each file readable;
each backward routes the gradient back to the input's layout.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import dtypes
from .autograd import record
from .ops import _cast, as_tensor, cast
from .ops_reduce import _dims
from .tensor import Tensor, _is_basic_index
from .tensor_inplace import mark_view

__all__ = ["cat", "chunk", "expand", "expand_as", "flatten", "flip", "getitem", "narrow",
           "numel", "permute", "repeat", "reshape", "reshape_as", "select", "split",
           "squeeze", "stack", "t", "t_all", "transpose", "unbind", "unflatten", "unsqueeze",
           "view", "view_as"]

# --------------------------------------------------------------------- shapes


def _size_args(size, function):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:  # plain ints, the common case, skip the slower abstract-class checks
        if type(s) is not int:
            break
    else:
        return tuple(size)
    for s in size:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{function}: sizes must be ints, got {tuple(size)!r}")
    return tuple(int(s) for s in size)


def reshape(a, *shape) -> Tensor:
    """The same elements in a new shape (one size may be -1)."""
    a = as_tensor(a, "reshape")
    shape = _size_args(shape, "reshape")
    try:
        out = a.array.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: shape {list(shape)} is invalid for a tensor of shape "
                         f"{list(a.array.shape)} ({a.array.size} elements)") from None
    original = a.array.shape
    result = record("View", out, (a,), lambda g: (g.reshape(original),))
    owner = out.base
    if owner is not None and (owner is a.array or owner is a.array.base
                              or np.may_share_memory(out, a.array)):
        mark_view(result, a, lambda base: reshape(base, shape))  # NumPy viewed, not copied
    return result


def view(a, *shape) -> Tensor:
    """The same memory in a new shape (one size may be -1), as PyTorch's ``view``: a
    RuntimeError where that needs a copy (a dimension to merge spans memory that is not
    evenly strided, as after ``t()`` or ``permute``); :func:`reshape` copies then.
    """
    a = as_tensor(a, "view")
    size = _size_args(shape, "view")
    try:
        np.reshape(a.array, size, copy=False)
    except ValueError:
        try:
            np.reshape(a.array, size)   # a valid shape, only not as a view?
        except ValueError:
            raise ValueError(f"view: shape {list(size)} is invalid for a tensor of shape "
                             f"{list(a.array.shape)} ({a.array.size} elements)") from None
        strides = [s // a.array.itemsize for s in a.array.strides]
        raise RuntimeError(
            f"view: shape {list(size)} cannot view a tensor of shape {list(a.array.shape)} "
            f"and stride {strides} without copying (at least one dimension spans across "
            "two contiguous subspaces); use .reshape(...) instead, or .contiguous() first"
        ) from None
    return reshape(a, *shape)


def view_as(a, other):
    """:func:`view` to ``other``'s shape."""
    return view(a, tuple(other.shape))


def reshape_as(a, other):
    """:func:`reshape` to ``other``'s shape."""
    return reshape(a, tuple(other.shape))


def flatten(a, start_dim=0, end_dim=-1) -> Tensor:
    a = as_tensor(a, "flatten")
    if a.array.ndim == 0:
        return reshape(a, 1)
    start, end = a._dim(start_dim, "flatten"), a._dim(end_dim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.array.shape
    merged = int(np.prod(shape[start:end + 1], dtype=np.int64))
    return reshape(a, shape[:start] + (merged,) + shape[end + 1:])


def unflatten(a, dim, sizes) -> Tensor:
    a = as_tensor(a, "unflatten")
    axis = a._dim(dim, "unflatten")
    shape = a.array.shape
    return reshape(a, shape[:axis] + tuple(sizes) + shape[axis + 1:])


def squeeze(a, dim=None) -> Tensor:
    a = as_tensor(a, "squeeze")
    shape = a.array.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = set(_dims(a, dim, "squeeze"))
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return reshape(a, new)


def unsqueeze(a, dim) -> Tensor:
    a = as_tensor(a, "unsqueeze")
    ndim = a.array.ndim + 1
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim!r} is out of range (allowed: {-ndim}..{ndim - 1})")
    dim %= ndim
    shape = a.array.shape
    return reshape(a, shape[:dim] + (1,) + shape[dim:])


def permute(a, *dims) -> Tensor:
    a = as_tensor(a, "permute")
    dims = _size_args(dims, "permute")
    if sorted(d % builtins.max(a.array.ndim, 1) for d in dims) != list(range(a.array.ndim)):
        raise ValueError(f"permute: dims {list(dims)} are not a permutation of the "
                         f"{a.array.ndim} dimensions")
    dims = tuple(d % a.array.ndim for d in dims)
    inverse = tuple(np.argsort(dims))
    out = record("Permute", a.array.transpose(dims), (a,), lambda g: (g.transpose(inverse),))
    return mark_view(out, a, lambda base: permute(base, dims))


def transpose(a, dim0, dim1) -> Tensor:
    a = as_tensor(a, "transpose")
    if a.array.ndim < 2:
        return a
    order = list(range(a.array.ndim))
    d0, d1 = a._dim(dim0, "transpose"), a._dim(dim1, "transpose")
    order[d0], order[d1] = order[d1], order[d0]
    return permute(a, order)


def t(a) -> Tensor:
    a = as_tensor(a, "t")
    if a.array.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {a.array.ndim}")
    return transpose(a, 0, 1)


def t_all(a) -> Tensor:
    a = as_tensor(a, "T")
    return permute(a, tuple(reversed(range(a.array.ndim))))


def expand(a, *sizes) -> Tensor:
    a = as_tensor(a, "expand")
    sizes = _size_args(sizes, "expand")
    shape = (1,) * (len(sizes) - a.array.ndim) + a.array.shape
    target = tuple(s if n == -1 else n for s, n in zip(shape, sizes))
    try:
        out = np.broadcast_to(a.array.reshape(shape), target)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {list(a.array.shape)} to "
                         f"{list(sizes)}") from None
    if target == shape:
        out = a.array.reshape(shape)  # nothing repeated: a writable view, as in PyTorch
    result = record("Expand", out, (a,), lambda g: (g,))
    return mark_view(result, a, lambda base: expand(base, sizes))


def expand_as(a, other):
    return expand(a, other.shape)


def repeat(a, *repeats) -> Tensor:
    a = as_tensor(a, "repeat")
    repeats = _size_args(repeats, "repeat")
    shape = (1,) * (len(repeats) - a.array.ndim) + a.array.shape
    out = np.tile(a.array.reshape(shape), repeats)

    def backward(g):
        split = [n for pair in zip(repeats, shape) for n in pair]
        return (g.reshape(split).sum(axis=tuple(range(0, len(split), 2))),)
    return record("Repeat", out, (a,), backward)


def flip(a, dims) -> Tensor:
    a = as_tensor(a, "flip")
    axes = _dims(a, dims, "flip")
    # a copy, as PyTorch's flip (NumPy's is a view: writing into it would change `a`)
    return record("Flip", np.flip(a.array, axes).copy(), (a,), lambda g: (np.flip(g, axes),))


def getitem(a: Tensor, index) -> Tensor:
    """``a[index]``: basic indexing gives a view, as in NumPy and PyTorch."""
    try:
        out = a.array[index]
    except IndexError as error:
        raise IndexError(f"index {index!r} is out of range for a tensor of shape "
                         f"{list(a.array.shape)} ({error})") from None
    basic = _is_basic_index(index)
    if basic and not isinstance(out, np.ndarray):  # all ints: a 0-d view, not a scalar
        out = a.array[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]

    def backward(g):
        grad = np.zeros(a.array.shape, dtype=g.dtype)
        if basic:
            grad[index] = g
        else:
            np.add.at(grad, index, g)
        return (grad,)
    if not basic:   # a copy: laid out row-major, as PyTorch's (NumPy may put the indexed
        out = np.asarray(out, order="C")   # axis outermost), so that view() works on it too
    result = record("Index" if not basic else "Select", np.asarray(out), (a,), backward)
    if basic:
        mark_view(result, a, lambda base: getitem(base, index))
    return result


def narrow(a, dim, start, length) -> Tensor:
    """``a`` restricted to ``start:start + length`` along ``dim``: a view.

    ``start`` may be an int or, as in PyTorch, a 0-d integer tensor."""
    a = as_tensor(a, "narrow")
    axis = a._dim(dim, "narrow")
    size = a.array.shape[axis]
    if isinstance(start, Tensor) and start.ndim == 0 and start.array.dtype.kind in "iu":
        start = int(start.array)
    for name, value in (("start", start), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"narrow: {name} must be an int, got {value!r}")
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size or not 0 <= length <= size - begin:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                         f"size ({size}) of dim {dim}")
    return getitem(a, (slice(None),) * axis + (slice(begin, begin + length),))


def select(a, dim, index) -> Tensor:
    """``a[..., index, ...]`` with ``index`` in dimension ``dim``: a view one dim smaller."""
    a = as_tensor(a, "select")
    axis = a._dim(dim, "select")
    size = a.array.shape[axis]
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"select: index must be an int, got {index!r}")
    if not -size <= index < size:
        raise IndexError(f"select: index {index} out of range for tensor of size "
                         f"{list(a.array.shape)} at dimension {dim}")
    return getitem(a, (slice(None),) * axis + (int(index),))


def _multi_output(views, kind):
    """Mark the views returned by ``unbind``/``split``: PyTorch refuses in-place ops on them."""
    for view in views:
        base, replay, own = view._view
        view._view = (base, replay, own or kind)
    return views


def _tensors(values, function):
    if isinstance(values, Tensor) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{function}: expected a sequence of tensors, got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError(f"{function}: expected a non-empty sequence of tensors")
    tensors = [as_tensor(v, function) for v in values]
    dtype = dtypes.result_dtype([t.array.dtype for t in tensors])
    return tensors, dtype


def cat(tensors, dim=0) -> Tensor:
    """Join tensors along an existing dimension ``dim``.

    As in PyTorch, 1-D empty tensors (shape ``(0,)``) are skipped whatever the others'
    shapes (a legacy rule that lets ``cat`` start from an empty tensor).
    """
    tensors, dtype = _tensors(tensors, "cat")
    kept = [t for t in tensors if t.array.shape != (0,)]
    if kept and len(kept) < len(tensors):
        out = cat(kept, dim)
        return out if out.array.dtype == dtype else cast(out, dtypes.from_numpy_dtype(dtype))
    axis = tensors[0]._dim(dim, "cat")
    reference = tensors[0].array.shape
    for i, t in enumerate(tensors):
        if t.array.ndim != len(reference) or builtins.any(
                s != r for j, (s, r) in enumerate(zip(t.array.shape, reference)) if j != axis):
            raise ValueError(f"cat: tensor {i} has shape {list(t.array.shape)}; all must "
                             f"match {list(reference)} except in dimension {axis}")
    out = np.concatenate([_cast(t, dtype) for t in tensors], axis=axis)
    bounds = np.cumsum([t.array.shape[axis] for t in tensors])[:-1]
    return record("Cat", out, tuple(tensors), lambda g: tuple(np.split(g, bounds, axis=axis)))


def stack(tensors, dim=0) -> Tensor:
    """Join tensors of equal shape along a new dimension ``dim``."""
    tensors, dtype = _tensors(tensors, "stack")
    ndim = tensors[0].array.ndim + 1
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -ndim <= dim < ndim:
        raise IndexError(f"stack: dim {dim!r} is out of range (allowed: {-ndim}..{ndim - 1})")
    axis = dim % ndim
    for i, t in enumerate(tensors):
        if t.array.shape != tensors[0].array.shape:
            raise ValueError(f"stack: expects each tensor to be equal size, but got "
                             f"{list(tensors[0].array.shape)} at entry 0 and "
                             f"{list(t.array.shape)} at entry {i}")
    out = np.stack([_cast(t, dtype) for t in tensors], axis=axis)
    return record("Stack", out, tuple(tensors),
                  lambda g: tuple(np.moveaxis(g, axis, 0)))


def unbind(a, dim=0):
    a = as_tensor(a, "unbind")
    axis = a._dim(dim, "unbind")
    return _multi_output(tuple(getitem(a, (slice(None),) * axis + (i,))
                               for i in range(a.array.shape[axis])), "Unbind")


def split(a, split_size_or_sections, dim=0):
    a = as_tensor(a, "split")
    axis = a._dim(dim, "split")
    length = a.array.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        sizes = [split_size_or_sections] * (length // split_size_or_sections)
        if length % split_size_or_sections:
            sizes.append(length % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    return _multi_output(tuple(getitem(a, (slice(None),) * axis
                                       + (slice(starts[i], starts[i + 1]),))
                               for i in range(len(sizes))), "Split")


def chunk(a, chunks, dim=0):
    a = as_tensor(a, "chunk")
    length = a.array.shape[a._dim(dim, "chunk")]
    return split(a, builtins.max(1, -(-length // chunks)), dim)


def numel(a) -> int:
    return as_tensor(a).numel()


# prod, sort, argsort and topk live in ops_order.py (kept apart for length); they are
# cnnlab.ops names too, so Tensor methods and cnnlab.* find them here.

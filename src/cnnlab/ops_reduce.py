"""Differentiable reductions: ``sum``, ``mean``, ``var``, ``std``, ``norm``, ``max``/``min``
(with indices), ``amax``/``amin``, ``argmax``/``argmin``, ``all``/``any``, ``cumsum``,
``softmax`` and ``log_softmax``.

Kept apart from :mod:`cnnlab.ops` (which re-exports them) to keep each file readable;
the same conventions: NumPy forward, backward closure right below it.
"""

from __future__ import annotations

import builtins
import functools
import numbers
from collections import namedtuple

import numpy as np

from . import dtypes
from .autograd import record
from .ops import (_unary, abs, add, as_tensor, cast, div, half_in_float32, maximum,
                  minimum, mul, sub)
from .ops_elementwise import exp, log
from .tensor import Tensor

__all__ = ["MaxResult", "MinResult", "all", "amax", "amin", "any", "argmax", "argmin",
           "logsumexp",
           "cumsum", "log_softmax", "max", "mean", "min", "norm", "softmax", "std", "sum",
           "var"]

# ------------------------------------------------------------------ reductions


_NO_AXIS = object()


def _axis_alias(function):
    """Accept PyTorch's ``axis=`` (NumPy's name) as an alias of ``dim=``."""
    @functools.wraps(function)
    def reduction(*args, axis=_NO_AXIS, **kwargs):
        if axis is not _NO_AXIS:
            if "dim" in kwargs:
                raise TypeError(f"{function.__name__}: got both dim and axis; pass one "
                                "(axis is an alias of dim)")
            kwargs["dim"] = axis
        return function(*args, **kwargs)
    return reduction


def _dims(a: Tensor, dim, function) -> tuple:
    if dim is None:
        return tuple(range(a.array.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    normalised = [a._dim(d, function) for d in dims]
    if len(set(normalised)) != len(normalised):
        repeated = next(d for d in normalised if normalised.count(d) > 1)
        raise ValueError(f"{function}: dim {repeated} appears multiple times in the list "
                         f"of dims {list(dims)}")
    return tuple(sorted(normalised)) if a.array.ndim else ()


def _expand_back(g, dims, keepdim, shape):
    if not keepdim:
        g = np.expand_dims(g, dims)
    return np.broadcast_to(g, shape)


@_axis_alias
@half_in_float32
def sum(a, dim=None, keepdim=False, dtype=None) -> Tensor:
    """Sum over ``dim`` (all by default); integers and bools sum to int64, as in PyTorch."""
    a = as_tensor(a, "sum")
    dims = _dims(a, dim, "sum")
    x = a.array
    if dtype is not None:
        x = x.astype(dtypes.as_dtype(dtype).numpy)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)
    out = np.sum(x, axis=dims, keepdims=keepdim)
    shape = a.array.shape
    return record("Sum", np.asarray(out), (a,), lambda g: (_expand_back(g, dims, keepdim, shape),))


@_axis_alias
@half_in_float32
def mean(a, dim=None, keepdim=False) -> Tensor:
    a = as_tensor(a, "mean")
    if a.array.dtype.kind != "f":
        raise TypeError(f"mean: input dtype must be floating point, got {a.dtype!r}; "
                        "convert with .float() first")
    dims = _dims(a, dim, "mean")
    count = int(np.prod([a.array.shape[d] for d in dims]))
    out = np.asarray(np.mean(a.array, axis=dims, keepdims=keepdim))
    shape = a.array.shape
    return record("Mean", out, (a,),
                  lambda g: (_expand_back(g / count, dims, keepdim, shape),))


@_axis_alias
@half_in_float32
def var(a, dim=None, unbiased=True, keepdim=False, correction=None) -> Tensor:
    a = as_tensor(a, "var")
    if isinstance(dim, (bool, np.bool_)):
        dim, unbiased = None, bool(dim)   # PyTorch's var(input, unbiased) overload
    correction = (1 if unbiased else 0) if correction is None else correction
    dims = _dims(a, dim, "var")
    count = int(np.prod([a.array.shape[d] for d in dims]))
    centered = sub(a, mean(a, dims, keepdim=True))
    return div(sum(mul(centered, centered), dims, keepdim=keepdim), builtins.max(count - correction, 0))


@_axis_alias
@half_in_float32
def std(a, dim=None, unbiased=True, keepdim=False, correction=None) -> Tensor:
    if isinstance(dim, (bool, np.bool_)):
        dim, unbiased = None, bool(dim)   # PyTorch's std(input, unbiased) overload
    variance = var(a, dim, unbiased, keepdim, correction)
    # d sqrt(v)/dv = 1 / (2 std), taken as 0 where the std is 0, as PyTorch does: a
    # constant slice gives var's gradient 0 and sqrt's inf, whose product would be NaN.
    return _unary("Std", variance, np.sqrt,
                  lambda v, out: np.where(out > 0, 0.5 / np.where(out > 0, out, 1), 0))


@half_in_float32
def norm(a, p=2, dim=None, keepdim=False) -> Tensor:
    """The p-norm ``(sum |a|^p)^(1/p)`` over ``dim`` (all by default).

    Gradient: d/da = sign(a) |a|^(p-1) / norm^(p-1), and 0 where the norm is 0 (the
    subgradient PyTorch takes; the composition of pow and abs would give 0 * inf = NaN).
    """
    a = as_tensor(a, "norm")
    if p == "fro":
        p = 2   # the Frobenius norm is the 2-norm of the elements
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or np.isnan(p):
        raise ValueError(f"norm: p must be a number (inf and 0 included) or 'fro', got {p!r}")
    if a.array.dtype.kind != "f":
        raise TypeError(f"norm: input dtype must be floating point, got {a.dtype!r}")
    if np.isinf(p):
        # max |a| (min |a| for -inf); the gradient is shared among the extremes
        return _amax("norm", abs(a), dim, keepdim, np.max if p > 0 else np.min)
    dims = _dims(a, dim, "norm")
    if p == 0:
        # the number of non-zero elements: piecewise constant, gradient 0
        count = np.count_nonzero(a.array, axis=dims, keepdims=keepdim)
        return record("Norm", np.asarray(count, dtype=a.array.dtype), (a,),
                      lambda g: (np.zeros_like(a.array),))
    x = a.array
    magnitude = np.abs(x)
    with np.errstate(divide="ignore"):   # negative p: |0|^p = inf, the norm 0
        out = np.asarray(np.sum(magnitude ** p, axis=dims, keepdims=True) ** (1.0 / p))

    def backward(g):
        g = g if keepdim else np.expand_dims(g, dims)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(out > 0, g / out ** (p - 1), 0.0)
            direction = np.where(x != 0, np.sign(x) * magnitude ** (p - 1), 0.0)
        return (direction * scale,)

    result = out if keepdim else np.squeeze(out, axis=dims)
    return record("Norm", np.asarray(result), (a,), backward)


MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _extreme(name, a, dim, keepdim, pick, arg_pick, result_type, other):
    if other is not None:
        return (maximum if name == "max" else minimum)(a, other)
    a = as_tensor(a, name)
    x = a.array
    if x.size == 0:
        raise ValueError(f"{name}: the input is empty (shape {x.shape}); there is no {name}")
    if dim is not None and x.ndim == 0:
        a._dim(dim, name)   # only 0 or -1: the single element is its own extreme
        return result_type(record(name.capitalize(), x.copy(), (a,), lambda g: (g,)),
                           Tensor._wrap(np.zeros((), np.int64)))
    if dim is None:
        out = np.asarray(pick(x))

        def backward(g):
            # Evenly shared among all elements equal to the extreme (PyTorch's rule).
            hits = (x == out) | (np.isnan(x) & np.isnan(out))
            return (np.where(hits, g / np.count_nonzero(hits), 0),)
        return record(name.capitalize(), out, (a,), backward)
    axis = a._dim(dim, name)
    indices = arg_pick(x, axis=axis, keepdims=True)
    values = np.take_along_axis(x, indices, axis)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)

    def backward_dim(g):
        grad = np.zeros_like(x)
        idx = indices if keepdim else np.expand_dims(indices, axis)
        np.put_along_axis(grad, idx, g if keepdim else np.expand_dims(g, axis), axis)
        return (grad,)
    out = record(name.capitalize(), values, (a,), backward_dim)
    return result_type(out, Tensor._wrap(indices.astype(np.int64)))


def _nan_first(arg):
    """argmax/argmin that returns the first NaN, as PyTorch does."""
    def pick(x, axis, keepdims):
        index = arg(x, axis=axis, keepdims=keepdims)
        if x.dtype.kind == "f":
            nans = np.isnan(x)
            has_nan = nans.any(axis=axis, keepdims=True)
            if has_nan.any():
                index = np.where(has_nan if keepdims else has_nan.squeeze(axis),
                                 np.argmax(nans, axis=axis, keepdims=keepdims), index)
        return index
    return pick


@_axis_alias
def max(a, dim=None, keepdim=False, other=None):
    """Maximum of all elements, or ``(values, indices)`` along ``dim``."""
    if isinstance(dim, (Tensor, np.ndarray)):
        dim, other = None, dim
    return _extreme("max", a, dim, keepdim, np.max, _nan_first(np.argmax), MaxResult, other)


@_axis_alias
def min(a, dim=None, keepdim=False, other=None):
    """Minimum of all elements, or ``(values, indices)`` along ``dim``."""
    if isinstance(dim, (Tensor, np.ndarray)):
        dim, other = None, dim
    return _extreme("min", a, dim, keepdim, np.min, _nan_first(np.argmin), MinResult, other)


def _amax(name, a, dim, keepdim, pick):
    a = as_tensor(a, name)
    dims = _dims(a, dim, name)
    x = a.array
    out = np.asarray(pick(x, axis=dims, keepdims=keepdim))

    def backward(g):
        kept = out if keepdim else np.expand_dims(out, dims)
        hits = x == kept
        count = np.sum(hits, axis=dims, keepdims=True)
        # g * hits / count: where the extreme is NaN no element equals it, count is 0
        # and the whole slice gets NaN, as in PyTorch
        with np.errstate(divide="ignore", invalid="ignore"):
            return (_expand_back(g, dims, keepdim, x.shape) * hits / count,)
    return record(name.capitalize(), out, (a,), backward)


@_axis_alias
def amax(a, dim=None, keepdim=False):
    return _amax("amax", a, dim, keepdim, np.max)


@_axis_alias
def amin(a, dim=None, keepdim=False):
    return _amax("amin", a, dim, keepdim, np.min)


def _arg_extremum(name, a, dim, keepdim, flat_arg, reduce):
    """Index of the extremum: over the flattened tensor (``flat_arg``, NaN first) when
    ``dim`` is None, else the ``indices`` of ``reduce`` (:func:`max` / :func:`min`)."""
    a = as_tensor(a, name)
    if dim is None:
        return Tensor._wrap(np.asarray(_nan_first(flat_arg)(a.array.reshape(-1), 0, False),
                                       np.int64))
    return reduce(a, dim, keepdim).indices


@_axis_alias
def argmax(a, dim=None, keepdim=False):
    return _arg_extremum("argmax", a, dim, keepdim, np.argmax, max)


@_axis_alias
def argmin(a, dim=None, keepdim=False):
    return _arg_extremum("argmin", a, dim, keepdim, np.argmin, min)


def _logical_reduction(name, reduce, a, dim, keepdim):
    a = as_tensor(a, name)
    dims = _dims(a, dim, name)
    out = np.asarray(reduce(a.array, axis=dims, keepdims=keepdim))
    # uint8 input gives uint8 (0/1), every other dtype bool, as in PyTorch
    return Tensor._wrap(out.astype(np.uint8) if a.array.dtype == np.uint8 else out)


@_axis_alias
def all(a, dim=None, keepdim=False):
    """True where every element along ``dim`` (an int or a tuple; all by default) is."""
    return _logical_reduction("all", np.all, a, dim, keepdim)


@_axis_alias
def any(a, dim=None, keepdim=False):
    """True where some element along ``dim`` (an int or a tuple; all by default) is."""
    return _logical_reduction("any", np.any, a, dim, keepdim)


@_axis_alias
def cumsum(a, dim, dtype=None):
    """Running sum along ``dim``; integers and bools sum in int64, as in PyTorch.

    Backward: each input element feeds every later output, so its gradient is the
    reversed running sum of the incoming gradient.
    """
    a = as_tensor(a, "cumsum")
    axis = a._dim(dim, "cumsum")
    x = a.array
    if dtype is not None:
        x = x.astype(dtypes.as_dtype(dtype).numpy)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)
    # float16 runs in float32 (opmath_dtype), rounded once; reshape: 0-d stays 0-d
    out = np.cumsum(x, axis=axis, dtype=dtypes.opmath_dtype(x.dtype)).reshape(x.shape)
    out = out.astype(x.dtype, copy=False)
    if x.ndim == 0:
        return record("Cumsum", out, (a,), lambda g: (g,))
    return record("Cumsum", out, (a,), lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis), axis),))


def _cast_first(a, dtype, function) -> Tensor:
    """``a`` converted to ``dtype`` (PyTorch's ``dtype=`` argument), differentiably."""
    a = as_tensor(a, function)
    return a if dtype is None else cast(a, dtypes.as_dtype(dtype))


@half_in_float32
def logsumexp(a, dim, keepdim=False) -> Tensor:
    """``log(sum(exp(a)))`` over ``dim``, computed stably (the maximum subtracted first,
    a constant for the gradient: ``d/da = softmax(a)``)."""
    a = as_tensor(a, "logsumexp")
    if a.array.dtype.kind != "f":
        a = cast(a, dtypes.float32)
    dims = _dims(a, dim, "logsumexp")
    top = np.max(a.array, axis=dims, keepdims=True, initial=-np.inf)   # -inf when empty
    top = np.where(np.isfinite(top), top, 0).astype(a.array.dtype)
    total = sum(exp(sub(a, Tensor._wrap(top))), dims, keepdim=True)
    out = add(log(total), Tensor._wrap(top))
    if keepdim:
        return out
    return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in dims))


@half_in_float32
def softmax(a, dim=-1, dtype=None) -> Tensor:
    """``exp(a) / sum(exp(a))`` along ``dim``; ``dtype`` converts ``a`` first (as PyTorch).

    Beyond PyTorch: integer input is computed in float32 instead of refused.
    """
    a = _cast_first(a, dtype, "softmax")
    axis = a._dim(dim, "softmax")
    x = a.array if a.array.dtype.kind == "f" else a.array.astype(np.float32)
    # initial=-inf: an empty axis gives an empty result (as PyTorch), not a NumPy error
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    out = shifted / np.sum(shifted, axis=axis, keepdims=True)
    return record("Softmax", out, (a,),
                  lambda g: (out * (g - np.sum(g * out, axis=axis, keepdims=True)),))


@half_in_float32
def log_softmax(a, dim=-1, dtype=None) -> Tensor:
    """``log(softmax(a, dim))``, computed stably; ``dtype`` converts ``a`` first."""
    a = _cast_first(a, dtype, "log_softmax")
    axis = a._dim(dim, "log_softmax")
    x = a.array if a.array.dtype.kind == "f" else a.array.astype(np.float32)
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return record("LogSoftmax", out, (a,),
                  lambda g: (g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),))

"""Differentiable elementwise functions: exp, log, the activations (relu, sigmoid,
tanh), clamp, maximum/minimum, where and masked_fill.

Split from :mod:`cnnlab.ops` (which re-exports everything here) to keep files short;
the conventions are that module's: a NumPy forward line, its ``backward`` closure
right below, :func:`~cnnlab.autograd.record` to join the graph.
"""

from __future__ import annotations

import builtins
import functools

import numpy as np

from . import dtypes
from .autograd import record
from .ops import _cast, _operands, as_tensor, cast, mul
from .tensor import Tensor

__all__ = ["exp", "log", "rsqrt", "sqrt", "sin", "cos", "square", "abs", "sign", "floor", "ceil", "round",
           "relu", "sigmoid", "tanh", "clamp", "clip", "maximum", "minimum", "where",
           "masked_fill"]


def _unary(name, a, forward, derivative, float_only=True):
    """``forward(x)`` with gradient ``g * derivative(x, out)``."""
    a = as_tensor(a, name.lower())
    x = a.array
    if float_only and x.dtype.kind != "f":
        x = x.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = forward(x)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (g * derivative(x, out),)
    return record(name, out, (a,), backward)


def rsqrt(a):
    """``1 / sqrt(a)``; gradient ``-out^3 / 2``."""
    return _unary("Rsqrt", a, lambda x: 1 / np.sqrt(x), lambda x, out: -0.5 * out ** 3)


def exp(a):
    return _unary("Exp", a, np.exp, lambda x, out: out)


def log(a):
    return _unary("Log", a, np.log, lambda x, out: 1.0 / x)


def sqrt(a):
    return _unary("Sqrt", a, np.sqrt, lambda x, out: 0.5 / out)


def sin(a):
    return _unary("Sin", a, np.sin, lambda x, out: np.cos(x))


def cos(a):
    return _unary("Cos", a, np.cos, lambda x, out: -np.sin(x))


def square(a):
    a = as_tensor(a, "square")
    if a.array.dtype == np.bool_:
        a = cast(a, dtypes.as_dtype("int64"))   # PyTorch squares booleans as int64
    return mul(a, a)


def abs(a):
    # sign(NaN) taken as 0, as PyTorch's abs backward gives
    return _unary("Abs", a, np.abs, lambda x, out: np.nan_to_num(np.sign(x)),
                  float_only=False)


def _sign(x: np.ndarray) -> np.ndarray:
    """``(x > 0) - (x < 0)`` in ``x``'s dtype, as PyTorch: NaN and -0.0 give 0
    (``np.sign`` gives NaN and -0.0)."""
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def sign(a):
    a = as_tensor(a, "sign")
    if a.array.dtype == np.bool_:
        return Tensor._wrap(a.array.copy())   # sign(True) = True, as in PyTorch
    return _unary("Sign", a, _sign, lambda x, out: np.zeros_like(x), float_only=False)


def floor(a):
    return _unary("Floor", a, np.floor, lambda x, out: np.zeros_like(x), float_only=False)


def ceil(a):
    return _unary("Ceil", a, np.ceil, lambda x, out: np.zeros_like(x), float_only=False)


def round(a):
    return _unary("Round", a, np.round, lambda x, out: np.zeros_like(x), float_only=False)


_ZERO_BLOCK = 1 << 16


@functools.lru_cache(maxsize=None)
def _zeros(dtype) -> np.ndarray:
    zeros = np.zeros(_ZERO_BLOCK, dtype)
    zeros.setflags(write=False)
    return zeros


def _relu_forward(x: np.ndarray) -> np.ndarray:
    """``np.maximum(x, 0)``, in blocks against an array of zeros.

    NumPy's SIMD loop for ``maximum`` needs two arrays: against the scalar 0 it took
    3.5x longer here (226 vs 61 us on a LeNet activation). Same values, NaN included.
    """
    flat = x.reshape(-1)
    out = np.empty(flat.shape, x.dtype)
    zeros = _zeros(x.dtype)
    for start in range(0, flat.size, _ZERO_BLOCK):
        stop = builtins.min(start + _ZERO_BLOCK, flat.size)
        np.maximum(flat[start:stop], zeros[:stop - start], out=out[start:stop])
    return out.reshape(x.shape)


def relu(a):
    a = as_tensor(a, "relu")
    out = _relu_forward(a.array)

    def backward(g):
        # The gradient passes wherever the output is not <= 0, NaN included (PyTorch's
        # threshold_backward): a NaN input sends its incoming gradient on unchanged.
        # Only ``out`` is kept: holding the input too would keep the previous layer's
        # output alive until the backward pass (measured: a third of what ResNet-18's
        # forward keeps).
        return (g * (~(out <= 0)),)
    return record("Relu", out, (a,), backward)


def _in_one_buffer(g, first, *then):
    """``g * f(out)`` where ``f`` is ``first`` (a ufunc call into one new array, 0-d
    included) followed by in-place steps: one allocation instead of one per operation."""
    d = first()
    for step in then:
        step(d)
    d *= g
    return d


def sigmoid(a):
    a = as_tensor(a, "sigmoid")
    dtype = a.array.dtype if a.array.dtype.kind == "f" else np.dtype(np.float32)
    x = a.array.astype(dtypes.opmath_dtype(dtype), copy=False)   # float16 in float32
    # 1 / (1 + exp(-x)) in one buffer. For very negative x, exp(-x) overflows to inf
    # (warning silenced) and the result is 0, the correctly rounded limit; for large x
    # it is 1. Relative precision is kept at both ends.
    with np.errstate(over="ignore"):
        out = np.negative(x, out=np.empty_like(x))
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    out = out.astype(dtype, copy=False)
    # d/dx = out * (1 - out)
    return record("Sigmoid", out, (a,), lambda g: (_in_one_buffer(
        g, lambda: np.subtract(1, out, out=np.empty_like(out)),
        lambda d: np.multiply(d, out, out=d)),))


def tanh(a):
    a = as_tensor(a, "tanh")
    x = a.array if a.array.dtype.kind == "f" else a.array.astype(np.float32)
    out = np.tanh(x)
    # d/dx = 1 - out^2
    return record("Tanh", out, (a,), lambda g: (_in_one_buffer(
        g, lambda: np.multiply(out, out, out=np.empty_like(out)),
        lambda d: np.subtract(1, d, out=d)),))


def clamp(a, min=None, max=None):
    """``minimum(maximum(a, min), max)``: bounds may be numbers or tensors (broadcast).

    Where ``min > max`` the result is ``max``, as in PyTorch; NaN propagates. The
    result dtype follows PyTorch's promotion over ``a`` and the bounds given.

    Backward (PyTorch's rule): ``a`` gets the gradient where ``min <= a <= max``;
    ``min`` where ``a < min < max``; ``max`` where ``a > max`` or ``max < min``.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    given = [bound for bound in (min, max) if bound is not None]
    operands, dtype = _operands("clamp", a, *given)
    a = operands[0]
    low = operands[1] if min is not None else None
    high = operands[-1] if max is not None else None
    x = _cast(a, dtype)
    lo = -np.inf if low is None else _cast(low, dtype)
    hi = np.inf if high is None else _cast(high, dtype)
    out = x
    if low is not None:
        out = np.maximum(out, lo)
    if high is not None:
        out = np.minimum(out, hi)

    def backward(g):
        grads = [g * ((x >= lo) & (x <= hi))]
        if low is not None:
            grads.append(g * ((x < lo) & (lo < hi)))
        if high is not None:
            grads.append(g * ((x > hi) | (hi < lo)))
        return tuple(grads)
    return record("Clamp", out, tuple(t for t in (a, low, high) if t is not None), backward)


clip = clamp


def _extremum(name, a, b, pick, beaten):
    """``pick(x, y)`` elementwise; each input's gradient where it is not ``beaten`` by
    the other, halved on ties (PyTorch's rule). "Not beaten" rather than "wins": where
    either is NaN both get the whole gradient, as in PyTorch (its mask only removes the
    strictly beaten operand)."""
    (a, b), dtype = _operands(name.lower(), a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    out = pick(x, y)
    share = np.where(x == y, 0.5, 1.0)
    return record(name, out, (a, b),
                  lambda g: (g * share * ~beaten(x, y), g * share * ~beaten(y, x)))


def maximum(a, b):
    """Elementwise maximum; on ties each input gets half the gradient (PyTorch's rule)."""
    return _extremum("Maximum", a, b, np.maximum, np.less)


def minimum(a, b):
    """Elementwise minimum; on ties each input gets half the gradient (PyTorch's rule)."""
    return _extremum("Minimum", a, b, np.minimum, np.greater)


def where(condition, a, b):
    condition = as_tensor(condition, "where").array.astype(bool)
    (a, b), dtype = _operands("where", a, b)
    out = np.where(condition, _cast(a, dtype), _cast(b, dtype))
    return record("Where", out, (a, b),
                  lambda g: (np.where(condition, g, 0), np.where(condition, 0, g)))


def masked_fill(a, mask, value):
    """``a`` with ``value`` where ``mask`` is True; keeps ``a``'s dtype (as PyTorch).

    ``value``: a number or a 0-d tensor (which then gets the sum of the gradient
    over the filled places).
    """
    a = as_tensor(a, "masked_fill")
    mask = as_tensor(mask, "masked_fill", "mask").array
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
    if isinstance(value, Tensor) and value.array.ndim != 0:
        raise ValueError(f"masked_fill: only supports a 0-dimensional value tensor, but "
                         f"got tensor with {value.array.ndim} dimension(s)")
    value = as_tensor(value, "masked_fill", "value")
    try:
        np.broadcast_shapes(mask.shape, a.array.shape)   # the result: both broadcast
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} and input of shape "
                         f"{a.array.shape} cannot be broadcast together") from None
    out = np.where(mask, value.array.astype(a.array.dtype), a.array)
    return record("MaskedFill", out, (a, value),
                  lambda g: (np.where(mask, 0, g), np.sum(np.where(mask, g, 0))))

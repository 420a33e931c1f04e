"""Differentiable elementwise, reduction and shape operations.

This module holds the operand handling, arithmetic, elementwise functions and
comparisons; the reductions (:mod:`cnnlab.ops_reduce`), shape operations
(:mod:`cnnlab.ops_shape`) and products/orderings (:mod:`cnnlab.ops_order`) live beside
it and are re-exported here, so ``cnnlab.ops.<name>`` reaches every op.

Each function computes its result with NumPy and hands :func:`~cnnlab.autograd.record`
a ``backward`` closure written right below the forward line (micrograd style). Closures
may return gradients in the broadcast shape: the engine reduces them to each input's
shape in one place. Operands may be Tensors, NumPy arrays or Python numbers; the result
dtype follows PyTorch's promotion rules (:func:`cnnlab.dtypes.result_dtype`).
"""

from __future__ import annotations

import builtins
import functools
import numbers

import numpy as np

from . import dtypes
from .autograd import record
from .tensor import Tensor

# ------------------------------------------------------------------ operands


def _is_scalar(value) -> bool:
    return isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, complex)


def as_tensor(value, function="operand", name=None) -> Tensor:
    """``value`` as a Tensor (no copy for Tensors and arrays).

    ``name`` (e.g. ``'weight'``), when given, is the parameter named in the error.
    """
    if isinstance(value, Tensor):
        return value
    from .creation import to_array

    try:
        return Tensor._wrap(to_array(value, copy=False))
    except (TypeError, ValueError) as error:
        what = "expected" if name is None else f"{name} must be"
        raise TypeError(f"{function}: {what} a Tensor, array or number, "
                        f"got {type(value).__name__} ({error})") from None


def _same_tensors(values):
    """:func:`_operands`'s answer when every value is a Tensor of one dtype and shape
    (the common case in a network, where promotion and broadcasting have nothing to
    do), or a floating Tensor with a Python number; else None. Saves ~10 us a call."""
    first = values[0]
    if type(first) is not Tensor:
        return None
    array = first.array
    dtype, shape = array.dtype, array.shape
    if len(values) == 2 and dtype.kind == "f" and array.ndim:
        other = values[1]
        if type(other) in (float, int):     # a float tensor's dtype wins over a number
            return [first, Tensor._wrap(np.asarray(other, dtype=dtype))], dtype
    for value in values[1:]:
        if type(value) is not Tensor or value.array.dtype != dtype or value.array.shape != shape:
            return None
    return list(values), dtype


def _operands(function, *values, broadcast=True):
    """Tensors for ``values`` and the NumPy dtype PyTorch's promotion gives them.

    With ``broadcast``, a ValueError naming ``function`` when the shapes do not broadcast.
    """
    fast = _same_tensors(values)
    if fast is not None:
        return fast
    tensors, zero_dim, python = [], [], []
    wrapped = []
    for value in values:
        if _is_scalar(value) and not isinstance(value, np.ndarray):
            python.append(value.item() if isinstance(value, np.generic) else value)
            wrapped.append(None)
            continue
        tensor = as_tensor(value, function)
        (tensors if tensor.array.ndim else zero_dim).append(tensor.array.dtype)
        wrapped.append(tensor)
    dtype = dtypes.result_dtype(tensors, zero_dim, python)
    shapes = [t.array.shape for t in wrapped if t is not None]
    if broadcast and len(set(shapes)) > 1:
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(
                f"{function}: shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be "
                "broadcast together (aligned from the last dimension, sizes must be equal "
                "or 1)") from None
    out = []
    for value, tensor in zip(values, wrapped):
        out.append(tensor if tensor is not None else Tensor._wrap(np.asarray(value, dtype=dtype)))
    return out, dtype


def _cast(tensor: Tensor, dtype) -> np.ndarray:
    return tensor.array.astype(dtype, copy=False)


def _float_dtype(dtype) -> np.dtype:
    return dtype if np.dtype(dtype).kind == "f" else np.dtype(np.float32)


def _want(tensor: Tensor) -> bool:
    return tensor.requires_grad


# ---------------------------------------------------------------- arithmetic


def add(a, b, alpha=1) -> Tensor:
    (a, b), dtype = _operands("add", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    out = x + y if alpha == 1 else x + alpha * y
    return record("Add", out, (a, b), lambda g: (g, g if alpha == 1 else g * alpha))


def sub(a, b, alpha=1) -> Tensor:
    (a, b), dtype = _operands("sub", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    out = x - y if alpha == 1 else x - alpha * y
    return record("Sub", out, (a, b), lambda g: (g, -g if alpha == 1 else -alpha * g))


def mul(a, b) -> Tensor:
    (a, b), dtype = _operands("mul", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    return record("Mul", x * y, (a, b),
                  lambda g: (g * y if _want(a) else None, g * x if _want(b) else None))


def div(a, b) -> Tensor:
    (a, b), dtype = _operands("div", a, b)
    dtype = _float_dtype(dtype)
    x, y = _cast(a, dtype), _cast(b, dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x / y

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / y if _want(a) else None, -g * out / y if _want(b) else None)
    return record("Div", out, (a, b), backward)


def floor_divide(a, b) -> Tensor:
    (a, b), dtype = _operands("floor_divide", a, b)
    return Tensor._wrap(np.floor_divide(_cast(a, dtype), _cast(b, dtype)))


def remainder(a, b) -> Tensor:
    """``a - floor(a / b) * b``: the sign of ``b``, as Python's ``%`` and PyTorch.

    Backward: d/da = 1; d/db = -floor(a / b) (the floor is piecewise constant).
    """
    (a, b), dtype = _operands("remainder", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.remainder(x, y)
    if dtype.kind != "f":
        return Tensor._wrap(out)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g, (-g * np.floor(x / y) if _want(b) else None)
    return record("Remainder", out, (a, b), backward)


def pow(a, b) -> Tensor:
    scalar_exponent = _is_scalar(b)
    (a, b), dtype = _operands("pow", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    negative = dtype.kind in "iu" and np.any(y < 0)
    if negative and scalar_exponent:
        raise ValueError("pow: integers to negative integer powers are not allowed; "
                         "convert the base with .float() first")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.power(x, np.where(y < 0, 0, y) if negative else y)
    if negative:
        # PyTorch's integer rule for exponent tensors: 1 / x^|y| truncated toward 0,
        # so 1 for x = 1, +-1 for x = -1 (by the parity of y), else 0.
        odd = (y % 2) != 0
        reciprocal = np.where(x == 1, 1, np.where(x == -1, np.where(odd, -1, 1), 0))
        out = np.where(y < 0, reciprocal, out).astype(dtype)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_a = grad_b = None
            if _want(a):
                # d(x^y)/dx = y x^(y-1), defined as 0 where y == 0 (PyTorch's rule)
                grad_a = np.where(y == 0, 0, g * y * np.power(x, y - 1))
            if _want(b):
                grad_b = np.where((x == 0) & (y >= 0), 0, g * out * np.log(x))
        return grad_a, grad_b
    return record("Pow", out, (a, b), backward)


def neg(a) -> Tensor:
    a = as_tensor(a, "neg")
    return record("Neg", -a.array, (a,), lambda g: (-g,))


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's (and PyTorch's) rules for 1-D and batched operands."""
    (a, b), dtype = _operands("matmul", a, b, broadcast=False)
    x, y = _cast(a, dtype), _cast(b, dtype)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("matmul: both arguments need at least one dimension, "
                         f"got shapes {x.shape} and {y.shape}")
    if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {x.shape} and {y.shape} cannot be multiplied "
                         f"({x.shape[-1]} != {y.shape[-2 if y.ndim > 1 else 0]})")
    out = np.matmul(x, y)
    if x.ndim == 1 and y.ndim == 1:
        # a dot product: d(x . y)/dx = y, d/dy = x
        return record("Dot", np.asarray(out), (a, b), lambda g: (g * y, g * x))

    def backward(g):
        # Treat 1-D operands as a row (left) or a column (right) matrix.
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if y.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        grad_a = np.matmul(g2, np.swapaxes(y2, -1, -2)) if _want(a) else None
        grad_b = np.matmul(np.swapaxes(x2, -1, -2), g2) if _want(b) else None
        if grad_a is not None and x.ndim == 1:
            grad_a = grad_a.reshape(grad_a.shape[:-2] + (-1,)).reshape(-1, x.shape[0]).sum(0)
        if grad_b is not None and y.ndim == 1:
            grad_b = grad_b.reshape(grad_b.shape[:-2] + (-1,)).reshape(-1, y.shape[0]).sum(0)
        return grad_a, grad_b
    return record("Mm", out, (a, b), backward)


# ---------------------------------------------------------------- elementwise


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


def sign(a):
    a = as_tensor(a, "sign")
    if a.array.dtype == np.bool_:
        return Tensor._wrap(a.array.copy())   # sign(True) = True, as in PyTorch
    return _unary("Sign", a, np.sign, lambda x, out: np.zeros_like(x), float_only=False)


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
    x = a.array if a.array.dtype.kind == "f" else a.array.astype(np.float32)
    # 1 / (1 + exp(-x)) in one buffer. For very negative x, exp(-x) overflows to inf
    # (warning silenced) and the result is 0, the correctly rounded limit; for large x
    # it is 1. Relative precision is kept at both ends.
    with np.errstate(over="ignore"):
        out = np.negative(x, out=np.empty_like(x))
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
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


def maximum(a, b):
    """Elementwise maximum; on ties each input gets half the gradient (PyTorch's rule)."""
    (a, b), dtype = _operands("maximum", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    out = np.maximum(x, y)
    share = np.where(x == y, 0.5, 1.0)
    # "not smaller" rather than ">=": where either is NaN both get the whole gradient,
    # as in PyTorch (its mask only removes the strictly smaller operand).
    return record("Maximum", out, (a, b),
                  lambda g: (g * share * ~(x < y), g * share * ~(y < x)))


def minimum(a, b):
    (a, b), dtype = _operands("minimum", a, b)
    x, y = _cast(a, dtype), _cast(b, dtype)
    out = np.minimum(x, y)
    share = np.where(x == y, 0.5, 1.0)
    return record("Minimum", out, (a, b),
                  lambda g: (g * share * ~(x > y), g * share * ~(y > x)))


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


def cast(a: Tensor, dtype: dtypes.DType) -> Tensor:
    if a.array.dtype == dtype.numpy:
        return a
    source = a.array.dtype
    out = a.array.astype(dtype.numpy)
    if dtype.numpy.kind != "f" or source.kind != "f":
        return Tensor._wrap(out)
    return record("ToCopy", out, (a,), lambda g: (g.astype(source),))


def clone(a) -> Tensor:
    a = as_tensor(a, "clone")
    return record("Clone", a.array.copy(), (a,), lambda g: (g,))


# --------------------------------------------------------------- comparisons


def _compare(function, a, b):
    try:
        (a, b), dtype = _operands(function.__name__, a, b)
    except TypeError:
        return NotImplemented
    return Tensor._wrap(function(_cast(a, dtype), _cast(b, dtype)))


def eq(a, b):
    return _compare(np.equal, a, b)


def ne(a, b):
    return _compare(np.not_equal, a, b)


def lt(a, b):
    return _compare(np.less, a, b)


def le(a, b):
    return _compare(np.less_equal, a, b)


def gt(a, b):
    return _compare(np.greater, a, b)


def ge(a, b):
    return _compare(np.greater_equal, a, b)


def logical_not(a):
    return Tensor._wrap(np.logical_not(as_tensor(a).array))


def logical_and(a, b):
    return Tensor._wrap(np.logical_and(as_tensor(a).array, as_tensor(b).array))


def logical_or(a, b):
    return Tensor._wrap(np.logical_or(as_tensor(a).array, as_tensor(b).array))


def isnan(a):
    return Tensor._wrap(np.isnan(as_tensor(a).array))


def isfinite(a):
    return Tensor._wrap(np.isfinite(as_tensor(a).array))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(as_tensor(a).array, as_tensor(b).array, rtol, atol, equal_nan))


def equal(a, b) -> bool:
    x, y = as_tensor(a).array, as_tensor(b).array
    return x.shape == y.shape and bool(np.array_equal(x, y))


# The reductions and shape operations live in their own modules; ``cnnlab.ops`` gives
# every op under one name, as before.
from .ops_reduce import *  # noqa: E402,F401,F403
from .ops_reduce import _dims, _expand_back  # noqa: E402,F401
from .ops_shape import *  # noqa: E402,F401,F403
from .ops_shape import _size_args  # noqa: E402,F401
from .ops_order import SortResult, TopkResult, argsort, prod, sort, topk  # noqa: E402,F401

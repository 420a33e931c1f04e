"""Differentiable elementwise, reduction and shape operations.

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
from collections import namedtuple

import numpy as np

from . import dtypes
from .autograd import record
from .tensor import Tensor, _is_basic_index

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


def _operands(function, *values, broadcast=True):
    """Tensors for ``values`` and the NumPy dtype PyTorch's promotion gives them.

    With ``broadcast``, a ValueError naming ``function`` when the shapes do not broadcast.
    """
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
    # The gradient passes wherever the output is not <= 0, NaN included (PyTorch's
    # threshold_backward): a NaN input sends its incoming gradient on unchanged.
    return _unary("Relu", a, _relu_forward, lambda x, out: (~(out <= 0)).astype(out.dtype),
                  float_only=False)


def sigmoid(a):
    def forward(x):
        # 1 / (1 + exp(-x)) in one buffer. For very negative x, exp(-x) overflows to
        # inf (warning silenced by _unary) and the result is 0, the correctly rounded
        # limit; for large x it is 1. Relative precision is kept at both ends.
        e = np.asarray(np.exp(np.negative(x)))   # asarray: 0-d input gives a scalar
        e += 1
        return np.reciprocal(e, out=e)
    return _unary("Sigmoid", a, forward, lambda x, out: out * (1 - out))


def tanh(a):
    return _unary("Tanh", a, np.tanh, lambda x, out: 1 - out * out)


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
def std(a, dim=None, unbiased=True, keepdim=False, correction=None) -> Tensor:
    if isinstance(dim, (bool, np.bool_)):
        dim, unbiased = None, bool(dim)   # PyTorch's std(input, unbiased) overload
    variance = var(a, dim, unbiased, keepdim, correction)
    # d sqrt(v)/dv = 1 / (2 std), taken as 0 where the std is 0, as PyTorch does: a
    # constant slice gives var's gradient 0 and sqrt's inf, whose product would be NaN.
    return _unary("Std", variance, np.sqrt,
                  lambda v, out: np.where(out > 0, 0.5 / np.where(out > 0, out, 1), 0))


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


@_axis_alias
def argmax(a, dim=None, keepdim=False):
    a = as_tensor(a, "argmax")
    if dim is None:
        return Tensor._wrap(np.asarray(_nan_first(np.argmax)(a.array.reshape(-1), 0, False), np.int64))
    return max(a, dim, keepdim).indices


@_axis_alias
def argmin(a, dim=None, keepdim=False):
    a = as_tensor(a, "argmin")
    if dim is None:
        return Tensor._wrap(np.asarray(_nan_first(np.argmin)(a.array.reshape(-1), 0, False), np.int64))
    return min(a, dim, keepdim).indices


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
    out = np.cumsum(x, axis=axis).reshape(x.shape)   # reshape: a 0-d input stays 0-d
    if x.ndim == 0:
        return record("Cumsum", out, (a,), lambda g: (g,))
    return record("Cumsum", out, (a,), lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis), axis),))


def _cast_first(a, dtype, function) -> Tensor:
    """``a`` converted to ``dtype`` (PyTorch's ``dtype=`` argument), differentiably."""
    a = as_tensor(a, function)
    return a if dtype is None else cast(a, dtypes.as_dtype(dtype))


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


def log_softmax(a, dim=-1, dtype=None) -> Tensor:
    """``log(softmax(a, dim))``, computed stably; ``dtype`` converts ``a`` first."""
    a = _cast_first(a, dtype, "log_softmax")
    axis = a._dim(dim, "log_softmax")
    x = a.array if a.array.dtype.kind == "f" else a.array.astype(np.float32)
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return record("LogSoftmax", out, (a,),
                  lambda g: (g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),))


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
    return record("View", out, (a,), lambda g: (g.reshape(original),))


def view(a, *shape) -> Tensor:
    """Same as :func:`reshape` (cnnlab arrays can always be viewed or copied)."""
    return reshape(a, *shape)


def view_as(a, other):
    return reshape(a, other.shape)


reshape_as = view_as


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
    return record("Permute", a.array.transpose(dims), (a,), lambda g: (g.transpose(inverse),))


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
    return record("Expand", out, (a,), lambda g: (g,))


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
    return record("Flip", np.flip(a.array, axes), (a,), lambda g: (np.flip(g, axes),))


def getitem(a: Tensor, index) -> Tensor:
    """``a[index]``: basic indexing gives a view, as in NumPy and PyTorch."""
    try:
        out = a.array[index]
    except IndexError as error:
        raise IndexError(f"index {index!r} is out of range for a tensor of shape "
                         f"{list(a.array.shape)} ({error})") from None
    basic = _is_basic_index(index)

    def backward(g):
        grad = np.zeros(a.array.shape, dtype=g.dtype)
        if basic:
            grad[index] = g
        else:
            np.add.at(grad, index, g)
        return (grad,)
    return record("Index" if not basic else "Select", np.asarray(out), (a,), backward)


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
    return tuple(getitem(a, (slice(None),) * axis + (i,)) for i in range(a.array.shape[axis]))


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
    return tuple(getitem(a, (slice(None),) * axis + (slice(starts[i], starts[i + 1]),))
                 for i in range(len(sizes)))


def chunk(a, chunks, dim=0):
    a = as_tensor(a, "chunk")
    length = a.array.shape[a._dim(dim, "chunk")]
    return split(a, builtins.max(1, -(-length // chunks)), dim)


def numel(a) -> int:
    return as_tensor(a).numel()


# prod, sort, argsort and topk live in ops_order.py (kept apart for length); they are
# cnnlab.ops names too, so Tensor methods and cnnlab.* find them here.
from .ops_order import SortResult, TopkResult, argsort, prod, sort, topk  # noqa: E402,F401

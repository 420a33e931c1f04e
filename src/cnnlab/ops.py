"""Differentiable elementwise, reduction and shape operations.

This module holds the operand handling, arithmetic and comparisons; the elementwise
functions (:mod:`cnnlab.ops_elementwise`), reductions (:mod:`cnnlab.ops_reduce`), shape
operations (:mod:`cnnlab.ops_shape`) and products/orderings (:mod:`cnnlab.ops_order`)
live beside it and are re-exported here, so ``cnnlab.ops.<name>`` reaches every op.

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


def cast(a: Tensor, dtype: dtypes.DType) -> Tensor:
    if a.array.dtype == dtype.numpy:
        return a
    source = a.array.dtype
    out = a.array.astype(dtype.numpy)
    if dtype.numpy.kind != "f" or source.kind != "f":
        return Tensor._wrap(out)
    return record("ToCopy", out, (a,), lambda g: (g.astype(source),))


def half_in_float32(function):
    """``function`` run in float32 when its floating tensor arguments are all float16,
    the result rounded back to float16 once, as PyTorch's CPU kernels compute half
    ("opmath" float32). For ops of several steps (softmax, variance, GELU, a matrix
    product): rounding after each step in float16 drifted by up to 1,500 float16 steps
    from the exact result where PyTorch is within one (tests/test_opinfo.py, float16).
    Both casts are recorded, so gradients come back in float16 too. A call that names
    a dtype (``softmax(x, 0, dtype=...)``) runs as written.
    """
    def upcast(value):
        if isinstance(value, Tensor) and value.array.dtype == np.float16:
            return cast(value, dtypes.float32)
        return value

    @functools.wraps(function)
    def run(*args, **kwargs):
        values = (*args, *kwargs.values())
        floating = [v.array.dtype for v in values
                    if isinstance(v, Tensor) and v.array.dtype.kind == "f"]
        if (not floating or builtins.any(d != np.float16 for d in floating)
                or builtins.any(isinstance(v, dtypes.DType) for v in values)):
            return function(*args, **kwargs)
        result = function(*[upcast(v) for v in args],
                          **{k: upcast(v) for k, v in kwargs.items()})
        return cast(result, dtypes.float16)
    return run


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
    """``not a`` elementwise (nonzero is true); a bool tensor."""
    return Tensor._wrap(np.logical_not(as_tensor(a, "logical_not").array))


def logical_and(a, b):
    """``a and b`` elementwise (nonzero is true); a bool tensor."""
    (a, b), _ = _operands("logical_and", a, b)
    return Tensor._wrap(np.logical_and(a.array, b.array))


def logical_or(a, b):
    """``a or b`` elementwise (nonzero is true); a bool tensor."""
    (a, b), _ = _operands("logical_or", a, b)
    return Tensor._wrap(np.logical_or(a.array, b.array))


def logical_xor(a, b):
    """``a xor b`` elementwise (nonzero is true); a bool tensor."""
    (a, b), _ = _operands("logical_xor", a, b)
    return Tensor._wrap(np.logical_xor(a.array, b.array))


def _bitwise(function, ufunc, *values):
    """A bitwise op on integer or bool tensors (the ``&``, ``|``, ``^`` and ``~``
    operators), in the dtype PyTorch's promotion gives; not differentiable."""
    tensors, dtype = _operands(function, *values)
    if dtype.kind not in "biu":
        raise TypeError(f"{function}: needs integer or bool tensors, got {np.dtype(dtype)} "
                        "(bitwise operations have no meaning on floating point)")
    return Tensor._wrap(ufunc(*[_cast(t, dtype) for t in tensors]))


def bitwise_and(a, b):
    """``a & b``: bitwise on integers, logical on bools."""
    return _bitwise("bitwise_and", np.bitwise_and, a, b)


def bitwise_or(a, b):
    """``a | b``: bitwise on integers, logical on bools."""
    return _bitwise("bitwise_or", np.bitwise_or, a, b)


def bitwise_xor(a, b):
    """``a ^ b``: bitwise on integers, logical on bools."""
    return _bitwise("bitwise_xor", np.bitwise_xor, a, b)


def bitwise_not(a):
    """``~a``: bitwise on integers (``-a - 1``), logical on bools."""
    return _bitwise("bitwise_not", np.invert, a)


def isnan(a):
    return Tensor._wrap(np.isnan(as_tensor(a).array))


def isinf(a):
    return Tensor._wrap(np.isinf(as_tensor(a, "isinf").array))


def isfinite(a):
    return Tensor._wrap(np.isfinite(as_tensor(a).array))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(as_tensor(a).array, as_tensor(b).array, rtol, atol, equal_nan))


def equal(a, b) -> bool:
    x, y = as_tensor(a).array, as_tensor(b).array
    return x.shape == y.shape and bool(np.array_equal(x, y))


# The reductions and shape operations live in their own modules; ``cnnlab.ops`` gives
# every op under one name, as before.
from .ops_elementwise import *  # noqa: E402,F401,F403
from .ops_elementwise import _relu_forward, _unary  # noqa: E402,F401
from .ops_reduce import *  # noqa: E402,F401,F403
from .ops_reduce import _dims, _expand_back  # noqa: E402,F401
from .ops_shape import *  # noqa: E402,F401,F403
from .ops_index import *  # noqa: E402,F401,F403
from .ops_shape import _size_args  # noqa: E402,F401
from .ops_order import SortResult, TopkResult, argsort, prod, sort, topk  # noqa: E402,F401

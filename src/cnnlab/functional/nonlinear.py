"""More activations: ``gelu``, ``leaky_relu``, ``silu``, ``elu``, ``relu6``, ``hardtanh``,
``softplus``, ``mish``, ``hardswish``, ``hardsigmoid``, ``logsigmoid``, ``prelu``.

Each is one recorded op whose backward is derived in its docstring. ``inplace=True``
makes the input tensor itself take the result, as in PyTorch, recorded like ``x += y``
(:func:`in_place`): arrays saved for earlier backward passes are never overwritten.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import record
from ..dtypes import opmath_dtype
from ..ops import as_tensor
from ..tensor import Tensor
from ._common import float_input

__all__ = ["elu", "erf", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu",
           "logsigmoid", "mish", "prelu", "relu6", "silu", "softplus"]


def in_place(input, function: str, compute):
    """``input`` takes ``compute(input)``'s values and graph node: PyTorch's ``inplace=True``.

    Uses the Tensor's own in-place machinery (``x += y``): when gradients are recorded
    the tensor is rebound to a new node (a leaf that requires grad is refused, as in
    PyTorch); otherwise its array is overwritten, so views and aliases see the change.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"{function}: inplace=True needs a Tensor input, got "
                        f"{type(input).__name__}")
    return input._inplace(function + "_", lambda tensor, _: compute(tensor), None)


def _number(value, function, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{function}: {name} must be a number, got {value!r}")
    return float(value)


# The series for erf converges for every x but needs ~x^2 terms; past 3 the continued
# fraction of erfc converges fast instead, and past 6 erf is 1 in float64.
_SERIES_LIMIT = 3.0
_ONE_LIMIT = 6.0
_FRACTION_TERMS = 60


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a NumPy array, in float64 (NumPy has none; no SciPy here).

    For ``|x| < 3`` the everywhere-positive series (no cancellation)::

        erf(x) = 2 / sqrt(pi) * exp(-x^2) * sum_n (2 x^2)^n x / (1 * 3 * ... * (2n + 1))

    for ``3 <= |x| < 6`` the continued fraction::

        erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))

    and ``erf(x) = sign(x)`` beyond (erfc(6) < 1e-16). Agrees with ``math.erf`` to
    2e-15 (tested on a grid).
    """
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    out = np.ones_like(magnitude)
    series = magnitude < _SERIES_LIMIT
    a = magnitude[series]
    square = a * a
    term, total = a.copy(), a.copy()
    n = 0
    while term.size and np.any(term > 1e-17 * total):
        n += 1
        term *= 2 * square / (2 * n + 1)
        total += term
    out[series] = 2 / math.sqrt(math.pi) * np.exp(-square) * total
    middle = ~series & (magnitude < _ONE_LIMIT)
    b = magnitude[middle]
    fraction = b.copy()
    for k in range(_FRACTION_TERMS, 0, -1):
        fraction = b + (k / 2) / fraction
    out[middle] = 1 - np.exp(-b * b) / math.sqrt(math.pi) / fraction
    out[np.isnan(x)] = np.nan
    return np.copysign(out, x)


def gelu(input, approximate="none"):
    """Gaussian error linear unit ``x * Phi(x)``, as ``torch.nn.functional.gelu``.

    ``approximate='none'``: ``y = x/2 (1 + erf(x / sqrt 2))``, so
    ``dy/dx = Phi(x) + x phi(x)`` with ``phi(x) = exp(-x^2/2) / sqrt(2 pi)``.

    ``approximate='tanh'``: ``y = x/2 (1 + tanh(u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``,
    so ``dy/dx = (1 + t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)``, ``t = tanh(u)``.

    Parameters
    ----------
    input : Tensor of floats, any shape
    approximate : {'none', 'tanh'}
    """
    input = float_input(input, "gelu")
    x = _computed(input)
    if approximate == "none":
        cdf = (0.5 * (1 + erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)
        out = (x * cdf).astype(input.array.dtype, copy=False)

        def backward(g):
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return (g * (cdf + x * pdf),)
    elif approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        out = (0.5 * x * (1 + t)).astype(input.array.dtype, copy=False)

        def backward(g):
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k
                         * (1 + 3 * 0.044715 * x * x)),)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return record("Gelu", out, (input,), backward)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` where ``x > 0``, else ``negative_slope * x``; gradient 1 or ``negative_slope``
    (``negative_slope`` at 0, as PyTorch)."""
    if inplace:
        return in_place(input, "leaky_relu", lambda t: leaky_relu(t, negative_slope))
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    input = float_input(input, "leaky_relu")
    x = input.array
    positive = x > 0
    out = np.where(positive, x, x * slope).astype(x.dtype, copy=False)
    return record("LeakyRelu", out, (input,),
                  lambda g: (np.where(positive, g, g * slope),))


def _computed(input: Tensor) -> np.ndarray:
    """``input``'s values in the dtype they are computed in: float32 for float16, as in
    PyTorch (:func:`cnnlab.dtypes.opmath_dtype`); the result is rounded back once."""
    return input.array.astype(opmath_dtype(input.array.dtype), copy=False)


def silu(input, inplace=False):
    """``x * sigmoid(x)``; ``dy/dx = s (1 + x (1 - s))`` with ``s = sigmoid(x)``."""
    if inplace:
        return in_place(input, "silu", silu)
    input = float_input(input, "silu")
    x = _computed(input)
    with np.errstate(over="ignore"):   # exp(-x) = inf for very negative x gives s = 0
        s = 1 / (1 + np.exp(-x))
    out = (x * s).astype(input.array.dtype, copy=False)
    return record("Silu", out, (input,), lambda g: (g * s * (1 + x * (1 - s)),))


def elu(input, alpha=1.0, inplace=False):
    """``x`` where ``x > 0``, else ``alpha (exp(x) - 1)``; gradient 1 or
    ``alpha exp(x) = y + alpha``."""
    if inplace:
        return in_place(input, "elu", lambda t: elu(t, alpha))
    alpha = _number(alpha, "elu", "alpha")
    input = float_input(input, "elu")
    x = _computed(input)
    positive = x > 0
    negative_part = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(positive, x, negative_part).astype(input.array.dtype, copy=False)
    return record("Elu", out, (input,),
                  lambda g: (np.where(positive, g, g * (negative_part + alpha)),))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``min(max(x, min_val), max_val)``; gradient 1 strictly inside, else 0 (PyTorch).
    Integer input is clamped too (no gradient), as in PyTorch."""
    if inplace:
        return in_place(input, "hardtanh", lambda t: hardtanh(t, min_val, max_val))
    low = _number(min_val, "hardtanh", "min_val")
    high = _number(max_val, "hardtanh", "max_val")
    if low > high:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    input = as_tensor(input, "hardtanh", "input")
    if input.array.dtype.kind in "iu":  # integers are clamped too, as in PyTorch
        return record("Hardtanh", np.clip(input.array, low, high).astype(input.array.dtype),
                      (input,), lambda g: (None,))
    input = float_input(input, "hardtanh")
    x = input.array
    out = np.clip(x, low, high).astype(x.dtype, copy=False)
    inside = (x > low) & (x < high)
    return record("Hardtanh", out, (input,), lambda g: (np.where(inside, g, 0),))


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)``; gradient 1 strictly inside (0, 6), else 0 (as PyTorch)."""
    if inplace:
        return in_place(input, "relu6", relu6)
    return hardtanh(input, 0.0, 6.0)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` where ``beta x > threshold``;
    gradient ``sigmoid(beta x)`` (1 past the threshold)."""
    beta = _number(beta, "softplus", "beta")
    threshold = _number(threshold, "softplus", "threshold")
    input = float_input(input, "softplus")
    x = _computed(input)
    scaled = beta * x
    linear = scaled > threshold
    out = np.where(linear, x, np.logaddexp(0, scaled) / beta).astype(input.array.dtype,
                                                                    copy=False)
    slope = np.where(linear, 1, 0.5 * (1 + np.tanh(0.5 * scaled)))
    return record("Softplus", out, (input,), lambda g: (g * slope,))


def logsigmoid(input):
    """``log(sigmoid(x)) = -log(1 + exp(-x))``; gradient ``1 - sigmoid(x)``."""
    input = float_input(input, "logsigmoid")
    x = _computed(input)
    out = (-np.logaddexp(0, -x)).astype(input.array.dtype, copy=False)
    return record("LogSigmoid", out, (input,),
                  lambda g: (g * 0.5 * (1 - np.tanh(0.5 * x)),))


def mish(input, inplace=False):
    """``x tanh(softplus(x))``; with ``t = tanh(softplus(x))``,
    ``dy/dx = t + x sigmoid(x) (1 - t^2)``."""
    if inplace:
        return in_place(input, "mish", mish)
    input = float_input(input, "mish")
    x = _computed(input)
    t = np.tanh(np.logaddexp(0, x))
    out = (x * t).astype(input.array.dtype, copy=False)
    return record("Mish", out, (input,),
                  lambda g: (g * (t + x * 0.5 * (1 + np.tanh(0.5 * x)) * (1 - t * t)),))


def hardswish(input, inplace=False):
    """``x relu6(x + 3) / 6``; gradient 0 up to -3, ``x / 3 + 1/2`` strictly between,
    1 from 3 on (PyTorch's values at the corners)."""
    if inplace:
        return in_place(input, "hardswish", hardswish)
    input = float_input(input, "hardswish")
    x = _computed(input)
    out = (x * np.clip(x + 3, 0, 6) / 6).astype(input.array.dtype, copy=False)
    slope = np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1))
    return record("Hardswish", out, (input,), lambda g: (g * slope,))


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6``; gradient 1/6 strictly inside (-3, 3), else 0."""
    if inplace:
        return in_place(input, "hardsigmoid", hardsigmoid)
    input = float_input(input, "hardsigmoid")
    x = _computed(input)
    out = (np.clip(x + 3, 0, 6) / 6).astype(input.array.dtype, copy=False)
    inside = (x > -3) & (x < 3)
    return record("Hardsigmoid", out, (input,), lambda g: (np.where(inside, g / 6, 0),))


def prelu(input, weight):
    """``max(0, x) + weight * min(0, x)`` with one slope, or one per channel (axis 1;
    input with fewer than 2 axes has one channel, as in PyTorch).

    Gradients: ``dx = g`` where ``x > 0``, else ``weight g``; ``d weight = sum(g x)`` over
    the negative entries of each channel.
    """
    input = float_input(input, "prelu")
    weight = as_tensor(weight, "prelu", "weight")
    x, w = input.array, weight.array
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-D or 1-D, got shape {tuple(w.shape)}")
    channel_axis = 1
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size not in (1, channels):
        raise ValueError(f"prelu: weight has {w.size} slopes; expected 1 or the "
                         f"{channels} channels of the input (axis 1)")
    shape = [1] * x.ndim
    if w.size > 1:
        shape[channel_axis] = w.size
    slopes = w.reshape(shape)
    positive = x > 0
    out = np.where(positive, x, slopes * x).astype(x.dtype, copy=False)

    def backward(g):
        grad_x = np.where(positive, g, slopes * g) if input.requires_grad else None
        grad_w = None
        if weight.requires_grad:
            contribution = np.where(positive, 0, g * x)
            if w.size == 1:
                grad_w = contribution.sum().reshape(w.shape)
            else:
                axes = tuple(a for a in range(x.ndim) if a != channel_axis)
                grad_w = contribution.sum(axis=axes)
        return grad_x, grad_w
    return record("Prelu", out, (input, weight), backward)

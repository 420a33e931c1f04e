"""More activations: ``gelu``, ``leaky_relu``, ``silu``, ``elu``, ``relu6``.

Each is one recorded op whose backward is derived in its docstring. ``inplace=True`` is
accepted for PyTorch compatibility but the result is always a new tensor: cnnlab never
overwrites an op's input (the values are the same as PyTorch's).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import record
from ..ops import as_tensor

__all__ = ["elu", "erf", "gelu", "leaky_relu", "relu6", "silu"]


def _float_input(input, function):
    input = as_tensor(input, function, "input")
    if input.array.dtype.kind != "f":
        raise TypeError(f"{function}: input must be a floating tensor, got {input.dtype!r}; "
                        f"convert it with .float()")
    return input


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
    input = _float_input(input, "gelu")
    x = input.array
    if approximate == "none":
        cdf = (0.5 * (1 + erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)
        out = x * cdf

        def backward(g):
            pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return (g * (cdf + x * pdf),)
    elif approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        out = 0.5 * x * (1 + t)

        def backward(g):
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k
                         * (1 + 3 * 0.044715 * x * x)),)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return record("Gelu", out, (input,), backward)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` where ``x > 0``, else ``negative_slope * x``; gradient 1 or ``negative_slope``
    (``negative_slope`` at 0, as PyTorch)."""
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    input = _float_input(input, "leaky_relu")
    x = input.array
    positive = x > 0
    out = np.where(positive, x, x * slope).astype(x.dtype, copy=False)
    return record("LeakyRelu", out, (input,),
                  lambda g: (np.where(positive, g, g * slope),))


def silu(input, inplace=False):
    """``x * sigmoid(x)``; ``dy/dx = s (1 + x (1 - s))`` with ``s = sigmoid(x)``."""
    input = _float_input(input, "silu")
    x = input.array
    s = 0.5 * (1 + np.tanh(0.5 * x))   # sigmoid without overflow in exp
    out = x * s
    return record("Silu", out, (input,), lambda g: (g * s * (1 + x * (1 - s)),))


def elu(input, alpha=1.0, inplace=False):
    """``x`` where ``x > 0``, else ``alpha (exp(x) - 1)``; gradient 1 or
    ``alpha exp(x) = y + alpha``."""
    alpha = _number(alpha, "elu", "alpha")
    input = _float_input(input, "elu")
    x = input.array
    positive = x > 0
    negative_part = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(positive, x, negative_part).astype(x.dtype, copy=False)
    return record("Elu", out, (input,),
                  lambda g: (np.where(positive, g, g * (negative_part + alpha)),))


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)``; gradient 1 strictly inside (0, 6), else 0 (as PyTorch)."""
    input = _float_input(input, "relu6")
    x = input.array
    out = np.clip(x, 0, 6).astype(x.dtype, copy=False)
    inside = (x > 0) & (x < 6)
    return record("Hardtanh", out, (input,), lambda g: (np.where(inside, g, 0),))

"""Parameter initialisation, with PyTorch's formulas (``torch.nn.init``).

Random draws come from cnnlab's generator (:func:`cnnlab.manual_seed`).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """PyTorch's recommended gain for a nonlinearity (1 for the linear ones)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    shape = tensor.array.shape
    if len(shape) < 2:
        raise ValueError("fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions, got shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


@no_grad()
def uniform_(tensor, a=0.0, b=1.0):
    return tensor.uniform_(a, b)


@no_grad()
def normal_(tensor, mean=0.0, std=1.0):
    return tensor.normal_(mean, std)


@no_grad()
def constant_(tensor, value):
    tensor.array[...] = value
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def _fan(tensor, mode, function):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{function}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``."""
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan) if fan else 0.0
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with ``std = gain / sqrt(fan)``."""
    fan = _fan(tensor, mode, "kaiming_normal_")
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0)


def xavier_uniform_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@no_grad()
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """N(mean, std^2) restricted to [a, b]: draws outside are redrawn (rejection), which
    gives the truncated distribution exactly (PyTorch inverts the CDF instead, so the
    numbers differ, the distribution does not)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a!r}, b={b!r}")
    from ..creation import _rng

    values = np.empty(tensor.array.shape, dtype=np.float64)
    todo = np.ones(values.shape, dtype=bool)
    while todo.any():
        values[todo] = _rng().normal(mean, std, int(todo.sum()))
        todo = (values < a) | (values > b)
    tensor.array[...] = values
    return tensor


@no_grad()
def eye_(tensor):
    """The identity matrix (a 2-D tensor)."""
    if tensor.array.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape "
                         f"{tuple(tensor.array.shape)}")
    tensor.array[...] = np.eye(*tensor.array.shape)
    return tensor


@no_grad()
def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix, from the QR decomposition of a Gaussian matrix with
    the signs of R's diagonal folded into Q (so Q is uniformly distributed); dimensions
    after the first are flattened, as PyTorch."""
    if tensor.array.ndim < 2:
        raise ValueError("orthogonal_: only tensors with 2 or more dimensions are supported")
    from ..creation import _rng

    rows = tensor.array.shape[0]
    cols = tensor.array.size // rows if rows else 0
    flat = _rng().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    tensor.array[...] = (gain * q).reshape(tensor.array.shape)
    return tensor


def default_layer_init_(weight, bias):
    """PyTorch's default for Linear and Conv layers.

    ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    and the bias from the same interval.
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)

"""Activations, ``linear``, ``flatten`` and ``dropout``: the non-convolutional pieces of a CNN."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import record
from ..ops import as_tensor, flatten, log_softmax, relu, sigmoid, softmax, tanh

__all__ = ["dropout", "flatten", "linear", "log_softmax", "relu", "sigmoid", "softmax", "tanh"]


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``.

    Parameters
    ----------
    input : array_like, shape (*, in_features)
    weight : array_like, shape (out_features, in_features)
    bias : array_like, shape (out_features,), optional

    Returns
    -------
    Tensor, shape (*, out_features)
    """
    input, weight = as_tensor(input, "linear"), as_tensor(weight, "linear")
    if weight.array.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), "
                         f"got shape {tuple(weight.array.shape)}")
    if input.array.ndim == 0 or input.array.shape[-1] != weight.array.shape[1]:
        raise ValueError(f"linear: input's last dimension must equal in_features = "
                         f"{weight.array.shape[1]}, got input shape {tuple(input.array.shape)}")
    out = ops.matmul(input, ops.t(weight))
    if bias is not None:
        bias = as_tensor(bias, "linear")
        if bias.array.shape != (weight.array.shape[0],):
            raise ValueError(f"linear: bias must have shape ({weight.array.shape[0]},), "
                             f"got {tuple(bias.array.shape)}")
        out = ops.add(out, bias)
    return out


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Uses cnnlab's generator (:func:`cnnlab.manual_seed`). Identity when not training.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    input = as_tensor(input, "dropout")
    if not training or p == 0:
        return input
    from ..creation import _rng

    x = input.array
    if p == 1:
        scale = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = _rng().random(x.shape) >= p
        scale = (keep / (1 - p)).astype(x.dtype)
    return record("NativeDropout", x * scale, (input,), lambda g: (g * scale,))

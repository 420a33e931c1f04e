"""Channel dropout: ``dropout1d``, ``dropout2d`` and ``dropout3d``, as in
``torch.nn.functional``.

While training, each channel of each sample -- a whole line, plane or volume -- is
zeroed with probability ``p`` and the kept ones are scaled by ``1 / (1 - p)``, so
neighbouring (correlated) values are dropped together. Uses cnnlab's generator
(:func:`cnnlab.manual_seed`).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..autograd import record
from ..ops import as_tensor

__all__ = ["dropout1d", "dropout2d", "dropout3d"]

_LAYOUTS = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)",
            3: "(C, D, H, W) or (N, C, D, H, W)"}


def check_probability(p, function: str) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{function}: p must be a probability in [0, 1], got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"{function}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


def channel_dropout(function: str, spatial: int, input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an input with ``spatial`` spatial axes (see the module)."""
    p = check_probability(p, function)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{function}: training must be True or False, got {training!r}")
    input = as_tensor(input, function, "input")
    x = input.array
    if spatial == 2 and x.ndim == 3:
        warnings.warn(f"{function}: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), as PyTorch does. Use dropout1d for that.", UserWarning,
                      stacklevel=3)
        spatial = 1
    elif x.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{function}: input must be {spatial + 1}-D or {spatial + 2}-D "
                         f"{_LAYOUTS[spatial]}, got shape {tuple(x.shape)}")
    if not training or p == 0:
        return input
    from ..creation import _rng

    channels = x.shape[:x.ndim - spatial]        # (N, C) or (C,)
    if p == 1:
        scale = np.zeros(channels + (1,) * spatial, dtype=x.dtype)
    else:
        keep = _rng().random(channels) >= p
        scale = (keep / (1 - p)).astype(x.dtype).reshape(channels + (1,) * spatial)
    # y = x * scale (one factor per channel): dy/dx = scale
    return record("FeatureDropout", x * scale, (input,), lambda g: (g * scale,))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` input with probability ``p``.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, L) or (C, L)
    p : float in [0, 1]
    training : bool
        Identity when False.
    inplace : bool
        Accepted for PyTorch's signature; the result is always a new tensor.

    Returns
    -------
    Tensor, the input's shape: ``x[n, c] * keep[n, c] / (1 - p)``.

    Examples
    --------
    >>> import cnnlab
    >>> dropout1d(cnnlab.ones(2, 3), p=1.0).tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    return channel_dropout("dropout1d", 1, input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, H, W)`` or ``(C, H, W)`` input with probability ``p``.

    As :func:`dropout1d`, one draw per channel plane. A 3-D input is taken as
    ``(N, C, L)`` with a warning, as PyTorch does.
    """
    return channel_dropout("dropout2d", 2, input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with
    probability ``p``.

    As :func:`dropout1d`, one draw per channel volume. Other numbers of dimensions
    raise (PyTorch warns that they will).
    """
    return channel_dropout("dropout3d", 3, input, p, training, inplace)

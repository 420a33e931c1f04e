"""Activation layers, printed as PyTorch prints them.

Each forward delegates to one function of :mod:`cnnlab.functional`. ``inplace=True`` is
accepted and shown in the repr, as in PyTorch, but the output is always a new tensor:
cnnlab never overwrites a layer's input (the values are the same).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..functional import nonlinear
from .module import Module


def _inplace_flag(inplace, layer):
    if not isinstance(inplace, (bool, np.bool_)):
        raise TypeError(f"{layer}: inplace must be True or False, got {inplace!r}")
    return bool(inplace)


def _inplace_text(module):
    return ", inplace=True" if module.inplace else ""


class _Activation(Module):
    """An elementwise function with an optional ``inplace`` flag (shown when True)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = _inplace_flag(inplace, type(self).__name__)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Activation):
    """``max(x, 0)``, as ``torch.nn.ReLU``."""

    def forward(self, input):
        return F.relu(input)


class ReLU6(_Activation):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6``."""

    def forward(self, input):
        return nonlinear.relu6(input)


class SiLU(_Activation):
    """``x * sigmoid(x)`` (swish), as ``torch.nn.SiLU``."""

    def forward(self, input):
        return nonlinear.silu(input)


class LeakyReLU(_Activation):
    """``x`` for ``x > 0``, else ``negative_slope * x``, as ``torch.nn.LeakyReLU``."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        if isinstance(negative_slope, (bool, np.bool_)) or not isinstance(negative_slope,
                                                                          numbers.Real):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, "
                            f"got {negative_slope!r}")
        self.negative_slope = negative_slope

    def forward(self, input):
        return nonlinear.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_text(self)}"


class ELU(_Activation):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``, as ``torch.nn.ELU``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"ELU: alpha must be a number, got {alpha!r}")
        self.alpha = alpha

    def forward(self, input):
        return nonlinear.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_text(self)}"


class GELU(Module):
    """``x * Phi(x)``, exactly (``'none'``) or with the tanh formula, as ``torch.nn.GELU``."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', "
                             f"got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return nonlinear.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


class _SoftmaxBase(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def _dim_for(self, input):
        """``dim``, or PyTorch's legacy choice when it is None: 0 for 0-, 1- and 3-D
        input, else 1."""
        if self.dim is not None:
            return self.dim
        ndim = np.ndim(input.array if hasattr(input, "array") else input)
        return 0 if ndim in (0, 1, 3) else 1

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """Softmax along ``dim``, as ``torch.nn.Softmax``."""

    def forward(self, input):
        return F.softmax(input, self._dim_for(input))


class LogSoftmax(_SoftmaxBase):
    """Log-softmax along ``dim``, as ``torch.nn.LogSoftmax``."""

    def forward(self, input):
        return F.log_softmax(input, self._dim_for(input))

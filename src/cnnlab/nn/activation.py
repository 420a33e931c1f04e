"""Activation layers, printed as PyTorch prints them.

Each forward delegates to one function of :mod:`cnnlab.functional`. ``inplace=True`` is
passed on (the input tensor takes the result, as in PyTorch) and shown in the repr.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..dtypes import as_dtype
from ..functional import nonlinear
from .module import Module, Parameter


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
        return F.relu(input, inplace=self.inplace)


class ReLU6(_Activation):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6``."""

    def forward(self, input):
        return nonlinear.relu6(input, inplace=self.inplace)


class SiLU(_Activation):
    """``x * sigmoid(x)`` (swish), as ``torch.nn.SiLU``."""

    def forward(self, input):
        return nonlinear.silu(input, inplace=self.inplace)


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
        return nonlinear.leaky_relu(input, self.negative_slope, inplace=self.inplace)

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
        return nonlinear.elu(input, self.alpha, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_text(self)}"


class Hardtanh(_Activation):
    """``min(max(x, min_val), max_val)``, as ``torch.nn.Hardtanh``."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        self.min_val, self.max_val = min_val, max_val
        nonlinear.hardtanh(np.zeros(1), min_val, max_val)   # checks the bounds now

    def forward(self, input):
        return nonlinear.hardtanh(input, self.min_val, self.max_val,
                                  inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_text(self)}"


class Hardswish(_Activation):
    """``x relu6(x + 3) / 6``, as ``torch.nn.Hardswish``."""

    def forward(self, input):
        return nonlinear.hardswish(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return ""   # PyTorch does not show inplace here


class Hardsigmoid(_Activation):
    """``relu6(x + 3) / 6``, as ``torch.nn.Hardsigmoid``."""

    def forward(self, input):
        return nonlinear.hardsigmoid(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return ""   # PyTorch does not show inplace here


class Mish(_Activation):
    """``x tanh(softplus(x))``, as ``torch.nn.Mish``."""

    def forward(self, input):
        return nonlinear.mish(input, inplace=self.inplace)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta`` (``x`` past ``threshold``), as ``torch.nn.Softplus``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return nonlinear.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """``log(sigmoid(x))``, as ``torch.nn.LogSigmoid``."""

    def forward(self, input):
        return nonlinear.logsigmoid(input)


class PReLU(Module):
    """Leaky ReLU with learned slopes: one (``num_parameters=1``) or one per channel,
    initialised to ``init``, as ``torch.nn.PReLU``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, numbers.Integral) \
                or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got "
                             f"{num_parameters!r}")
        self.num_parameters, self.init = int(num_parameters), init
        target = as_dtype(dtype).numpy if dtype is not None else np.float32
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=target))

    def reset_parameters(self) -> None:
        self.weight.array[...] = self.init

    def forward(self, input):
        return nonlinear.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


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


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) input, as ``torch.nn.Softmax2d``."""

    def forward(self, input):
        ndim = np.ndim(input.array if hasattr(input, "array") else input)
        if ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, "
                             f"got {ndim}D input")
        return F.softmax(input, -3)


class Softmax(_SoftmaxBase):
    """Softmax along ``dim``, as ``torch.nn.Softmax``."""

    def forward(self, input):
        return F.softmax(input, self._dim_for(input))


class LogSoftmax(_SoftmaxBase):
    """Log-softmax along ``dim``, as ``torch.nn.LogSoftmax``."""

    def forward(self, input):
        return F.log_softmax(input, self._dim_for(input))

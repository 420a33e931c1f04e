"""Linear, Flatten, Unflatten and Dropout; the activation layers live in :mod:`.activation`."""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .. import ops
from ..dtypes import as_dtype
from . import init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh  # noqa: F401 (old home)
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ W.T + b``, as ``torch.nn.Linear``; W is (out_features, in_features).

    Initialised as PyTorch does: U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,
                                                                             np.integer)):
                raise TypeError(f"Linear: {name} must be a non-negative int, got {value!r}")
            if value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        target = as_dtype(dtype).numpy if dtype is not None else np.float32
        self.weight = Parameter(np.empty((out_features, in_features), dtype=target))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=target))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` (by default all but the batch)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return ops.flatten(ops.as_tensor(input, "Flatten"), self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(n, numbers.Integral) and not isinstance(n, bool)
                for n in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got "
                            f"{unflattened_size!r}")
        self.dim, self.unflattened_size = int(dim), tuple(unflattened_size)

    def forward(self, input):
        return ops.unflatten(ops.as_tensor(input, "Unflatten"), self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Zero elements with probability ``p`` while training (scaled by 1/(1-p))."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

"""Convolution layers: ``Conv2d`` and ``ConvTranspose2d``."""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..dtypes import as_dtype
from ..functional._common import spatial_input
from ..shapes import _is_int, int_pair, padding_pairs, transposed_output_size
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value, name, layer):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,
                                                                     np.integer)):
        raise TypeError(f"{layer}: {name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


def _channels(in_channels, out_channels, groups, layer):
    """``(in_channels, out_channels, groups)`` checked: positive ints, divisible by groups."""
    in_channels = _positive_int(in_channels, "in_channels", layer)
    out_channels = _positive_int(out_channels, "out_channels", layer)
    groups = _positive_int(groups, "groups", layer)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: in_channels ({in_channels}) and out_channels "
                         f"({out_channels}) must both be divisible by groups ({groups})")
    return in_channels, out_channels, groups


class _ConvNd(Module):
    _name = "Conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, weight_shape, dtype, output_padding=0):
        super().__init__()
        layer = self._name
        self.in_channels, self.out_channels, self.groups = _channels(
            in_channels, out_channels, groups, layer)
        self.kernel_size = int_pair(kernel_size, "kernel_size", layer)
        self.stride = int_pair(stride, "stride", layer)
        self.dilation = int_pair(dilation, "dilation", layer)
        self.output_padding = int_pair(output_padding, "output_padding", layer, minimum=0)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{layer}: padding string must be 'valid' or 'same', "
                                 f"got {padding!r}")
            self.padding = padding
        else:
            pairs = padding_pairs(padding, layer)
            symmetric = all(lo == hi for lo, hi in pairs)
            self.padding = tuple(lo for lo, _ in pairs) if symmetric else pairs
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.padding_mode = padding_mode
        target = as_dtype(dtype).numpy if dtype is not None else np.float32
        self.weight = Parameter(np.empty(weight_shape, dtype=target))
        self.bias = Parameter(np.empty(out_channels, dtype=target)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def extra_repr(self) -> str:
        # PyTorch's format: the stride always, strings unquoted (padding=same).
        parts = [f"{self.in_channels}, {self.out_channels}", f"kernel_size={self.kernel_size}",
                 f"stride={self.stride}"]
        if isinstance(self.padding, str) or any(np.ravel(self.padding)):
            parts.append(f"padding={self.padding}")
        if any(d != 1 for d in self.dilation):
            parts.append(f"dilation={self.dilation}")
        if any(self.output_padding):
            parts.append(f"output_padding={self.output_padding}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        if self.padding_mode != "zeros":
            parts.append(f"padding_mode={self.padding_mode}")
        return ", ".join(parts)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) layer, as ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), ((top, bottom), (left, right)), 'valid' or 'same'
        Beyond PyTorch: per-side padding, and 'same' with any stride
        (output ``ceil(in / stride)``).
    groups : int
    bias : bool
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}

    Shape
    -----
    input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, H_out, W_out), with
    ``H_out = floor((H + pad_top + pad_bottom - dilation*(kernel-1) - 1) / stride) + 1``.

    Weights are initialised as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = in_channels / groups * kernel_h * kernel_w``.
    """

    _name = "Conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        in_channels, out_channels, groups = _channels(in_channels, out_channels, groups,
                                                      "Conv2d")
        kernel = int_pair(kernel_size, "kernel_size", "Conv2d")
        shape = (out_channels, in_channels // groups) + kernel
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, shape, dtype)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups, padding_mode=self.padding_mode)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer, as ``torch.nn.ConvTranspose2d``.

    Weight shape is ``(in_channels, out_channels / groups, kh, kw)`` as in PyTorch;
    ``H_out = (H - 1) * stride - pad_top - pad_bottom + dilation * (kernel - 1)
    + output_padding + 1``.
    """

    _name = "ConvTranspose2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, "
                             f"got {padding_mode!r}")
        in_channels, out_channels, groups = _channels(in_channels, out_channels, groups,
                                                      "ConvTranspose2d")
        kernel = int_pair(kernel_size, "kernel_size", "ConvTranspose2d")
        shape = (in_channels, out_channels // groups) + kernel
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, shape, dtype, output_padding)

    def forward(self, input, output_size=None):
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)

    def _output_padding_for(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule)."""
        layer = "ConvTranspose2d"
        input, _ = spatial_input(input, layer)
        in_size = input.array.shape[-2:]
        entries = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
        if (entries is None or len(entries) not in (2, 3, 4)
                or not all(_is_int(e) and e >= 0 for e in entries)):
            raise TypeError(f"{layer}: output_size must be (height, width) or a full shape "
                            f"ending in them, of non-negative ints, got {output_size!r}")
        size = tuple(int(e) for e in entries[-2:])
        if self.padding == "same":
            same = tuple(n * s for n, s in zip(in_size, self.stride))
            if size != same:
                raise ValueError(f"{layer}: with padding='same' the output size is input size "
                                 f"* stride = {same}; output_size {size} is not reachable")
            return (0, 0)
        pairs = padding_pairs(self.padding, layer)
        extra = []
        for axis, n, want, k, s, d, pad in zip(("height", "width"), in_size, size,
                                               self.kernel_size, self.stride, self.dilation, pairs):
            smallest = transposed_output_size(n, k, s, pad, d, 0)
            largest = smallest + max(s, d) - 1
            if not smallest <= want <= largest:
                raise ValueError(f"ConvTranspose2d: output_size {tuple(size)} is not reachable: "
                                 f"the output {axis} must be between {smallest} and {largest} "
                                 f"(output_padding < max(stride, dilation))")
            extra.append(want - smallest)
        return tuple(extra)

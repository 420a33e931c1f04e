"""Convolution layers in 1, 2 and 3 dimensions: ``Conv{1,2,3}d`` and
``ConvTranspose{1,2,3}d``.

One class per family holds the checks, the parameters and PyTorch's repr; the
dimension-specific layers only say how many spatial axes they convolve.
"""

from __future__ import annotations


import numpy as np

from .. import functional as F
from ..dtypes import as_dtype
from ..functional import PADDING_MODES
from ..shapes import (_is_int, axis_names, int_tuple, padding_pairs, positive_int,
                      transposed_output_size)
from . import init
from .module import Module, Parameter


def _channels(in_channels, out_channels, groups, layer):
    """``(in_channels, out_channels, groups)`` checked: positive ints, divisible by groups."""
    in_channels = positive_int(in_channels, "in_channels", layer)
    out_channels = positive_int(out_channels, "out_channels", layer)
    groups = positive_int(groups, "groups", layer)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: in_channels ({in_channels}) and out_channels "
                         f"({out_channels}) must both be divisible by groups ({groups})")
    return in_channels, out_channels, groups


class _ConvNd(Module):
    """What every convolution layer shares; ``spatial`` is its number of spatial axes."""

    spatial = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, dtype, output_padding=0):
        super().__init__()
        layer = type(self).__name__
        spatial = self.spatial
        self.in_channels, self.out_channels, self.groups = _channels(
            in_channels, out_channels, groups, layer)
        self.kernel_size = int_tuple(kernel_size, spatial, "kernel_size", layer)
        self.stride = int_tuple(stride, spatial, "stride", layer)
        self.dilation = int_tuple(dilation, spatial, "dilation", layer)
        self.output_padding = int_tuple(output_padding, spatial, "output_padding", layer,
                                        minimum=0)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{layer}: padding string must be 'valid' or 'same', "
                                 f"got {padding!r}")
            self.padding = padding
        else:
            pairs = padding_pairs(padding, layer, ndim=spatial)
            symmetric = all(lo == hi for lo, hi in pairs)
            self.padding = tuple(lo for lo, _ in pairs) if symmetric else pairs
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {PADDING_MODES}, "
                             f"got {padding_mode!r}")
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        target = as_dtype(dtype).numpy if dtype is not None else np.float32
        self.weight = Parameter(np.empty(shape, dtype=target))
        self.bias = Parameter(np.empty(self.out_channels, dtype=target)) if bias else None
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


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype)

    def forward(self, input):
        function = getattr(F, f"conv{self.spatial}d")
        return function(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups, padding_mode=self.padding_mode)


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only padding_mode='zeros' is supported, "
                             f"got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding)

    def forward(self, input, output_size=None):
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(input, output_size)
        function = getattr(F, f"conv_transpose{self.spatial}d")
        return function(input, self.weight, self.bias, self.stride, self.padding,
                        output_padding, self.groups, self.dilation)

    def _output_padding_for(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule)."""
        layer, spatial = type(self).__name__, self.spatial
        shape = tuple(np.shape(input.array if hasattr(input, "array") else input))
        if len(shape) not in (spatial + 1, spatial + 2):
            raise ValueError(f"{layer}: input must be {spatial + 1}-D or {spatial + 2}-D, "
                             f"got shape {shape}")
        in_size = shape[-spatial:]
        entries = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
        names = "(height, width)" if spatial == 2 else f"({', '.join(axis_names(spatial))})"
        if (entries is None or len(entries) not in (spatial, spatial + 1, spatial + 2)
                or not all(_is_int(e) and e >= 0 for e in entries)):
            raise TypeError(f"{layer}: output_size must be {names} or a full shape "
                            f"ending in them, of non-negative ints, got {output_size!r}")
        size = tuple(int(e) for e in entries[-spatial:])
        if self.padding == "same":
            same = tuple(n * s for n, s in zip(in_size, self.stride))
            if size != same:
                raise ValueError(f"{layer}: with padding='same' the output size is input size "
                                 f"* stride = {same}; output_size {size} is not reachable")
            return (0,) * spatial
        pairs = padding_pairs(self.padding, layer, ndim=spatial)
        extra = []
        for axis, n, want, k, s, d, pad in zip(axis_names(spatial), in_size, size,
                                               self.kernel_size, self.stride, self.dilation, pairs):
            smallest = transposed_output_size(n, k, s, pad, d, 0)
            largest = smallest + max(s, d) - 1
            if not smallest <= want <= largest:
                raise ValueError(f"{layer}: output_size {tuple(size)} is not reachable: "
                                 f"the output {axis} must be between {smallest} and {largest} "
                                 f"(output_padding < max(stride, dilation))")
            extra.append(want - smallest)
        return tuple(extra)


_CONV_DOC = """{spatial}-D convolution (cross-correlation) layer, as ``torch.nn.Conv{spatial}d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or tuple of {spatial} ints
    padding : int, tuple of {spatial} ints, {spatial} (lo, hi) pairs, 'valid' or 'same'
        Beyond PyTorch: per-side padding, and 'same' with any stride
        (output ``ceil(in / stride)``).
    groups : int
    bias : bool
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}

    Shape
    -----
    input (N, C_in, {size}) or (C_in, {size}) -> output (N, C_out, {out}), with
    ``out = floor((in + pad_lo + pad_hi - dilation*(kernel-1) - 1) / stride) + 1`` per axis.

    Weights are initialised as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    ``fan_in = in_channels / groups * prod(kernel_size)``.
    """

_TRANSPOSE_DOC = """{spatial}-D transposed convolution layer, as ``torch.nn.ConvTranspose{spatial}d``.

    Weight shape is ``(in_channels, out_channels / groups, *kernel_size)`` as in PyTorch;
    per axis ``out = (in - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1)
    + output_padding + 1``. ``forward(input, output_size)`` picks the output padding
    that gives ``output_size``, as PyTorch's. Beyond PyTorch: per-side, 'valid' and
    'same' padding (``out = in * stride``).
    """

_SIZES = {1: ("L", "L_out"), 2: ("H, W", "H_out, W_out"), 3: ("D, H, W", "D_out, H_out, W_out")}


class Conv1d(_Conv):
    __doc__ = _CONV_DOC.format(spatial=1, size=_SIZES[1][0], out=_SIZES[1][1])
    spatial = 1


class Conv2d(_Conv):
    __doc__ = _CONV_DOC.format(spatial=2, size=_SIZES[2][0], out=_SIZES[2][1])
    spatial = 2


class Conv3d(_Conv):
    __doc__ = _CONV_DOC.format(spatial=3, size=_SIZES[3][0], out=_SIZES[3][1])
    spatial = 3


class ConvTranspose1d(_ConvTranspose):
    __doc__ = _TRANSPOSE_DOC.format(spatial=1)
    spatial = 1


class ConvTranspose2d(_ConvTranspose):
    __doc__ = _TRANSPOSE_DOC.format(spatial=2)
    spatial = 2


class ConvTranspose3d(_ConvTranspose):
    __doc__ = _TRANSPOSE_DOC.format(spatial=3)
    spatial = 3

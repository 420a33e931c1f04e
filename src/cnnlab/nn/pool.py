"""Pooling layers; each forward delegates to one function of :mod:`cnnlab.functional`."""

from __future__ import annotations

from .. import functional as F
from ..functional.pool import _adaptive_entries, _divisor, _flag, _norm_type
from ..shapes import int_pair, padding_pairs
from .module import Module


def _check_window(layer, kernel_size, stride, padding, dilation=1):
    """Check a pooling layer's window arguments when it is built, naming the layer.

    The values are stored as given (the repr shows them as written); the functional
    op normalises them again, with the input's size, at each call.
    """
    int_pair(kernel_size, "kernel_size", layer)
    if stride is not None:
        int_pair(stride, "stride", layer)
    int_pair(dilation, "dilation", layer)
    if not (isinstance(padding, str) and padding == "same"):
        padding_pairs(padding, layer)


def _torch_repr(shown, beyond=()):
    """PyTorch's repr: every ``(name, value)`` in ``shown`` as PyTorch prints them, then
    the beyond-PyTorch ``(name, value, default)`` arguments that are not the default."""
    parts = [f"{name}={value}" for name, value in shown]
    parts += [f"{name}={value!r}" for name, value, default in beyond if value != default]
    return ", ".join(parts)


def _as_pair(value):
    """An int as ``(value, value)`` (PyTorch's ``_pair``), anything else as given."""
    return (value, value) if isinstance(value, int) else value


class MaxPool2d(Module):
    """Max pooling, as ``torch.nn.MaxPool2d`` (stride defaults to kernel_size).

    Beyond PyTorch: per-side and 'same' padding, padding larger than kernel_size // 2
    (every window must still overlap the input). Ties: the first maximum of a window, in
    row-major order, receives the gradient.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        _check_window("MaxPool2d", kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = _flag(return_indices, "return_indices", "MaxPool2d")
        self.ceil_mode = _flag(ceil_mode, "ceil_mode", "MaxPool2d")

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return _torch_repr([("kernel_size", self.kernel_size), ("stride", self.stride),
                            ("padding", self.padding), ("dilation", self.dilation),
                            ("ceil_mode", self.ceil_mode)])


class AvgPool2d(Module):
    """Average pooling, as ``torch.nn.AvgPool2d``; beyond PyTorch: ``dilation``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, dilation=1):
        super().__init__()
        layer = "AvgPool2d"
        _check_window(layer, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = _flag(ceil_mode, "ceil_mode", layer)
        self.count_include_pad = _flag(count_include_pad, "count_include_pad", layer)
        self.divisor_override = _divisor(divisor_override, layer)
        self.dilation = dilation

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override, dilation=self.dilation)

    def extra_repr(self):
        return _torch_repr([("kernel_size", self.kernel_size), ("stride", self.stride),
                            ("padding", self.padding)], [("dilation", self.dilation, 1)])


class LPPool2d(Module):
    """Power-average pooling ``(sum |x|^p)^(1/p)``, as ``torch.nn.LPPool2d``.

    Beyond PyTorch: the absolute value (PyTorch returns NaN for odd p and negative
    inputs), and ``padding`` / ``dilation``.
    """

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False, padding=0,
                 dilation=1):
        super().__init__()
        _norm_type(norm_type, "LPPool2d")
        _check_window("LPPool2d", kernel_size, stride, padding, dilation)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = _flag(ceil_mode, "ceil_mode", "LPPool2d")
        self.padding = padding
        self.dilation = dilation

    def forward(self, input):
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode,
                           padding=self.padding, dilation=self.dilation)

    def extra_repr(self):
        return _torch_repr([("norm_type", self.norm_type), ("kernel_size", self.kernel_size),
                            ("stride", self.stride), ("ceil_mode", self.ceil_mode)],
                           [("padding", self.padding, 0), ("dilation", self.dilation, 1)])


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool2d``."""

    def __init__(self, output_size):
        super().__init__()
        _adaptive_entries("AdaptiveAvgPool2d", output_size)
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size!r}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size, as ``torch.nn.AdaptiveMaxPool2d``."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        _adaptive_entries("AdaptiveMaxPool2d", output_size)
        self.output_size = output_size
        self.return_indices = _flag(return_indices, "return_indices", "AdaptiveMaxPool2d")

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return _torch_repr([("output_size", self.output_size)])


class MaxUnpool2d(Module):
    """Partial inverse of ``MaxPool2d``: values scattered back to their indices."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        if isinstance(padding, str):
            raise TypeError(f"MaxUnpool2d: padding must be an int, (pad_h, pad_w) or "
                            f"((top, bottom), (left, right)), got {padding!r}")
        _check_window("MaxUnpool2d", kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return _torch_repr([("kernel_size", _as_pair(self.kernel_size)),
                            ("stride", _as_pair(self.stride)), ("padding", _as_pair(self.padding))])

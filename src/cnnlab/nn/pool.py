"""Pooling layers in 1, 2 and 3 dimensions; each forward delegates to one function of
:mod:`cnnlab.functional`.

One class per pool family holds the arguments, the checks and PyTorch's repr; the
``1d``/``2d``/``3d`` layers only say how many spatial axes they pool.
"""

from __future__ import annotations

from .. import functional as F
from ..functional.adaptive_pool import check_output_size
from ..functional.pool import check_divisor, check_norm_type
from ..shapes import check_flag, int_tuple, padding_pairs
from .module import Module


def _check_window(layer, spatial, kernel_size, stride, padding, dilation=1):
    """Check a pooling layer's window arguments when it is built, naming the layer.

    The values are stored as given (the repr shows them as written); the functional
    op normalises them again, with the input's size, at each call.
    """
    int_tuple(kernel_size, spatial, "kernel_size", layer)
    if not (stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)):
        int_tuple(stride, spatial, "stride", layer)   # None or () means kernel_size
    int_tuple(dilation, spatial, "dilation", layer)
    if not (isinstance(padding, str) and padding == "same"):
        padding_pairs(padding, layer, ndim=spatial)


def _torch_repr(shown, beyond=()):
    """PyTorch's repr: every ``(name, value)`` in ``shown`` as PyTorch prints them, then
    the beyond-PyTorch ``(name, value, default)`` arguments that are not the default."""
    parts = [f"{name}={value}" for name, value in shown]
    parts += [f"{name}={value!r}" for name, value, default in beyond if value != default]
    return ", ".join(parts)


def _as_tuple(value, spatial):
    """An int as ``spatial`` copies (PyTorch's ``_single``/``_pair``/``_triple``)."""
    return (value,) * spatial if isinstance(value, int) else value


class _MaxPoolNd(Module):
    spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        layer = type(self).__name__
        _check_window(layer, self.spatial, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = check_flag(return_indices, "return_indices", layer)
        self.ceil_mode = check_flag(ceil_mode, "ceil_mode", layer)

    def forward(self, input):
        function = getattr(F, f"max_pool{self.spatial}d")
        return function(input, self.kernel_size, self.stride, self.padding, self.dilation,
                        ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return _torch_repr([("kernel_size", self.kernel_size), ("stride", self.stride),
                            ("padding", self.padding), ("dilation", self.dilation),
                            ("ceil_mode", self.ceil_mode)])


class _AvgPoolNd(Module):
    spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, dilation=1):
        super().__init__()
        layer = type(self).__name__
        _check_window(layer, self.spatial, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        if self.spatial == 1:   # PyTorch's AvgPool1d stores its sizes as 1-tuples
            self.kernel_size, self.stride, self.padding = (
                _as_tuple(v, 1) for v in (self.kernel_size, self.stride, self.padding))
        self.ceil_mode = check_flag(ceil_mode, "ceil_mode", layer)
        self.count_include_pad = check_flag(count_include_pad, "count_include_pad", layer)
        self.divisor_override = check_divisor(divisor_override, layer)
        self.dilation = dilation

    def forward(self, input):
        function = getattr(F, f"avg_pool{self.spatial}d")
        return function(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                        self.count_include_pad, self.divisor_override, dilation=self.dilation)

    def extra_repr(self):
        return _torch_repr([("kernel_size", self.kernel_size), ("stride", self.stride),
                            ("padding", self.padding)], [("dilation", self.dilation, 1)])


class _LPPoolNd(Module):
    spatial = 2

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False, padding=0,
                 dilation=1):
        super().__init__()
        layer = type(self).__name__
        check_norm_type(norm_type, layer)
        _check_window(layer, self.spatial, kernel_size, stride, padding, dilation)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = check_flag(ceil_mode, "ceil_mode", layer)
        self.padding = padding
        self.dilation = dilation

    def forward(self, input):
        function = getattr(F, f"lp_pool{self.spatial}d")
        return function(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode,
                        padding=self.padding, dilation=self.dilation)

    def extra_repr(self):
        return _torch_repr([("norm_type", self.norm_type), ("kernel_size", self.kernel_size),
                            ("stride", self.stride), ("ceil_mode", self.ceil_mode)],
                           [("padding", self.padding, 0), ("dilation", self.dilation, 1)])


class _AdaptiveAvgPoolNd(Module):
    spatial = 2

    def __init__(self, output_size):
        super().__init__()
        check_output_size(type(self).__name__, self.spatial, output_size)
        self.output_size = output_size

    def forward(self, input):
        return getattr(F, f"adaptive_avg_pool{self.spatial}d")(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size!r}"


class _AdaptiveMaxPoolNd(Module):
    spatial = 2

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        layer = type(self).__name__
        check_output_size(layer, self.spatial, output_size)
        self.output_size = output_size
        self.return_indices = check_flag(return_indices, "return_indices", layer)

    def forward(self, input):
        function = getattr(F, f"adaptive_max_pool{self.spatial}d")
        return function(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return _torch_repr([("output_size", self.output_size)])


class _MaxUnpoolNd(Module):
    spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        layer = type(self).__name__
        if isinstance(padding, str):
            forms = ("an int, (pad_h, pad_w) or ((top, bottom), (left, right))"
                     if self.spatial == 2 else
                     f"an int, a tuple of {self.spatial} ints or {self.spatial} (lo, hi) pairs")
            raise TypeError(f"{layer}: padding must be {forms}, got {padding!r}")
        _check_window(layer, self.spatial, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, input, indices, output_size=None):
        function = getattr(F, f"max_unpool{self.spatial}d")
        return function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return _torch_repr([(name, _as_tuple(getattr(self, name), self.spatial))
                            for name in ("kernel_size", "stride", "padding")])


_WINDOWED = """

    Beyond PyTorch: per-side and 'same' padding, padding larger than kernel_size // 2
    (every window must still overlap the input), and for average and Lp pooling
    ``dilation``."""


class MaxPool1d(_MaxPoolNd):
    """Max pooling over ``(N, C, L)``, as ``torch.nn.MaxPool1d``.""" + _WINDOWED
    spatial = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling, as ``torch.nn.MaxPool2d`` (stride defaults to kernel_size).

    Ties: the first maximum of a window, in row-major order, receives the gradient.""" \
        + _WINDOWED
    spatial = 2


class MaxPool3d(_MaxPoolNd):
    """Max pooling over ``(N, C, D, H, W)``, as ``torch.nn.MaxPool3d``.""" + _WINDOWED
    spatial = 3


class AvgPool1d(_AvgPoolNd):
    """Average pooling over ``(N, C, L)``, as ``torch.nn.AvgPool1d`` (beyond PyTorch:
    ``divisor_override``).""" + _WINDOWED
    spatial = 1


class AvgPool2d(_AvgPoolNd):
    """Average pooling, as ``torch.nn.AvgPool2d``.""" + _WINDOWED
    spatial = 2


class AvgPool3d(_AvgPoolNd):
    """Average pooling over ``(N, C, D, H, W)``, as ``torch.nn.AvgPool3d``.""" + _WINDOWED
    spatial = 3


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(sum |x|^p)^(1/p)``, as ``torch.nn.LPPool1d``.""" + _WINDOWED
    spatial = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling ``(sum |x|^p)^(1/p)``, as ``torch.nn.LPPool2d``; beyond PyTorch
    the absolute value (PyTorch returns NaN for odd p and negative inputs).""" + _WINDOWED
    spatial = 2


class LPPool3d(_LPPoolNd):
    """Power-average pooling ``(sum |x|^p)^(1/p)``, as ``torch.nn.LPPool3d``.""" + _WINDOWED
    spatial = 3


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool1d``."""
    spatial = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool2d``."""
    spatial = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool3d``."""
    spatial = 3


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output size, as ``torch.nn.AdaptiveMaxPool1d``."""
    spatial = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output size, as ``torch.nn.AdaptiveMaxPool2d``."""
    spatial = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed output size, as ``torch.nn.AdaptiveMaxPool3d``."""
    spatial = 3


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool1d``: values scattered back to their indices."""
    spatial = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool2d``: values scattered back to their indices."""
    spatial = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool3d``: values scattered back to their indices."""
    spatial = 3

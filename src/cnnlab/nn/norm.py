"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``InstanceNorm1d/2d/3d``, ``LayerNorm`` and
``GroupNorm``.

Each forward delegates to one function of :mod:`cnnlab.functional.normalization`.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..dtypes import as_dtype
from ..shapes import check_flag, positive_int
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


def _eps(value, layer):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{layer}: eps must be a non-negative number, got {value!r}")
    return value


def _float_dtype(dtype):
    return as_dtype(dtype).numpy if dtype is not None else np.dtype(np.float32)


def _register_affine(module, enabled, shape, dtype, bias) -> None:
    """The learnable ``weight`` and ``bias`` of ``shape`` (set by :func:`_reset_affine`),
    or ``None`` for both when ``enabled`` is false; ``bias=False`` drops only the bias."""
    if not enabled:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
        return
    module.weight = Parameter(np.empty(shape, dtype=dtype))
    if bias:
        module.bias = Parameter(np.empty(shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


def _reset_affine(module) -> None:
    """``weight`` to ones and ``bias`` to zeros, where they exist."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Parameters, running statistics and their reset, shared by the batch norms.

    ``num_features`` may be 0 only for the lazy variants, whose parameters and buffers
    are replaced by placeholders until the first forward.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        layer = type(self).__name__
        if isinstance(num_features, (bool, np.bool_)) or not isinstance(
                num_features, (numbers.Integral, np.integer)) or num_features < 0:
            raise TypeError(f"{layer}: num_features must be a positive int, "
                            f"got {num_features!r}")
        if momentum is not None and (isinstance(momentum, (bool, np.bool_))
                                     or not isinstance(momentum, numbers.Real)):
            raise TypeError(f"{layer}: momentum must be a number or None (cumulative "
                            f"average), got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = _eps(eps, layer)
        self.momentum = momentum
        self.affine = check_flag(affine, "affine", layer)
        self.track_running_stats = check_flag(track_running_stats, "track_running_stats",
                                              layer)
        target = _float_dtype(dtype)
        _register_affine(self, self.affine, (self.num_features,), target, bias)
        if self.track_running_stats:
            self.register_buffer("running_mean",
                                 Tensor._wrap(np.zeros(self.num_features, dtype=target)))
            self.register_buffer("running_var",
                                 Tensor._wrap(np.ones(self.num_features, dtype=target)))
            self.register_buffer("num_batches_tracked",
                                 Tensor._wrap(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    @no_grad()
    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _input_dims = (2, 3)
    _input_text = "2D or 3D"

    def _check_input_dim(self, input):
        ndim = input.dim() if isinstance(input, Tensor) else np.ndim(input)
        if ndim not in self._input_dims:
            raise ValueError(f"{type(self).__name__}: expected {self._input_text} input "
                             f"(got {ndim}D input)")

    def _channel_axis(self, input) -> int:
        self._check_input_dim(input)
        return 1

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                # cumulative moving average: the k-th batch gets weight 1/k
                factor = 1.0 / float(self.num_batches_tracked.array)
        # Batch statistics while training, and in evaluation when nothing was tracked.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, as ``torch.nn.BatchNorm1d``.

    Parameters
    ----------
    num_features : int
        C.
    eps : float, default 1e-5
    momentum : float or None, default 0.1
        Weight of the newest batch in the running statistics; ``None`` gives the
        cumulative moving average (batch k weighted 1/k).
    affine : bool, default True
        Learn a per-channel ``weight`` (ones) and ``bias`` (zeros).
    track_running_stats : bool, default True
        Keep ``running_mean``, ``running_var`` (unbiased batch variance) and
        ``num_batches_tracked`` buffers and normalise with them in evaluation.
    bias : bool, keyword-only, default True

    Shape
    -----
    input (N, C) or (N, C, L) -> output of the same shape.
    """

    _input_dims = (2, 3)
    _input_text = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, as ``torch.nn.BatchNorm2d``.

    Parameters as :class:`BatchNorm1d`; statistics per channel over N, H and W.
    """

    _input_dims = (4,)
    _input_text = "4D"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) input, as ``torch.nn.BatchNorm3d``."""

    _input_dims = (5,)
    _input_text = "5D"


class _InstanceNorm(_NormBase):
    """Instance normalisation: parameters and running statistics as the batch norms,
    defaults ``affine=False, track_running_stats=False`` (PyTorch's)."""

    _spatial = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _check_input_dim(self, input):
        ndim = input.dim() if isinstance(input, Tensor) else np.ndim(input)
        unbatched = self._spatial + 1
        if ndim not in (unbatched, unbatched + 1):
            raise ValueError(f"{type(self).__name__}: expected {unbatched}D or "
                             f"{unbatched + 1}D input (got {ndim}D input)")
        return ndim

    def _channel_axis(self, input) -> int:
        return 0 if self._check_input_dim(input) == self._spatial + 1 else 1

    def forward(self, input):
        layer = type(self).__name__
        if self._channel_axis(input) == 0:   # no batch axis: add one, as PyTorch
            return self.forward(input.unsqueeze(0)).squeeze(0)
        channels = input.shape[1]
        if self.affine and channels != self.num_features:
            raise ValueError(f"{layer}: expected input's size at dim=1 to match num_features "
                             f"({self.num_features}), but got: {channels}.")
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, use_input_stats,
                               0.0 if self.momentum is None else self.momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) input, as ``torch.nn.InstanceNorm1d``."""

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) input, as
    ``torch.nn.InstanceNorm2d``: each channel of each image standardised over its pixels."""

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) input."""

    _spatial = 3


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape``, as ``torch.nn.LayerNorm``.

    Parameters
    ----------
    normalized_shape : int or tuple of int
    eps : float, default 1e-5
    elementwise_affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``.
    bias : bool, default True

    Shape
    -----
    input (*, *normalized_shape) -> output of the same shape.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        layer = "LayerNorm"
        if isinstance(normalized_shape, (numbers.Integral, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(positive_int(n, "normalized_shape", layer)
                                      for n in normalized_shape)
        self.eps = _eps(eps, layer)
        self.elementwise_affine = check_flag(elementwise_affine, "elementwise_affine", layer)
        _register_affine(self, self.elementwise_affine, self.normalized_shape,
                         _float_dtype(dtype), bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation, as ``torch.nn.GroupNorm``.

    Parameters
    ----------
    num_groups : int
        Dividing ``num_channels``; each group is normalised over its channels and
        positions, per sample.
    num_channels : int
    eps : float, default 1e-5
    affine : bool, default True
        Learn a per-channel ``weight`` (ones) and ``bias`` (zeros).
    bias : bool, keyword-only, default True

    Shape
    -----
    input (N, C, *) -> output of the same shape.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        layer = "GroupNorm"
        self.num_groups = positive_int(num_groups, "num_groups", layer)
        self.num_channels = positive_int(num_channels, "num_channels", layer)
        if self.num_channels % self.num_groups:
            raise ValueError(f"{layer}: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.eps = _eps(eps, layer)
        self.affine = check_flag(affine, "affine", layer)
        _register_affine(self, self.affine, (self.num_channels,), _float_dtype(dtype), bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")

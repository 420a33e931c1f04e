"""Lazy layers: the input size is read from the first batch, as ``torch.nn.LazyConv2d``.

A lazy layer is built without its input size (``LazyLinear(10)``, ``LazyConv2d(6, 5)``).
Its parameters (and batch norm's running statistics) are placeholders
(:class:`UninitializedParameter`, :class:`UninitializedBuffer`) until the first call.
That call reads the input's size, gives every placeholder its shape **in place** (the
same Python object, so an optimiser built before the dry run keeps working),
initialises them exactly as the eager layer's ``reset_parameters`` does (the same
random draws), and turns the module into the eager class: after ``net(x)``,
``type(layer) is nn.Conv2d`` (PyTorch's ``cls_to_become``).

Before that first call a placeholder has no shape or values: using one in a
computation, ``.shape`` or ``numel()`` raises, as in PyTorch. An optimiser over
placeholders may be stepped (they have no gradient and are skipped).
``load_state_dict`` gives placeholders the shapes of the loaded values (the layer
stays lazy until its first call, as in PyTorch).

Making another layer lazy takes a subclass of :class:`LazyModuleMixin` and the eager
class with ``cls_to_become`` set, an ``__init__`` that calls :meth:`_build_lazy`, and an
``initialize_parameters(input)`` that materialises the placeholders and calls
``reset_parameters()``; :class:`_LazyConvMixin` does this for convolutions of any rank
(``LazyConv1d`` is ``class LazyConv1d(_LazyConv, Conv1d): cls_to_become = Conv1d``).
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..ops import as_tensor
from ..tensor import Tensor
from .basic import Linear
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .module import Module, Parameter
from .norm import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d,
                   InstanceNorm3d)

__all__ = ["LazyModuleMixin", "UninitializedParameter", "UninitializedBuffer", "LazyLinear",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

_USE_MESSAGE = ("Attempted to use an uninitialized parameter (a lazy layer's parameter or "
                "buffer before its first forward). When using lazy modules, call forward "
                "with a dummy batch to initialize the parameters before using them "
                "(e.g. net(cnnlab.zeros(1, 1, 28, 28)))")


class UninitializedTensorMixin:
    """A placeholder without shape or values until :meth:`materialize` gives it both.

    ``materialize`` turns the object into ``cls_to_become`` (Parameter or Tensor) in
    place. Until then, reading ``.shape`` raises RuntimeError and any computation with it
    ValueError, as in PyTorch.
    """

    is_uninitialized = True
    cls_to_become = None

    def _init_placeholder(self, requires_grad, dtype):
        self.grad = None
        self._node = None
        self._retains_grad = False
        self.requires_grad = bool(requires_grad)
        self._materialize_dtype = np.dtype(np.float32 if dtype is None else dtype)

    @property
    def array(self):
        raise ValueError(_USE_MESSAGE)

    @array.setter
    def array(self, value):
        raise ValueError(_USE_MESSAGE)

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. Call forward "
            "to initialize the parameters before accessing their attributes.")

    @property
    def dtype(self):
        from ..dtypes import from_numpy_dtype

        return from_numpy_dtype(self._materialize_dtype)

    def set_materialize_dtype(self, dtype) -> None:
        """The floating dtype the values will have (``module.to(dtype)`` before the dry run)."""
        self._materialize_dtype = np.dtype(dtype)

    def requires_grad_(self, requires_grad: bool = True):
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        raise ValueError(_USE_MESSAGE)

    def materialize(self, shape, dtype=None) -> None:
        """Become a ``cls_to_become`` of ``shape`` (uninitialised values) in place."""
        dtype = self._materialize_dtype if dtype is None else np.dtype(dtype)
        del self._materialize_dtype
        self.__class__ = self.cls_to_become
        self.array = np.empty(tuple(int(n) for n in shape), dtype=dtype)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A lazy layer's parameter before the first forward; becomes a :class:`Parameter`."""

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        self._init_placeholder(requires_grad, dtype)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A lazy layer's buffer before the first forward; becomes a plain Tensor."""

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        self._init_placeholder(requires_grad, dtype)


class LazyModuleMixin:
    """Shape the placeholders from the first input, then become ``cls_to_become``.

    Subclasses define ``initialize_parameters(*inputs)``: materialise every placeholder
    from the inputs' sizes, then call ``self.reset_parameters()``.
    """

    cls_to_become = None

    def _build_lazy(self, eager_class, *args, **kwargs):
        """Run ``eager_class.__init__`` without its initialisation, then put placeholders
        in place of every floating parameter and buffer it created.

        The eager constructor is called with a stand-in input size (chosen by the caller
        so that its checks pass); the placeholders remember each tensor's dtype.
        """
        object.__setattr__(self, "_lazy_building", True)
        try:
            eager_class.__init__(self, *args, **kwargs)
        finally:
            self.__dict__.pop("_lazy_building", None)
        for name, param in list(self._parameters.items()):
            if param is not None:
                self._parameters[name] = UninitializedParameter(
                    param.requires_grad, dtype=param.array.dtype)
        for name, buffer in list(self._buffers.items()):
            if buffer is not None and buffer.array.dtype.kind == "f":
                self._buffers[name] = UninitializedBuffer(dtype=buffer.array.dtype)

    def reset_parameters(self) -> None:
        # Nothing to initialise while building or before the shapes are known.
        if self.__dict__.get("_lazy_building") or self.has_uninitialized_params():
            return
        super().reset_parameters()

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer of this module is still a placeholder."""
        for table in (self._parameters, self._buffers):
            for value in table.values():
                if getattr(value, "is_uninitialized", False):
                    return True
        return False

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define initialize_parameters()")

    def __call__(self, *args, **kwargs):
        if self.has_uninitialized_params():
            with no_grad():
                self.initialize_parameters(*args, **kwargs)
            if self.has_uninitialized_params():
                raise RuntimeError(f"{type(self).__name__}: initialize_parameters() left "
                                   "parameters uninitialized")
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become
        return Module.__call__(self, *args, **kwargs)


# ------------------------------------------------------------------ layers


def _input_tensor(input, layer):
    return as_tensor(input, layer, "input")


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the last dimension of the first input.

    Examples
    --------
    >>> import cnnlab
    >>> layer = cnnlab.nn.LazyLinear(3)
    >>> layer
    LazyLinear(in_features=0, out_features=3, bias=True)
    >>> _ = layer(cnnlab.zeros(2, 5)); layer
    Linear(in_features=5, out_features=3, bias=True)
    """

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        self._build_lazy(Linear, 0, out_features, bias, device, dtype)

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        input = _input_tensor(input, type(self).__name__)
        if input.ndim == 0:
            raise ValueError(f"{type(self).__name__}: input must have at least 1 dimension "
                             f"(*, in_features), got a 0-d tensor")
        self.in_features = int(input.array.shape[-1])
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    """``in_channels`` from the first input, for convolutions of any spatial rank.

    The spatial rank is ``len(self.kernel_size)``; ``transposed`` says whether the weight
    is (in, out / groups, *kernel) (transposed) or (out, in / groups, *kernel).
    """

    transposed = False

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        layer = type(self).__name__
        input = _input_tensor(input, layer)
        spatial = len(self.kernel_size)
        if input.ndim not in (spatial + 1, spatial + 2):
            raise ValueError(f"{layer}: expected {spatial + 1}D (unbatched) or {spatial + 2}D "
                             f"(batched) input, got input of shape {tuple(input.shape)}")
        in_channels = int(input.array.shape[input.ndim - spatial - 1])
        if in_channels == 0 or in_channels % self.groups:
            raise ValueError(f"{layer}: the input's {in_channels} channels must be a positive "
                             f"multiple of groups ({self.groups})")
        self.in_channels = in_channels
        if self.transposed:
            shape = (in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, in_channels // self.groups)
        self.weight.materialize(shape + tuple(self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _after_build(self) -> None:
        # The repr shows in_channels=0 until the first forward, as PyTorch's.
        self.in_channels = 0


class _LazyConv(_LazyConvMixin):
    """``ConvNd`` arguments without ``in_channels``; ``cls_to_become`` is the eager class."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        # ``groups`` input channels stand in for the unknown count in the eager checks.
        self._build_lazy(self.cls_to_become, groups, out_channels, kernel_size, stride,
                         padding, dilation, groups, bias, padding_mode, device, dtype)
        self._after_build()


class _LazyConvTranspose(_LazyConvMixin):
    """``ConvTransposeNd`` arguments without ``in_channels``."""

    transposed = True

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        self._build_lazy(self.cls_to_become, groups, out_channels, kernel_size, stride,
                         padding, output_padding, groups, bias, dilation, padding_mode, device,
                         dtype)
        self._after_build()


class LazyConv1d(_LazyConv, Conv1d):
    """``Conv1d`` whose ``in_channels`` is the channel count of the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """``Conv2d`` whose ``in_channels`` is the channel count of the first input.

    Arguments as :class:`Conv2d` without ``in_channels``.

    Examples
    --------
    >>> import cnnlab
    >>> layer = cnnlab.nn.LazyConv2d(6, kernel_size=5, padding=2)
    >>> _ = layer(cnnlab.zeros(1, 3, 8, 8)); type(layer).__name__, tuple(layer.weight.shape)
    ('Conv2d', (6, 3, 5, 5))
    """

    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """``Conv3d`` whose ``in_channels`` is the channel count of the first input."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """``ConvTranspose1d`` whose ``in_channels`` is the channel count of the first input."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """``ConvTranspose2d`` whose ``in_channels`` is the channel count of the first input."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """``ConvTranspose3d`` whose ``in_channels`` is the channel count of the first input."""

    cls_to_become = ConvTranspose3d


class _LazyNormMixin(LazyModuleMixin):
    """``num_features`` from the channel axis (1) of the first input."""

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        input = _input_tensor(input, type(self).__name__)
        self.num_features = int(input.array.shape[self._channel_axis(input)])
        for name in ("weight", "bias", "running_mean", "running_var"):
            value = getattr(self, name)
            if value is not None:
                value.materialize((self.num_features,))
        self.reset_parameters()


class _LazyNorm(_LazyNormMixin):
    """``BatchNormNd`` / ``InstanceNormNd`` arguments without ``num_features``, for the
    layer ``cls_to_become``; the defaults are PyTorch's for the lazy ones,
    ``affine=True, track_running_stats=True`` (the eager instance norms' are False)."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        self._build_lazy(self.cls_to_become, 0, eps, momentum, affine, track_running_stats,
                         device, dtype, bias=bias)


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    """``BatchNorm1d`` whose ``num_features`` is the channel count of the first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` is the channel count of the first input."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    """``BatchNorm3d`` whose ``num_features`` is the channel count of the first input."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyNorm, InstanceNorm1d):
    """``InstanceNorm1d`` whose ``num_features`` is the channel count of the first input."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyNorm, InstanceNorm2d):
    """``InstanceNorm2d`` whose ``num_features`` is the channel count of the first input."""

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyNorm, InstanceNorm3d):
    """``InstanceNorm3d`` whose ``num_features`` is the channel count of the first input."""

    cls_to_become = InstanceNorm3d

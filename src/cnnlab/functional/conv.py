"""Convolution in 1, 2 and 3 spatial dimensions, as in ``torch.nn.functional``.

Arguments are checked and normalised here, once (:mod:`cnnlab.shapes`); the arithmetic
is in :mod:`cnnlab.kernels.conv` (im2col + one matrix product per group), the same
code for every number of spatial axes. Every function takes Tensors, NumPy arrays or
nested lists, batched or unbatched, and is differentiable with respect to each Tensor
argument. Transposed convolutions are in :mod:`cnnlab.functional.conv_transpose`,
``unfold``/``fold`` in :mod:`cnnlab.functional.im2col`.

Beyond PyTorch: per-side padding (``((top, bottom), (left, right))`` in 2-D),
``'same'`` padding with any stride, a ``padding_mode`` argument (as on
``nn.Conv2d``), and exact integer convolution (int64 accumulation).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autograd import needs_grad, record
from ..dtypes import opmath_dtype
from ..kernels import conv as conv_kernels
from ..kernels import geometry
from ..ops import as_tensor
from ..shapes import _is_int, int_tuple, padding_pairs, window_output_shape
from ..kernels.window import check_fits
from ..tensor import Tensor
from ._common import (LAYOUTS, PlanCache, empty_result, exact_key, matching_dtypes,
                      restore_batch, spatial_input)

__all__ = ["PADDING_MODES", "conv1d", "conv2d", "conv3d"]

#: The ``padding_mode`` values (PyTorch's names), from the kernels' table.
PADDING_MODES = tuple(geometry.PADDING_MODES)


# -------------------------------------------------------------------- checks


def check_weight(weight, function: str, spatial: int = 2):
    """``weight`` as a Tensor with ``spatial + 2`` non-empty dimensions."""
    weight = as_tensor(weight, function, "weight")
    shape = tuple(weight.array.shape)
    if len(shape) != spatial + 2:
        raise ValueError(f"{function}: weight must be {spatial + 2}-D, got shape {shape}")
    if min(shape) < 1:
        raise ValueError(f"{function}: weight must have no empty dimension, got shape {shape}")
    return weight


def check_groups(groups, function: str) -> int:
    if not _is_int(groups):
        raise TypeError(f"{function}: groups must be an int >= 1, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{function}: groups must be >= 1, got {groups!r}")
    return int(groups)


def check_bias(bias, out_channels: int, function: str):
    if bias is None:
        return None
    bias = as_tensor(bias, function, "bias")
    if tuple(bias.array.shape) != (out_channels,):
        raise ValueError(f"{function}: bias must have shape ({out_channels},) (one value per "
                         f"output channel), got shape {tuple(bias.array.shape)}")
    return bias


def check_padding_mode(padding_mode, function: str) -> str:
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"{function}: padding_mode must be one of {PADDING_MODES}, "
                         f"got {padding_mode!r}")
    return padding_mode


def arrays_in(dtype, *tensors):
    """The arrays of ``tensors`` (None stays None) in the dtype the result ``dtype`` is
    computed in (:func:`cnnlab.dtypes.opmath_dtype`: float32 for float16)."""
    dtype = opmath_dtype(dtype)
    return tuple([None if t is None else t.array.astype(dtype, copy=False) for t in tensors])


def wants(tensor) -> bool:
    return tensor is not None and tensor.requires_grad


def record_optional(name, out, inputs, backward):
    """Record ``out`` with the non-None ``inputs``; ``backward`` returns one grad per input."""
    present = tuple([t for t in inputs if t is not None])
    if len(present) == len(inputs):
        return record(name, out, inputs, backward)

    def select(grad):
        grads = backward(grad)
        return tuple(g for g, t in zip(grads, inputs) if t is not None)
    return record(name, out, present, select)


# --------------------------------------------------------------- convolution


class _ConvPlan(NamedTuple):
    """A convolution's arguments, checked and normalised (:func:`_check_conv`)."""

    stride: tuple
    padding: tuple       # one (lo, hi) pair per spatial axis
    dilation: tuple
    groups: int
    padding_mode: str
    out_shape: tuple     # (N, O, *out_size)
    dtype: np.dtype      # to compute in


_PLANS = PlanCache()


def _plan_key(function, input, weight, bias, *arguments):
    """What :func:`_check_conv` depends on, as a :class:`PlanCache` key (or None)."""
    if bias is not None and not isinstance(bias, Tensor):
        return None  # converted (and checked) in _check_conv, after the other checks
    key = exact_key(*arguments)
    if key is None:
        return None
    bias_key = None if bias is None else (bias.array.shape, bias.array.dtype)
    return (function,) + key + (input.array.shape, input.array.dtype, weight.array.shape,
                                weight.array.dtype, bias_key)


def _check_conv(function, spatial, input, weight, bias, stride, padding, dilation, groups,
                padding_mode):
    """The :class:`_ConvPlan` of a call, and ``bias`` as a Tensor (or None)."""
    groups = check_groups(groups, function)
    out_channels, group_channels = weight.array.shape[:2]
    channels = input.array.shape[1]
    if group_channels * groups != channels:
        raise ValueError(
            f"{function}: input has {channels} channels, but weight of shape "
            f"{tuple(weight.array.shape)} with groups={groups} expects weight.shape[1] * groups "
            f"= {group_channels} * {groups} = {group_channels * groups} channels")
    if out_channels % groups:
        raise ValueError(f"{function}: out_channels (weight.shape[0] = {out_channels}) must be "
                         f"divisible by groups = {groups}")
    bias = check_bias(bias, out_channels, function)
    dtype = matching_dtypes(function, input, ("weight", weight), ("bias", bias))
    kernel_size = tuple(weight.array.shape[2:])
    stride = int_tuple(stride, spatial, "stride", function)
    dilation = int_tuple(dilation, spatial, "dilation", function)
    input_size = input.array.shape[2:]
    padding = padding_pairs(padding, function, input_size=input_size, kernel_size=kernel_size,
                            stride=stride, dilation=dilation)
    padding_mode = check_padding_mode(padding_mode, function)
    if padding_mode != "zeros" and min(input_size) == 0 and any(any(p) for p in padding):
        raise ValueError(f"{function}: padding_mode={padding_mode!r} cannot pad an empty "
                         f"input of spatial size {tuple(input_size)}")
    out_size = window_output_shape(function, input_size, kernel_size, stride, padding, dilation)
    out_shape = (input.array.shape[0], out_channels) + out_size
    check_fits(function, "output", out_shape, dtype)
    plan = _ConvPlan(stride, padding, dilation, groups, padding_mode, out_shape, dtype)
    return plan, bias


def convolution(function: str, spatial: int, input, weight, bias=None, stride=1, padding=0,
                dilation=1, groups=1, padding_mode="zeros"):
    """The convolution behind :func:`conv1d`, :func:`conv2d` and :func:`conv3d`.

    ``spatial`` is the number of spatial axes; ``function`` names the caller in errors.
    """
    input, batched = spatial_input(input, function, spatial=spatial)
    weight = check_weight(weight, function, spatial)
    key = _plan_key(function, input, weight, bias, stride, padding, dilation, groups,
                    padding_mode)
    plan = _PLANS.get(key)
    if plan is None:
        plan, bias = _check_conv(function, spatial, input, weight, bias, stride, padding,
                                 dilation, groups, padding_mode)
        _PLANS.put(key, plan)
    out_shape = plan.out_shape
    if out_shape[0] == 0:
        return empty_result("Convolution", (input, weight, bias), out_shape, batched,
                            plan.dtype)

    x, w, b = arrays_in(plan.dtype, input, weight, bias)
    out, cache = conv_kernels.conv_forward(x, w, b, plan.stride, plan.padding, plan.dilation,
                                           plan.groups, plan.padding_mode,
                                           out_shape=out_shape[2:],
                                           keep_cols=needs_grad(weight))
    out = out.astype(plan.dtype, copy=False)   # float16 was computed in float32

    def backward(grad):
        return conv_kernels.conv_backward(grad.astype(x.dtype, copy=False), cache,
                                          wants(input), wants(weight), wants(bias))
    return restore_batch(record_optional("Convolution", out, (input, weight, bias), backward),
                         batched)


_SHARED_DOC = """
    Parameters
    ----------
    input : Tensor, np.ndarray or nested list, shape {batched} or {unbatched}
    weight : Tensor, np.ndarray or nested list, shape {weight}
    bias : shape (O,), optional
    stride, dilation : int or tuple of {spatial} ints
    padding : int, tuple of {spatial} ints, {spatial} (lo, hi) pairs, 'valid' or 'same'
        One int per axis pads both sides; a ``(lo, hi)`` pair per axis pads each side.
        ``'same'`` gives ``ceil(in / stride)`` outputs, the odd padding element on the
        high side (TensorFlow's SAME, ONNX's SAME_UPPER).
    groups : int
        ``C`` and ``O`` must both be divisible by it; ``groups == C`` is depthwise.
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
        What the padding holds (the ``nn`` layer's argument).

    Returns
    -------
    Tensor, shape {out_batched} or {out_unbatched}
        Same dtype as ``input``; int64 when ``input`` and ``weight`` are integers.

    Raises
    ------
    ValueError
        For a wrong number of dimensions, channels that do not match
        ``weight.shape[1] * groups``, ``O`` not divisible by ``groups``, a bias of the
        wrong shape, an unknown ``padding_mode`` or a kernel larger than the padded input.
    TypeError
        For non-integer sizes or groups, and for operands of different floating dtypes
        (or a floating and an integer one).

    Notes
    -----
    Along each axis ``out = floor((in + pad_lo + pad_hi - dilation * (kernel - 1) - 1)
    / stride) + 1`` (:func:`cnnlab.shapes.output_size`). An empty batch (``N = 0``)
    gives an empty output and zero weight and bias gradients, as in PyTorch.

    Beyond PyTorch: ``F.conv{spatial}d`` has neither per-side padding, nor ``'same'``
    with a stride > 1, nor ``padding_mode`` (only the ``nn`` layer has it, and limits
    ``'reflect'`` padding to less than the input size and ``'circular'`` to one wrap;
    here any padding works, as in :func:`cnnlab.functional.pad`). Integer inputs and
    weights convolve exactly in int64; PyTorch has no integer convolution on CPU.
"""


def _doc(spatial: int, kernel: str, out: str) -> str:
    unbatched, batched = LAYOUTS[spatial]
    return _SHARED_DOC.format(
        spatial=spatial, batched=batched, unbatched=unbatched,
        weight=f"(O, C / groups, {kernel})", out_batched=f"(N, O, {out})",
        out_unbatched=f"(O, {out})")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    return convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                       padding_mode)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    return convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                       padding_mode)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    return convolution("conv3d", 3, input, weight, bias, stride, padding, dilation, groups,
                       padding_mode)


conv1d.__doc__ = """1-D convolution (cross-correlation, as in PyTorch) of ``input`` with ``weight``.
""" + _doc(1, "k", "OL") + """
    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv1d([[[1., 2., 3., 4.]]], [[[1., -1.]]], padding=((0, 1),))
    tensor([[[-1., -1., -1.,  4.]]])
    """

conv2d.__doc__ = """2-D convolution (cross-correlation, as in PyTorch) of ``input`` with ``weight``.
""" + _doc(2, "kh, kw", "OH, OW") + """
    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv2d([[[[1., 2.], [3., 4.]]]], [[[[1., 1.], [1., 1.]]]], padding=((0, 1), (0, 0)))
    tensor([[[[10.],
              [ 7.]]]])
    >>> F.conv2d([[[1, 2, 3, 4, 5]]], [[[[1, -1]]]], stride=2, padding="same")
    tensor([[[-1, -1,  5]]])
    """

conv3d.__doc__ = """3-D convolution (cross-correlation, as in PyTorch) of ``input`` with ``weight``.
""" + _doc(3, "kd, kh, kw", "OD, OH, OW") + """
    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv3d([[[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]]], [[[[[1, 1]]]]]).shape
    cnnlab.Size([1, 1, 2, 2, 1])
    """

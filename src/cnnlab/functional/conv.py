"""Convolution, transposed convolution, ``unfold`` and ``fold``, as in ``torch.nn.functional``.

Arguments are checked and normalised here, once (:mod:`cnnlab.shapes`); the arithmetic
is in :mod:`cnnlab.kernels.conv` (im2col + one matrix product per group). Every
function takes Tensors, NumPy arrays or nested lists, batched or unbatched, and is
differentiable with respect to each Tensor argument.

Beyond PyTorch: per-side padding ``((top, bottom), (left, right))``, ``'same'``
padding with any stride, a ``padding_mode`` argument on :func:`conv2d` (as on
``nn.Conv2d``), and exact integer convolution (int64 accumulation).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..autograd import needs_grad, record
from ..kernels import conv as conv_kernels
from ..ops import as_tensor, reshape
from ..shapes import (_is_int, formula, int_pair, padding_pairs, transposed_output_size,
                      transposed_same_padding, window_output_shape)
from ..kernels.window import check_fits
from ..tensor import Tensor
from ._common import (PlanCache, empty_result, exact_key, matching_dtypes, restore_batch,
                      spatial_input)

__all__ = ["conv2d", "conv_transpose2d", "fold", "unfold"]

PADDING_MODES = tuple(conv_kernels.PADDING_MODES)


# -------------------------------------------------------------------- checks


def _weight(weight, function: str):
    weight = as_tensor(weight, function, "weight")
    shape = tuple(weight.array.shape)
    if len(shape) != 4:
        raise ValueError(f"{function}: weight must be 4-D, got shape {shape}")
    if min(shape) < 1:
        raise ValueError(f"{function}: weight must have no empty dimension, got shape {shape}")
    return weight


def _groups(groups, function: str) -> int:
    if not _is_int(groups):
        raise TypeError(f"{function}: groups must be an int >= 1, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{function}: groups must be >= 1, got {groups!r}")
    return int(groups)


def _bias(bias, out_channels: int, function: str):
    if bias is None:
        return None
    bias = as_tensor(bias, function, "bias")
    if tuple(bias.array.shape) != (out_channels,):
        raise ValueError(f"{function}: bias must have shape ({out_channels},) (one value per "
                         f"output channel), got shape {tuple(bias.array.shape)}")
    return bias


def _padding_mode(padding_mode, padding, input_size, function: str) -> str:
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"{function}: padding_mode must be one of {PADDING_MODES}, "
                         f"got {padding_mode!r}")
    if padding_mode != "zeros" and min(input_size) == 0 and any(any(p) for p in padding):
        raise ValueError(f"{function}: padding_mode={padding_mode!r} cannot pad an empty "
                         f"input of spatial size {tuple(input_size)}")
    return padding_mode


def _arrays(dtype, *tensors):
    return tuple([None if t is None else t.array.astype(dtype, copy=False) for t in tensors])


def _wants(tensor) -> bool:
    return tensor is not None and tensor.requires_grad


def _record(name, out, inputs, backward):
    """Record ``out`` with the non-None ``inputs``; ``backward`` returns one grad per input."""
    present = tuple([t for t in inputs if t is not None])
    if len(present) == len(inputs):
        return record(name, out, inputs, backward)

    def select(grad):
        grads = backward(grad)
        return tuple(g for g, t in zip(grads, inputs) if t is not None)
    return record(name, out, present, select)


# -------------------------------------------------------------------- conv2d


class _Conv2dPlan(NamedTuple):
    """conv2d's arguments, checked and normalised (:func:`_check_conv2d`)."""

    stride: tuple
    padding: tuple       # ((top, bottom), (left, right))
    dilation: tuple
    groups: int
    padding_mode: str
    out_shape: tuple     # (N, O, OH, OW)
    dtype: np.dtype      # to compute in


_CONV2D_PLANS = PlanCache()


def _conv2d_key(input, weight, bias, *arguments):
    """What :func:`_check_conv2d` depends on, as a :class:`PlanCache` key (or None)."""
    if bias is not None and not isinstance(bias, Tensor):
        return None  # converted (and checked) in _check_conv2d, after the other checks
    key = exact_key(*arguments)
    if key is None:
        return None
    bias_key = None if bias is None else (bias.array.shape, bias.array.dtype)
    return key + (input.array.shape, input.array.dtype, weight.array.shape,
                  weight.array.dtype, bias_key)


def _check_conv2d(function, input, weight, bias, stride, padding, dilation, groups,
                  padding_mode):
    """The :class:`_Conv2dPlan` of a call, and ``bias`` as a Tensor (or None)."""
    groups = _groups(groups, function)
    out_channels, group_channels, kernel_h, kernel_w = weight.array.shape
    channels = input.array.shape[1]
    if group_channels * groups != channels:
        raise ValueError(
            f"{function}: input has {channels} channels, but weight of shape "
            f"{tuple(weight.array.shape)} with groups={groups} expects weight.shape[1] * groups "
            f"= {group_channels} * {groups} = {group_channels * groups} channels")
    if out_channels % groups:
        raise ValueError(f"{function}: out_channels (weight.shape[0] = {out_channels}) must be "
                         f"divisible by groups = {groups}")
    bias = _bias(bias, out_channels, function)
    dtype = matching_dtypes(function, input, ("weight", weight), ("bias", bias))
    kernel_size = (kernel_h, kernel_w)
    stride = int_pair(stride, "stride", function)
    dilation = int_pair(dilation, "dilation", function)
    input_size = input.array.shape[2:]
    padding = padding_pairs(padding, function, input_size=input_size, kernel_size=kernel_size,
                            stride=stride, dilation=dilation)
    padding_mode = _padding_mode(padding_mode, padding, input_size, function)
    out_size = window_output_shape(function, input_size, kernel_size, stride, padding, dilation)
    out_shape = (input.array.shape[0], out_channels) + out_size
    check_fits(function, "output", out_shape, dtype)
    plan = _Conv2dPlan(stride, padding, dilation, groups, padding_mode, out_shape, dtype)
    return plan, bias


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """2-D convolution (cross-correlation, as in PyTorch) of ``input`` with ``weight``.

    Parameters
    ----------
    input : Tensor, np.ndarray or nested list, shape (N, C, H, W) or (C, H, W)
    weight : Tensor, np.ndarray or nested list, shape (O, C / groups, kh, kw)
    bias : shape (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        ``(ph, pw)`` pads both sides; ``((top, bottom), (left, right))`` each side.
        ``'same'`` gives ``ceil(in / stride)`` outputs, the odd padding pixel at the
        bottom/right (TensorFlow's SAME, ONNX's SAME_UPPER).
    groups : int
        ``C`` and ``O`` must both be divisible by it; ``groups == C`` is depthwise.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        What the padding holds (``nn.Conv2d``'s argument).

    Returns
    -------
    Tensor, shape (N, O, OH, OW) or (O, OH, OW)
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
    ``OH = floor((H + top + bottom - dh * (kh - 1) - 1) / sh) + 1`` and likewise ``OW``
    (:func:`cnnlab.shapes.output_size`). An empty batch (``N = 0``) gives an empty
    output and zero weight and bias gradients, as in PyTorch.

    Beyond PyTorch: ``F.conv2d`` has neither per-side padding, nor ``'same'`` with a
    stride > 1, nor ``padding_mode`` (only ``nn.Conv2d`` has it, and it limits
    ``'reflect'`` padding to less than the input size and ``'circular'`` to one wrap;
    here any padding works, as in :func:`cnnlab.functional.pad`). Integer inputs and
    weights convolve exactly in int64; PyTorch has no integer convolution on CPU.

    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv2d([[[[1., 2.], [3., 4.]]]], [[[[1., 1.], [1., 1.]]]], padding=((0, 1), (0, 0)))
    tensor([[[[10.],
              [ 7.]]]])
    >>> F.conv2d([[[1, 2, 3, 4, 5]]], [[[[1, -1]]]], stride=2, padding="same")
    tensor([[[-1, -1,  5]]])
    """
    function = "conv2d"
    input, batched = spatial_input(input, function)
    weight = _weight(weight, function)
    key = _conv2d_key(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    plan = _CONV2D_PLANS.get(key)
    if plan is None:
        plan, bias = _check_conv2d(function, input, weight, bias, stride, padding, dilation,
                                   groups, padding_mode)
        _CONV2D_PLANS.put(key, plan)
    out_shape = plan.out_shape
    if out_shape[0] == 0:
        return empty_result("Convolution", (input, weight, bias), out_shape, batched,
                            plan.dtype)

    x, w, b = _arrays(plan.dtype, input, weight, bias)
    out, cache = conv_kernels.conv2d_forward(x, w, b, plan.stride, plan.padding, plan.dilation,
                                             plan.groups, plan.padding_mode,
                                             out_shape=out_shape[2:],
                                             keep_cols=needs_grad(weight))

    def backward(grad):
        return conv_kernels.conv2d_backward(grad, cache, _wants(input), _wants(weight),
                                            _wants(bias))
    return restore_batch(_record("Convolution", out, (input, weight, bias), backward), batched)


# ---------------------------------------------------------- conv_transpose2d


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-D transposed convolution (the gradient of :func:`conv2d` w.r.t. its input).

    Parameters
    ----------
    input : Tensor, np.ndarray or nested list, shape (N, Cin, H, W) or (Cin, H, W)
    weight : shape (Cin, Cout / groups, kh, kw)
        PyTorch's layout (in-channels first).
    bias : shape (Cout,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Rows/columns cropped from each side of the full output. ``'same'`` gives
        ``out = in * stride``: with ``total = dilation * (kernel - 1) + 1 - stride``,
        it crops ``total // 2`` at the top/left and the rest (the odd one) at the
        bottom/right; a negative ``total`` becomes ``output_padding = -total``
        instead (TensorFlow's ``conv2d_transpose`` with SAME). It is then the adjoint
        of ``conv2d(..., padding='same')`` with the same stride.
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right, each smaller than the stride or the
        dilation (PyTorch's rule); it selects among the input sizes that a strided
        convolution maps to the same output size. Must be 0 with ``'same'``.
    groups : int
        ``Cin`` must be divisible by it.

    Returns
    -------
    Tensor, shape (N, Cout, OH, OW) or (Cout, OH, OW)

    Raises
    ------
    ValueError
        For a wrong number of dimensions, ``weight.shape[0] != Cin``, ``Cin`` not
        divisible by ``groups``, a bias of the wrong shape, a too large
        ``output_padding`` or an empty output.
    TypeError
        For non-integer sizes or groups, and for mismatched dtypes.

    Notes
    -----
    ``OH = (H - 1) * sh - top - bottom + dh * (kh - 1) + output_padding_h + 1``, likewise
    ``OW`` (:func:`cnnlab.shapes.transposed_output_size`).

    Beyond PyTorch: per-side padding, ``'valid'`` and ``'same'``, and exact integer
    arithmetic (int64) for integer input and weight.

    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv_transpose2d([[[[1., 2.]]]], [[[[1., 10.]]]], stride=2)
    tensor([[[[ 1., 10.,  2., 20.]]]])
    >>> F.conv_transpose2d([[[1, 2, 3]]], [[[[1, 1, 1]]]], stride=2, padding="same").shape
    cnnlab.Size([1, 2, 6])
    """
    function = "conv_transpose2d"
    input, batched = spatial_input(input, function)
    weight = _weight(weight, function)
    groups = _groups(groups, function)
    in_channels = input.array.shape[1]
    weight_in, group_out, kernel_h, kernel_w = weight.array.shape
    if weight_in != in_channels:
        raise ValueError(
            f"{function}: input has {in_channels} channels, but weight of shape "
            f"{tuple(weight.array.shape)} expects weight.shape[0] = {weight_in} "
            "(weight is (in_channels, out_channels / groups, kh, kw))")
    if in_channels % groups:
        raise ValueError(f"{function}: in_channels ({in_channels}) must be divisible by "
                         f"groups = {groups}")
    out_channels = group_out * groups
    bias = _bias(bias, out_channels, function)
    dtype = matching_dtypes(function, input, ("weight", weight), ("bias", bias))
    kernel_size = (kernel_h, kernel_w)
    stride = int_pair(stride, "stride", function)
    dilation = int_pair(dilation, "dilation", function)
    output_padding = int_pair(output_padding, "output_padding", function, minimum=0)
    input_size = input.array.shape[2:]
    if isinstance(padding, str) and padding == "same":
        padding, output_padding = transposed_same_padding(kernel_size, stride, dilation,
                                                          output_padding, function)
    else:
        padding = padding_pairs(padding, function)
    for axis, e, s, d in zip(("height", "width"), output_padding, stride, dilation):
        if e >= s and e >= d:
            raise ValueError(
                f"{function}: output_padding must be smaller than either stride or dilation, "
                f"got output_padding {output_padding}, stride {stride}, dilation {dilation} "
                f"(fails along the {axis})")
    out_size = []
    for axis, n, k, s, p, d, e in zip(("height", "width"), input_size, kernel_size, stride,
                                      padding, dilation, output_padding):
        size = transposed_output_size(n, k, s, p, d, e)
        out_size.append(size)
        if size < 1:
            raise ValueError(
                f"{function}: the output {axis} would be {size}: out = (in - 1)*stride - "
                f"pad_lo - pad_hi + dilation*(kernel-1) + output_padding + 1 = ({n} - 1)*{s} "
                f"- {p[0]} - {p[1]} + {d}*({k}-1) + {e} + 1 = {size}; reduce the padding")
    check_fits(function, "output", (input.array.shape[0], out_channels) + tuple(out_size), dtype)
    if input.array.shape[0] == 0:
        return empty_result("ConvolutionTranspose", (input, weight, bias),
                            (0, out_channels) + tuple(out_size), batched, dtype)

    x, w, b = _arrays(dtype, input, weight, bias)
    out, cache = conv_kernels.conv_transpose2d_forward(x, w, b, stride, padding,
                                                       output_padding, groups, dilation)

    def backward(grad):
        return conv_kernels.conv_transpose2d_backward(grad, cache, _wants(input),
                                                      _wants(weight), _wants(bias))
    return restore_batch(_record("ConvolutionTranspose", out, (input, weight, bias), backward),
                         batched)


# -------------------------------------------------------------- unfold / fold


def _window_arguments(function, kernel_size, dilation, padding, stride, spatial_size):
    kernel_size = int_pair(kernel_size, "kernel_size", function)
    dilation = int_pair(dilation, "dilation", function)
    stride = int_pair(stride, "stride", function)
    padding = padding_pairs(padding, function, input_size=spatial_size,
                            kernel_size=kernel_size, stride=stride, dilation=dilation)
    return kernel_size, dilation, padding, stride


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks (im2col), as ``torch.nn.functional.unfold``.

    Parameters
    ----------
    input : shape (N, C, H, W) or (C, H, W)
    kernel_size, dilation, stride : int or (int, int)
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Zero padding; per-side pairs and strings are beyond PyTorch.

    Returns
    -------
    Tensor, shape (N, C * kh * kw, L) or (C * kh * kw, L)
        Row ``c * kh * kw + i * kw + j`` holds tap ``(i, j)`` of channel ``c`` for each
        of the ``L = OH * OW`` windows, in row-major window order.

    Notes
    -----
    ``OH = floor((H + top + bottom - dh * (kh - 1) - 1) / sh) + 1``, likewise ``OW``.
    ``conv2d(x, w)`` equals ``w.view(O, -1) @ unfold(x, kh)`` reshaped to
    ``(N, O, OH, OW)``.

    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.unfold([[[[1, 2, 3], [4, 5, 6]]]], kernel_size=2)
    tensor([[[1, 2],
             [2, 3],
             [4, 5],
             [5, 6]]])
    """
    function = "unfold"
    input, batched = spatial_input(input, function)
    input_size = input.array.shape[2:]
    kernel_size, dilation, padding, stride = _window_arguments(
        function, kernel_size, dilation, padding, stride, input_size)
    out_h, out_w = window_output_shape(function, input_size, kernel_size, stride, padding,
                                       dilation)
    shape = input.array.shape
    check_fits(function, "output", (shape[0], shape[1] * kernel_size[0] * kernel_size[1],
                                    out_h * out_w), input.array.dtype)
    if shape[0] == 0:
        return empty_result("Im2Col", input, (0, shape[1] * kernel_size[0] * kernel_size[1],
                                             out_h * out_w), batched)
    out = conv_kernels.unfold_forward(input.array, kernel_size, dilation, padding, stride)

    def backward(grad):
        return (conv_kernels.unfold_backward(grad, shape, kernel_size, dilation, padding,
                                             stride),)
    return restore_batch(record("Im2Col", out, (input,), backward), batched)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding local blocks into an image (col2im), as ``torch.nn.functional.fold``.

    Parameters
    ----------
    input : shape (N, C * kh * kw, L) or (C * kh * kw, L)
        ``L`` must equal the number of windows over the padded ``output_size``.
    output_size : int or (int, int)
        ``(H, W)`` of the result.
    kernel_size, dilation, stride : int or (int, int)
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Per-side pairs and strings are beyond PyTorch.

    Returns
    -------
    Tensor, shape (N, C, H, W) or (C, H, W)
        Entries covered by several blocks get the sum; :func:`fold` is the adjoint
        (not the inverse) of :func:`unfold`.

    Notes
    -----
    ``L = OH * OW`` with ``OH = floor((H + top + bottom - dh * (kh - 1) - 1) / sh) + 1``.

    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.fold([[[1, 1], [1, 1], [1, 1], [1, 1]]], output_size=(2, 3), kernel_size=2)
    tensor([[[[1, 2, 1],
              [1, 2, 1]]]])
    """
    function = "fold"
    tensor = as_tensor(input, function, "input")
    ndim = tensor.array.ndim
    if ndim not in (2, 3):
        raise ValueError(f"{function}: input must be 2-D (C * kh * kw, L) or 3-D "
                         f"(N, C * kh * kw, L), got shape {tuple(tensor.array.shape)}")
    batched = ndim == 3
    if not batched:
        tensor = reshape(tensor, (1,) + tensor.array.shape)
    output_size = int_pair(output_size, "output_size", function)
    kernel_size, dilation, padding, stride = _window_arguments(
        function, kernel_size, dilation, padding, stride, output_size)
    _, rows, locations = tensor.array.shape
    kernel_area = kernel_size[0] * kernel_size[1]
    if rows % kernel_area:
        raise ValueError(
            f"{function}: input.shape[-2] = {rows} must be divisible by the product of "
            f"kernel_size {kernel_size} = {kernel_area} (it is C * kh * kw)")
    out_h, out_w = window_output_shape(function, output_size, kernel_size, stride, padding,
                                       dilation)
    if locations != out_h * out_w:
        raise ValueError(
            f"{function}: input.shape[-1] = {locations} must equal the number of sliding "
            f"blocks {out_h} * {out_w} = {out_h * out_w} for output_size {output_size}: "
            + formula("height", output_size[0], kernel_size[0], stride[0], padding[0],
                      dilation[0])
            + "; " + formula("width", output_size[1], kernel_size[1], stride[1], padding[1],
                             dilation[1]))
    if tensor.array.shape[0] == 0:
        return empty_result("Col2Im", tensor, (0, rows // kernel_area) + output_size, batched)
    out = conv_kernels.fold_forward(tensor.array, output_size, kernel_size, dilation,
                                    padding, stride)

    def backward(grad):
        return (conv_kernels.fold_backward(grad, kernel_size, dilation, padding, stride),)
    return restore_batch(record("Col2Im", out, (tensor,), backward), batched)

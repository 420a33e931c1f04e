"""Transposed convolution in 1, 2 and 3 spatial dimensions (``conv_transpose{1,2,3}d``).

The transposed convolution is the gradient of a convolution with respect to its input
(:mod:`cnnlab.kernels.conv`); arguments are checked and normalised here, once.
"""

from __future__ import annotations

from ..kernels import conv as conv_kernels
from ..kernels.window import check_fits
from ..shapes import (axis_names, int_tuple, padding_pairs, transposed_output_size,
                      transposed_same_padding)
from ._common import LAYOUTS, empty_result, matching_dtypes, restore_batch, spatial_input
from .conv import (arrays_in, check_bias, check_groups, check_weight, record_optional,
                   wants)

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def transposed_convolution(function: str, spatial: int, input, weight, bias=None, stride=1,
                           padding=0, output_padding=0, groups=1, dilation=1):
    """The transposed convolution behind ``conv_transpose{1,2,3}d`` (``spatial`` axes)."""
    input, batched = spatial_input(input, function, spatial=spatial)
    weight = check_weight(weight, function, spatial)
    groups = check_groups(groups, function)
    in_channels = input.array.shape[1]
    weight_in, group_out = weight.array.shape[:2]
    if weight_in != in_channels:
        kernel = ", ".join(("kd", "kh", "kw")[3 - spatial:]) if spatial <= 3 else "..."
        raise ValueError(
            f"{function}: input has {in_channels} channels, but weight of shape "
            f"{tuple(weight.array.shape)} expects weight.shape[0] = {weight_in} "
            f"(weight is (in_channels, out_channels / groups, {kernel}))")
    if in_channels % groups:
        raise ValueError(f"{function}: in_channels ({in_channels}) must be divisible by "
                         f"groups = {groups}")
    out_channels = group_out * groups
    bias = check_bias(bias, out_channels, function)
    dtype = matching_dtypes(function, input, ("weight", weight), ("bias", bias))
    kernel_size = tuple(weight.array.shape[2:])
    stride = int_tuple(stride, spatial, "stride", function)
    dilation = int_tuple(dilation, spatial, "dilation", function)
    output_padding = int_tuple(output_padding, spatial, "output_padding", function, minimum=0)
    input_size = input.array.shape[2:]
    if isinstance(padding, str) and padding == "same":
        padding, output_padding = transposed_same_padding(kernel_size, stride, dilation,
                                                          output_padding, function)
    else:
        padding = padding_pairs(padding, function, ndim=spatial)
    axes = axis_names(spatial)
    for axis, e, s, d in zip(axes, output_padding, stride, dilation):
        if e >= s and e >= d:
            raise ValueError(
                f"{function}: output_padding must be smaller than either stride or dilation, "
                f"got output_padding {output_padding}, stride {stride}, dilation {dilation} "
                f"(fails along the {axis})")
    out_size = []
    for axis, n, k, s, p, d, e in zip(axes, input_size, kernel_size, stride, padding, dilation,
                                      output_padding):
        size = transposed_output_size(n, k, s, p, d, e)
        out_size.append(size)
        if size < 1:
            raise ValueError(
                f"{function}: the output {axis} would be {size}: out = (in - 1)*stride - "
                f"pad_lo - pad_hi + dilation*(kernel-1) + output_padding + 1 = ({n} - 1)*{s} "
                f"- {p[0]} - {p[1]} + {d}*({k}-1) + {e} + 1 = {size}; reduce the padding")
    out_shape = (input.array.shape[0], out_channels) + tuple(out_size)
    check_fits(function, "output", out_shape, dtype)
    if input.array.shape[0] == 0:
        return empty_result("ConvolutionTranspose", (input, weight, bias), out_shape, batched,
                            dtype)

    x, w, b = arrays_in(dtype, input, weight, bias)
    out, cache = conv_kernels.conv_transpose_forward(x, w, b, stride, padding, output_padding,
                                                     groups, dilation)
    out = out.astype(dtype, copy=False)   # float16 was computed in float32

    def backward(grad):
        return conv_kernels.conv_transpose_backward(grad.astype(x.dtype, copy=False), cache,
                                                    wants(input), wants(weight), wants(bias))
    return restore_batch(record_optional("ConvolutionTranspose", out, (input, weight, bias),
                                         backward), batched)


_SHARED_DOC = """
    Parameters
    ----------
    input : Tensor, np.ndarray or nested list, shape {batched} or {unbatched}
        (``C`` is ``Cin``.)
    weight : shape (Cin, Cout / groups, {kernel})
        PyTorch's layout (in-channels first).
    bias : shape (Cout,), optional
    stride, dilation : int or tuple of {spatial} ints
    padding : int, tuple of {spatial} ints, {spatial} (lo, hi) pairs, 'valid' or 'same'
        Elements cropped from each side of the full output. ``'same'`` gives
        ``out = in * stride``: with ``total = dilation * (kernel - 1) + 1 - stride``,
        it crops ``total // 2`` at the low side and the rest (the odd one) at the
        high side; a negative ``total`` becomes ``output_padding = -total``
        instead (TensorFlow's ``conv2d_transpose`` with SAME). It is then the adjoint
        of ``conv{spatial}d(..., padding='same')`` with the same stride.
    output_padding : int or tuple of {spatial} ints
        Extra elements at the high end of each axis, each smaller than the stride or
        the dilation (PyTorch's rule); it selects among the input sizes that a strided
        convolution maps to the same output size. Must be 0 with ``'same'``.
    groups : int
        ``Cin`` must be divisible by it.

    Returns
    -------
    Tensor, shape (N, Cout, {out}) or (Cout, {out})

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
    Along each axis ``out = (in - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1)
    + output_padding + 1`` (:func:`cnnlab.shapes.transposed_output_size`).

    Beyond PyTorch: per-side padding, ``'valid'`` and ``'same'``, and exact integer
    arithmetic (int64) for integer input and weight.
"""


def _doc(spatial, kernel, out):
    unbatched, batched = LAYOUTS[spatial]
    return _SHARED_DOC.format(spatial=spatial, batched=batched, unbatched=unbatched,
                              kernel=kernel, out=out)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return transposed_convolution("conv_transpose1d", 1, input, weight, bias, stride, padding,
                                  output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return transposed_convolution("conv_transpose2d", 2, input, weight, bias, stride, padding,
                                  output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return transposed_convolution("conv_transpose3d", 3, input, weight, bias, stride, padding,
                                  output_padding, groups, dilation)


conv_transpose1d.__doc__ = """1-D transposed convolution (the gradient of ``conv1d`` w.r.t. its input).
""" + _doc(1, "k", "OL") + """
    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv_transpose1d([[[1., 2.]]], [[[1., 10.]]], stride=2)
    tensor([[[ 1., 10.,  2., 20.]]])
    """

conv_transpose2d.__doc__ = """2-D transposed convolution (the gradient of ``conv2d`` w.r.t. its input).
""" + _doc(2, "kh, kw", "OH, OW") + """
    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv_transpose2d([[[[1., 2.]]]], [[[[1., 10.]]]], stride=2)
    tensor([[[[ 1., 10.,  2., 20.]]]])
    >>> F.conv_transpose2d([[[1, 2, 3]]], [[[[1, 1, 1]]]], stride=2, padding="same").shape
    cnnlab.Size([1, 2, 6])
    """

conv_transpose3d.__doc__ = """3-D transposed convolution (the gradient of ``conv3d`` w.r.t. its input).
""" + _doc(3, "kd, kh, kw", "OD, OH, OW") + """
    Examples
    --------
    >>> import cnnlab.functional as F
    >>> F.conv_transpose3d([[[[[1., 2.]]]]], [[[[[1., 10.]]]]], stride=2).shape
    cnnlab.Size([1, 1, 1, 1, 4])
    """

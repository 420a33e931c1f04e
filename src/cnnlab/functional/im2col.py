"""Sliding windows as data: ``unfold``/``fold`` (im2col/col2im, as in
``torch.nn.functional``) and ``Tensor.unfold(dim, size, step)``.

``unfold``/``fold`` take 4-D (batched) or 3-D input as PyTorch does; the arithmetic is
the im2col/col2im pair of :mod:`cnnlab.kernels.conv`. :func:`tensor_unfold` is the
one-axis window view behind ``Tensor.unfold``.
"""

from __future__ import annotations

import numpy as np

from ..autograd import record
from ..kernels import im2col as im2col_kernels
from ..kernels.window import check_fits, tap_slices
from ..ops import as_tensor, reshape
from ..shapes import _is_int, formula, int_pair, padding_pairs, window_output_shape
from ._common import empty_result, restore_batch, spatial_input

__all__ = ["fold", "tensor_unfold", "unfold"]


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
    out = im2col_kernels.unfold_forward(input.array, kernel_size, dilation, padding, stride)

    def backward(grad):
        return (im2col_kernels.unfold_backward(grad, shape, kernel_size, dilation, padding,
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
    out = im2col_kernels.fold_forward(tensor.array, output_size, kernel_size, dilation,
                                    padding, stride)

    def backward(grad):
        return (im2col_kernels.fold_backward(grad, kernel_size, dilation, padding, stride),)
    return restore_batch(record("Col2Im", out, (tensor,), backward), batched)


# ------------------------------------------------------------ Tensor.unfold


def tensor_unfold(input, dimension, size, step):
    """Every window of ``size`` elements along ``dimension``, ``step`` apart, as a new
    last axis: ``Tensor.unfold(dimension, size, step)``.

    Parameters
    ----------
    input : Tensor or array_like, any shape with at least one dimension
    dimension : int
        The axis to slide along (negative counts from the end).
    size : int
        Window length, at most ``input.shape[dimension]``.
    step : int
        Distance between window starts, >= 1.

    Returns
    -------
    Tensor
        ``input``'s shape with ``shape[dimension]`` replaced by the window count
        ``(shape[dimension] - size) // step + 1`` and a last axis of length ``size``:
        ``out[..., i, ..., t] = input[..., i * step + t, ...]``.

    Notes
    -----
    PyTorch returns a view; this returns a copy (cnnlab has no strided views), so
    writing into the result does not change ``input``. The gradient adds each
    window's gradient back where the window read (overlapping windows add up):
    ``dx[..., i * step + t, ...] += dy[..., i, ..., t]``, one strided ``+=`` per ``t``.

    Examples
    --------
    >>> import cnnlab
    >>> cnnlab.arange(7.).unfold(0, 3, 2)
    tensor([[0., 1., 2.],
            [2., 3., 4.],
            [4., 5., 6.]])
    """
    function = "unfold"
    tensor = as_tensor(input, function, "input")
    shape = tuple(tensor.array.shape)
    ndim = max(len(shape), 1)
    for name, value in (("dimension", dimension), ("size", size), ("step", step)):
        if not _is_int(value):
            raise TypeError(f"{function}: {name} must be an int, got {value!r}")
    if not -ndim <= dimension < ndim:
        raise IndexError(f"{function}: dimension {dimension} is out of range for a tensor of "
                         f"{len(shape)} dimensions (expected [{-ndim}, {ndim - 1}])")
    axis = int(dimension) % ndim
    length = shape[axis] if shape else 1
    if step < 1:
        raise ValueError(f"{function}: step must be >= 1, got {step}")
    if not 0 <= size <= length:
        raise ValueError(f"{function}: size must lie in [0, {length}] (the length of dimension "
                         f"{dimension}), got {size}")
    array = tensor.array.reshape(1) if not shape else tensor.array
    count = (length - size) // step + 1
    # tap t of every window: one strided slice along the axis, stacked on a new last axis
    taps = tap_slices(size, step, 1, count)
    moved = np.moveaxis(array, axis, -1)
    out = np.stack([moved[..., piece] for piece in taps], axis=-1) if size else \
        np.empty(moved.shape[:-1] + (count, 0), array.dtype)
    windows = np.moveaxis(out, -2, axis)            # (..., count, ..., size)

    def backward(grad):
        grad_moved = np.moveaxis(grad.reshape(windows.shape), axis, -2)
        result = np.zeros(moved.shape, dtype=grad.dtype)
        for t, piece in enumerate(taps):
            result[..., piece] += grad_moved[..., t]
        return (np.moveaxis(result, -1, axis).reshape(shape),)
    # a 0-d input is one element along its only "axis": its windows lose that axis
    out = windows if shape else windows[0]
    return record("Unfold", np.ascontiguousarray(out), (tensor,), backward)

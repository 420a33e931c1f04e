"""Pooling: max, average, Lp, adaptive average/max pooling and max-unpooling.

PyTorch's ``torch.nn.functional`` names, argument order and defaults; arguments are
normalised and validated here, once, then handed to :mod:`cnnlab.kernels.pool`.
Inputs are ``(N, C, H, W)`` or unbatched ``(C, H, W)``: Tensors, NumPy arrays or
nested lists.

Beyond PyTorch, for the windowed pools:

- ``padding`` may be per side, ``((top, bottom), (left, right))``, or ``'valid'`` /
  ``'same'`` (``'same'`` works with any stride: ``out = ceil(in / stride)``, the odd
  pixel on the bottom/right);
- padding is not capped at ``kernel_size // 2``: the only rule is that every window
  holds at least one input element;
- :func:`avg_pool2d` and :func:`lp_pool2d` take ``dilation`` (and :func:`lp_pool2d`
  ``padding``) as trailing keyword arguments;
- integer inputs: max pooling is exact and keeps the dtype; average pooling keeps
  the dtype too (truncated toward zero, as PyTorch's int64); Lp and adaptive average
  pooling return float32, computed exactly in float64.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import record
from ..kernels import pool as kernels
from ..shapes import (check_windows_hold_input, int_pair, padding_pairs, pool_stride,
                      window_output_shape)
from ..tensor import Tensor
from ..kernels.window import check_fits
from ._common import empty_result, restore_batch, spatial_input

# ------------------------------------------------------------ argument checks


def _is_int(value) -> bool:
    return (isinstance(value, (numbers.Integral, np.integer))
            and not isinstance(value, (bool, np.bool_)))


def _flag(value, name: str, function: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: {name} must be True or False, got {value!r}")
    return bool(value)


def _pool_input(input, function: str, name: str = "input"):
    """The input as a 4-D Tensor of a real dtype, and whether it came batched."""
    tensor, batched = spatial_input(input, function, name)
    if tensor.array.dtype.kind not in "iuf":
        raise TypeError(f"{function}: {name} dtype {tensor.dtype!r} is not supported; "
                        "use a floating point or integer dtype (e.g. input.float())")
    return tensor, batched


def _window_args(function: str, x: Tensor, kernel_size, stride, padding, dilation, ceil_mode):
    """``(kernel, stride, padding, dilation, ceil_mode)`` normalised and checked."""
    kernel = int_pair(kernel_size, "kernel_size", function)
    stride = pool_stride(stride, kernel, function)
    dilation = int_pair(dilation, "dilation", function)
    ceil_mode = _flag(ceil_mode, "ceil_mode", function)
    size = x.array.shape[-2:]
    pads = padding_pairs(padding, function, input_size=size, kernel_size=kernel,
                         stride=stride, dilation=dilation)
    out = window_output_shape(function, size, kernel, stride, pads, dilation, ceil_mode)
    check_windows_hold_input(function, size, out, kernel, stride, pads, dilation)
    check_fits(function, "output", x.array.shape[:2] + out, x.array.dtype)
    return kernel, stride, pads, dilation, ceil_mode


def _adaptive_entries(function: str, output_size) -> tuple:
    """``output_size`` as a pair of ints or None (checked types and signs)."""
    if _is_int(output_size):
        entries = (output_size, output_size)
    elif (isinstance(output_size, (tuple, list)) and len(output_size) == 2
          and all(e is None or _is_int(e) for e in output_size)):
        entries = tuple(output_size)
    else:
        raise TypeError(f"{function}: output_size must be an int or a pair (height, width) "
                        f"of ints or None, got {output_size!r}")
    if any(e is not None and e < 0 for e in entries):
        raise ValueError(f"{function}: output_size must be >= 0, got {output_size!r}")
    return entries


def _adaptive_args(function: str, x: Tensor, output_size) -> tuple:
    """``output_size`` as ``(out_height, out_width)``; ``None`` keeps the input's size."""
    entries = _adaptive_entries(function, output_size)
    input_size = x.array.shape[-2:]
    if min(input_size) < 1:
        raise ValueError(f"{function}: input must have a non-zero height and width, got "
                         f"shape {tuple(x.array.shape)}")
    size = tuple(n if e is None else int(e) for e, n in zip(entries, input_size))
    check_fits(function, "output", x.array.shape[:2] + size, x.array.dtype)
    return size


def _norm_type(norm_type, function: str) -> float:
    """Lp pooling's ``p`` as a float > 0 (``inf`` allowed)."""
    if (isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real)
            or not norm_type > 0):
        raise ValueError(f"{function}: norm_type must be a number > 0 (inf for the maximum), "
                         f"got {norm_type!r}")
    return float(norm_type)


def _divisor(divisor_override, function: str):
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override == 0):
        raise ValueError(f"{function}: divisor_override must be a non-zero int or None, "
                         f"got {divisor_override!r}")
    return divisor_override


def _indices_tensor(indices: np.ndarray, batched: bool) -> Tensor:
    return restore_batch(Tensor._wrap(indices.astype(np.int64, copy=False)), batched)


# --------------------------------------------------------------- max pooling


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over each channel.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, H, W) or (C, H, W)
        Floating point or integer (exact, keeps its dtype).
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Implicit ``-inf`` on both sides (per side with the nested form). Padding
        never wins a window.
    dilation : int or (int, int)
    ceil_mode : bool
        Round the output size up; a last partial window must start inside the
        input or the top/left padding.
    return_indices : bool
        Also return, for each output, the flat index ``h * W + w`` of its maximum in
        the input plane (for :func:`max_unpool2d`).

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    Tensor of int64, same shape
        Only with ``return_indices``.

    Notes
    -----
    ``H_out = floor((H + top + bottom - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1``
    (ceiling with ``ceil_mode``), and likewise ``W_out``.

    Ties: as in PyTorch, the first maximum in row-major window order wins; its index
    is returned and it alone receives the gradient. A window holding NaN outputs NaN
    and its last NaN wins. Overlapping windows add their gradients.

    Beyond PyTorch: per-side and 'same' padding with any stride, padding larger
    than ``kernel_size // 2`` (each window must still overlap the input).

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, 3, padding=1, stride=2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    function = "max_pool2d"
    x, batched = _pool_input(input, function)
    window = _window_args(function, x, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = _flag(return_indices, "return_indices", function)
    array = x.array
    if return_indices:
        out, indices = kernels.max_pool2d(array, *window, return_indices=True)
    else:
        out = kernels.max_pool2d(array, *window)
    result = record("MaxPool2DWithIndices", out, (x,),
                    lambda grad: (kernels.max_pool2d_backward(grad, array, *window, out=out),))
    result = restore_batch(result, batched)
    if return_indices:
        return result, _indices_tensor(indices, batched)
    return result


# ----------------------------------------------------------- average pooling


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, dilation=1):
    """2-D average pooling over each channel.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Implicit zeros.
    ceil_mode : bool
    count_include_pad : bool
        Divide by the number of window positions inside the padded input (``True``;
        ceil-mode windows running past the padding count only what they cover) or
        inside the input (``False``).
    divisor_override : int, optional
        Divide every window's sum by this instead (non-zero).
    dilation : int or (int, int)
        Beyond PyTorch: spacing between window taps.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        The input's dtype. For integers, as PyTorch does for int64, each window's
        exact sum divided with truncation toward zero (``[-7, 0]`` averages to
        ``-3``); beyond PyTorch, other integer dtypes work the same way.

    Notes
    -----
    Output shape as :func:`max_pool2d`. Beyond PyTorch: per-side and 'same' padding,
    padding larger than ``kernel_size // 2``, ``dilation``.

    Examples
    --------
    >>> avg_pool2d([[[1., 2., 3.], [4., 5., 6.]]], 2, padding=(0, 1), count_include_pad=False)
    tensor([[[2.5000, 4.0000]]])
    """
    function = "avg_pool2d"
    x, batched = _pool_input(input, function)
    window = _window_args(function, x, kernel_size, stride, padding, dilation, ceil_mode)
    kernel, stride, pads, dilation, ceil_mode = window
    count_include_pad = _flag(count_include_pad, "count_include_pad", function)
    divisor_override = _divisor(divisor_override, function)
    options = dict(count_include_pad=count_include_pad, divisor_override=divisor_override)
    args = (kernel, stride, pads, dilation, ceil_mode)
    out = kernels.avg_pool2d(x.array, *args, **options)
    shape = x.array.shape
    result = record("AvgPool2D", out, (x,),
                    lambda grad: (kernels.avg_pool2d_backward(grad, shape, *args, **options),))
    return restore_batch(result, batched)


# ---------------------------------------------------------------- Lp pooling


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False, padding=0,
              dilation=1):
    """2-D power-average pooling: ``(sum over the window of |x|^p)^(1/p)``.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, H, W) or (C, H, W)
    norm_type : float
        ``p > 0``. ``p = 1`` is sum pooling of ``|x|``; ``p = inf`` is max pooling
        of ``|x|``.
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    ceil_mode : bool
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Beyond PyTorch: implicit zeros (they add nothing to the sums).
    dilation : int or (int, int)
        Beyond PyTorch.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        The input's dtype for floats; float32 for integers.

    Notes
    -----
    Output shape as :func:`max_pool2d`. Gradient:
    ``sign(x) |x|^(p-1) * out^(1-p)``, 0 where ``out == 0`` (as PyTorch) or
    ``x == 0``.

    Beyond PyTorch: PyTorch sums ``x^p`` without the absolute value (NaN for
    non-integer ``p`` and sign errors for odd ``p`` on negative inputs); here
    ``|x|^p``. In ceil mode PyTorch multiplies a partial window's sum by
    ``k_h * k_w / covered``; here a partial window sums only what it covers.
    ``padding``, ``dilation`` and ``p = inf`` are extensions.

    Examples
    --------
    >>> lp_pool2d([[[3., -4.], [0., 0.]]], 2, 2)
    tensor([[[5.]]])
    """
    function = "lp_pool2d"
    x, batched = _pool_input(input, function)
    norm_type = _norm_type(norm_type, function)
    window = _window_args(function, x, kernel_size, stride, padding, dilation, ceil_mode)
    array = x.array
    out = kernels.lp_pool2d(array, norm_type, *window)
    result = record("LpPool2D", out, (x,),
                    lambda grad: (kernels.lp_pool2d_backward(grad, array, out, norm_type,
                                                             *window),))
    return restore_batch(result, batched)


# ----------------------------------------------------------- adaptive pooling


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given output size, with PyTorch's adaptive windows.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; ``None`` keeps the input's size along that axis.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        The input's dtype for floats; float32 for integers.

    Notes
    -----
    Output ``(i, j)`` averages rows ``floor(i * H / H_out)`` to
    ``ceil((i + 1) * H / H_out) - 1`` and the matching columns; windows overlap
    when the sizes do not divide.

    Examples
    --------
    >>> adaptive_avg_pool2d([[[0., 1., 2.], [3., 4., 5.]]], (1, 2))
    tensor([[[2., 3.]]])
    """
    function = "adaptive_avg_pool2d"
    x, batched = _pool_input(input, function)
    size = _adaptive_args(function, x, output_size)
    if x.array.shape[0] == 0 or min(size) == 0:
        return empty_result("AdaptiveAvgPool2D", x, x.array.shape[:2] + size, batched)
    out = kernels.adaptive_avg_pool2d(x.array, size)
    shape = x.array.shape
    result = record("AdaptiveAvgPool2D", out, (x,),
                    lambda grad: (kernels.adaptive_avg_pool2d_backward(grad, shape),))
    return restore_batch(result, batched)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a given output size, with PyTorch's adaptive windows.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; ``None`` keeps the input's size along that axis.
    return_indices : bool
        Also return the flat index ``h * W + w`` of each maximum.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out), the input's dtype
    Tensor of int64, same shape
        Only with ``return_indices``.

    Notes
    -----
    Windows as :func:`adaptive_avg_pool2d`; ties and NaN as :func:`max_pool2d`
    (first maximum in row-major order; last NaN).

    Examples
    --------
    >>> adaptive_max_pool2d([[[1, 5, 5], [2, 0, 7]]], (1, 2), return_indices=True)
    (tensor([[[5, 7]]]), tensor([[[1, 5]]]))
    """
    function = "adaptive_max_pool2d"
    x, batched = _pool_input(input, function)
    size = _adaptive_args(function, x, output_size)
    return_indices = _flag(return_indices, "return_indices", function)
    array = x.array
    if array.shape[0] == 0 or min(size) == 0:
        result = empty_result("AdaptiveMaxPool2D", x, array.shape[:2] + size, batched)
        if return_indices:
            return result, _indices_tensor(np.zeros(array.shape[:2] + size, np.int64), batched)
        return result
    if return_indices:
        out, indices = kernels.adaptive_max_pool2d(array, size, return_indices=True)
    else:
        out = kernels.adaptive_max_pool2d(array, size)
    result = record("AdaptiveMaxPool2D", out, (x,),
                    lambda grad: (kernels.adaptive_max_pool2d_backward(grad, array),))
    result = restore_batch(result, batched)
    if return_indices:
        return result, _indices_tensor(indices, batched)
    return result


# ------------------------------------------------------------- max unpooling


def _unpool_size(output_size, ndim: int, function: str) -> tuple:
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
    if size is None or len(size) not in (2, ndim) or not all(_is_int(s) for s in size):
        raise TypeError(f"{function}: output_size must be (height, width) or the full "
                        f"output shape ({ndim} ints), got {output_size!r}")
    size = tuple(int(s) for s in size[-2:])
    if min(size) < 1:
        raise ValueError(f"{function}: output_size must be >= 1, got {output_size!r}")
    return size


def _check_unpool_range(function, output_size, size, input_size, kernel, stride, pads):
    """PyTorch's rule: each output size lies strictly within ``stride`` of the default
    ``(in - 1) * stride - pad_lo - pad_hi + kernel``."""
    default = kernels.unpool_output_size(input_size, kernel, stride, pads)
    for axis, (got, base, s, n, k, (lo, hi)) in enumerate(zip(size, default, stride, input_size,
                                                               kernel, pads)):
        if not base - s < got < base + s:
            raise ValueError(
                f"{function}: output_size {tuple(output_size)!r} is out of range along "
                f"spatial dimension {axis}: {got} must lie in [{base - s + 1}, {base + s - 1}], "
                f"i.e. strictly between default - stride and default + stride with "
                f"default = (in - 1) * stride - pad_lo - pad_hi + kernel = ({n} - 1) * {s} "
                f"- {lo} - {hi} + {k} = {base}")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool2d`: each value returns to its index, zeros elsewhere.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C, H, W) or (C, H, W)
    indices : Tensor or array_like of ints, same shape
        Flat indices ``h * W_out + w`` into the output plane, as returned by
        ``max_pool2d(..., return_indices=True)``.
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int, (int, int) or ((int, int), (int, int))
        The pooling's padding, used for the default output size.
    output_size : (int, int) or full shape, optional
        The size of the input that was pooled (needed when the default formula does
        not recover it, e.g. odd sizes).

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out) or (C, H_out, W_out), the input's dtype

    Raises
    ------
    ValueError
        If an index lies outside the output plane, or ``output_size`` outside the
        range below.

    Notes
    -----
    Default ``H_out = (H - 1) * stride[0] - top - bottom + kernel_size[0]``, likewise
    ``W_out``. As in PyTorch, an explicit ``output_size`` must lie strictly within
    ``stride`` of that default along each axis. Beyond PyTorch: padding may be per
    side. Where an index repeats, the last value is kept; the gradient of every
    input is the output gradient at its index.

    Examples
    --------
    >>> values, indices = max_pool2d(np.arange(16, dtype=np.float32).reshape(1, 4, 4), 2,
    ...                              return_indices=True)
    >>> max_unpool2d(values, indices, 2)
    tensor([[[ 0.,  0.,  0.,  0.],
             [ 0.,  5.,  0.,  7.],
             [ 0.,  0.,  0.,  0.],
             [ 0., 13.,  0., 15.]]])
    """
    function = "max_unpool2d"
    x, batched = _pool_input(input, function)
    index_tensor, _ = spatial_input(indices, function, "indices")
    if index_tensor.array.dtype.kind not in "iu":
        raise TypeError(f"{function}: indices must have an integer dtype (int64 as returned "
                        f"by max_pool2d), got {index_tensor.dtype!r}")
    if index_tensor.array.shape != x.array.shape:
        raise ValueError(f"{function}: indices shape {tuple(index_tensor.array.shape)} must "
                         f"match the input shape {tuple(x.array.shape)}")
    kernel = int_pair(kernel_size, "kernel_size", function)
    stride = pool_stride(stride, kernel, function)
    if isinstance(padding, str):
        raise TypeError(f"{function}: padding must be an int, (pad_h, pad_w) or "
                        f"((top, bottom), (left, right)), got {padding!r}")
    pads = padding_pairs(padding, function)
    ndim = x.array.ndim if batched else 3
    if output_size is None:
        size = kernels.unpool_output_size(x.array.shape[-2:], kernel, stride, pads)
        if min(size) < 1:
            (top, bottom), (left, right) = pads
            height, width = x.array.shape[-2:]
            raise ValueError(
                f"{function}: the default output size (H - 1) * stride - pad_lo - pad_hi + "
                f"kernel = ({height} - 1) * {stride[0]} - {top} - {bottom} + {kernel[0]}, "
                f"({width} - 1) * {stride[1]} - {left} - {right} + {kernel[1]} = {size} is "
                "empty; pass output_size")
    else:
        size = _unpool_size(output_size, ndim, function)
        _check_unpool_range(function, output_size, size, x.array.shape[-2:], kernel, stride,
                            pads)
    index_array = index_tensor.array
    check_fits(function, "output", x.array.shape[:2] + size, x.array.dtype)
    if x.array.shape[0] == 0:
        return empty_result("MaxUnpool2D", x, x.array.shape[:2] + size, batched)
    out = kernels.max_unpool2d(x.array, index_array, size)
    result = record("MaxUnpool2D", out, (x,),
                    lambda grad: (kernels.max_unpool2d_backward(grad, index_array),))
    return restore_batch(result, batched)

"""Adaptive average/max pooling and max-unpooling in 1, 2 and 3 spatial dimensions.

PyTorch's ``torch.nn.functional`` names and defaults; arguments are checked here, once,
and the arithmetic is in :mod:`cnnlab.kernels.adaptive` (the same kernels for every
dimension).
"""

from __future__ import annotations

import numpy as np

from ..autograd import record
from ..kernels import adaptive as kernels
from ..kernels.window import check_fits
from ..shapes import (_is_int, axis_names, check_flag, int_tuple, padding_pairs,
                      pool_stride)
from ..tensor import Tensor
from ._common import LAYOUTS, empty_result, restore_batch, spatial_input
from .pool import indices_tensor, pool_input

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d"]


def _sizes_name(spatial: int) -> str:
    names = ", ".join(axis_names(spatial))
    return "a pair (height, width)" if spatial == 2 else f"a tuple of {spatial} ({names})"


def check_output_size(function: str, spatial: int, output_size) -> tuple:
    """An adaptive pool's ``output_size`` as one int or None per axis (types and signs
    checked)."""
    if _is_int(output_size):
        entries = (output_size,) * spatial
    elif (isinstance(output_size, (tuple, list)) and len(output_size) in (1, spatial)
          and all(e is None or _is_int(e) for e in output_size)):
        entries = tuple(output_size) * (spatial if len(output_size) == 1 else 1)
    else:
        raise TypeError(f"{function}: output_size must be an int or {_sizes_name(spatial)} "
                        f"of ints or None, got {output_size!r}")
    if any(e is not None and e < 0 for e in entries):
        raise ValueError(f"{function}: output_size must be >= 0, got {output_size!r}")
    return entries


def _adaptive_size(function: str, spatial: int, x: Tensor, output_size) -> tuple:
    """``output_size`` as one int per axis; ``None`` keeps the input's size there."""
    entries = check_output_size(function, spatial, output_size)
    input_size = x.array.shape[2:]
    if min(input_size) < 1:
        sizes = "height and width" if spatial == 2 else " and ".join(axis_names(spatial))
        raise ValueError(f"{function}: input must have a non-zero {sizes}, got "
                         f"shape {tuple(x.array.shape)}")
    size = tuple(n if e is None else int(e) for e, n in zip(entries, input_size))
    check_fits(function, "output", x.array.shape[:2] + size, x.array.dtype)
    return size


def adaptive_avg_pool(function, spatial, input, output_size):
    """Adaptive average pooling over ``spatial`` axes (``adaptive_avg_pool{1,2,3}d``)."""
    x, batched = pool_input(input, function, spatial)
    size = _adaptive_size(function, spatial, x, output_size)
    name = f"AdaptiveAvgPool{spatial}D"
    if x.array.shape[0] == 0 or min(size) == 0:
        return empty_result(name, x, x.array.shape[:2] + size, batched)
    out = kernels.adaptive_avg_pool(x.array, size)
    shape = x.array.shape
    result = record(name, out, (x,),
                    lambda grad: (kernels.adaptive_avg_pool_backward(grad, shape),))
    return restore_batch(result, batched)


def adaptive_max_pool(function, spatial, input, output_size, return_indices=False):
    """Adaptive max pooling over ``spatial`` axes (``adaptive_max_pool{1,2,3}d``)."""
    x, batched = pool_input(input, function, spatial)
    size = _adaptive_size(function, spatial, x, output_size)
    return_indices = check_flag(return_indices, "return_indices", function)
    array = x.array
    name = f"AdaptiveMaxPool{spatial}D"
    if array.shape[0] == 0 or min(size) == 0:
        result = empty_result(name, x, array.shape[:2] + size, batched)
        if return_indices:
            return result, indices_tensor(np.zeros(array.shape[:2] + size, np.int64), batched)
        return result
    if return_indices:
        out, indices = kernels.adaptive_max_pool(array, size, return_indices=True)
    else:
        out = kernels.adaptive_max_pool(array, size)
    result = record(name, out, (x,),
                    lambda grad: (kernels.adaptive_max_pool_backward(grad, array),))
    result = restore_batch(result, batched)
    if return_indices:
        return result, indices_tensor(indices, batched)
    return result


# ------------------------------------------------------------- max unpooling


def _unpool_size(output_size, spatial: int, ndim: int, function: str) -> tuple:
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else None
    if size is None or len(size) not in (spatial, ndim) or not all(_is_int(s) for s in size):
        sizes = "(height, width)" if spatial == 2 else f"({', '.join(axis_names(spatial))})"
        raise TypeError(f"{function}: output_size must be {sizes} or the full "
                        f"output shape ({ndim} ints), got {output_size!r}")
    size = tuple(int(s) for s in size[len(size) - spatial:])
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


def max_unpool(function, spatial, input, indices, kernel_size, stride=None, padding=0,
               output_size=None):
    """Max-unpooling over ``spatial`` axes (``max_unpool{1,2,3}d``)."""
    x, batched = pool_input(input, function, spatial)
    index_tensor, _ = spatial_input(indices, function, "indices", spatial=spatial)
    if index_tensor.array.dtype.kind not in "iu":
        raise TypeError(f"{function}: indices must have an integer dtype (int64 as returned "
                        f"by max_pool{spatial}d), got {index_tensor.dtype!r}")
    if index_tensor.array.shape != x.array.shape:
        raise ValueError(f"{function}: indices shape {tuple(index_tensor.array.shape)} must "
                         f"match the input shape {tuple(x.array.shape)}")
    kernel = int_tuple(kernel_size, spatial, "kernel_size", function)
    stride = pool_stride(stride, kernel, function)
    if isinstance(padding, str):
        forms = ("an int, (pad_h, pad_w) or ((top, bottom), (left, right))" if spatial == 2
                 else f"an int, a tuple of {spatial} ints or {spatial} (lo, hi) pairs")
        raise TypeError(f"{function}: padding must be {forms}, got {padding!r}")
    pads = padding_pairs(padding, function, ndim=spatial)
    input_size = x.array.shape[2:]
    if output_size is None:
        size = kernels.unpool_output_size(input_size, kernel, stride, pads)
        if min(size) < 1:
            terms = ", ".join(f"({n} - 1) * {s} - {lo} - {hi} + {k}" for n, s, (lo, hi), k
                              in zip(input_size, stride, pads, kernel))
            raise ValueError(
                f"{function}: the default output size (in - 1) * stride - pad_lo - pad_hi + "
                f"kernel = {terms} = {size} is empty; pass output_size"
                if spatial != 2 else
                f"{function}: the default output size (H - 1) * stride - pad_lo - pad_hi + "
                f"kernel = {terms} = {size} is empty; pass output_size")
    else:
        size = _unpool_size(output_size, spatial, x.array.ndim if batched else spatial + 1,
                            function)
        _check_unpool_range(function, output_size, size, input_size, kernel, stride, pads)
    index_array = index_tensor.array
    check_fits(function, "output", x.array.shape[:2] + size, x.array.dtype)
    name = f"MaxUnpool{spatial}D"
    if x.array.shape[0] == 0:
        return empty_result(name, x, x.array.shape[:2] + size, batched)
    out = kernels.max_unpool(x.array, index_array, size, function=function)
    result = record(name, out, (x,),
                    lambda grad: (kernels.max_unpool_backward(grad, index_array),))
    return restore_batch(result, batched)


# ------------------------------------------------------- public functions


def adaptive_avg_pool1d(input, output_size):
    return adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                      output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                      output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                      output_size)


_AVG_DOC = """Average pooling to a given output size, with PyTorch's adaptive windows ({spatial}-D).

    Parameters
    ----------
    input : Tensor or array_like, shape {batched} or {unbatched}
    output_size : int or tuple of {spatial} ints or None
        ``({out})``; ``None`` keeps the input's size along that axis.

    Returns
    -------
    Tensor, shape (N, C, {out}) or (C, {out})
        The input's dtype for floats; float32 for integers (beyond PyTorch).

    Notes
    -----
    Along each axis, output ``i`` averages input positions ``floor(i * in / out)`` to
    ``ceil((i + 1) * in / out) - 1``; windows overlap when the sizes do not divide.
"""

_MAX_DOC = """Max pooling to a given output size, with PyTorch's adaptive windows ({spatial}-D).

    Parameters
    ----------
    input : Tensor or array_like, shape {batched} or {unbatched}
    output_size : int or tuple of {spatial} ints or None
        ``({out})``; ``None`` keeps the input's size along that axis.
    return_indices : bool
        Also return the row-major flat index of each maximum in its plane ({index}).

    Returns
    -------
    Tensor, shape (N, C, {out}) or (C, {out}), the input's dtype
    Tensor of int64, same shape
        Only with ``return_indices``.

    Notes
    -----
    Windows as ``adaptive_avg_pool{spatial}d``; ties and NaN as ``max_pool{spatial}d``
    (first maximum in row-major order; last NaN).
"""

_UNPOOL_DOC = """Partial inverse of ``max_pool{spatial}d``: each value returns to its index, zeros elsewhere.

    Parameters
    ----------
    input : Tensor or array_like, shape {batched} or {unbatched}
    indices : Tensor or array_like of ints, same shape
        Row-major flat indices into the output plane ({index}), as returned by
        ``max_pool{spatial}d(..., return_indices=True)``.
    kernel_size : int or tuple of {spatial} ints
    stride : int or tuple of {spatial} ints, optional
        Defaults to ``kernel_size``.
    padding : int, tuple of {spatial} ints or {spatial} (lo, hi) pairs
        The pooling's padding, used for the default output size.
    output_size : tuple of {spatial} ints or the full shape, optional
        The size of the input that was pooled (needed when the default formula does
        not recover it, e.g. odd sizes).

    Returns
    -------
    Tensor, shape (N, C, {out}) or (C, {out}), the input's dtype

    Raises
    ------
    ValueError
        If an index lies outside the output plane, or ``output_size`` outside the
        range below.

    Notes
    -----
    Default size along each axis: ``(in - 1) * stride - pad_lo - pad_hi + kernel``.
    As in PyTorch, an explicit ``output_size`` must lie strictly within ``stride`` of
    that default along each axis. Beyond PyTorch: padding may be per side. Where an
    index repeats, the last value is kept; the gradient of every input is the output
    gradient at its index.
"""

_OUT = {1: "L_out", 2: "H_out, W_out", 3: "D_out, H_out, W_out"}
_INDEX = {1: "``l``", 2: "``h * W + w``", 3: "``(d * H + h) * W + w``"}
_EXAMPLES = {
    "adaptive_avg_pool1d": ">>> adaptive_avg_pool1d([[0., 1., 2., 3., 4.]], 2)\n"
                           "    tensor([[1., 3.]])",
    "adaptive_avg_pool2d": ">>> adaptive_avg_pool2d([[[0., 1., 2.], [3., 4., 5.]]], (1, 2))\n"
                           "    tensor([[[2., 3.]]])",
    "adaptive_avg_pool3d": ">>> adaptive_avg_pool3d(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2), 1)\n"
                           "    tensor([[[[3.5000]]]])",
    "adaptive_max_pool1d": ">>> adaptive_max_pool1d([[1, 5, 5, 7]], 2, return_indices=True)\n"
                           "    (tensor([[5, 7]]), tensor([[1, 3]]))",
    "adaptive_max_pool2d": ">>> adaptive_max_pool2d([[[1, 5, 5], [2, 0, 7]]], (1, 2), "
                           "return_indices=True)\n"
                           "    (tensor([[[5, 7]]]), tensor([[[1, 5]]]))",
    "adaptive_max_pool3d": ">>> adaptive_max_pool3d(np.arange(8).reshape(1, 2, 2, 2), 1, "
                           "return_indices=True)\n"
                           "    (tensor([[[[7]]]]), tensor([[[[7]]]]))",
    "max_unpool1d": ">>> max_unpool1d([[3., 4.]], [[1, 2]], 2)\n"
                    "    tensor([[0., 3., 4., 0.]])",
    "max_unpool2d": ">>> import cnnlab.functional as F\n"
                    "    >>> values, indices = F.max_pool2d(np.arange(16, dtype=np.float32)"
                    ".reshape(1, 4, 4), 2,\n"
                    "    ...                              return_indices=True)\n"
                    "    >>> max_unpool2d(values, indices, 2)\n"
                    "    tensor([[[ 0.,  0.,  0.,  0.],\n"
                    "             [ 0.,  5.,  0.,  7.],\n"
                    "             [ 0.,  0.,  0.,  0.],\n"
                    "             [ 0., 13.,  0., 15.]]])",
    "max_unpool3d": ">>> max_unpool3d([[[[7.]]]], [[[[5]]]], 2).shape\n"
                    "    cnnlab.Size([1, 2, 2, 2])",
}

for _function in (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,
                  adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
                  max_unpool1d, max_unpool2d, max_unpool3d):
    _spatial = int(_function.__name__[-2])
    _template = (_AVG_DOC if "avg" in _function.__name__ else
                 _MAX_DOC if "adaptive" in _function.__name__ else _UNPOOL_DOC)
    _unbatched, _batched = LAYOUTS[_spatial]
    _function.__doc__ = _template.format(
        spatial=_spatial, batched=_batched, unbatched=_unbatched, out=_OUT[_spatial],
        index=_INDEX[_spatial]) + ("\n    Examples\n    --------\n    "
                                   + _EXAMPLES[_function.__name__] + "\n    ")

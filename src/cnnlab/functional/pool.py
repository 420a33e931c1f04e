"""Max, average and Lp pooling in 1, 2 and 3 spatial dimensions.

PyTorch's ``torch.nn.functional`` names, argument order and defaults; arguments are
normalised and validated here, once, then handed to :mod:`cnnlab.kernels.pool` (the
same kernels for every dimension). Inputs are batched ``(N, C, *spatial)`` or
unbatched ``(C, *spatial)``: Tensors, NumPy arrays or nested lists. Adaptive pooling
and max-unpooling are in :mod:`cnnlab.functional.adaptive_pool`.

Beyond PyTorch, for the windowed pools:

- ``padding`` may be per side (one ``(lo, hi)`` pair per axis, e.g.
  ``((top, bottom), (left, right))`` in 2-D), or ``'valid'`` / ``'same'`` (``'same'``
  works with any stride: ``out = ceil(in / stride)``, the odd element on the high side);
- padding is not capped at ``kernel_size // 2``: the only rule is that every window
  holds at least one input element;
- ``avg_pool*`` and ``lp_pool*`` take ``dilation`` (and ``lp_pool*`` ``padding``) as
  trailing keyword arguments, ``avg_pool1d`` also ``divisor_override``;
- integer inputs: max pooling is exact and keeps the dtype; average pooling keeps
  the dtype too (truncated toward zero, as PyTorch's int64); Lp and adaptive average
  pooling return float32, computed exactly in float64.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..autograd import record
from ..kernels import pool as kernels
from ..kernels.window import check_fits
from ..shapes import (_is_int, check_flag, check_windows_hold_input, int_tuple,
                      padding_pairs, pool_stride, window_output_shape)
from ..tensor import Tensor
from ._common import LAYOUTS, restore_batch, spatial_input

__all__ = ["avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
           "max_pool1d", "max_pool2d", "max_pool3d"]

# ------------------------------------------------------------ argument checks


def pool_input(input, function: str, spatial: int, name: str = "input"):
    """The input as a Tensor ``(N, C, *spatial)`` of a real dtype, and whether it came
    batched."""
    tensor, batched = spatial_input(input, function, name, spatial=spatial)
    if tensor.array.dtype.kind not in "iuf":
        raise TypeError(f"{function}: {name} dtype {tensor.dtype!r} is not supported; "
                        "use a floating point or integer dtype (e.g. input.float())")
    return tensor, batched


def _window_args(function: str, spatial: int, x: Tensor, kernel_size, stride, padding,
                 dilation, ceil_mode):
    """``(kernel, stride, padding, dilation, ceil_mode)`` normalised and checked."""
    if 0 in x.array.shape[1:]:
        # PyTorch refuses these too ("optional 0 dim batch size"): a window needs input
        raise ValueError(f"{function}: input of shape {tuple(x.array.shape)} (batched) has "
                         "a zero-size dimension other than the batch; the channels and "
                         f"the {spatial} spatial sizes must be positive")
    kernel = int_tuple(kernel_size, spatial, "kernel_size", function)
    stride = pool_stride(stride, kernel, function)
    dilation = int_tuple(dilation, spatial, "dilation", function)
    ceil_mode = check_flag(ceil_mode, "ceil_mode", function)
    size = x.array.shape[2:]
    pads = padding_pairs(padding, function, input_size=size, kernel_size=kernel,
                         stride=stride, dilation=dilation)
    out = window_output_shape(function, size, kernel, stride, pads, dilation, ceil_mode)
    check_windows_hold_input(function, size, out, kernel, stride, pads, dilation)
    check_fits(function, "output", x.array.shape[:2] + out, x.array.dtype)
    return kernel, stride, pads, dilation, ceil_mode


def check_norm_type(norm_type, function: str) -> float:
    """Lp pooling's ``p`` as a float > 0 (``inf`` allowed)."""
    if (isinstance(norm_type, (bool, np.bool_)) or not isinstance(norm_type, numbers.Real)
            or not norm_type > 0):
        raise ValueError(f"{function}: norm_type must be a number > 0 (inf for the maximum), "
                         f"got {norm_type!r}")
    return float(norm_type)


def check_divisor(divisor_override, function: str):
    if divisor_override is not None and (not _is_int(divisor_override) or divisor_override == 0):
        raise ValueError(f"{function}: divisor_override must be a non-zero int or None, "
                         f"got {divisor_override!r}")
    return divisor_override


def indices_tensor(indices: np.ndarray, batched: bool) -> Tensor:
    """Pooling indices as an int64 tensor, row-major (as PyTorch's: ``view`` works)."""
    indices = np.asarray(indices, dtype=np.int64, order="C")
    return restore_batch(Tensor._wrap(indices), batched)


# ------------------------------------------------------------ the three pools


def max_pool(function, spatial, input, kernel_size, stride=None, padding=0, dilation=1,
             ceil_mode=False, return_indices=False):
    """Max pooling over ``spatial`` axes (behind ``max_pool{1,2,3}d``)."""
    x, batched = pool_input(input, function, spatial)
    window = _window_args(function, spatial, x, kernel_size, stride, padding, dilation,
                          ceil_mode)
    return_indices = check_flag(return_indices, "return_indices", function)
    array = x.array
    if return_indices:
        out, indices = kernels.max_pool(array, *window, return_indices=True)
    else:
        out = kernels.max_pool(array, *window)
    result = record(f"MaxPool{spatial}DWithIndices", out, (x,),
                    lambda grad: (kernels.max_pool_backward(grad, array, *window, out=out),))
    result = restore_batch(result, batched)
    if return_indices:
        return result, indices_tensor(indices, batched)
    return result


def avg_pool(function, spatial, input, kernel_size, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None, dilation=1):
    """Average pooling over ``spatial`` axes (behind ``avg_pool{1,2,3}d``)."""
    x, batched = pool_input(input, function, spatial)
    window = _window_args(function, spatial, x, kernel_size, stride, padding, dilation,
                          ceil_mode)
    count_include_pad = check_flag(count_include_pad, "count_include_pad", function)
    options = dict(count_include_pad=count_include_pad,
                   divisor_override=check_divisor(divisor_override, function))
    out = kernels.avg_pool(x.array, *window, **options)
    shape = x.array.shape
    result = record(f"AvgPool{spatial}D", out, (x,),
                    lambda grad: (kernels.avg_pool_backward(grad, shape, *window, **options),))
    return restore_batch(result, batched)


def lp_pool(function, spatial, input, norm_type, kernel_size, stride=None, ceil_mode=False,
            padding=0, dilation=1):
    """Power-average pooling over ``spatial`` axes (behind ``lp_pool{1,2,3}d``)."""
    x, batched = pool_input(input, function, spatial)
    norm_type = check_norm_type(norm_type, function)
    window = _window_args(function, spatial, x, kernel_size, stride, padding, dilation,
                          ceil_mode)
    array = x.array
    out = kernels.lp_pool(array, norm_type, *window)
    result = record(f"LpPool{spatial}D", out, (x,),
                    lambda grad: (kernels.lp_pool_backward(grad, array, out, norm_type,
                                                           *window),))
    return restore_batch(result, batched)


# ------------------------------------------------------- public functions


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, dilation=1):
    return avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, divisor_override, dilation)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, dilation=1):
    return avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, divisor_override, dilation)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, dilation=1):
    return avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, divisor_override, dilation)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False, padding=0,
              dilation=1):
    return lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode, padding,
                   dilation)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False, padding=0,
              dilation=1):
    return lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode, padding,
                   dilation)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False, padding=0,
              dilation=1):
    return lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode, padding,
                   dilation)


# ------------------------------------------------------------ docstrings

_COMMON = """
    input : Tensor or array_like, shape {batched} or {unbatched}
    kernel_size : int or tuple of {spatial} ints
    stride : int or tuple of {spatial} ints, optional
        Defaults to ``kernel_size`` (also when ``()``, as in PyTorch)."""

_PADDING = """
    padding : int, tuple of {spatial} ints, {spatial} (lo, hi) pairs, 'valid' or 'same'"""

_MAX_DOC = """{spatial}-D max pooling over each channel.

    Parameters
    ----------""" + _COMMON + _PADDING + """
        Implicit ``-inf`` on both sides (per side with pairs); padding never wins.
    dilation : int or tuple of {spatial} ints
    ceil_mode : bool
        Round the output size up; a last partial window must start inside the
        input or the low padding.
    return_indices : bool
        Also return, for each output, the row-major flat index of its maximum in the
        input plane ({index}), for ``max_unpool{spatial}d``.

    Returns
    -------
    Tensor, shape {out_batched} or {out_unbatched}; the input's dtype (integers exact)
    Tensor of int64, same shape
        Only with ``return_indices``.

    Notes
    -----
    Along each axis ``out = floor((in + lo + hi - dilation * (kernel - 1) - 1) / stride)
    + 1`` (ceiling with ``ceil_mode``; :func:`cnnlab.shapes.output_size`).

    Ties: as in PyTorch, the first maximum in row-major window order wins; its index
    is returned and it alone receives the gradient. A window holding NaN outputs NaN
    and its last NaN wins. Overlapping windows add their gradients.

    Beyond PyTorch: per-side and 'same' padding with any stride, padding larger
    than ``kernel_size // 2`` (each window must still overlap the input).
"""

_AVG_DOC = """{spatial}-D average pooling over each channel.

    Parameters
    ----------""" + _COMMON + _PADDING + """
        Implicit zeros.
    ceil_mode : bool
    count_include_pad : bool
        Divide by the number of window positions inside the padded input (``True``;
        ceil-mode windows running past the padding count only what they cover) or
        inside the input (``False``).
    divisor_override : int, optional
        Divide every window's sum by this instead (non-zero).
    dilation : int or tuple of {spatial} ints
        Beyond PyTorch: spacing between window taps.

    Returns
    -------
    Tensor, shape {out_batched} or {out_unbatched}
        The input's dtype. For integers, as PyTorch does for int64, each window's
        exact sum divided with truncation toward zero (``[-7, 0]`` averages to
        ``-3``); beyond PyTorch, other integer dtypes work the same way.

    Notes
    -----
    Output shape as ``max_pool{spatial}d``. Beyond PyTorch: per-side and 'same'
    padding, padding larger than ``kernel_size // 2``, ``dilation``.
"""

_LP_DOC = """{spatial}-D power-average pooling: ``(sum over the window of |x|^p)^(1/p)``.

    Parameters
    ----------
    input : Tensor or array_like, shape {batched} or {unbatched}
    norm_type : float
        ``p > 0``. ``p = 1`` is sum pooling of ``|x|``; ``p = inf`` is max pooling
        of ``|x|``.
    kernel_size : int or tuple of {spatial} ints
    stride : int or tuple of {spatial} ints, optional
        Defaults to ``kernel_size``.
    ceil_mode : bool""" + _PADDING + """
        Beyond PyTorch: implicit zeros (they add nothing to the sums).
    dilation : int or tuple of {spatial} ints
        Beyond PyTorch.

    Returns
    -------
    Tensor, shape {out_batched} or {out_unbatched}
        The input's dtype for floats; float32 for integers.

    Notes
    -----
    Output shape as ``max_pool{spatial}d``. Gradient:
    ``sign(x) |x|^(p-1) * out^(1-p)``, 0 where ``out == 0`` (as PyTorch) or
    ``x == 0``.

    Beyond PyTorch: PyTorch sums ``x^p`` without the absolute value (NaN for
    non-integer ``p`` and sign errors for odd ``p`` on negative inputs); here
    ``|x|^p``. In ceil mode PyTorch multiplies a partial window's sum by
    ``prod(kernel_size) / covered``; here a partial window sums only what it covers.
    ``padding``, ``dilation`` and ``p = inf`` are extensions.
"""

_OUT = {1: "L_out", 2: "H_out, W_out", 3: "D_out, H_out, W_out"}
_INDEX = {1: "``l``", 2: "``h * W + w``", 3: "``(d * H + h) * W + w``"}
_EXAMPLES = {
    "max_pool1d": """
    >>> max_pool1d([[1., 5., 2., 0., 3.]], 2, padding=1)
    tensor([[1., 5., 3.]])
""",
    "max_pool2d": """
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> max_pool2d(x, 3, padding=1, stride=2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
""",
    "max_pool3d": """
    >>> max_pool3d(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2), 2)
    tensor([[[[7.]]]])
""",
    "avg_pool1d": """
    >>> avg_pool1d([[1., 2., 4.]], 2, padding=((0, 1),), count_include_pad=False)
    tensor([[1.5000, 4.0000]])
""",
    "avg_pool2d": """
    >>> avg_pool2d([[[1., 2., 3.], [4., 5., 6.]]], 2, padding=(0, 1), count_include_pad=False)
    tensor([[[2.5000, 4.0000]]])
""",
    "avg_pool3d": """
    >>> avg_pool3d(np.arange(8).reshape(1, 2, 2, 2) - 4, 2)
    tensor([[[[0]]]])
""",
    "lp_pool1d": """
    >>> lp_pool1d([[3., -4.]], 2, 2)
    tensor([[5.]])
""",
    "lp_pool2d": """
    >>> lp_pool2d([[[3., -4.], [0., 0.]]], 2, 2)
    tensor([[[5.]]])
""",
    "lp_pool3d": """
    >>> lp_pool3d(np.full((1, 2, 2, 2), 0.5, dtype=np.float32), 1, 2)
    tensor([[[[4.]]]])
""",
}

for _function, _template in ((max_pool1d, _MAX_DOC), (max_pool2d, _MAX_DOC),
                             (max_pool3d, _MAX_DOC), (avg_pool1d, _AVG_DOC),
                             (avg_pool2d, _AVG_DOC), (avg_pool3d, _AVG_DOC),
                             (lp_pool1d, _LP_DOC), (lp_pool2d, _LP_DOC), (lp_pool3d, _LP_DOC)):
    _spatial = int(_function.__name__[-2])
    _unbatched, _batched = LAYOUTS[_spatial]
    _function.__doc__ = _template.format(
        spatial=_spatial, batched=_batched, unbatched=_unbatched, index=_INDEX[_spatial],
        out_batched=f"(N, C, {_OUT[_spatial]})", out_unbatched=f"(C, {_OUT[_spatial]})",
    ) + "\n    Examples\n    --------" + _EXAMPLES[_function.__name__] + "    "

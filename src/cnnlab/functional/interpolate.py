"""``interpolate``: resizing images (and 1-D signals, 3-D volumes) as PyTorch does.

Every mode PyTorch offers is separable: the output along one spatial axis is a fixed
linear combination of the input along that axis. So each axis gets a small weight
matrix ``A`` of shape (out_size, in_size) and the resize is ``A_h @ x @ A_w.T``
(one matrix per spatial axis, applied in turn).

Backward: the op is linear in ``x``, so its vector-Jacobian product applies the
transposed matrices, ``grad_x = A_h.T @ grad_out @ A_w`` (per axis, in turn).

The matrices follow PyTorch's index rules:

* ``scale`` for an axis is ``1 / scale_factor`` when a scale factor is given and
  ``recompute_scale_factor`` is not True, else ``in / out``; with
  ``align_corners=True`` (linear modes) it is ``(in - 1) / (out - 1)``.
* nearest: source ``floor(dst * scale)``; nearest-exact: ``floor((dst + 0.5) * scale)``
  (both computed in float32, as PyTorch does, and clipped to ``in - 1``).
* linear: source ``s = scale * (dst + 0.5) - 0.5`` clipped at 0 (``scale * dst`` with
  align_corners), weights ``1 - frac`` and ``frac`` on ``floor(s)`` and the next pixel.
* cubic: the same source without clipping, Keys' kernel with ``a = -0.75`` on the four
  neighbours ``floor(s) - 1 .. floor(s) + 2``, indices clamped to the border.
* area: adaptive average pooling (each output averages its window
  ``[floor(i * in / out), ceil((i + 1) * in / out))``).
* antialias (bilinear/bicubic): the filter (triangle, or Keys' kernel with
  ``a = -0.5``) is stretched by ``max(scale, 1)`` around ``center = scale * (dst + 0.5)``
  over ``[center - support, center + support)``, ``support = max(scale, 1)`` (bilinear)
  or twice that (bicubic), and each output's weights are normalised to sum 1. When
  enlarging this is plain bilinear, but bicubic then uses ``a = -0.5``, as PyTorch.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import record
from ..dtypes import opmath_dtype
from ..ops import as_tensor

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

# mode -> the number of spatial dimensions it accepts (None: any of 1, 2, 3)
_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1,
          "bilinear": 2, "bicubic": 2, "trilinear": 3}
_LINEAR_MODES = ("linear", "bilinear", "bicubic", "trilinear")


def _per_axis(value, spatial: int, name: str, kind) -> tuple:
    """An int/float or a sequence of one per spatial axis, as a tuple of ``spatial``."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * spatial
    if len(values) != spatial:
        raise ValueError(f"interpolate: {name} must be a number or a sequence of {spatial} "
                         f"numbers for input with {spatial} spatial dimensions, got {value!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind) or v <= 0:
            raise ValueError(f"interpolate: {name} must hold positive numbers, got {value!r}")
    return values


def _output_sizes(in_sizes, size, scale_factor, recompute_scale_factor):
    """The output sizes and the scale (``in / out`` per axis, or None) the kernels use."""
    spatial = len(in_sizes)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor, got "
                         f"size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is only meaningful with "
                             "scale_factor, not with an explicit size")
        return _per_axis(size, spatial, "size", numbers.Integral), (None,) * spatial
    factors = _per_axis(scale_factor, spatial, "scale_factor", numbers.Real)
    out_sizes = tuple(int(math.floor(float(n) * float(f))) for n, f in zip(in_sizes, factors))
    if any(n < 1 for n in out_sizes):
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} gives an empty output "
                         f"{out_sizes} for input sizes {tuple(in_sizes)}")
    if recompute_scale_factor:
        return out_sizes, (None,) * spatial
    return out_sizes, tuple(1.0 / float(f) for f in factors)


def _scale(in_size, out_size, align_corners, inverse_factor):
    """PyTorch's ``area_pixel_compute_scale``: source pixels per output pixel."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return inverse_factor if inverse_factor is not None else in_size / out_size


def _nearest_matrix(in_size, out_size, inverse_factor, exact):
    # float32 arithmetic as PyTorch's kernel (floorf on a float scale), so ties agree
    scale = np.float32(inverse_factor if inverse_factor is not None else in_size / out_size)
    positions = np.arange(out_size, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    source = np.minimum(np.floor(positions * scale).astype(np.int64), in_size - 1)
    matrix = np.zeros((out_size, in_size))
    matrix[np.arange(out_size), source] = 1.0
    return matrix


def _cubic(x, a):
    """Keys' cubic convolution kernel with parameter ``a``."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _linear_matrix(in_size, out_size, scale, align_corners, cubic, dtype):
    # Source positions in the precision PyTorch's kernels use (float32 for float32 and
    # float16 input), so the fractional weights round the same way. PyTorch's compiled
    # ``scale * (dst + 0.5) - 0.5`` is one fused multiply-add, rounded once: computed
    # exactly in float64 (a float32 product fits) and rounded to float32 here. Rounding
    # the product first put positions one float32 step off, and values 2.6e-4 apart on
    # a 345 x 456 -> 270 x 270 resize of values in [-9, 9].
    precision = np.float64 if dtype == np.float64 else np.float32
    scale = np.float64(precision(scale))
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        source = (scale * dst).astype(precision)
    else:
        source = (scale * (dst + 0.5) - 0.5).astype(precision)
    matrix = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if not cubic:
        source = np.maximum(source, precision(0))
        low = source.astype(np.int64)
        high = np.minimum(low + 1, in_size - 1)
        frac = source - low.astype(precision)
        np.add.at(matrix, (rows, low), (precision(1) - frac).astype(np.float64))
        np.add.at(matrix, (rows, high), frac.astype(np.float64))
        return matrix
    low = np.floor(source).astype(np.int64)
    frac = (source - low).astype(np.float64)
    for offset in (-1, 0, 1, 2):
        index = np.clip(low + offset, 0, in_size - 1)
        np.add.at(matrix, (rows, index), _cubic(frac - offset, -0.75))
    return matrix


def _antialias_matrix(in_size, out_size, scale, cubic):
    """Stretched-filter weights for shrinking (PIL's and PyTorch's antialias)."""
    half_width = 2.0 if cubic else 1.0
    stretch = max(scale, 1.0)
    support = half_width * stretch
    matrix = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = scale * (i + 0.5)
        start = max(int(center - support + 0.5), 0)
        stop = min(int(center + support + 0.5), in_size)
        offsets = (np.arange(start, stop) - center + 0.5) / stretch
        if cubic:
            weights = _cubic(offsets, -0.5)
        else:
            weights = np.maximum(0.0, 1.0 - np.abs(offsets))
        total = weights.sum()
        matrix[i, start:stop] = weights / total if total != 0 else weights
    return matrix


def _area_matrix(in_size, out_size):
    matrix = np.zeros((out_size, in_size))
    for i in range(out_size):
        start = (i * in_size) // out_size
        stop = -(-((i + 1) * in_size) // out_size)
        matrix[i, start:stop] = 1.0 / (stop - start)
    return matrix


def _axis_matrix(mode, in_size, out_size, inverse_factor, align_corners, antialias, dtype):
    if mode in ("nearest", "nearest-exact"):
        return _nearest_matrix(in_size, out_size, inverse_factor, mode == "nearest-exact")
    if mode == "area":
        return _area_matrix(in_size, out_size)
    if mode in _LINEAR_MODES:
        scale = _scale(in_size, out_size, align_corners, inverse_factor)
        cubic = mode == "bicubic"
        if antialias:
            return _antialias_matrix(in_size, out_size, scale, cubic)
        return _linear_matrix(in_size, out_size, scale, align_corners, cubic, dtype)
    raise ValueError(f"interpolate: unknown mode {mode!r}")


def _apply(array, matrices, transpose=False):
    """Apply one matrix per trailing spatial axis (its transpose for the backward)."""
    first = array.ndim - len(matrices)
    for k, matrix in enumerate(matrices):
        if transpose:
            matrix = matrix.T
        array = np.moveaxis(np.tensordot(matrix, array, axes=([1], [first + k])), 0, first + k)
    return array


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize ``input`` by ``size`` or ``scale_factor`` (PyTorch's ``F.interpolate``).

    Parameters
    ----------
    input : Tensor, shape (N, C, *spatial) with 1, 2 or 3 spatial dimensions
    size : int or tuple of int, optional
        The output's spatial size.
    scale_factor : float or tuple of float, optional
        Output size ``floor(in * scale_factor)``; unless ``recompute_scale_factor``
        is True, the kernels also use ``1 / scale_factor`` as the scale.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area'}
    align_corners : bool, optional
        For the linear modes only: map corner pixel centres onto each other.
    recompute_scale_factor : bool, optional
    antialias : bool
        For 'bilinear' and 'bicubic': low-pass filter when shrinking.

    Returns
    -------
    Tensor, shape (N, C, *out_spatial), input's dtype

    Examples
    --------
    >>> import cnnlab
    >>> import cnnlab.nn.functional as F
    >>> F.interpolate(cnnlab.tensor([[[1.0, 2.0]]]), scale_factor=2, mode='linear')
    tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """
    input = as_tensor(input, "interpolate", "input")
    x = input.array
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(_MODES)}, got {mode!r}")
    spatial = x.ndim - 2
    if spatial not in (1, 2, 3) or _MODES[mode] not in (None, spatial):
        wanted = {1: "3-D", 2: "4-D", 3: "5-D"}
        allowed = (f"{wanted[_MODES[mode]]} input" if _MODES[mode]
                   else "3-D, 4-D or 5-D input")
        raise ValueError(f"interpolate: mode {mode!r} needs {allowed} (N, C, *spatial), got "
                         f"shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate: input must be floating point, got {input.dtype!r}")
    if align_corners is not None and mode not in _LINEAR_MODES:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         f"modes linear, bilinear, bicubic and trilinear, not {mode!r}")
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"interpolate: antialias is only supported for 'bilinear' and "
                         f"'bicubic', got mode {mode!r}")
    align_corners = bool(align_corners)
    in_sizes = x.shape[2:]
    out_sizes, inverse_factors = _output_sizes(in_sizes, size, scale_factor,
                                               recompute_scale_factor)
    if mode == "area":
        inverse_factors = (None,) * spatial
    compute = opmath_dtype(x.dtype)   # float16 runs in float32, rounded once
    matrices = [_axis_matrix(mode, n_in, n_out, f, align_corners, antialias, x.dtype)
                .astype(compute)
                for n_in, n_out, f in zip(in_sizes, out_sizes, inverse_factors)]
    out = _apply(x.astype(compute, copy=False), matrices).astype(x.dtype, copy=False)
    name = {"nearest": "UpsampleNearest", "nearest-exact": "UpsampleNearestExact",
            "area": "AdaptiveAvgPool", "linear": "UpsampleLinear",
            "bilinear": "UpsampleBilinear", "bicubic": "UpsampleBicubic",
            "trilinear": "UpsampleTrilinear"}[mode]
    suffix = "" if mode == "area" else f"{spatial}D"
    return record(name + suffix + ("Aa" if antialias else ""), np.ascontiguousarray(out),
                  (input,), lambda grad: (_apply(grad, matrices, transpose=True),))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated PyTorch alias: ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated PyTorch alias: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)

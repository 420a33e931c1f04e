"""Convolution of tiny problems: the im2col product without the machinery.

For a 6x8 image and a 1x2 kernel the arithmetic takes a microsecond; what costs is
the machinery that large convolutions need: the scratch pool, batch chunks, the
choice of layout, the thread split. Below :data:`SMALL_ELEMENTS` none of it pays,
so :func:`conv_small` computes the same im2col product directly:

1. ``xp``: ``x`` with its zero padding (a fresh array; ``x`` itself when unpadded).
2. One strided view of ``xp`` holds every tap of every window,
   ``view[c, i, j, n, p, q] = xp[n, c, p*sh + i*dh, q*sw + j*dw]``; reshaping it
   copies it into the im2col matrix ``cols`` of shape ``(K, N*L)``, in the layout
   of :func:`cnnlab.kernels.im2col.im2col` (so :func:`~cnnlab.kernels.conv.conv_backward`
   can reuse it).
3. One matrix product per group, ``w (O, K) @ cols (K, N*L)``, as in the large path.

Notation as in :mod:`cnnlab.kernels.conv`.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import window

_UNPADDED = {spatial: ((0, 0),) * spatial for spatial in range(1, 4)}

SMALL_ELEMENTS = 1 << 14
"""The largest im2col matrix, padded input or output (in elements) computed here.

Measured (float32, 2 cores): the chapter's 6x8 image with a 1x2 kernel took 13 us
here against 70 us through the large path; at the limit (2x8x10x10, 3x3 kernel) 34
against 107 us forward, 286 against 411 us forward and backward. Four times larger
(4x8x16x16), forward and backward in float64 were faster through the large path.
"""


def is_small(geometry, out_channels: int, itemsize: int) -> bool:
    """Whether :func:`conv_small` should compute the convolution of ``geometry``.

    Zero padding only, and not depthwise (which has its own direct kernel). The
    scratch (columns, product, padded copy, counted as
    :meth:`~cnnlab.kernels.geometry.ConvGeometry.scratch_per_item` counts it) must stay
    within the budget ``window.CONFIG.scratch_bytes`` in one piece, as the large path would
    have it in one chunk: then the backward pass, which chunks by the same count, can
    reuse the columns. Sizes are Python ints, so the products cannot overflow.
    """
    if geometry.padding_mode != "zeros" or (geometry.groups > 1 and geometry.depthwise):
        return False
    n, channels = geometry.input_shape[:2]
    if min(geometry.out_shape) < 1:
        return False
    windows = n * math.prod(geometry.out_shape)
    cols = channels * math.prod(geometry.kernel_size) * windows
    padded = n * channels * math.prod(geometry.padded_shape)
    out = out_channels * windows
    return (max(cols, padded, out) <= SMALL_ELEMENTS
            and (cols + padded + out) * itemsize <= window.CONFIG.scratch_bytes)


def conv_small(x: np.ndarray, weight: np.ndarray, bias, geometry, keep_cols: bool):
    """The convolution of :func:`cnnlab.kernels.conv.conv_forward` for small inputs.

    Any number of spatial axes (shapes below in 2-D).

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    weight : np.ndarray, shape (O, C / groups, kh, kw)
        Both in the compute dtype.
    bias : np.ndarray of shape (O,), or None
    geometry : cnnlab.kernels.geometry.ConvGeometry
        Narrow layout, zero padding; :func:`is_small` holds.
    keep_cols : bool
        Return the im2col matrix for the backward pass.

    Returns
    -------
    out : np.ndarray, shape (N, O, OH, OW), C-contiguous
    cols : np.ndarray of shape (C * kh * kw, N * OH * OW), or None
    """
    n, channels = x.shape[:2]
    out_channels = weight.shape[0]
    groups = geometry.groups
    kernel, out_shape = geometry.kernel_size, geometry.out_shape
    spatial = len(kernel)

    # handle padding
    if geometry.padding == _UNPADDED.get(spatial):
        xp = np.ascontiguousarray(x)
    else:
        xp = np.zeros((n, channels) + geometry.padded_shape, x.dtype)
        xp[(slice(None), slice(None)) + tuple(slice(lo, lo + size) for (lo, _), size
                                              in zip(geometry.padding, x.shape[2:]))] = x

    # im2col: one strided view (the constructor checks it stays inside xp), one copy
    steps = xp.strides[2:]
    taps = np.ndarray((channels,) + kernel + (n,) + out_shape, xp.dtype, buffer=xp,
                      strides=(xp.strides[1],) + tuple(map(operator.mul, steps, geometry.dilation))
                      + (xp.strides[0],) + tuple(map(operator.mul, steps, geometry.stride)))
    cols = taps.reshape(channels * math.prod(kernel), n * math.prod(out_shape))

    # one product per group: (G, O/G, K/G) @ (G, K/G, N*L) -> (O, N*L); np.dot is the
    # cheaper call for the 2-D product of one group
    if groups == 1:
        result = np.dot(weight.reshape(out_channels, -1), cols)
    else:
        result = np.matmul(weight.reshape(groups, out_channels // groups, -1),
                           cols.reshape(groups, -1, cols.shape[1]))
    if n == 1:
        out = result.reshape((1, out_channels) + out_shape)
    else:
        out = result.reshape((out_channels, n) + out_shape).swapaxes(0, 1)
        out = np.ascontiguousarray(out)
    if bias is not None:
        out += bias.astype(out.dtype, copy=False).reshape((1, -1) + (1,) * spatial)
    return out, (cols if keep_cols else None)


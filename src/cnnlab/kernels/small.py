"""Convolution of tiny problems: the im2col product without the machinery.

For a 6x8 image and a 1x2 kernel the arithmetic takes a microsecond; what costs is
the machinery that large convolutions need: the scratch pool, batch chunks, the
choice of layout, the thread split. Below :data:`SMALL_ELEMENTS` none of it pays,
so :func:`conv2d_small` computes the same im2col product directly:

1. ``xp``: ``x`` with its zero padding (a fresh array; ``x`` itself when unpadded).
2. One strided view of ``xp`` holds every tap of every window,
   ``view[c, i, j, n, p, q] = xp[n, c, p*sh + i*dh, q*sw + j*dw]``; reshaping it
   copies it into the im2col matrix ``cols`` of shape ``(K, N*L)``, in the layout
   of :func:`cnnlab.kernels.conv.im2col` (so :func:`~cnnlab.kernels.conv.conv2d_backward`
   can reuse it).
3. One matrix product per group, ``w (O, K) @ cols (K, N*L)``, as in the large path.

Notation as in :mod:`cnnlab.kernels.conv`.
"""

from __future__ import annotations

import numpy as np

from . import window

SMALL_ELEMENTS = 1 << 14
"""The largest im2col matrix, padded input or output (in elements) computed here.

Measured (float32, 2 cores): the chapter's 6x8 image with a 1x2 kernel took 13 us
here against 70 us through the large path; at the limit (2x8x10x10, 3x3 kernel) 34
against 107 us forward, 286 against 411 us forward and backward. Four times larger
(4x8x16x16), forward and backward in float64 were faster through the large path.
"""


def is_small(geometry, out_channels: int, itemsize: int) -> bool:
    """Whether :func:`conv2d_small` should compute the convolution of ``geometry``.

    Zero padding only, and not depthwise (which has its own direct kernel). The
    scratch (columns, product, padded copy, counted as
    :meth:`~cnnlab.kernels.conv.ConvGeometry.scratch_per_item` counts it) must stay
    within the budget ``window.SCRATCH_BYTES`` in one piece, as the large path would
    have it in one chunk: then the backward pass, which chunks by the same count, can
    reuse the columns. Sizes are Python ints, so the products cannot overflow.
    """
    if geometry.padding_mode != "zeros" or (geometry.groups > 1 and geometry.depthwise):
        return False
    n, channels = geometry.input_shape[:2]
    height, width = geometry.padded_shape
    out_h, out_w = geometry.out_shape
    kernel_h, kernel_w = geometry.kernel_size
    if out_h < 1 or out_w < 1:
        return False
    windows = n * out_h * out_w
    cols = channels * kernel_h * kernel_w * windows
    padded = n * channels * height * width
    out = out_channels * windows
    return (max(cols, padded, out) <= SMALL_ELEMENTS
            and (cols + padded + out) * itemsize <= window.SCRATCH_BYTES)


def conv2d_small(x: np.ndarray, weight: np.ndarray, bias, geometry, keep_cols: bool):
    """The convolution of :func:`cnnlab.kernels.conv.conv2d_forward` for small inputs.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    weight : np.ndarray, shape (O, C / groups, kh, kw)
        Both in the compute dtype.
    bias : np.ndarray of shape (O,), or None
    geometry : cnnlab.kernels.conv.ConvGeometry
        Narrow layout, zero padding; :func:`is_small` holds.
    keep_cols : bool
        Return the im2col matrix for the backward pass.

    Returns
    -------
    out : np.ndarray, shape (N, O, OH, OW), C-contiguous
    cols : np.ndarray of shape (C * kh * kw, N * OH * OW), or None
    """
    n, channels, height, width = x.shape
    out_channels, _, kernel_h, kernel_w = weight.shape
    groups = geometry.groups
    out_h, out_w = geometry.out_shape
    stride_h, stride_w = geometry.stride
    dilation_h, dilation_w = geometry.dilation

    # handle padding
    if geometry.padding == ((0, 0), (0, 0)):
        xp = np.ascontiguousarray(x)
    else:
        (top, _), (left, _) = geometry.padding
        xp = np.zeros((n, channels) + geometry.padded_shape, x.dtype)
        xp[:, :, top:top + height, left:left + width] = x

    # im2col: one strided view (the constructor checks it stays inside xp), one copy
    step_n, step_c, step_h, step_w = xp.strides
    taps = np.ndarray((channels, kernel_h, kernel_w, n, out_h, out_w), xp.dtype, buffer=xp,
                      strides=(step_c, step_h * dilation_h, step_w * dilation_w, step_n,
                               step_h * stride_h, step_w * stride_w))
    cols = taps.reshape(channels * kernel_h * kernel_w, n * out_h * out_w)

    # one product per group: (G, O/G, K/G) @ (G, K/G, N*L) -> (O, N*L); np.dot is the
    # cheaper call for the 2-D product of one group
    if groups == 1:
        result = np.dot(weight.reshape(out_channels, -1), cols)
    else:
        result = np.matmul(weight.reshape(groups, out_channels // groups, -1),
                           cols.reshape(groups, -1, cols.shape[1]))
    if n == 1:
        out = result.reshape(1, out_channels, out_h, out_w)
    else:
        out = result.reshape(out_channels, n, out_h, out_w).transpose(1, 0, 2, 3)
        out = np.ascontiguousarray(out)
    if bias is not None:
        out += bias.astype(out.dtype, copy=False).reshape(1, -1, 1, 1)
    return out, (cols if keep_cols else None)

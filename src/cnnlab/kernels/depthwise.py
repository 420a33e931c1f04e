"""Depthwise convolution (one input and one output channel per group) as direct
per-tap multiply-adds, for any number of spatial axes.
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .im2col import Scratch, by_images, image_parts, pad_chunk, taps_of, unpad_chunk

#
# With one input and one output channel per group, im2col + GEMM degenerates into C
# products of a (1 x k*k) row by a (k*k x N*L) matrix. Directly, each output channel
# is a sum over taps of (tap grid) * (one weight):
#
#   y[n, c] = b[c] + sum_{i,j} w[c, 0, i, j] * xp[n, c, i*dh + p*sh, j*dw + q*sw]
#   dxp[n, c, tap grid] += w[c, 0, i, j] * dy[n, c]          (the transpose, per tap)
#   dw[c, 0, i, j] = sum_{n,p,q} dy[n, c, p, q] * xp[n, c, tap grid]
#
# Done one image at a time, so the k*k passes over it stay in cache, and images
# split among threads.


def depthwise_forward(x, weight, geometry) -> np.ndarray:
    n, channels = x.shape[:2]
    out = np.empty((n, channels) + geometry.out_shape, x.dtype)
    taps = weight.reshape(channels, -1)

    def work(part):
        scratch = Scratch(x.dtype)
        for image in range(part.start, part.stop):
            padded = pad_chunk(x[image:image + 1], geometry, scratch)
            total = product = None
            # taps come in row-major order, the order of the flattened kernel
            for k, (_, view) in enumerate(taps_of(padded, geometry)):  # view: (C, 1, ...)
                column = taps[:, k].reshape((channels,) + (1,) * (view.ndim - 1))
                if total is None:
                    total = scratch.get("total", view.shape)
                    product = scratch.get("product", view.shape)
                    np.multiply(view, column, out=total)
                else:
                    np.multiply(view, column, out=product)
                    total += product
            out[image] = total.reshape((channels,) + geometry.column_shape)[
                (slice(None),) + geometry.real]
        scratch.release()
    by_images(work, n, x.size)
    return out


def depthwise_backward(dy, x, weight, geometry, need_input, need_weight):
    n, channels = x.shape[:2]
    taps = weight.reshape(channels, -1)
    grad_x = np.empty(x.shape, x.dtype) if need_input else None
    parts = image_parts(n, x.size)
    partial_w = [np.zeros(taps.shape, x.dtype) for _ in parts] if need_weight else None

    def work(index):
        part = parts[index]
        scratch = Scratch(x.dtype)
        for image in range(part.start, part.stop):
            if geometry.wide:   # dy in the layout of a tap: (C, 1, locations), zeros outside
                rows = scratch.zeros("rows", (channels, 1) + geometry.column_shape)
                rows[(slice(None), 0) + geometry.real] = dy[image]
                rows = rows.reshape(channels, 1, -1)
            else:
                rows = dy[image:image + 1].swapaxes(0, 1)
            padded = pad_chunk(x[image:image + 1], geometry, scratch) if need_weight else None
            grad_padded = None
            if need_input:
                grad_padded = scratch.get("grad_padded", (1, channels) + geometry.buffer_shape)
                grad_padded[...] = 0
            product = scratch.get("product", rows.shape)
            if need_input:
                for k, (_, view) in enumerate(taps_of(grad_padded, geometry)):
                    np.multiply(rows, taps[:, k].reshape((channels,) + (1,) * (rows.ndim - 1)),
                                out=product)
                    view += product
            if need_weight:  # per channel, the dot product of dy with each tap
                dy_rows = rows.reshape(channels, 1, -1)
                for k, (_, view) in enumerate(taps_of(padded, geometry)):
                    dots = np.matmul(dy_rows, view.reshape(channels, -1, 1))
                    partial_w[index][:, k] += dots.reshape(channels)
            if need_input:
                grad_x[image] = unpad_chunk(grad_padded, geometry, (1,) + x.shape[1:])[0]
        scratch.release()
    for _ in parallel.map_threads(work, range(len(parts))):
        pass
    grad_w = sum(partial_w).reshape(weight.shape) if need_weight else None
    return grad_x, grad_w

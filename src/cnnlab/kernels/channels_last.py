"""Convolution with channels-last columns, for short output rows.

The general route (:func:`cnnlab.kernels.conv.forward_im2col`) lays its columns out
``(K, N*L)``: one row per (channel, tap), filled by copies whose innermost run is one
output row. On ResNet's late layers a row is 3 or 6 values long, and the copy costs
more than the product. Here the columns are ``(N*L, K')``: one row per (image, output
position), one column per (tap, channel), filled from a channels-last copy of the
padded input, so every run is ``C`` contiguous values. The weight is reordered to
match, ``W' = (O, *kernel, C)``, and::

    forward:   Y^T (N*L, O)  = cols (N*L, K') @ W'^T
    dW:        dW' (O, K')   = dY (O, N*L) @ cols            (then back to (O, C, *k))
    dx:        dcols (N*L, K') = dY^T (N*L, O) @ W', added back tap by tap (col2im)

Chosen in :data:`cnnlab.kernels.conv.ROUTES` (forward), in
:func:`cnnlab.kernels.conv.conv_backward` (dW) and by
:func:`cnnlab.kernels.conv.input_grad_route` (dx), all through :func:`applies`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import buffers
from .im2col import Scratch

MAX_ROW = 8
"""Output rows up to this long take the channels-last columns. Measured at batch 128 on
ResNet-18's layers (columns + product + layout): 3x3 maps at 512 channels 36 against
49 ms, 6x6 at 256 channels 39 against 45 ms (Winograd), the stride-2 layers to 6x6 and
3x3 26 and 20 against 35 and 32 ms; 12x12 at 128 channels 54 against 47 ms, 24x24 at 64
channels 84 against 72 ms (longer rows copy well the usual way)."""

MAX_ROW_INPUT_GRAD = 16
"""For the input gradient of a stride-2 layer (the alternative being col2im's adds in
runs of one output row) rows up to this long take the channels-last columns: at 64
channels with 12-value rows (ResNet's 64-to-128 layer) 1.14-1.30x faster at batch 32
and 128."""

MIN_CHANNELS = 16
"""Fewer channels make the innermost runs of the channels-last copy too short."""


def applies(geometry, out_channels: int, max_row: int = MAX_ROW) -> bool:
    """One group, zero padding, not 1x1, output rows of at most ``max_row`` and at
    least :data:`MIN_CHANNELS` input channels."""
    return (geometry.groups == 1 and geometry.padding_mode == "zeros"
            and not geometry.pointwise and geometry.out_shape[-1] <= max_row
            and geometry.input_shape[1] >= MIN_CHANNELS)


def _grid(tap, geometry) -> tuple:
    """Index of tap ``tap``'s window grid in a channels-last padded buffer."""
    return (slice(None),) + tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o
                                  in zip(tap, geometry.dilation, geometry.stride,
                                         geometry.out_shape))


def _inside(geometry, spatial) -> tuple:
    """Index of the input inside its channels-last padded copy."""
    return (slice(None),) + tuple(slice(lo, lo + size) for (lo, _), size
                                  in zip(geometry.padding, spatial))


def columns(x_chunk, geometry, scratch) -> np.ndarray:
    """The columns ``(n*L, K')`` of one batch chunk ``(n, C, *spatial)``.

    Rows ``(image, *output position)``, columns ``(*tap, channel)``: the input is first
    copied, zero-padded, into a channels-last buffer ``(n, *padded, C)``, and each
    tap's window grid is then one copy whose innermost run is ``C`` values.
    """
    n, channels = x_chunk.shape[:2]
    kernel, out_shape = geometry.kernel_size, geometry.out_shape
    padded = scratch.zeros("padded_last", (n,) + geometry.padded_shape + (channels,))
    padded[_inside(geometry, x_chunk.shape[2:])] = np.moveaxis(x_chunk, 1, -1)
    cols = scratch.get("cols_last", (n,) + out_shape + kernel + (channels,))
    every = (slice(None),) * (1 + len(out_shape))
    for tap in itertools.product(*map(range, kernel)):
        cols[every + tap] = padded[_grid(tap, geometry)]
    return cols.reshape(n * math.prod(out_shape), -1)


def _weight_last(weight) -> np.ndarray:
    """``(O, C, *kernel)`` as ``W' (O, K')`` with columns ``(*tap, channel)``."""
    return np.moveaxis(weight, 1, -1).reshape(weight.shape[0], -1)


def forward(x, weight, bias, geometry, keep_bytes: int):
    """The convolution of ``geometry`` (a route of :data:`cnnlab.kernels.conv.ROUTES`;
    ``bias`` of shape ``(O,)`` in ``x``'s dtype, or None), and the columns for
    :func:`weight_grad` (a :class:`~cnnlab.kernels.buffers.Lent`) when the batch ran in
    one chunk and they are at most ``keep_bytes``, else None."""
    n, out_channels, dtype = x.shape[0], weight.shape[0], x.dtype
    w_last = _weight_last(weight)
    out = np.empty((n, out_channels) + geometry.out_shape, dtype)
    scratch = Scratch(dtype)
    chunks = geometry.chunks(out_channels, dtype.itemsize)
    for chunk in chunks:
        cols = columns(x[chunk], geometry, scratch)
        result = scratch.get("result", (cols.shape[0], out_channels))
        np.matmul(cols, w_last.T, out=result)
        if bias is not None:  # on the contiguous product: faster than in the layout copy
            result += bias
        out[chunk] = np.moveaxis(result.reshape((-1,) + geometry.out_shape + (out_channels,)),
                                 -1, 1)
    kept = None
    if len(chunks) == 1 and cols.nbytes <= keep_bytes:
        kept = buffers.Lent(cols)
        scratch.keep("cols_last")
    scratch.release()
    return out, kept


def weight_grad(dy, x, geometry, out_channels: int, kept=None) -> np.ndarray:
    """``dW`` of :func:`forward`: ``dY (O, n*L) @ cols (n*L, K')`` per batch chunk (the
    columns ``kept`` by the forward, or rebuilt), the ``(O, *kernel, C)`` sum then
    moved to PyTorch's ``(O, C, *kernel)``."""
    dtype, channels = x.dtype, x.shape[1]
    grad = np.zeros((out_channels, math.prod(geometry.kernel_size) * channels), dtype)
    scratch = Scratch(dtype)
    for chunk in geometry.chunks(out_channels, dtype.itemsize):
        cols = columns(x[chunk], geometry, scratch) if kept is None else kept
        grad += np.matmul(dy[chunk].swapaxes(0, 1).reshape(out_channels, -1), cols)
    scratch.release()
    grad = grad.reshape((out_channels,) + geometry.kernel_size + (channels,))
    return np.ascontiguousarray(np.moveaxis(grad, -1, 1))


def input_grad(dy, weight, geometry) -> np.ndarray:
    """``dx`` of :func:`forward`: ``dcols = dY^T @ W'`` per batch chunk, each tap's
    block added back onto its window grid of a channels-last padded buffer (the
    adjoint of :func:`columns`; grids of different taps may overlap, ``+=`` sums
    them), then cropped and moved back to ``(n, C, *spatial)``."""
    dtype, out_channels = dy.dtype, weight.shape[0]
    x_shape = geometry.input_shape
    channels, kernel, out_shape = x_shape[1], geometry.kernel_size, geometry.out_shape
    w_last = _weight_last(weight)
    grad_x = np.empty(x_shape, dtype)
    every = (slice(None),) * (1 + len(out_shape))
    scratch = Scratch(dtype)
    for chunk in geometry.chunks(out_channels, dtype.itemsize):
        rows = np.moveaxis(dy[chunk], 1, -1).reshape(-1, out_channels)
        n = dy[chunk].shape[0]
        dcols = scratch.get("cols_last", (rows.shape[0], w_last.shape[1]))
        np.matmul(rows, w_last, out=dcols)
        dcols = dcols.reshape((n,) + out_shape + kernel + (channels,))
        padded = scratch.get("padded_last", (n,) + geometry.padded_shape + (channels,))
        padded[...] = 0
        for tap in itertools.product(*map(range, kernel)):
            padded[_grid(tap, geometry)] += dcols[every + tap]
        grad_x[chunk] = np.moveaxis(padded[_inside(geometry, x_shape[2:])], -1, 1)
    scratch.release()
    return grad_x

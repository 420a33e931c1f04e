"""Winograd F(2x2, 3x3): 3x3 convolutions with 2.25x fewer multiplications.

Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). Each
2x2 block of outputs ("tile") is computed from the 4x4 input patch ``d`` that covers
it, tiles overlapping by two rows and columns:

    y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, 4x4)

    B^T = [[1, 0, -1, 0],    G = [[1,    0,   0],    A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],         [1/2,  1/2, 1/2],         [0, 1, -1, -1]]
           [0, -1, 1, 0],         [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]        [0,    0,   1]]

Summed over input channels, the 16 elementwise products become 16 matrix
products ``M[k] = U[k] (O, C) @ V[k] (C, tiles)``: 16 * O * C multiply-adds per
tile instead of 36 * O * C for im2col. What is left is moving data, which NumPy does
fast only on long contiguous runs (a short row or a strided view costs ~0.2 us of
loop overhead each). So the transforms work on flat arrays:

- the padded input is split into its four (row, column) parity planes, laid out
  ``(C, N, R, S)`` with ``R = th + 1`` tile rows and ``S = tw + 1`` tile columns;
- ``B^T d B`` is then 8 + 16 subtractions and additions of whole planes shifted by
  one column (1) or one tile row (``S``) in the flattened array. Tile row ``th``
  and tile column ``tw`` read across a row end: their values are garbage, computed
  by the products and never written out (``R * S`` tiles per image instead of
  ``th * tw``);
- ``V[k]`` comes out exactly in the ``(C, N * R * S)`` layout of the products, and
  ``A^T m A`` works on ``M[k]`` the same way before one strided copy per output
  parity writes ``y``.

Both transforms run in cache-sized blocks of channels, on one thread: each NumPy call
is then ~15 us, too short for a second thread to gain anything (its hand-offs of the
interpreter lock cost as much), and after the products OpenBLAS's own threads keep
spinning for a while, taking the other core.

In exact arithmetic this is the convolution. In float32 its rounding error measured
like im2col's (relative 3e-7 to 6e-7 on the ResNet layers, against float64). A tile
mixes all 16 inputs of its patch, so one inf would turn the whole tile into NaN
(inf - inf) where a direct convolution gives inf or a number: the caller uses this
only for finite data.
"""

from __future__ import annotations

import math

import numpy as np

from . import buffers

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_GG = np.kron(_G, _G)   # (16, 9): _GG[4a + b, 3i + j] = G[a, i] G[b, j]

MIN_CHANNELS = 128
"""Input and output channels below which im2col is used. Measured on the ResNet 3x3
layers (batch 8): 128 and 256 channels took 0.85x and 0.8x im2col's time, 64 channels
1.05x (the transforms, a few NumPy passes per tile, then cost as much as the products
save)."""

MAX_TILE_COST = 0.8
"""Winograd's multiplications (16 per tile, garbage tiles included) at most this
fraction of im2col's (9 per output). Small maps waste most of their tiles: measured
at batch 32 and 128, a 3x3 map at 512 channels (16 * 9 against 9 * 9) took 1.4-1.65x
im2col's time, a 6x6 map at 256 channels (16 * 16 against 9 * 36, 0.79) 0.86x."""

BLOCK_ELEMENTS = 1 << 16
"""Elements per plane in one block of a transform (256 KiB in float32): in cache."""


def applies(geometry, out_channels: int, dtype) -> bool:
    """Whether :func:`conv3x3_forward` computes the convolution of ``geometry``.

    3x3 kernel, stride 1, no dilation, one group, zero padding, float32/float64, at
    least :data:`MIN_CHANNELS` channels in and out, an output of at least 2x2, and
    enough outputs per tile (:data:`MAX_TILE_COST`).
    """
    channels = geometry.input_shape[1]
    return (geometry.kernel_size == (3, 3) and geometry.stride == (1, 1)
            and geometry.dilation == (1, 1) and geometry.groups == 1
            and geometry.padding_mode == "zeros" and np.dtype(dtype) in _FLOATS
            and min(channels, out_channels) >= MIN_CHANNELS
            and min(geometry.out_shape) >= 2
            and 16 * math.prod(tiles(geometry.out_shape))
            <= MAX_TILE_COST * 9 * math.prod(geometry.out_shape))


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def tiles(out_shape) -> tuple:
    """``(R, S)``: tile rows and columns per image, each with one garbage line."""
    out_h, out_w = out_shape
    return -(-out_h // 2) + 1, -(-out_w // 2) + 1


def scratch_per_item(geometry, out_channels: int, itemsize: int) -> int:
    """Scratch bytes per image: ``V``, ``M`` and the padded input (``4 R S`` per channel)."""
    rows, columns = tiles(geometry.out_shape)
    channels = geometry.input_shape[1]
    return (20 * channels + 16 * out_channels) * rows * columns * itemsize


def weight_transform(weight: np.ndarray) -> np.ndarray:
    """``U[4a + b] = (G g G^T)[a, b]`` for every filter ``g``: shape (16, O, C)."""
    # U[4a + b] = sum_ij G[a, i] G[b, j] g[..., i, j]: one (16, 9) @ (9, O * C) product
    taps = weight.reshape(-1, 9).T
    return np.matmul(_GG.astype(weight.dtype), taps).reshape(16, *weight.shape[:2])


def _input_transform(padded: np.ndarray, channels: slice, v: np.ndarray, rows: int,
                     columns: int) -> None:
    """Write ``V[:, channels]`` = ``B^T d B`` of every tile, from ``padded`` (n, C, 2R, 2S)."""
    n = padded.shape[0]
    count = channels.stop - channels.start
    size = count * n * rows * columns
    shift = columns                                  # one tile row in the flat planes
    planes = buffers.take(4 * (size + 1), v.dtype).reshape(2, 2, size + 1)  # (i, j), flat
    for i in range(2):
        for j in range(2):
            planes[i, j, :size].reshape(count, n, rows, columns)[...] = (
                padded[:, channels, i::2, j::2].transpose(1, 0, 2, 3))
    planes[:, :, size] = 0
    half = buffers.take(8 * (size + shift), v.dtype).reshape(2, 4, size + shift)  # B^T d
    for i in range(2):
        even, odd = planes[i, 0], planes[i, 1]
        e0, e1, o0, o1 = even[:size], even[1:], odd[:size], odd[1:]
        np.subtract(e0, e1, out=half[i, 0, :size])
        np.add(o0, e1, out=half[i, 1, :size])
        np.subtract(e1, o0, out=half[i, 2, :size])
        np.subtract(o0, o1, out=half[i, 3, :size])
    half[:, :, size:] = 0
    block = v[:, channels].reshape(16, size)         # contiguous: channels are rows
    for b in range(4):                               # ... and along the rows
        even, odd = half[0, b], half[1, b]
        e0, e1, o0, o1 = even[:size], even[shift:], odd[:size], odd[shift:]
        np.subtract(e0, e1, out=block[b])
        np.add(o0, e1, out=block[4 + b])
        np.subtract(e1, o0, out=block[8 + b])
        np.subtract(o0, o1, out=block[12 + b])
    buffers.give(planes)
    buffers.give(half)


def _output_transform(m: np.ndarray, outputs: slice, bias, out: np.ndarray, rows: int,
                      columns: int) -> None:
    """Write ``out[:, outputs]`` = ``A^T m A`` (+ bias) from ``M[:, outputs]`` (16, O, T)."""
    n, _, out_h, out_w = out.shape
    count = outputs.stop - outputs.start
    size = count * n * rows * columns
    block = m[:, outputs].reshape(16, size)
    s = buffers.take(8 * size, m.dtype).reshape(2, 4, size)  # A^T applied along the rows
    for b in range(4):
        np.add(block[4 + b], block[8 + b], out=s[0, b])
        s[0, b] += block[b]
        np.subtract(block[4 + b], block[8 + b], out=s[1, b])
        s[1, b] -= block[12 + b]
    y = buffers.take(2 * size, m.dtype).reshape(2, size)     # ... and along the columns
    for i in range(2):
        np.add(s[i, 1], s[i, 2], out=y[0])
        y[0] += s[i, 0]
        np.subtract(s[i, 1], s[i, 2], out=y[1])
        y[1] -= s[i, 3]
        for j in range(2):
            target = out[:, outputs, i::2, j::2]
            tile = y[j].reshape(count, n, rows, columns).transpose(1, 0, 2, 3)
            tile = tile[:, :, :target.shape[2], :target.shape[3]]
            if bias is None:
                target[...] = tile
            else:
                np.add(tile, bias[outputs, None, None], out=target)
    buffers.give(s)
    buffers.give(y)


def _blocks(total: int, per_item: int) -> list:
    """Slices of ``range(total)`` holding about :data:`BLOCK_ELEMENTS` elements each."""
    step = max(1, BLOCK_ELEMENTS // max(1, per_item))
    return [slice(start, min(start + step, total)) for start in range(0, total, step)]


def conv3x3_forward(x: np.ndarray, weight: np.ndarray, bias, geometry, scratch,
                    out: np.ndarray) -> np.ndarray:
    """The convolution of ``geometry`` by Winograd F(2x2, 3x3), written into ``out``.

    Parameters
    ----------
    x : np.ndarray, shape (n, C, H, W)
        One batch chunk, finite, in the compute dtype.
    weight : np.ndarray, shape (O, C, 3, 3)
    bias : np.ndarray of shape (O,), or None
    geometry : cnnlab.kernels.geometry.ConvGeometry
        :func:`applies` holds.
    scratch : cnnlab.kernels.im2col.Scratch
        Reused buffers (``padded`` keeps its zero border between chunks).
    out : np.ndarray, shape (n, O, OH, OW), written
    """
    n, channels, height, width = x.shape
    out_channels = weight.shape[0]
    rows, columns = tiles(geometry.out_shape)
    (top, _), (left, _) = geometry.padding
    padded = scratch.zeros("padded", (n, channels, 2 * rows, 2 * columns))
    padded[:, :, top:top + height, left:left + width] = x
    count = n * rows * columns
    v = scratch.get("V", (16, channels, count))
    per_channel = n * rows * columns
    for part in _blocks(channels, per_channel):
        _input_transform(padded, part, v, rows, columns)
    m = scratch.get("M", (16, out_channels, count))
    np.matmul(weight_transform(weight), v, out=m)
    # One thread: OpenBLAS's threads keep spinning for a while after the product,
    # and more threads of ours would only fight them for the cores.
    for part in _blocks(out_channels, per_channel):
        _output_transform(m, part, bias, out, rows, columns)
    return out


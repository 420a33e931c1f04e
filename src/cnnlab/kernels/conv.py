"""Convolution, transposed convolution, unfold and fold in NumPy: forward and backward.

Notation in this module: ``x`` is the input ``(N, C, H, W)``, ``w`` the weight
``(O, C/G, kh, kw)`` (PyTorch's OIHW) for ``G`` groups, ``y`` the output
``(N, O, OH, OW)`` and ``dy`` its gradient. ``K = C * kh * kw`` and ``L = OH * OW``.
``xp`` is ``x`` padded to ``(N, C, Hp, Wp)``.

Like PyTorch, "convolution" is cross-correlation::

    y[n, o, p, q] = b[o] + sum_{c in group(o), i, j}
                               w[o, c, i, j] * xp[n, c, p*sh + i*dh, q*sw + j*dw]

How it is computed (im2col, fastest of the designs measured on this machine):

1. Every kernel tap ``(i, j)`` reads one strided grid of ``xp``
   (:func:`cnnlab.kernels.window.windows`). The grids are copied into one reused
   buffer laid out ``(C, kh, kw, N, OH, OW)``, which reshapes for free to the
   im2col matrix ``cols`` of shape ``(K, N * L)``.
2. One BLAS matrix product per group (a single batched ``np.matmul`` call):
   ``w (O, K) @ cols (K, N*L) -> (O, N*L)``, transposed to ``(N, O, OH, OW)``.
3. A 1x1 kernel with stride 1 and no padding skips im2col: it is a plain matrix
   product of ``w (O, C)`` with each image seen as ``(C, H*W)``.
4. The batch is split into chunks (:func:`cnnlab.kernels.window.batch_chunks`) so
   each scratch buffer stays under the scratch budget (``CONFIG.scratch_bytes``).

Integer ``x`` and ``w`` accumulate exactly in int64 (beyond PyTorch, which has no
integer convolution on CPU).

The same im2col/col2im pair serves :func:`unfold_forward` and :func:`fold_forward`
(only the layout of the column array differs: PyTorch's ``(N, K, L)``), and the
transposed convolution is the input gradient of a convolution.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import pad as padding_kernels
from . import buffers, parallel, quiet, small, winograd
from . import window
from .window import flat_windows, windows
from ..shapes import output_size, transposed_output_size

#: cnnlab/PyTorch ``padding_mode`` -> mode of :func:`cnnlab.kernels.pad.pad`.
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                 "circular": "circular"}


class ConvGeometry(NamedTuple):
    """Everything about a convolution except the arrays, normalised.

    Any number of spatial axes: 2 for conv2d (``(OH, OW)``), 1 or 3 for conv1d/3d;
    every size below has one entry per spatial axis.
    """

    input_shape: tuple    # (N, C, *spatial): (N, C, H, W) in 2-D
    kernel_size: tuple    # (kh, kw) in 2-D
    stride: tuple
    padding: tuple        # ((lo, hi), ...): ((top, bottom), (left, right)) in 2-D
    dilation: tuple
    out_shape: tuple      # number of windows along each axis: (OH, OW) in 2-D
    groups: int
    padding_mode: str     # 'zeros', 'reflect', 'replicate' or 'circular'
    wide: bool = False    # stride-1 "wide" layout (see window.flat_windows)

    @property
    def padded_shape(self) -> tuple:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.input_shape[2:], self.padding))

    @property
    def buffer_shape(self) -> tuple:
        """The padded buffer: in the wide layout, slack along the first spatial axis holds
        the tail of the last tap's run (never read by a real output)."""
        shape = self.padded_shape
        if not self.wide:
            return shape
        steps = [math.prod(shape[k + 1:]) for k in range(len(shape))]
        slack = sum((k - 1) * d * step for k, d, step
                    in zip(self.kernel_size[1:], self.dilation[1:], steps[1:]))
        return (shape[0] - (-slack // steps[0]),) + shape[1:]

    @property
    def column_shape(self) -> tuple:
        """Column-matrix entries per image and tap, by axis: the output shape, or in the
        wide layout the first output size then the padded sizes (``(OH, Wp)`` in 2-D)."""
        if self.wide:
            return (self.out_shape[0],) + self.padded_shape[1:]
        return self.out_shape

    @property
    def real(self) -> tuple:
        """Index of the real outputs within :attr:`column_shape` (all of it if narrow)."""
        return (slice(None),) + tuple(slice(0, size) for size in self.out_shape[1:])

    @property
    def locations(self) -> int:
        """Column-matrix entries per image and tap: ``prod(column_shape)``."""
        return math.prod(self.column_shape)

    @property
    def is_padded(self) -> bool:
        return any(any(side) for side in self.padding)

    @property
    def depthwise(self) -> bool:
        """One input and one output channel per group: each channel filtered on its own."""
        channels = self.input_shape[1]
        return self.groups > 1 and self.groups == channels and not self.pointwise

    @property
    def pointwise(self) -> bool:
        """1x1 kernel, stride 1, no padding: a plain matrix product, no im2col."""
        return (all(k == 1 for k in self.kernel_size) and all(s == 1 for s in self.stride)
                and not self.is_padded and self.out_shape == tuple(self.input_shape[2:]))

    def scratch_per_item(self, out_channels: int, itemsize: int) -> int:
        """Scratch bytes per image: its im2col columns (K * L), its GEMM result (O * L)
        and its padded copy (C * prod(padded)). The backward pass uses the same chunks."""
        channels = self.input_shape[1]
        kernel_area = math.prod(self.kernel_size)
        padded_area = math.prod(self.buffer_shape)
        return (channels * kernel_area * self.locations + out_channels * self.locations
                + channels * padded_area) * itemsize

    def check_memory(self, out_channels: int, itemsize: int) -> None:
        """A clear MemoryError if even one image's scratch cannot fit in memory."""
        window.check_fits(f"conv{len(self.kernel_size)}d", "scratch for one image (im2col "
                          "columns, product, padded copy)",
                          (self.scratch_per_item(out_channels, itemsize),), np.uint8)

    def chunks(self, out_channels: int, itemsize: int) -> list:
        """Batch slices such that one chunk's scratch stays under the scratch budget (``CONFIG.scratch_bytes``)."""
        per_item = self.scratch_per_item(out_channels, itemsize)
        return list(window.batch_chunks(self.input_shape[0], per_item))


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs from :func:`conv_forward`."""

    geometry: ConvGeometry
    x: np.ndarray             # (N, C, *spatial), in the compute dtype
    weight: np.ndarray        # (O, C/G, *kernel_size), in the compute dtype
    cols: buffers.Kept | None  # (K, N*L) when the forward ran in one chunk, else None


def compute_dtype(x: np.ndarray, weight: np.ndarray) -> np.dtype:
    """int64 when both operands are integers (exact accumulation), else their float type."""
    if x.dtype == weight.dtype and x.dtype.kind == "f":   # the common case, cheaply
        return x.dtype
    if x.dtype.kind in "biu" and weight.dtype.kind in "biu":
        return np.dtype(np.int64)
    return np.result_type(x.dtype, weight.dtype)


def conv_geometry(x_shape, weight_shape, stride, padding, dilation, groups, padding_mode,
                  out_shape=None) -> ConvGeometry:
    """The :class:`ConvGeometry` (narrow layout; see :func:`_choose_layout`).

    ``out_shape`` defaults to :func:`~cnnlab.shapes.output_size`.
    """
    kernel_size = tuple(weight_shape[2:])
    if out_shape is None:
        out_shape = tuple(output_size(n, k, s, p, d) for n, k, s, p, d
                          in zip(x_shape[2:], kernel_size, stride, padding, dilation))
    return ConvGeometry(tuple(x_shape), kernel_size, tuple(stride), tuple(map(tuple, padding)),
                        tuple(dilation), tuple(out_shape), int(groups), padding_mode)


WIDE_MIN_ELEMENTS = 4096
"""Inputs smaller than this use the narrow layout: for them the call overhead dominates."""


def _all_finite(*arrays) -> bool:
    """The wide layout multiplies discarded columns by zeros: only safe for finite data.

    A sum is NaN or infinite whenever an element is (and, rarely, when finite values
    overflow, which only costs the faster layout): one pass, no temporary array.
    """
    return all(a.dtype.kind != "f" or bool(np.isfinite(np.sum(a))) for a in arrays)


def _choose_layout(geometry: ConvGeometry, out_channels: int, *arrays) -> ConvGeometry:
    """Check the scratch fits in memory, then use the wide layout where it applies."""
    if geometry.pointwise:
        return geometry
    geometry.check_memory(out_channels, arrays[0].dtype.itemsize)
    small = arrays[0].size < WIDE_MIN_ELEMENTS  # short rows cost little; skip the checks
    if all(s == 1 for s in geometry.stride) and not small and _all_finite(*arrays):
        return geometry._replace(wide=True)
    return geometry


# ------------------------------------------------------------ im2col / col2im


def _taps(padded: np.ndarray, geometry: ConvGeometry):
    """``(tap, view)`` per kernel tap, each view laid out ``(C, N, ...)`` like a column block.

    Narrow layout: the tap's strided grid ``(C, N, *out_shape)`` (window.windows). Wide
    layout (stride 1): the tap's contiguous run ``(C, N, locations)`` of the flattened
    padded buffer (window.flat_windows).
    """
    if geometry.wide:
        n, channels = padded.shape[:2]
        flat = padded.reshape(n, channels, -1)
        taps = flat_windows(flat, geometry.kernel_size, geometry.dilation,
                            geometry.padded_shape, geometry.locations)
        return ((tap, run.transpose(1, 0, 2)) for tap, run in taps)
    taps = windows(padded, geometry.kernel_size, geometry.stride, geometry.dilation,
                   geometry.out_shape)
    return ((tap, grid.swapaxes(0, 1)) for tap, grid in taps)


def im2col(xp: np.ndarray, geometry: ConvGeometry, cols: np.ndarray) -> np.ndarray:
    """Copy every window tap of ``xp`` into ``cols`` and return ``cols``.

    Parameters
    ----------
    xp : np.ndarray, shape (N, C, *geometry.buffer_shape)
        The padded input (with slack rows in the wide layout).
    cols : np.ndarray, shape (C, *kernel_size, N, *out_shape), written
        ``cols[c, i, j, n, p, q] = xp[n, c, p*sh + i*dh, q*sw + j*dw]`` in 2-D, likewise
        for other numbers of axes. Any strided view works: conv passes a contiguous
        buffer (reshaped to ``(K, N*L)`` afterwards), unfold a transposed view of its
        ``(N, C, kh, kw, OH, OW)`` result. In the wide layout the shape is
        ``(C, *kernel_size, N, locations)`` (``OH * Wp`` in 2-D: ``q`` running over
        the whole padded row).
    """
    def copy(batch):
        for tap, view in _taps(xp[batch], geometry):
            cols[(slice(None),) + tap + (batch,)] = view
    _by_images(copy, xp.shape[0], cols.size)
    return cols


def _image_parts(n: int, elements: int) -> list:
    """Slices of the ``n`` images, one per thread worth using on ``elements`` of work."""
    return parallel.split(n, parallel.threads_for(elements))


def _by_images(work, n: int, elements: int) -> None:
    """Run ``work(batch_slice)`` over the images, split among threads when worthwhile
    (each thread reads and writes its own images: no two touch the same memory)."""
    for _ in parallel.map_threads(work, _image_parts(n, elements)):
        pass


def col2im(cols: np.ndarray, geometry: ConvGeometry, padded: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`im2col`: add each column entry back where it was read from.

    Parameters
    ----------
    cols : np.ndarray, shape (C, *kernel_size, N, *out_shape)
    padded : np.ndarray, shape (N, C, *padded_shape), accumulated into (pass zeros)

    Returns
    -------
    ``padded``, after ``padded[n, c, p*sh + i*dh, q*sw + j*dw] += cols[c, i, j, n, p, q]``
    (2-D; likewise in other dimensions). Overlapping windows add up: one strided
    ``+=`` per tap. In the wide layout ``cols`` must be zero in the discarded
    columns (``q >= OW``).
    """
    def add(batch):
        for tap, view in _taps(padded[batch], geometry):
            view += cols[(slice(None),) + tap + (batch,)]
    _by_images(add, padded.shape[0], cols.size)
    return padded


def _pad_chunk(x_chunk: np.ndarray, geometry: ConvGeometry, scratch) -> np.ndarray:
    """``x_chunk`` padded as ``geometry`` says.

    Zero padding writes the interior of one zero buffer from ``scratch`` (borders stay
    zero, so the buffer serves every chunk); other modes go through
    :func:`cnnlab.kernels.pad.pad`.
    """
    if not geometry.is_padded and not geometry.wide:
        return x_chunk
    mode = PADDING_MODES.get(geometry.padding_mode)
    if mode is None:
        raise ValueError(f"conv2d: padding_mode must be one of {tuple(PADDING_MODES)}, "
                         f"got {geometry.padding_mode!r}")
    n, channels = x_chunk.shape[:2]
    if mode != "constant":
        x_chunk = padding_kernels.pad(x_chunk, ((0, 0), (0, 0)) + geometry.padding, mode)
        if not geometry.wide:
            return x_chunk
        lows = (0,) * len(geometry.padding)
    else:
        lows = tuple(lo for lo, _ in geometry.padding)
    padded = scratch.zeros("padded", (n, channels) + geometry.buffer_shape)
    padded[_interior(lows, x_chunk.shape[2:])] = x_chunk
    return padded


def _interior(lows, sizes) -> tuple:
    """Index of the input inside its padded copy: ``[:, :, top:top + H, left:left + W]``."""
    return (slice(None), slice(None)) + tuple(slice(lo, lo + size)
                                              for lo, size in zip(lows, sizes))


def _unpad_chunk(grad_padded: np.ndarray, geometry: ConvGeometry, chunk_shape) -> np.ndarray:
    """Gradient w.r.t. the unpadded chunk: the inverse bookkeeping of :func:`_pad_chunk`."""
    grad_padded = grad_padded[:, :, :geometry.padded_shape[0]]
    if not geometry.is_padded:
        return grad_padded
    mode = PADDING_MODES[geometry.padding_mode]
    if mode == "constant":
        return grad_padded[_interior([lo for lo, _ in geometry.padding], chunk_shape[2:])]
    return padding_kernels.pad_backward(grad_padded, ((0, 0), (0, 0)) + geometry.padding,
                                        mode, chunk_shape)


class _Scratch:
    """Flat buffers by name, sized for the first (largest) chunk and reused by the rest.

    A smaller chunk takes a prefix of the buffer, so a zero-padded buffer keeps its
    zero borders: the prefix of ``n`` images is exactly ``n`` whole images.
    """

    def __init__(self, dtype):
        self.dtype = dtype
        self.buffers = {}
        self.kept = set()

    def _view(self, name, shape, zero):
        size = math.prod(shape)
        buffer = self.buffers.get(name)
        if buffer is None or buffer.size < size:
            if buffer is not None:
                buffers.give(buffer)
            buffer = self.buffers[name] = buffers.take(size, self.dtype)
            if zero:
                buffer[:size] = 0
        return buffer[:size].reshape(shape)

    def get(self, name: str, shape) -> np.ndarray:
        """An uninitialised buffer."""
        return self._view(name, shape, zero=False)

    def zeros(self, name: str, shape) -> np.ndarray:
        """A buffer whose entries are zero where nobody wrote since it was made."""
        return self._view(name, shape, zero=True)

    def keep(self, name: str) -> None:
        """``name``'s buffer outlives this call (it is not given back)."""
        self.kept.add(name)

    def release(self) -> None:
        """Give every buffer not kept back to the pool (:mod:`cnnlab.kernels.buffers`)."""
        for name, buffer in self.buffers.items():
            if name not in self.kept:
                buffers.give(buffer)
        self.buffers = {}


def _cols_for_chunk(x_chunk, geometry, scratch) -> np.ndarray:
    """The im2col matrix ``(K, n*L)`` of one batch chunk, in the reused buffer."""
    n, channels = x_chunk.shape[:2]
    kernel = geometry.kernel_size
    xp = _pad_chunk(x_chunk, geometry, scratch)
    if geometry.wide:
        cols = scratch.get("cols", (channels,) + kernel + (n, geometry.locations))
    else:
        cols = scratch.get("cols", (channels,) + kernel + (n,) + geometry.out_shape)
    im2col(xp, geometry, cols)
    return cols.reshape(channels * math.prod(kernel), n * geometry.locations)


def _rows(dy_chunk: np.ndarray, geometry: ConvGeometry, scratch) -> np.ndarray:
    """``dy`` chunk ``(n, O, *out_shape)`` as the GEMM layout ``(O, n*L)`` (a copy).

    In the wide layout the discarded columns are zero, so they add nothing.
    """
    n, channels = dy_chunk.shape[:2]
    if not geometry.wide:
        return dy_chunk.swapaxes(0, 1).reshape(channels, -1)
    rows = scratch.zeros("rows", (channels, n) + geometry.column_shape)
    rows[(slice(None), slice(None)) + geometry.real] = dy_chunk.swapaxes(0, 1)
    return rows.reshape(channels, -1)


def _from_rows(result: np.ndarray, geometry: ConvGeometry, channels: int) -> np.ndarray:
    """GEMM result ``(channels, n*L)`` as a ``(n, channels, *out_shape)`` view."""
    grid = result.reshape((channels, -1) + geometry.column_shape)
    return grid[(slice(None), slice(None)) + geometry.real].swapaxes(0, 1)


def _input_grad_chunk(dy_rows, weight, geometry, chunk_shape, scratch) -> np.ndarray:
    """``dx`` of one batch chunk from its ``dy`` rows ``(O, n*L)``: W.T @ dY, then col2im."""
    groups = geometry.groups
    out_channels = weight.shape[0]
    kernel = geometry.kernel_size
    n, channels = chunk_shape[:2]
    w_t = weight.reshape(groups, out_channels // groups, -1).transpose(0, 2, 1)
    dy_groups = dy_rows.reshape(groups, out_channels // groups, -1)
    if out_channels == groups:
        # One output channel per group (depthwise): the contraction has length 1, an
        # outer product, which broadcasting does several times faster than matmul.
        dcols = w_t * dy_groups
    else:
        dcols = np.matmul(w_t, dy_groups, out=scratch.get("dcols", (groups, w_t.shape[1],
                                                                   dy_groups.shape[2])))
    dcols = dcols.reshape((channels,) + kernel + (n, -1))
    if not geometry.wide:
        dcols = dcols.reshape((channels,) + kernel + (n,) + geometry.out_shape)
    grad_padded = scratch.get("grad_padded", (n, channels) + geometry.buffer_shape)
    grad_padded[...] = 0
    col2im(dcols, geometry, grad_padded)
    return _unpad_chunk(grad_padded, geometry, chunk_shape)


# ----------------------------------------------------------------- depthwise
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


def _depthwise_forward(x, weight, geometry) -> np.ndarray:
    n, channels = x.shape[:2]
    out = np.empty((n, channels) + geometry.out_shape, x.dtype)
    taps = weight.reshape(channels, -1)

    def work(part):
        scratch = _Scratch(x.dtype)
        for image in range(part.start, part.stop):
            padded = _pad_chunk(x[image:image + 1], geometry, scratch)
            total = product = None
            # taps come in row-major order, the order of the flattened kernel
            for k, (_, view) in enumerate(_taps(padded, geometry)):  # view: (C, 1, ...)
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
    _by_images(work, n, x.size)
    return out


def _depthwise_backward(dy, x, weight, geometry, need_input, need_weight):
    n, channels = x.shape[:2]
    taps = weight.reshape(channels, -1)
    grad_x = np.empty(x.shape, x.dtype) if need_input else None
    parts = _image_parts(n, x.size)
    partial_w = [np.zeros(taps.shape, x.dtype) for _ in parts] if need_weight else None

    def work(index):
        part = parts[index]
        scratch = _Scratch(x.dtype)
        for image in range(part.start, part.stop):
            if geometry.wide:   # dy in the layout of a tap: (C, 1, locations), zeros outside
                rows = scratch.zeros("rows", (channels, 1) + geometry.column_shape)
                rows[(slice(None), 0) + geometry.real] = dy[image]
                rows = rows.reshape(channels, 1, -1)
            else:
                rows = dy[image:image + 1].swapaxes(0, 1)
            padded = _pad_chunk(x[image:image + 1], geometry, scratch) if need_weight else None
            grad_padded = None
            if need_input:
                grad_padded = scratch.get("grad_padded", (1, channels) + geometry.buffer_shape)
                grad_padded[...] = 0
            product = scratch.get("product", rows.shape)
            if need_input:
                for k, (_, view) in enumerate(_taps(grad_padded, geometry)):
                    np.multiply(rows, taps[:, k].reshape((channels,) + (1,) * (rows.ndim - 1)),
                                out=product)
                    view += product
            if need_weight:  # per channel, the dot product of dy with each tap
                dy_rows = rows.reshape(channels, 1, -1)
                for k, (_, view) in enumerate(_taps(padded, geometry)):
                    dots = np.matmul(dy_rows, view.reshape(channels, -1, 1))
                    partial_w[index][:, k] += dots.reshape(channels)
            if need_input:
                grad_x[image] = _unpad_chunk(grad_padded, geometry, (1,) + x.shape[1:])[0]
        scratch.release()
    for _ in parallel.map_threads(work, range(len(parts))):
        pass
    grad_w = sum(partial_w).reshape(weight.shape) if need_weight else None
    return grad_x, grad_w


# -------------------------------------------------------------------- conv2d


@quiet
def conv_forward(x, weight, bias, stride, padding, dilation, groups, padding_mode="zeros",
                   out_shape=None, keep_cols=True):
    """2-D convolution (cross-correlation, as in PyTorch).

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    weight : np.ndarray, shape (O, C / groups, kh, kw)
    bias : np.ndarray of shape (O,), or None
    stride, dilation : (int, int)
    padding : ((top, bottom), (left, right))
    groups : int
        ``C`` and ``O`` are both divisible by it (checked by the caller).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    out_shape : (int, int), optional
        Number of windows ``(OH, OW)``; default from :func:`cnnlab.shapes.output_size`.
        The transposed convolution passes a smaller one to drop trailing windows.
    keep_cols : bool
        Keep the im2col matrix for :func:`conv_backward` (only if the forward ran
        in one chunk; otherwise the backward recomputes it chunk by chunk). Pass
        False when no weight gradient will be asked for.

    Returns
    -------
    out : np.ndarray, shape (N, O, OH, OW)
        Same dtype as ``x``/``weight``; int64 when both are integers.
    cache : ConvCache
    """
    dtype = compute_dtype(x, weight)
    x = x.astype(dtype, copy=False)
    weight = weight.astype(dtype, copy=False)
    geometry = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups,
                             padding_mode, out_shape)
    out_channels = weight.shape[0]
    if small.is_small(geometry, out_channels, dtype.itemsize):
        out, cols = small.conv_small(x, weight, bias, geometry, keep_cols)
        return out, ConvCache(geometry, x, weight, None if cols is None else buffers.Kept(cols))
    geometry = _choose_layout(geometry, out_channels, x, weight)
    w_groups = weight.reshape(groups, out_channels // groups, -1)
    n = x.shape[0]
    out_shape = (n, out_channels) + geometry.out_shape
    cols_kept = None
    bias = None if bias is None else bias.astype(dtype, copy=False)
    column = None if bias is None else bias.reshape((1, -1) + (1,) * len(geometry.out_shape))
    if geometry.depthwise and out_channels == groups:
        out = _depthwise_forward(x, weight, geometry)
        if column is not None:
            out += column
    elif geometry.pointwise:
        # Each image is a (C, H*W) matrix: y_n = W (O, C) @ x_n, per group.
        out = np.matmul(w_groups, x.reshape(n, groups, -1, math.prod(geometry.out_shape)))
        out = out.reshape(out_shape)
        if column is not None:
            out += column
    elif geometry.wide and winograd.applies(geometry, out_channels, dtype):
        # 3x3, stride 1, >= 128 channels, finite data (wide layout). Chosen from the
        # shape (and finiteness) alone, never from whether a gradient is wanted, so a
        # forward under no_grad gives the same bits as in training; the weight
        # gradient then recomputes the columns (conv_backward, cols=None).
        out = np.empty(out_shape, dtype)
        scratch = _Scratch(dtype)
        per_item = winograd.scratch_per_item(geometry, out_channels, dtype.itemsize)
        for chunk in window.batch_chunks(n, per_item):
            winograd.conv3x3_forward(x[chunk], weight, bias, geometry, scratch, out[chunk])
        scratch.release()
    else:
        out = np.empty(out_shape, dtype)
        scratch = _Scratch(dtype)
        chunks = geometry.chunks(out_channels, dtype.itemsize)
        for chunk in chunks:
            cols = _cols_for_chunk(x[chunk], geometry, scratch)
            locations = cols.shape[1]
            result = scratch.get("result", (groups, out_channels // groups, locations))
            np.matmul(w_groups, cols.reshape(groups, -1, locations), out=result)
            if column is None:
                out[chunk] = _from_rows(result, geometry, out_channels)
            else:  # the bias is added in the same pass that lays out the result
                np.add(_from_rows(result, geometry, out_channels), column, out=out[chunk])
        if keep_cols and len(chunks) == 1:
            cols_kept = buffers.Lent(cols)
            scratch.keep("cols")
        scratch.release()
    return out, ConvCache(geometry, x, weight, cols_kept)


# Backward, derived as convolutions (JAX's convolution VJPs), then as im2col.
#
#   y[n,o,p,q] = sum_{c,i,j} w[o,c,i,j] * xp[n, c, p*s + i*d, q*s + j*d]
#
# dW[o,c,i,j] = sum_{n,p,q} dy[n,o,p,q] * xp[n, c, p*s + i*d, q*s + j*d]
#   : the correlation of xp with dy, dy acting as a kernel dilated by s and moved by d.
#   With cols[(c,i,j), (n,p,q)] = xp[n, c, p*s + i*d, q*s + j*d] this is exactly
#   dW (O, K) = dY (O, N*L) @ cols.T, one GEMM per group.
#
# dxp[n,c,u,v] = sum_{o,i,j,p,q : p*s + i*d = u, q*s + j*d = v} dy[n,o,p,q] * w[o,c,i,j]
#   : the full correlation of dy, stride-dilated (s-1 zeros between entries), with the
#   kernel flipped and dilated by d. im2col splits it in two: dcols = W.T @ dY gives,
#   for each (c,i,j) and (n,p,q), the term sum_o w[o,c,i,j] dy[n,o,p,q]; col2im adds
#   it at (p*s + i*d, q*s + j*d), which is exactly the constraint of the sum (tap
#   (i,j)'s strided grid is where the stride-dilated dy meets the flipped kernel).
#   Finally dx = pad_backward(dxp): crop for zeros, fold borders back onto their
#   sources for reflect/replicate/circular.
#
# db[o] = sum_{n,p,q} dy[n,o,p,q].


@quiet
def conv_backward(grad_out, cache: ConvCache, need_input=True, need_weight=True,
                    need_bias=True):
    """Gradients of :func:`conv_forward`.

    Parameters
    ----------
    grad_out : np.ndarray, shape (N, O, OH, OW)
    cache : ConvCache
        From :func:`conv_forward`.
    need_input, need_weight, need_bias : bool
        Skip the work for gradients nobody asked for (returned as None).

    Returns
    -------
    grad_x : np.ndarray (N, C, H, W) or None
    grad_w : np.ndarray (O, C / groups, kh, kw) or None
    grad_b : np.ndarray (O,) or None

    Notes
    -----
    Scratch: the chunks of the forward pass; per chunk the columns (recomputed
    unless the forward kept them) and their gradient, so at most about twice the
    forward's scratch.
    """
    geometry, x, weight, cached_cols = cache
    dtype = x.dtype
    dy = np.asarray(grad_out).astype(dtype, copy=False)
    groups = geometry.groups
    out_channels = weight.shape[0]
    n = x.shape[0]
    grad_b = dy.sum(axis=(0,) + tuple(range(2, dy.ndim))) if need_bias else None
    grad_x = grad_w = None
    w_groups = weight.reshape(groups, out_channels // groups, -1)

    if geometry.depthwise and out_channels == groups and (need_input or need_weight):
        if geometry.wide and not _all_finite(dy):
            geometry = geometry._replace(wide=False)
        grad_x, grad_w = _depthwise_backward(dy, x, weight, geometry, need_input, need_weight)
        return grad_x, grad_w, grad_b

    if geometry.pointwise:
        dy_groups = dy.reshape(n, groups, out_channels // groups, -1)
        x_groups = x.reshape(n, groups, -1, dy_groups.shape[-1])
        if need_input:
            grad_x = np.matmul(w_groups.transpose(0, 2, 1), dy_groups).reshape(x.shape)
        if need_weight:
            grad_w = np.matmul(dy_groups, x_groups.transpose(0, 1, 3, 2)).sum(axis=0)
            grad_w = grad_w.reshape(weight.shape)
        return grad_x, grad_w, grad_b

    if need_input:
        grad_x = np.empty(x.shape, dtype)
    if need_weight:
        grad_w = np.zeros(w_groups.shape, dtype)
    if not (need_input or need_weight):
        return grad_x, grad_w, grad_b
    scratch = _Scratch(dtype)
    if geometry.wide and not _all_finite(dy):
        # Infinite or NaN gradients must not meet the wide layout's discarded columns.
        geometry = geometry._replace(wide=False)
        cached_cols = None
    for chunk in geometry.chunks(out_channels, dtype.itemsize):
        dy_rows = _rows(dy[chunk], geometry, scratch)
        if need_weight:
            cols = None if cached_cols is None else cached_cols.array
            if cols is None:
                cols = _cols_for_chunk(x[chunk], geometry, scratch)
            cols = cols.reshape(groups, -1, cols.shape[1])
            grad_w += np.matmul(dy_rows.reshape(groups, out_channels // groups, -1),
                                cols.transpose(0, 2, 1))
        if need_input:
            grad_x[chunk] = _input_grad_chunk(dy_rows, weight, geometry, x[chunk].shape,
                                              scratch)
    scratch.release()
    if need_weight:
        grad_w = grad_w.reshape(weight.shape)
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------- transposed conv2d


class ConvTransposeCache(NamedTuple):
    """What :func:`conv_transpose_backward` needs."""

    geometry: ConvGeometry   # of the convolution whose input gradient this is
    x: np.ndarray            # (N, Cin, H, W)
    weight: np.ndarray       # (Cin, Cout / G, kh, kw)


@quiet
def conv_transpose_forward(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """2-D transposed convolution: the input gradient of :func:`conv_forward`.

    Parameters
    ----------
    x : np.ndarray, shape (N, Cin, H, W)
    weight : np.ndarray, shape (Cin, Cout / groups, kh, kw)
        PyTorch's layout, which is also the OIHW weight of the adjoint convolution
        (from ``Cout`` channels to ``Cin``).
    bias : np.ndarray of shape (Cout,), or None
    stride, dilation, output_padding : (int, int)
    padding : ((top, bottom), (left, right))
        Rows/columns cropped from the full output.

    Returns
    -------
    out : np.ndarray, shape (N, Cout, OH, OW)
        ``OH = (H - 1) * sh - top - bottom + dh * (kh - 1) + output_padding_h + 1``.
    cache : ConvTransposeCache

    Notes
    -----
    The adjoint convolution maps ``(N, Cout, OH, OW)`` to ``(N, Cin, H, W)`` with the
    same stride, padding and dilation, and exactly ``H x W`` windows (``output_padding``
    adds rows that no window reaches, so their entries stay 0 before the bias).
    """
    dtype = compute_dtype(x, weight)
    x = x.astype(dtype, copy=False)
    weight = weight.astype(dtype, copy=False)
    n, in_channels = x.shape[:2]
    out_channels = weight.shape[1] * groups
    out_size = tuple(transposed_output_size(size, k, s, p, d, e) for size, k, s, p, d, e
                     in zip(x.shape[2:], weight.shape[2:], stride, padding, dilation,
                            output_padding))
    geometry = conv_geometry((n, out_channels) + out_size, weight.shape, stride, padding,
                             dilation, groups, "zeros", out_shape=x.shape[2:])
    geometry = _choose_layout(geometry, in_channels, x, weight)
    out = np.empty(geometry.input_shape, dtype)
    if geometry.pointwise:
        w_groups = weight.reshape(groups, in_channels // groups, -1)
        x_groups = x.reshape(n, groups, in_channels // groups, -1)
        out[...] = np.matmul(w_groups.transpose(0, 2, 1), x_groups).reshape(out.shape)
    else:
        scratch = _Scratch(dtype)
        for chunk in geometry.chunks(in_channels, dtype.itemsize):
            chunk_shape = (x[chunk].shape[0], out_channels) + out_size
            out[chunk] = _input_grad_chunk(_rows(x[chunk], geometry, scratch), weight,
                                           geometry, chunk_shape, scratch)
        scratch.release()
    if bias is not None:
        out += bias.astype(dtype, copy=False).reshape((1, -1) + (1,) * len(out_size))
    return out, ConvTransposeCache(geometry, x, weight)


@quiet
def conv_transpose_backward(grad_out, cache: ConvTransposeCache, need_input=True,
                              need_weight=True, need_bias=True):
    """Gradients of :func:`conv_transpose_forward`.

    The forward is ``x -> A^T x`` for the convolution ``A``, so ``dx = A dy``: a
    convolution forward of ``grad_out``; and ``dW`` is the weight gradient of that
    same convolution with ``x`` in the role of its output gradient (the correlation
    of ``grad_out`` with ``x``). One call of each conv2d kernel, sharing the columns.

    Returns
    -------
    grad_x (N, Cin, H, W), grad_w (Cin, Cout / groups, kh, kw), grad_b (Cout,); None
    where not needed.
    """
    geometry, x, weight = cache
    dy = np.asarray(grad_out).astype(x.dtype, copy=False)
    grad_b = dy.sum(axis=(0,) + tuple(range(2, dy.ndim))) if need_bias else None
    grad_x = grad_w = None
    if need_input or need_weight:
        grad_x, conv_cache = conv_forward(dy, weight, None, geometry.stride, geometry.padding,
                                            geometry.dilation, geometry.groups, "zeros",
                                            out_shape=geometry.out_shape, keep_cols=need_weight)
        if need_weight:
            _, grad_w, _ = conv_backward(x, conv_cache, need_input=False, need_weight=True,
                                           need_bias=False)
        if not need_input:
            grad_x = None
    return grad_x, grad_w, grad_b


# -------------------------------------------------------------- unfold / fold


def _unfold_geometry(input_shape, kernel_size, dilation, padding, stride) -> ConvGeometry:
    return conv_geometry(input_shape, (1, 1) + tuple(kernel_size), stride, padding, dilation,
                         1, "zeros")


def unfold_forward(x, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Sliding local blocks (im2col), PyTorch's layout.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    kernel_size, dilation, stride : (int, int)
    padding : ((top, bottom), (left, right)), zeros

    Returns
    -------
    np.ndarray, shape (N, C * kh * kw, OH * OW)
        Row ``c * kh * kw + i * kw + j`` holds tap ``(i, j)`` of channel ``c``.
    """
    geometry = _unfold_geometry(x.shape, kernel_size, dilation, padding, stride)
    n, channels = x.shape[:2]
    out = np.empty((n, channels) + tuple(kernel_size) + geometry.out_shape, x.dtype)
    xp = _pad_chunk(x, geometry, _Scratch(x.dtype))
    im2col(xp, geometry, out.transpose(1, 2, 3, 0, 4, 5))
    return out.reshape(n, -1, geometry.out_shape[0] * geometry.out_shape[1])


def fold_forward(cols, output_size, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Sum sliding local blocks back into an image (col2im), PyTorch's layout.

    Parameters
    ----------
    cols : np.ndarray, shape (N, C * kh * kw, L)
        ``L`` equals the number of windows over the padded ``output_size``.
    output_size : (int, int)

    Returns
    -------
    np.ndarray, shape (N, C, output_size[0], output_size[1])
    """
    n = cols.shape[0]
    channels = cols.shape[1] // (kernel_size[0] * kernel_size[1])
    geometry = _unfold_geometry((n, channels) + tuple(output_size), kernel_size, dilation,
                                padding, stride)
    blocks = cols.reshape((n, channels) + tuple(kernel_size) + geometry.out_shape)
    padded = np.zeros((n, channels) + geometry.padded_shape, cols.dtype)
    col2im(blocks.transpose(1, 2, 3, 0, 4, 5), geometry, padded)
    return np.ascontiguousarray(_unpad_chunk(padded, geometry, geometry.input_shape))


def unfold_backward(grad_out, input_shape, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Gradient of :func:`unfold_forward`: fold the gradient back, ``(N, C, H, W)``."""
    return fold_forward(grad_out, tuple(input_shape[2:]), kernel_size, dilation, padding, stride)


def fold_backward(grad_out, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Gradient of :func:`fold_forward`: unfold the gradient, ``(N, C * kh * kw, L)``."""
    return unfold_forward(grad_out, kernel_size, dilation, padding, stride)

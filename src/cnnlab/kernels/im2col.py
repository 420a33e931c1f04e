"""im2col and col2im for any number of spatial axes, and the per-chunk helpers of the
convolution routes: padding a batch chunk, laying out its columns and rows, and the
input gradient (``W.T @ dY`` then col2im). :func:`unfold_forward` and
:func:`fold_forward` are PyTorch's ``unfold``/``fold`` on the same pair.

Notation as in :mod:`cnnlab.kernels.conv`.
"""

from __future__ import annotations

import math

import numpy as np

from . import buffers, parallel
from . import pad as padding_kernels
from .geometry import PADDING_MODES, ConvGeometry, conv_geometry
from .window import flat_windows, windows



def taps_of(padded: np.ndarray, geometry: ConvGeometry):
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
        for tap, view in taps_of(xp[batch], geometry):
            cols[(slice(None),) + tap + (batch,)] = view
    by_images(copy, xp.shape[0], cols.size)
    return cols


def image_parts(n: int, elements: int) -> list:
    """Slices of the ``n`` images, one per thread worth using on ``elements`` of work."""
    return parallel.split(n, parallel.threads_for(elements))


def by_images(work, n: int, elements: int) -> None:
    """Run ``work(batch_slice)`` over the images, split among threads when worthwhile
    (each thread reads and writes its own images: no two touch the same memory)."""
    for _ in parallel.map_threads(work, image_parts(n, elements)):
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
        for tap, view in taps_of(padded[batch], geometry):
            view += cols[(slice(None),) + tap + (batch,)]
    by_images(add, padded.shape[0], cols.size)
    return padded


def pad_chunk(x_chunk: np.ndarray, geometry: ConvGeometry, scratch) -> np.ndarray:
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


def unpad_chunk(grad_padded: np.ndarray, geometry: ConvGeometry, chunk_shape) -> np.ndarray:
    """Gradient w.r.t. the unpadded chunk: the inverse bookkeeping of :func:`_pad_chunk`."""
    grad_padded = grad_padded[:, :, :geometry.padded_shape[0]]
    if not geometry.is_padded:
        return grad_padded
    mode = PADDING_MODES[geometry.padding_mode]
    if mode == "constant":
        return grad_padded[_interior([lo for lo, _ in geometry.padding], chunk_shape[2:])]
    return padding_kernels.pad_backward(grad_padded, ((0, 0), (0, 0)) + geometry.padding,
                                        mode, chunk_shape)


class Scratch:
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


def cols_for_chunk(x_chunk, geometry, scratch) -> np.ndarray:
    """The im2col matrix ``(K, n*L)`` of one batch chunk, in the reused buffer."""
    n, channels = x_chunk.shape[:2]
    kernel = geometry.kernel_size
    xp = pad_chunk(x_chunk, geometry, scratch)
    if geometry.wide:
        cols = scratch.get("cols", (channels,) + kernel + (n, geometry.locations))
    else:
        cols = scratch.get("cols", (channels,) + kernel + (n,) + geometry.out_shape)
    im2col(xp, geometry, cols)
    return cols.reshape(channels * math.prod(kernel), n * geometry.locations)


def rows_of(dy_chunk: np.ndarray, geometry: ConvGeometry, scratch) -> np.ndarray:
    """``dy`` chunk ``(n, O, *out_shape)`` as the GEMM layout ``(O, n*L)`` (a copy).

    In the wide layout the discarded columns are zero, so they add nothing.
    """
    n, channels = dy_chunk.shape[:2]
    if not geometry.wide:
        return dy_chunk.swapaxes(0, 1).reshape(channels, -1)
    rows = scratch.zeros("rows", (channels, n) + geometry.column_shape)
    rows[(slice(None), slice(None)) + geometry.real] = dy_chunk.swapaxes(0, 1)
    return rows.reshape(channels, -1)


def from_rows(result: np.ndarray, geometry: ConvGeometry, channels: int) -> np.ndarray:
    """GEMM result ``(channels, n*L)`` as a ``(n, channels, *out_shape)`` view."""
    grid = result.reshape((channels, -1) + geometry.column_shape)
    return grid[(slice(None), slice(None)) + geometry.real].swapaxes(0, 1)


def input_grad_chunk(dy_rows, weight, geometry, chunk_shape, scratch) -> np.ndarray:
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
    return unpad_chunk(grad_padded, geometry, chunk_shape)



# -------------------------------------------------------------- unfold / fold


def _unfold_geometry(input_shape, kernel_size, dilation, padding, stride) -> ConvGeometry:
    return conv_geometry(input_shape, (1, 1) + tuple(kernel_size), stride, padding, dilation,
                         1, "zeros")


def unfold_forward(x, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Sliding local blocks (im2col), PyTorch's layout.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W) (PyTorch's unfold is 2-D; the code is not)
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
    xp = pad_chunk(x, geometry, Scratch(x.dtype))
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
    return np.ascontiguousarray(unpad_chunk(padded, geometry, geometry.input_shape))


def unfold_backward(grad_out, input_shape, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Gradient of :func:`unfold_forward`: fold the gradient back, ``(N, C, H, W)``."""
    return fold_forward(grad_out, tuple(input_shape[2:]), kernel_size, dilation, padding, stride)


def fold_backward(grad_out, kernel_size, dilation, padding, stride) -> np.ndarray:
    """Gradient of :func:`fold_forward`: unfold the gradient, ``(N, C * kh * kw, L)``."""
    return unfold_forward(grad_out, kernel_size, dilation, padding, stride)

"""Convolution and transposed convolution in NumPy, forward and backward, for any
number of spatial axes (1, 2 and 3 are tested).

Notation (2-D; other dimensions have one size per axis): ``x`` is the input
``(N, C, H, W)``, ``w`` the weight ``(O, C/G, kh, kw)`` (PyTorch's OIHW) for ``G``
groups, ``y`` the output ``(N, O, OH, OW)`` and ``dy`` its gradient.
``K = C * kh * kw`` and ``L = OH * OW``. ``xp`` is ``x`` padded to ``(N, C, Hp, Wp)``.

Like PyTorch, "convolution" is cross-correlation::

    y[n, o, p, q] = b[o] + sum_{c in group(o), i, j}
                               w[o, c, i, j] * xp[n, c, p*sh + i*dh, q*sw + j*dw]

The forward path a reader should follow is :func:`forward_im2col`: im2col
(:mod:`cnnlab.kernels.im2col`: every kernel tap's strided grid of ``xp`` copied into
one column matrix ``(K, N*L)``), then one matrix product per group,
``w (O, K) @ cols (K, N*L)``, in batch chunks that keep the scratch within the
budget (:mod:`cnnlab.kernels.config`). The faster routes for special shapes are
separate named functions, chosen in one place, :func:`choose_route`, by the table
:data:`ROUTES` with the reason for each. The backward pass is derived below
:func:`conv_forward`; the transposed convolution is the input gradient of a
convolution.

Integer ``x`` and ``w`` accumulate exactly in int64 (beyond PyTorch, which has no
integer convolution on CPU).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import buffers, channels_last, quiet, small, window, winograd
from .depthwise import depthwise_backward, depthwise_forward
from .geometry import ConvGeometry, all_finite, choose_layout, compute_dtype, conv_geometry
from .im2col import Scratch, cols_for_chunk, from_rows, input_grad_chunk, rows_of
from ..shapes import transposed_output_size

class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs from :func:`conv_forward`."""

    geometry: ConvGeometry
    x: np.ndarray             # (N, C, *spatial), in the compute dtype
    weight: np.ndarray        # (O, C/G, *kernel_size), in the compute dtype
    cols: buffers.Kept | None  # (K, N*L) when the forward ran in one chunk, else None
    route: str = "im2col"      # the forward route; 'channels_last' keeps (N*L, K') columns


# ------------------------------------------------------------------ routes
#
# Each route computes conv_forward's result for the geometries it accepts and
# returns (out, columns to keep for the weight gradient or None). The bias is added
# by every route.


def forward_small(x, weight, bias, geometry, keep_cols):
    """Tiny problems: one strided view, one product (:mod:`cnnlab.kernels.small`)."""
    return small.conv_small(x, weight, bias, geometry, keep_cols)


def _bias_column(bias, geometry, dtype):
    if bias is None:
        return None
    return bias.astype(dtype, copy=False).reshape((1, -1) + (1,) * len(geometry.out_shape))


def forward_depthwise(x, weight, bias, geometry, keep_cols):
    """One channel per group: direct per-tap multiply-adds (:mod:`cnnlab.kernels.depthwise`)."""
    out = depthwise_forward(x, weight, geometry)
    column = _bias_column(bias, geometry, x.dtype)
    if column is not None:
        out += column
    return out, None


def forward_pointwise(x, weight, bias, geometry, keep_cols):
    """1x1 kernel, stride 1, no padding: each image is a ``(C, H*W)`` matrix and
    ``y_n = W (O, C) @ x_n`` per group; no im2col."""
    n, groups, out_channels = x.shape[0], geometry.groups, weight.shape[0]
    w_groups = weight.reshape(groups, out_channels // groups, -1)
    out = np.matmul(w_groups, x.reshape(n, groups, -1, math.prod(geometry.out_shape)))
    out = out.reshape((n, out_channels) + geometry.out_shape)
    column = _bias_column(bias, geometry, x.dtype)
    if column is not None:
        out += column
    return out, None


def forward_channels_last(x, weight, bias, geometry, keep_cols):
    """Short output rows: columns ``(N*L, K')`` with the channels innermost, one product
    (:mod:`cnnlab.kernels.channels_last`); they are kept as :func:`forward_im2col`
    keeps its own."""
    bias = None if bias is None else bias.astype(x.dtype, copy=False)
    return channels_last.forward(x, weight, bias, geometry, KEEP_COLS_BYTES if keep_cols else 0)


def forward_winograd(x, weight, bias, geometry, keep_cols):
    """3x3 stride-1 with >= 128 channels: Winograd F(2x2, 3x3), 16 products per 2x2
    output tile instead of 36 (:mod:`cnnlab.kernels.winograd`). No columns: the weight
    gradient recomputes them."""
    n, out_channels, dtype = x.shape[0], weight.shape[0], x.dtype
    out = np.empty((n, out_channels) + geometry.out_shape, dtype)
    scratch = Scratch(dtype)
    bias = None if bias is None else bias.astype(dtype, copy=False)
    per_item = winograd.scratch_per_item(geometry, out_channels, dtype.itemsize)
    for chunk in window.batch_chunks(n, per_item):
        winograd.conv3x3_forward(x[chunk], weight, bias, geometry, scratch, out[chunk])
    scratch.release()
    return out, None


def forward_im2col(x, weight, bias, geometry, keep_cols):
    """The general route: im2col, then one matrix product per group, per batch chunk."""
    n, groups, out_channels, dtype = x.shape[0], geometry.groups, weight.shape[0], x.dtype
    w_groups = weight.reshape(groups, out_channels // groups, -1)
    out = np.empty((n, out_channels) + geometry.out_shape, dtype)
    scratch = Scratch(dtype)
    chunks = geometry.chunks(out_channels, dtype.itemsize)
    for chunk in chunks:
        cols = cols_for_chunk(x[chunk], geometry, scratch)
        locations = cols.shape[1]
        result = scratch.get("result", (groups, out_channels // groups, locations))
        np.matmul(w_groups, cols.reshape(groups, -1, locations), out=result)
        if bias is not None:
            # Added to the contiguous product, then laid out in a plain copy: adding
            # during the strided layout pass was 1.2-2x slower (ResNet's 64-channel
            # 24x24 layer at batch 128: 5.4 ms against 3.1 + 1.0; LeNet's first: 0.62
            # against 0.31).
            result += bias.astype(dtype, copy=False).reshape(result.shape[:2] + (1,))
        out[chunk] = from_rows(result, geometry, out_channels)
    kept = None
    if keep_cols and len(chunks) == 1 and cols.nbytes <= KEEP_COLS_BYTES:
        kept = buffers.Lent(cols)
        scratch.keep("cols")
    scratch.release()
    return out, kept


KEEP_COLS_BYTES = 16 * 2**20
"""Columns up to this size are kept for the weight gradient; larger ones are rebuilt
by :func:`conv_backward`, chunk by chunk, within the scratch budget. Measured on the
book's networks at batch 128: keeping ResNet-18's (40-100 MiB a layer) made a training
step 8% slower (page faults) and 500 MiB larger; rebuilding LeNet's (8-12 MiB) made
its step 14% slower."""


#: The routes after the small-problem check, tried in order: (name, condition on
#: (geometry, out_channels, dtype), reason). The first whose condition holds runs.
#: Winograd depends on the shape (and the data being finite, which picks the wide
#: layout), never on whether a gradient is wanted: a forward under no_grad gives the
#: same bits as in training.
ROUTES = (
    ("depthwise", lambda g, out_channels, dtype: g.depthwise and out_channels == g.groups,
     "one input and one output channel per group: K = k*k, a GEMM would be one row"),
    ("pointwise", lambda g, out_channels, dtype: g.pointwise,
     "1x1, stride 1, no padding: the input already is the column matrix"),
    ("channels_last", lambda g, out_channels, dtype: channels_last.applies(g, out_channels),
     "output rows of <= 8: columns copied in runs of C channels, not of one short row"),
    ("winograd", lambda g, out_channels, dtype: g.wide and winograd.applies(g, out_channels,
                                                                             dtype),
     "3x3, stride 1, >= 128 channels in and out: 2.25x fewer multiplications"),
    ("im2col", lambda g, out_channels, dtype: True, "everything else"),
)

FORWARD = {"small": forward_small, "depthwise": forward_depthwise,
           "pointwise": forward_pointwise, "channels_last": forward_channels_last,
           "winograd": forward_winograd, "im2col": forward_im2col}


def choose_route(geometry, out_channels, dtype, x, weight):
    """``(route name, geometry)``: the one place where the forward route is chosen.

    Tiny problems first (:func:`cnnlab.kernels.small.is_small`: below ~16k elements
    the machinery costs more than the arithmetic); then the layout is chosen (the wide
    stride-1 layout for finite data, :func:`~cnnlab.kernels.geometry.choose_layout`)
    and the first of :data:`ROUTES` that applies runs. The same algorithms for every
    number of spatial axes; Winograd only ever applies in 2-D (3x3 kernels).
    """
    if small.is_small(geometry, out_channels, dtype.itemsize):
        return "small", geometry
    geometry = choose_layout(geometry, out_channels, x, weight)
    for name, applies, _reason in ROUTES:
        if applies(geometry, out_channels, dtype):
            return name, geometry
    raise AssertionError("the im2col route applies to every geometry")


# -------------------------------------------------------------- convolution


@quiet
def conv_forward(x, weight, bias, stride, padding, dilation, groups, padding_mode="zeros",
                 out_shape=None, keep_cols=True):
    """Convolution (cross-correlation, as in PyTorch) over the trailing spatial axes.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, *spatial)
    weight : np.ndarray, shape (O, C / groups, *kernel_size)
    bias : np.ndarray of shape (O,), or None
    stride, dilation : tuple of int, one per spatial axis
    padding : tuple of (lo, hi), one per spatial axis
    groups : int
        ``C`` and ``O`` are both divisible by it (checked by the caller).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    out_shape : tuple of int, optional
        Number of windows per axis; default from :func:`cnnlab.shapes.output_size`.
        The transposed convolution passes a smaller one to drop trailing windows.
    keep_cols : bool
        Keep the im2col matrix for :func:`conv_backward` (only if the forward ran
        in one chunk and it is at most :data:`KEEP_COLS_BYTES`; otherwise the
        backward recomputes it chunk by chunk). Pass
        False when no weight gradient will be asked for.

    Returns
    -------
    out : np.ndarray, shape (N, O, *out_shape)
        Same dtype as ``x``/``weight``; int64 when both are integers.
    cache : ConvCache
    """
    dtype = compute_dtype(x, weight)
    x = x.astype(dtype, copy=False)
    weight = weight.astype(dtype, copy=False)
    geometry = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups,
                             padding_mode, out_shape)
    route, geometry = choose_route(geometry, weight.shape[0], dtype, x, weight)
    out, cols = FORWARD[route](x, weight, bias, geometry, keep_cols)
    if route == "small" and cols is not None:
        cols = buffers.Kept(cols)
    return out, ConvCache(geometry, x, weight, cols, route)


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


def input_grad_route(geometry: ConvGeometry, out_channels: int) -> str:
    """How :func:`conv_backward` computes the input gradient: the one place it is chosen.

    ``'forward'`` for stride 1 with zero padding of at most ``d * (k - 1)`` per side,
    and no more output channels than input ones: ``dx`` is then itself a convolution,
    of ``dy`` with the flipped, transposed kernel (:func:`input_grad_by_forward`), and
    gets the forward's routes (Winograd, the wide layout; one ``(C, N*L)`` product
    of depth ``O*k*k`` instead of a ``(C*k*k, N*L)`` one of depth ``O`` and then
    ``k*k`` strided additions). Measured on ResNet-18's 3x3 layers (O = C) at batch
    32: 0.7-0.85x the time of ``'col2im'``, the general ``W.T @ dY`` then col2im, used
    otherwise. With more outputs than inputs the columns of ``dy`` outgrow those of
    col2im: LeNet's second convolution (6 to 16 channels, 5x5) took 3x as long.
    ``'channels_last'`` (:func:`cnnlab.kernels.channels_last.input_grad`) otherwise
    where output rows are short (:func:`cnnlab.kernels.channels_last.applies`, with
    :data:`~cnnlab.kernels.channels_last.MAX_ROW_INPUT_GRAD`).
    """
    if (out_channels <= geometry.input_shape[1] and all(s == 1 for s in geometry.stride)
            and geometry.padding_mode == "zeros"
            and all(max(lo, hi) <= d * (k - 1) for (lo, hi), d, k
                    in zip(geometry.padding, geometry.dilation, geometry.kernel_size))):
        return "forward"
    if channels_last.applies(geometry, out_channels, channels_last.MAX_ROW_INPUT_GRAD):
        return "channels_last"
    return "col2im"


def input_grad_by_forward(dy, weight, geometry: ConvGeometry) -> np.ndarray:
    """``dx`` of a stride-1, zero-padded convolution as the convolution of ``dy``.

    Per axis (derivation above :func:`conv_backward`, with ``s = 1``):
    ``dx[u] = sum_i dy[u + lo - i*d] w[i]``; with ``i' = k - 1 - i`` that is the
    correlation of ``dy`` with the flipped kernel, ``dy`` padded by
    ``d*(k-1) - lo`` before and by ``H - OH + d*(k-1) - lo'`` after (so that there
    are exactly ``H`` windows). Channels: group ``g``'s ``(O/G, C/G)`` block is
    transposed, giving the ``(C, O/G, *k)`` weight of a convolution from ``O`` channels
    to ``C`` with the same groups and dilation.
    """
    groups, out_channels = geometry.groups, weight.shape[0]
    kernel = weight.shape[2:]
    adjoint = weight.reshape((groups, out_channels // groups, -1) + kernel).swapaxes(1, 2)
    adjoint = adjoint[(Ellipsis,) + (slice(None, None, -1),) * len(kernel)]
    adjoint = np.ascontiguousarray(adjoint).reshape((-1, out_channels // groups) + kernel)
    padding = []
    for size, out, (lo, _), d, k in zip(geometry.input_shape[2:], geometry.out_shape,
                                        geometry.padding, geometry.dilation, kernel):
        before = d * (k - 1) - lo
        padding.append((before, size - out + d * (k - 1) - before))
    ones = (1,) * len(kernel)
    grad_x, _ = conv_forward(dy, adjoint, None, ones, tuple(padding), geometry.dilation,
                             groups, out_shape=tuple(geometry.input_shape[2:]),
                             keep_cols=False)
    return grad_x


@quiet
def conv_backward(grad_out, cache: ConvCache, need_input=True, need_weight=True,
                    need_bias=True):
    """Gradients of :func:`conv_forward`.

    Parameters
    ----------
    grad_out : np.ndarray, shape (N, O, *out_shape)
    cache : ConvCache
        From :func:`conv_forward`.
    need_input, need_weight, need_bias : bool
        Skip the work for gradients nobody asked for (returned as None).

    Returns
    -------
    grad_x : np.ndarray (N, C, *spatial) or None
    grad_w : np.ndarray (O, C / groups, *kernel_size) or None
    grad_b : np.ndarray (O,) or None

    Notes
    -----
    Scratch: the chunks of the forward pass; per chunk the columns (recomputed
    unless the forward kept them) and their gradient, so at most about twice the
    forward's scratch.
    """
    geometry, x, weight, cached_cols, forward_route = cache
    dtype = x.dtype
    dy = np.asarray(grad_out).astype(dtype, copy=False)
    groups = geometry.groups
    out_channels = weight.shape[0]
    n = x.shape[0]
    grad_b = dy.sum(axis=(0,) + tuple(range(2, dy.ndim))) if need_bias else None
    grad_x = grad_w = None
    w_groups = weight.reshape(groups, out_channels // groups, -1)

    if geometry.depthwise and out_channels == groups and (need_input or need_weight):
        if geometry.wide and not all_finite(dy):
            geometry = geometry._replace(wide=False)
        grad_x, grad_w = depthwise_backward(dy, x, weight, geometry, need_input, need_weight)
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

    dx_route = input_grad_route(geometry, out_channels) if need_input else None
    if dx_route == "forward":
        grad_x = input_grad_by_forward(dy, weight, geometry)
        need_input = False
    elif dx_route == "channels_last":
        grad_x = channels_last.input_grad(dy, weight, geometry)
        need_input = False
    elif need_input:
        grad_x = np.empty(x.shape, dtype)
    if need_weight and forward_route == "channels_last":
        grad_w = channels_last.weight_grad(dy, x, geometry, out_channels,
                                           None if cached_cols is None else cached_cols.array)
        need_weight = False
    elif need_weight:
        grad_w = np.zeros(w_groups.shape, dtype)
    if not (need_input or need_weight):
        return grad_x, grad_w, grad_b
    scratch = Scratch(dtype)
    if geometry.wide and not all_finite(dy):
        # Infinite or NaN gradients must not meet the wide layout's discarded columns.
        geometry = geometry._replace(wide=False)
        cached_cols = None
    for chunk in geometry.chunks(out_channels, dtype.itemsize):
        dy_rows = rows_of(dy[chunk], geometry, scratch)
        if need_weight:
            cols = None if cached_cols is None else cached_cols.array
            if cols is None:
                cols = cols_for_chunk(x[chunk], geometry, scratch)
            cols = cols.reshape(groups, -1, cols.shape[1])
            grad_w += np.matmul(dy_rows.reshape(groups, out_channels // groups, -1),
                                cols.transpose(0, 2, 1))
        if need_input:
            grad_x[chunk] = input_grad_chunk(dy_rows, weight, geometry, x[chunk].shape,
                                              scratch)
    scratch.release()
    if need_weight:
        grad_w = grad_w.reshape(weight.shape)
    return grad_x, grad_w, grad_b


# ---------------------------------------------------- transposed convolution


class ConvTransposeCache(NamedTuple):
    """What :func:`conv_transpose_backward` needs."""

    geometry: ConvGeometry   # of the convolution whose input gradient this is
    x: np.ndarray            # (N, Cin, *spatial)
    weight: np.ndarray       # (Cin, Cout / G, *kernel_size)


@quiet
def conv_transpose_forward(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Transposed convolution (any number of spatial axes): the input gradient of
    :func:`conv_forward`.

    Parameters
    ----------
    x : np.ndarray, shape (N, Cin, *spatial)
    weight : np.ndarray, shape (Cin, Cout / groups, *kernel_size)
        PyTorch's layout, which is also the OIHW weight of the adjoint convolution
        (from ``Cout`` channels to ``Cin``).
    bias : np.ndarray of shape (Cout,), or None
    stride, dilation, output_padding : tuple of int, one per spatial axis
    padding : tuple of (lo, hi)
        Elements cropped from each end of the full output, per axis.

    Returns
    -------
    out : np.ndarray, shape (N, Cout, *out_size)
        Per axis ``out = (in - 1) * s - lo - hi + d * (k - 1) + output_padding + 1``.
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
    geometry = choose_layout(geometry, in_channels, x, weight)
    if geometry.pointwise:
        w_groups = weight.reshape(groups, in_channels // groups, -1)
        x_groups = x.reshape(n, groups, in_channels // groups, -1)
        out = np.matmul(w_groups.transpose(0, 2, 1), x_groups).reshape(geometry.input_shape)
    elif (route := input_grad_route(geometry, in_channels)) == "forward":
        out = input_grad_by_forward(x, weight, geometry)
    elif route == "channels_last":
        out = channels_last.input_grad(x, weight, geometry)
    else:
        out = np.empty(geometry.input_shape, dtype)
        scratch = Scratch(dtype)
        for chunk in geometry.chunks(in_channels, dtype.itemsize):
            chunk_shape = (x[chunk].shape[0], out_channels) + out_size
            out[chunk] = input_grad_chunk(rows_of(x[chunk], geometry, scratch), weight,
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
    of ``grad_out`` with ``x``). One call of each convolution kernel, sharing the columns.

    Returns
    -------
    grad_x (N, Cin, *spatial), grad_w (Cin, Cout / groups, *kernel_size), grad_b (Cout,);
    None where not needed.
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

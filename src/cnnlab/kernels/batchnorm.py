"""Batch normalisation in training mode, forward and backward, in few passes over memory.

The input is viewed as ``(N, C, L)``; each channel's statistics run over the batch and
the positions (axes 0 and 2), ``n = N * L`` values. Notation and derivation as in
:mod:`cnnlab.functional.normalization` (``x_hat = (x - mean) * inv_std``,
``y = weight * x_hat + bias``)::

    forward:   mean = sum(x) / n,   var = sum(x^2) / n - mean^2
               y = x * scale + shift,   scale = weight * inv_std,
                                        shift = bias - mean * scale
    backward:  db = sum(dy),   dw = sum(dy * x_hat) = inv_std * (sum(dy * x) - mean * db)
               dx = scale * (dy - db / n - x_hat * dw / n)
                  = scale * dy + a * x + b,   a = -scale * inv_std * dw / n,
                                              b = -scale * db / n - a * mean

The sums are ``einsum`` passes that make no temporary array, so the forward reads ``x``
three times and writes ``y`` once, the backward reads ``dy`` and ``x`` twice and writes
``dx`` once, and ``x_hat`` is never stored. (The general path of the module above makes
about eight full-size passes each way and keeps ``x_hat``.) The output passes run in
blocks of :data:`BLOCK_ELEMENTS` so their temporaries stay in cache. Every pass splits
the images among :func:`cnnlab.kernels.parallel.map_threads` threads (NumPy's loops
release the interpreter lock; measured on 128x64x24x24 with 2 threads: 1.3-1.8x the
speed of one), each thread summing its own share.

Accuracy: ``einsum`` sums in the input's dtype with several accumulators (measured
relative error 5e-7 in float32 over 300k values, as float64 sums rounded to float32).
``sum(x^2)/n - mean^2`` loses digits when the mean is large against the spread; where
``mean^2 > CANCELLATION * var`` the statistics are taken again the exact two-pass way
(``sum((x - mean)^2)``, ``sum(dy * (x - mean))``, blockwise), so the result never
depends on how far the data sit from zero. float16 input is computed in float32 and
rounded at the end, as PyTorch does.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import opmath_dtype
from . import parallel, quiet

BLOCK_ELEMENTS = 1 << 17
"""Elements per block of an output pass (512 KiB in float32). Measured on ResNet-18's
batch-norm shapes: 2^17 to 2^18 fastest; 2^13 up to 1.5x slower, one block 1.1-1.8x."""

CANCELLATION = 16.0
"""Above ``mean^2 / var`` of this, the one-pass variance would keep fewer than ~5
significant digits of float32 data; the two-pass form is used instead."""


def _blocks(x: np.ndarray) -> list:
    """``(images, channels)`` slice pairs covering ``x`` (N, C, L) in blocks of about
    :data:`BLOCK_ELEMENTS`: whole images together, or one image in channel ranges."""
    n, channels, length = x.shape
    per_image = channels * length
    if per_image >= BLOCK_ELEMENTS:
        step = max(1, BLOCK_ELEMENTS // max(1, length))
        return [(slice(i, i + 1), slice(c, min(c + step, channels)))
                for i in range(n) for c in range(0, channels, step)]
    step = BLOCK_ELEMENTS // per_image
    return [(slice(i, i + step), slice(None)) for i in range(0, n, step)]


def _temporaries(x: np.ndarray, blocks: list):
    """``(block of x, a temporary of its shape)`` per block: one buffer, reused block
    after block (the first block is the largest)."""
    buffer = np.empty(x[blocks[0]].size if blocks else 0, x.dtype)
    for block in blocks:
        part = x[block]
        yield block, part, buffer[:part.size].reshape(part.shape)


def _over_images(work, *arrays) -> list:
    """``work(*parts)`` for each thread's share of the images (axis 0) of ``arrays``;
    the list of results, in order."""
    parts = parallel.split(arrays[0].shape[0], parallel.threads_for(arrays[0].size))
    return list(parallel.map_threads(lambda part: work(*(a[part] for a in arrays)), parts))


def _sums(spec, *arrays) -> np.ndarray:
    """``einsum(spec, *arrays)`` per channel, summed over the threads' shares, float64."""
    dtype = opmath_dtype(arrays[0].dtype)
    return sum(_over_images(
        lambda *parts: np.einsum(spec, *parts, dtype=dtype).astype(np.float64), *arrays))


def _centered_sum(x, mean_x, other=None):
    """Exact ``sum((x - mean) * other)`` per channel (``other`` defaults to ``x - mean``),
    block by block, accumulated in float64."""
    def work(x, *other):
        total = np.zeros(x.shape[1])
        for (images, chans), part, d in _temporaries(x, _blocks(x)):
            np.subtract(part, mean_x[chans, None], out=d)
            o = d if not other else other[0][images, chans]
            total[chans] += np.einsum("ncl,ncl->c", d, o, dtype=opmath_dtype(d.dtype))
        return total
    return sum(_over_images(work, x, *(() if other is None else (other,))))


@quiet
def forward(x: np.ndarray, weight, bias, eps: float):
    """Normalise ``x`` with its own batch statistics, then apply the affine map.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, L), float
    weight, bias : np.ndarray of shape (C,), or None
    eps : float

    Returns
    -------
    y : np.ndarray, shape (N, C, L), x's dtype
    mean, inv_std, var : np.ndarray of shape (C,), float64
        ``var`` is the biased variance (divided by ``n``).
    exact : bool
        Whether the two-pass form was needed (:func:`backward` then uses it too).
    """
    given = x.dtype
    x = x.astype(opmath_dtype(given), copy=False)   # float16 computed in float32
    n, channels, length = x.shape
    count = n * length
    mean = _sums("ncl->c", x) / count
    var = _sums("ncl,ncl->c", x, x) / count - mean * mean
    exact = bool(np.any(mean * mean > CANCELLATION * np.maximum(var, 0)))
    if exact:
        var = _centered_sum(x, mean.astype(x.dtype)) / count
    inv_std = 1.0 / np.sqrt(var + eps)
    y = normalize(x, mean, inv_std, weight, bias).astype(given, copy=False)
    return y, mean, inv_std, var, exact


@quiet
def normalize(x: np.ndarray, mean, inv_std, weight, bias) -> np.ndarray:
    """``(x - mean) * inv_std * weight + bias`` per channel, as one multiply-add pass.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, L)
    mean, inv_std : np.ndarray of shape (C,), float64
        The batch's statistics (training) or the running ones (evaluation).
    weight, bias : np.ndarray of shape (C,), or None

    Returns
    -------
    np.ndarray, shape (N, C, L), x's dtype
    """
    given = x.dtype
    x = x.astype(opmath_dtype(given), copy=False)
    scale = inv_std if weight is None else inv_std * weight
    shift = -mean * scale if bias is None else bias - mean * scale
    scale, shift = scale.astype(x.dtype)[:, None], shift.astype(x.dtype)[:, None]
    y = np.empty_like(x)

    def work(x, y):
        for images, chans in _blocks(x):
            out = y[images, chans]
            np.multiply(x[images, chans], scale[chans], out=out)
            out += shift[chans]
    _over_images(work, x, y)
    return y.astype(given, copy=False)


@quiet
def backward(dy: np.ndarray, x: np.ndarray, mean, inv_std, weight, exact: bool,
             need_input: bool, batch_stats: bool = True):
    """Gradients of :func:`forward` (or of :func:`normalize` with constant statistics).

    Parameters
    ----------
    dy, x : np.ndarray, shape (N, C, L)
    mean, inv_std : np.ndarray of shape (C,), float64, from :func:`forward`
    weight : np.ndarray of shape (C,), or None
    exact : bool
        From :func:`forward`: take ``sum(dy * (x - mean))`` the two-pass way.
    need_input : bool
        Skip ``dx`` (returned as None) when the input needs no gradient.
    batch_stats : bool
        False for evaluation mode: the statistics are constants, ``dx = scale * dy``.

    Returns
    -------
    dx : np.ndarray (N, C, L) or None
    dweight, dbias : np.ndarray of shape (C,), x's dtype: ``sum(dy * x_hat)``, ``sum(dy)``
    """
    given = x.dtype
    x, dy = (a.astype(opmath_dtype(given), copy=False) for a in (x, dy))
    n, channels, length = x.shape
    count = n * length
    sum_dy = _sums("ncl->c", dy)
    if exact:
        sum_dy_d = _centered_sum(x, mean.astype(x.dtype), dy)
    else:
        sum_dy_d = _sums("ncl,ncl->c", dy, x) - mean * sum_dy
    sum_dy_xhat = sum_dy_d * inv_std
    dx = None
    if need_input and not batch_stats:
        scale = inv_std if weight is None else inv_std * weight
        dx = dy * scale.astype(x.dtype)[:, None]
    elif need_input:
        scale = inv_std if weight is None else inv_std * weight
        along = -scale * inv_std * sum_dy_xhat / count
        offset = -scale * sum_dy / count
        if not exact:   # a * (x - mean) as a * x - a * mean: one operation fewer
            offset = offset - along * mean
        scale, along, offset, centre = (v.astype(x.dtype)[:, None]
                                        for v in (scale, along, offset, mean))
        dx = np.empty_like(x)

        def work(x, dy, dx):
            for (images, chans), part, term in _temporaries(x, _blocks(x)):
                out = dx[images, chans]
                if exact:
                    np.subtract(part, centre[chans], out=term)
                    term *= along[chans]
                else:
                    np.multiply(part, along[chans], out=term)
                np.multiply(dy[images, chans], scale[chans], out=out)
                out += term
                out += offset[chans]
        _over_images(work, x, dy, dx)
    if dx is not None:
        dx = dx.astype(given, copy=False)
    return dx, sum_dy_xhat.astype(given), sum_dy.astype(given)

"""Padding an array: constant, reflect, replicate and circular; forward and backward.

``widths`` gives ``(before, after)`` for every axis of the array (NumPy's ``np.pad``
convention, not ``F.pad``'s reversed flat list; :func:`cnnlab.functional.pad`
converts). Negative widths crop, as in PyTorch's constant padding.

Non-constant modes map each padded position to the input position it copies
(:func:`source_index`); the backward pass adds every padded position's gradient
back onto that source.
"""

from __future__ import annotations

import numpy as np

MODES = ("constant", "reflect", "replicate", "circular")


def source_index(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input index it copies.

    Examples
    --------
    >>> source_index(4, 2, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> source_index(4, 2, 2, "replicate").tolist()
    [0, 0, 0, 1, 2, 3, 3, 3]
    >>> source_index(4, 2, 2, "circular").tolist()
    [2, 3, 0, 1, 2, 3, 0, 1]
    """
    positions = np.arange(-before, size + after)
    if mode == "reflect":
        if size == 1:
            return np.zeros_like(positions)
        period = 2 * (size - 1)
        folded = np.mod(positions, period)
        return np.where(folded < size, folded, period - folded)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    if mode == "circular":
        return np.mod(positions, size)
    raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")


def _constant_slices(shape, widths):
    """Source and destination slices of the part of the input that survives padding."""
    source, target = [], []
    for size, (before, after) in zip(shape, widths):
        start, stop = max(-before, 0), size - max(-after, 0)
        length = max(stop - start, 0)
        source.append(slice(start, start + length))
        target.append(slice(max(before, 0), max(before, 0) + length))
    return tuple(source), tuple(target)


def padded_shape(shape, widths) -> tuple:
    return tuple(size + before + after for size, (before, after) in zip(shape, widths))


def pad(x: np.ndarray, widths, mode: str = "constant", value=0) -> np.ndarray:
    """Pad ``x``.

    Parameters
    ----------
    x : np.ndarray, any shape
    widths : sequence of (int, int), one per axis of ``x``
        Elements added before and after along each axis (negative: cropped).
    mode : {'constant', 'reflect', 'replicate', 'circular'}
    value : scalar
        Fill value for ``'constant'``.

    Returns
    -------
    np.ndarray, shape ``x.shape[a] + before[a] + after[a]`` along each axis
    """
    if mode == "constant":
        out = np.full(padded_shape(x.shape, widths), value, dtype=x.dtype)
        source, target = _constant_slices(x.shape, widths)
        out[target] = x[source]
        return out
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")
    for axis, (before, after) in enumerate(widths):
        if before or after:
            x = np.take(x, source_index(x.shape[axis], before, after, mode), axis=axis)
    return x


def pad_backward(grad: np.ndarray, widths, mode: str, input_shape) -> np.ndarray:
    """Gradient of :func:`pad` with respect to its input.

    Each padded position received a copy of one input position, so its gradient is
    added back there. Constant padding: the gradient of the surviving part only.
    """
    if mode == "constant":
        out = np.zeros(input_shape, dtype=grad.dtype)
        source, target = _constant_slices(input_shape, widths)
        out[source] = grad[target]
        return out
    # Undo the axes in reverse order of the forward pass.
    for axis in reversed(range(len(widths))):
        before, after = widths[axis]
        if not (before or after):
            continue
        size = input_shape[axis]
        index = source_index(size, before, after, mode)
        moved = np.moveaxis(grad, axis, 0)
        folded = moved[before:before + size].copy()
        # Border positions (few) add onto their sources one by one.
        for position in list(range(before)) + list(range(before + size, before + size + after)):
            folded[index[position]] += moved[position]
        grad = np.moveaxis(folded, 0, axis)
    return np.ascontiguousarray(grad)

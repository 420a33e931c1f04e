"""Padding an array: constant, reflect, replicate, circular, symmetric; forward and backward.

``widths`` gives ``(before, after)`` for every axis of the array (NumPy's ``np.pad``
convention, not ``F.pad``'s reversed flat list; :func:`cnnlab.functional.pad`
converts). Negative widths crop, as in PyTorch.

Non-constant modes map each padded position to the input position it copies
(:func:`source_index`); the backward pass adds every padded position's gradient
back onto that source. Widths larger than the axis keep going: reflection repeats
(NumPy's ``'reflect'``), circular padding wraps more than once (NumPy's ``'wrap'``).
``'symmetric'`` (NumPy's name; SciPy's ``boundary='symm'``) reflects *including* the
edge element: ``[2, 1, 0 | 0, 1, 2, 3 | 3, 2]``.
"""

from __future__ import annotations

import numpy as np

MODES = ("constant", "reflect", "replicate", "circular", "symmetric")


def source_index(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input index it copies.

    Positions run from ``-before`` to ``size + after - 1`` in input coordinates.
    Reflect, replicate and symmetric map them onto the whole input, so a crop on one
    side does not change what the other side copies (PyTorch's rule). Circular
    padding wraps the *cropped* input (PyTorch's rule too): with ``(-1, 2)``,
    ``[0, 1, 2, 3]`` becomes ``[1, 2, 3, 1, 2]``.

    Examples
    --------
    >>> source_index(4, 2, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> source_index(4, 2, 2, "replicate").tolist()
    [0, 0, 0, 1, 2, 3, 3, 3]
    >>> source_index(4, 2, 2, "circular").tolist()
    [2, 3, 0, 1, 2, 3, 0, 1]
    >>> source_index(4, 2, 2, "symmetric").tolist()
    [1, 0, 0, 1, 2, 3, 3, 2]
    >>> source_index(4, -1, 2, "circular").tolist()
    [1, 2, 3, 1, 2]
    """
    positions = np.arange(-before, size + after)
    if mode == "circular":
        low, high = max(-before, 0), size - max(-after, 0)
        if positions.size and high <= low:
            raise ValueError(f"pad: circular padding {(before, after)} of an axis of size "
                             f"{size} leaves nothing to wrap around")
        return low + np.mod(positions - low, high - low)
    if mode not in ("reflect", "symmetric", "replicate"):
        raise ValueError(f"pad: mode must be one of {MODES[1:]} here, got {mode!r}")
    if positions.size and size == 0:
        raise ValueError(f"pad: cannot pad an empty axis with mode {mode!r}")
    if mode == "reflect":
        if size == 1:
            return np.zeros_like(positions)
        period = 2 * (size - 1)
        folded = np.mod(positions, period)
        return np.where(folded < size, folded, period - folded)
    if mode == "symmetric":
        period = 2 * size
        folded = np.mod(positions, period)
        return np.where(folded < size, folded, period - 1 - folded)
    return np.clip(positions, 0, size - 1)  # replicate


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
    mode : {'constant', 'reflect', 'replicate', 'circular', 'symmetric'}
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
        if before or after:
            index = source_index(input_shape[axis], before, after, mode)
            grad = _fold_axis(grad, axis, index, before, input_shape[axis])
    return np.ascontiguousarray(grad)


def _fold_axis(grad: np.ndarray, axis: int, index: np.ndarray, before: int,
               size: int) -> np.ndarray:
    """Sum the gradient of each padded position along ``axis`` onto ``index[position]``."""
    moved = np.moveaxis(grad, axis, 0)
    out = np.zeros((size,) + moved.shape[1:], dtype=grad.dtype)
    positions = np.arange(index.size)
    # The copied input itself is one contiguous run where index == position - before:
    # one slice copy. The borders (a few positions each side) are scattered.
    inside = np.flatnonzero(index == positions - before)
    if inside.size:
        first, count = inside[0], inside.size
        out[index[first]:index[first] + count] = moved[first:first + count]
    border = np.flatnonzero(index != positions - before)
    if border.size:
        np.add.at(out, index[border], moved[border])
    return np.moveaxis(out, 0, axis)

"""The one windowing helper shared by convolution and pooling.

A 2-D window of ``kernel_size`` taps, moved with ``stride`` and spread by
``dilation``, reads each tap ``(i, j)`` from the same strided grid of the padded input,
shifted by ``(i * dilation_h, j * dilation_w)``. So instead of looping over windows
(output pixels), every kernel reads and reduces whole shifted grids, one per tap:

- convolution copies each tap's grid into one row block of an im2col buffer and
  calls one matrix product (:mod:`cnnlab.kernels.conv`);
- pooling folds the grids together with ``np.maximum`` or ``np.add``, one axis at a
  time (:mod:`cnnlab.kernels.pool`).

Python loops here run over the k taps of an axis (or the k_h * k_w taps of a window),
never over pixels.
"""

from __future__ import annotations

#: Upper bound, in bytes, for one scratch buffer of a kernel (e.g. the im2col matrix).
#: Kernels split the batch with :func:`batch_chunks` to stay under it.
SCRATCH_BYTES = 256 * 2**20


def tap_slices(kernel_size: int, stride: int, dilation: int, out_size: int) -> list:
    """For each tap ``t`` of a 1-D window, the slice of the padded axis it reads.

    Tap ``t`` of output position ``o`` reads padded index ``o * stride + t * dilation``,
    so over all ``o`` it reads ``slice(t * dilation, t * dilation + (out_size - 1) * stride
    + 1, stride)``: ``out_size`` elements.

    Examples
    --------
    >>> tap_slices(kernel_size=2, stride=2, dilation=1, out_size=3)
    [slice(0, 5, 2), slice(1, 6, 2)]
    """
    span = (out_size - 1) * stride + 1
    return [slice(t * dilation, t * dilation + span, stride) for t in range(kernel_size)]


def windows(padded, kernel_size, stride, dilation, out_shape):
    """Yield ``(i, j, grid)`` for every tap of a 2-D window, in row-major tap order.

    Parameters
    ----------
    padded : np.ndarray, shape (..., H_padded, W_padded)
    kernel_size, stride, dilation : (int, int)
    out_shape : (int, int)
        ``(out_height, out_width)`` from :func:`cnnlab.shapes.output_size`.

    Yields
    ------
    i, j : int
        The tap's row and column in the kernel.
    grid : np.ndarray view, shape (..., out_height, out_width)
        ``padded[..., oh * stride_h + i * dilation_h, ow * stride_w + j * dilation_w]``
        for every output position.
    """
    rows = tap_slices(kernel_size[0], stride[0], dilation[0], out_shape[0])
    cols = tap_slices(kernel_size[1], stride[1], dilation[1], out_shape[1])
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            yield i, j, padded[..., row, col]


def batch_chunks(n: int, bytes_per_item: int):
    """Yield slices over ``n`` batch items so that each chunk needs <= ``SCRATCH_BYTES``.

    ``bytes_per_item`` is the scratch one batch item needs. A chunk always holds at
    least one item, so a single huge item still runs (over the budget). All chunks
    have the same size except the last, so one buffer sized for the first chunk
    serves every chunk.

    Examples
    --------
    >>> list(batch_chunks(5, SCRATCH_BYTES // 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    per_chunk = max(1, SCRATCH_BYTES // max(int(bytes_per_item), 1))
    for start in range(0, n, per_chunk):
        yield slice(start, min(start + per_chunk, n))

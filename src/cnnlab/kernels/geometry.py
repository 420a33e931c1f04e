"""Convolution geometry: everything about a convolution except the arrays.

:class:`ConvGeometry` holds the normalised sizes (one entry per spatial axis, for 1, 2
or 3 of them) and answers the questions the routes ask: the padded and buffer shapes,
the column layout (narrow, or the "wide" stride-1 layout of
:func:`cnnlab.kernels.window.flat_windows`), whether the convolution is depthwise or
pointwise, and how to split the batch so the scratch stays within the budget.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import window
from ..shapes import output_size

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
        return tuple([n + lo + hi for n, (lo, hi) in zip(self.input_shape[2:], self.padding)])

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


WIDE_MAX_WASTE = 1.5
"""The wide layout computes whole padded rows (``OH * Wp`` columns for ``OH * OW``
outputs in 2-D); above this ratio the narrow one is used. Measured on 3x3 maps at 512
channels (ratio 5/3): the wide layout took 1.35-1.75x the narrow one's time; on 24x24
maps (26/24) the two were even."""


def all_finite(*arrays) -> bool:
    """The wide layout multiplies discarded columns by zeros: only safe for finite data.

    A sum is NaN or infinite whenever an element is (and, rarely, when finite values
    overflow, which only costs the faster layout): one pass, no temporary array.
    """
    return all(a.dtype.kind != "f" or bool(np.isfinite(np.sum(a))) for a in arrays)


def choose_layout(geometry: ConvGeometry, out_channels: int, *arrays) -> ConvGeometry:
    """Check the scratch fits in memory, then use the wide layout where it applies."""
    if geometry.pointwise:
        return geometry
    geometry.check_memory(out_channels, arrays[0].dtype.itemsize)
    small = arrays[0].size < WIDE_MIN_ELEMENTS  # short rows cost little; skip the checks
    if (all(s == 1 for s in geometry.stride) and not small
            and geometry._replace(wide=True).locations
            <= WIDE_MAX_WASTE * math.prod(geometry.out_shape)
            and all_finite(*arrays)):
        return geometry._replace(wide=True)
    return geometry

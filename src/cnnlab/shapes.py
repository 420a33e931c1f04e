"""Argument normalisation and the one output-size rule for windows over an axis.

Every convolution and pooling kernel, every error message about shapes, the shape
calculator of the CLI and the public helpers :func:`conv2d_output_shape`,
:func:`pool2d_output_shape` and :func:`conv_transpose2d_output_shape` use
:func:`output_size` (or :func:`transposed_output_size`), so the formula lives in one
place:

.. math::

    out = \\left\\lfloor \\frac{in + pad_{lo} + pad_{hi} - dilation (kernel - 1) - 1}
                              {stride} \\right\\rfloor + 1

With ``ceil_mode`` the floor becomes a ceiling, but (PyTorch's rule) the last window
must start inside the input or the low padding; otherwise it is dropped.

Arguments are normalised once, at the public boundary, into canonical forms: sizes
become one int per spatial axis (``(height, width)`` in 2-D; :func:`int_tuple`);
padding becomes one ``(lo, hi)`` pair per axis (``((top, bottom), (left, right))`` in
2-D; :func:`padding_pairs`). Inner code only ever sees those forms, for 1, 2 or 3
spatial axes alike.
"""

from __future__ import annotations

import numbers

import numpy as np

AXES = ("height", "width")
PadPairs = tuple  # ((top, bottom), (left, right)); one (lo, hi) pair per spatial axis

#: The names of the spatial axes for 1, 2 and 3 spatial dimensions (errors and the CLI).
AXIS_NAMES = {1: ("length",), 2: AXES, 3: ("depth", "height", "width")}


def axis_names(ndim: int) -> tuple:
    """``('height', 'width')`` for 2 spatial axes; ``('axis 0', ...)`` beyond 3."""
    return AXIS_NAMES.get(ndim) or tuple(f"axis {i}" for i in range(ndim))


def _is_int(value) -> bool:
    if type(value) is int:  # the common case, without the slower abstract-class check
        return True
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_flag(value, name: str, owner: str) -> bool:
    """``value`` as a bool; a TypeError naming ``owner`` and ``name`` unless it is one."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def positive_int(value, name: str, owner: str) -> int:
    """``value`` as an int >= 1: a TypeError for a non-int, a ValueError below 1."""
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _sizes_phrase(ndim: int) -> str:
    """How an int-or-tuple argument of ``ndim`` axes is spelled in errors."""
    names = ", ".join(axis_names(ndim))
    if ndim == 2:
        return f"an int or a pair of ints ({names})"
    return f"an int or a tuple of {ndim} ints ({names})"


def int_tuple(value, ndim: int, name: str, function: str, minimum: int = 1) -> tuple:
    """``value`` (an int, or a sequence of 1 or ``ndim`` ints) as ``ndim`` ints >= ``minimum``.

    A one-element sequence is repeated, as PyTorch does (``(3,)`` means ``(3, 3)``).

    Raises
    ------
    TypeError
        For bools, floats, strings, ``None`` or sequences of the wrong length.
    ValueError
        For values below ``minimum``.

    Examples
    --------
    >>> int_tuple((2,), 3, "stride", "conv3d")
    (2, 2, 2)
    """
    if type(value) is int and value >= minimum:  # the common case, checked at once
        return (value,) * ndim
    if _is_int(value):
        sizes = (int(value),) * ndim
    elif (isinstance(value, (tuple, list)) and len(value) in (1, ndim)
          and all(_is_int(v) for v in value)):
        sizes = tuple(int(v) for v in value) * (ndim if len(value) == 1 else 1)
    else:
        raise TypeError(f"{function}: {name} must be {_sizes_phrase(ndim)}, got {value!r}")
    if min(sizes) < minimum:
        raise ValueError(f"{function}: {name} must be >= {minimum}, got {value!r}")
    return sizes


def int_pair(value, name: str, function: str, minimum: int = 1) -> tuple:
    """``value`` (an int or a pair of ints) as ``(height, width)``, each >= ``minimum``.

    :func:`int_tuple` for two spatial axes (a one-element tuple is repeated).
    """
    if type(value) is int and value >= minimum:  # the common case, checked at once
        return (value, value)
    return int_tuple(value, 2, name, function, minimum)


def pool_stride(stride, kernel: tuple, function: str) -> tuple:
    """A pool's stride: the kernel size when None or empty (PyTorch's ``stride=()``)."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return int_tuple(stride, len(kernel), "stride", function)


def same_padding(in_size: int, kernel_size: int, stride: int, dilation: int) -> tuple:
    """Padding ``(lo, hi)`` that gives ``ceil(in / stride)`` outputs (SAME_UPPER).

    The odd pixel goes to the high side (bottom/right), as in TensorFlow, ONNX's
    ``SAME_UPPER`` and PyTorch's ``padding='same'`` (which only allows stride 1).
    """
    out = -(-in_size // stride)
    total = max((out - 1) * stride + dilation * (kernel_size - 1) + 1 - in_size, 0)
    return total // 2, total - total // 2


def _padding_phrase(ndim: int) -> str:
    if ndim == 2:
        return "an int, (pad_h, pad_w), ((top, bottom), (left, right)), 'valid' or 'same'"
    names = ", ".join(f"pad_{axis}" for axis in axis_names(ndim))
    pairs = ", ".join("(lo, hi)" for _ in range(ndim))
    return f"an int, ({names}), ({pairs}), 'valid' or 'same'"


def padding_pairs(padding, function: str, name: str = "padding", input_size=None,
                  kernel_size=None, stride=None, dilation=None, ndim: int = 2) -> PadPairs:
    """Normalise ``padding`` to one ``(lo, hi)`` pair per spatial axis.

    Accepts an int, one int per axis (``(ph, pw)``; a one-element tuple is repeated,
    as in PyTorch), per-side pairs (``((top, bottom), (left, right))``), ``'valid'``
    (no padding) and ``'same'`` (output ``ceil(in / stride)``, which needs
    ``input_size``, ``kernel_size`` and optionally ``stride`` and ``dilation``,
    default 1). ``ndim`` is the number of spatial axes (taken from ``input_size``
    when given).
    """
    if input_size is not None:
        ndim = len(input_size)
    if type(padding) is int and padding >= 0:  # the common case, checked at once
        return ((padding, padding),) * ndim
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            if input_size is None or kernel_size is None:
                raise ValueError(f"{function}: {name}='same' needs the input size, which is "
                                 "not known here; give the padding as numbers")
            stride = (1,) * ndim if stride is None else stride
            dilation = (1,) * ndim if dilation is None else dilation
            return tuple(same_padding(n, k, s, d) for n, k, s, d
                         in zip(input_size, kernel_size, stride, dilation))
        raise ValueError(f"{function}: {name} string must be 'valid' or 'same', got {padding!r}")
    if _is_int(padding):
        pairs = ((int(padding),) * 2,) * ndim
    elif (isinstance(padding, (tuple, list)) and len(padding) in (1, ndim)
          and all(_is_int(p) for p in padding)):
        pairs = tuple((int(p), int(p)) for p in padding) * (ndim if len(padding) == 1 else 1)
    elif (isinstance(padding, (tuple, list)) and len(padding) == ndim
          and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) for v in p)
                  for p in padding)):
        pairs = tuple((int(p[0]), int(p[1])) for p in padding)
    else:
        raise TypeError(f"{function}: {name} must be {_padding_phrase(ndim)}, got {padding!r}")
    if min(min(p) for p in pairs) < 0:
        raise ValueError(f"{function}: {name} must be non-negative, got {padding!r}")
    return pairs


def output_size(in_size: int, kernel_size: int, stride: int = 1, padding=(0, 0),
                dilation: int = 1, ceil_mode: bool = False) -> int:
    """Number of windows along one axis (may be <= 0 when nothing fits).

    Parameters
    ----------
    in_size, kernel_size, stride, dilation : int
    padding : (int, int)
        Padding before and after the input along this axis.
    ceil_mode : bool
        Round up, keeping a last partial window only if it starts inside the input or
        the low padding (PyTorch's pooling rule).

    Examples
    --------
    >>> output_size(8, 3, stride=2, padding=(1, 1))
    4
    >>> output_size(4, 2, stride=2, padding=(1, 1), ceil_mode=True)
    3
    """
    lo, hi = padding
    span = in_size + lo + hi - dilation * (kernel_size - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if out > 0 and (out - 1) * stride >= in_size + lo:
        out -= 1
    return out


def formula(axis: str, in_size, kernel_size, stride, padding, dilation, ceil_mode=False) -> str:
    """The output-size formula for one axis with the numbers substituted."""
    lo, hi = padding
    rounding = "ceil" if ceil_mode else "floor"
    value = output_size(in_size, kernel_size, stride, padding, dilation, ceil_mode)
    return (f"out_{axis} = {rounding}((in + pad_lo + pad_hi - dilation*(kernel-1) - 1) / stride) + 1"
            f" = {rounding}(({in_size} + {lo} + {hi} - {dilation}*({kernel_size}-1) - 1) / {stride}) + 1"
            f" = {value}")


def window_output_shape(function: str, input_size, kernel_size, stride, padding: PadPairs,
                        dilation, ceil_mode: bool = False) -> tuple:
    """The output size along every spatial axis (``(out_height, out_width)`` in 2-D), or a
    ValueError with the formula when one is < 1."""
    out = []
    for axis, n, k, s, p, d in zip(axis_names(len(input_size)), input_size, kernel_size, stride,
                                   padding, dilation):
        size = output_size(n, k, s, p, d, ceil_mode)
        if size < 1:
            extent = d * (k - 1) + 1
            raise ValueError(
                f"{function}: kernel size {tuple(kernel_size)} with dilation {tuple(dilation)} "
                f"spans {extent} along the {axis}, larger than the padded input "
                f"{n} + {p[0]} + {p[1]} = {n + p[0] + p[1]}; the output would be empty: "
                + formula(axis, n, k, s, p, d, ceil_mode))
        out.append(size)
    return tuple(out)


def taps_inside(in_size: int, out_size: int, kernel_size: int, stride: int, dilation: int,
                pad_lo: int, low: int | None = None, high: int | None = None) -> np.ndarray:
    """How many taps of each window land in ``[low, high)`` (default: the input).

    Positions are in input coordinates (the first window starts at ``-pad_lo``).
    Average pooling divides by these counts; pooling checks that none is zero.

    Returns
    -------
    np.ndarray of int64, shape (out_size,)
    """
    low = 0 if low is None else low
    high = in_size if high is None else high
    # Tap t of the window starting at s lands in [low, high) iff
    # ceil((low - s) / dilation) <= t <= floor((high - 1 - s) / dilation); count the t in
    # [0, kernel_size) between those bounds (no (out_size, kernel_size) scratch). Python
    # ints (dtype object) where int64 could overflow.
    huge = max(abs(int(v)) for v in (in_size, out_size * stride, kernel_size * dilation,
                                      pad_lo, low, high)) >= 2**62
    starts = np.arange(out_size, dtype=object if huge else np.int64) * stride - pad_lo
    first = np.maximum(-((starts - low) // dilation), 0)
    last = np.minimum((high - 1 - starts) // dilation, kernel_size - 1)
    return np.maximum(last - first + 1, 0).astype(np.int64)


def check_windows_hold_input(function: str, input_size, out_size, kernel_size, stride,
                             padding: PadPairs, dilation) -> None:
    """Pooling's rule: every window must contain at least one input element.

    Beyond PyTorch, which caps pool padding at ``kernel_size // 2``: any padding is
    accepted as long as no window lies entirely in the padding.
    """
    for axis, n, o, k, s, p, d in zip(axis_names(len(input_size)), input_size, out_size,
                                      kernel_size, stride, padding, dilation):
        index = _first_empty_window(n, o, k, s, p[0], d)
        if index is not None:
            raise ValueError(
                f"{function}: padding {p} along the {axis} leaves window {index} (of {o}) "
                f"with no input element (input {n}, kernel {k}, stride {s}, dilation {d}); "
                f"every pooling window must overlap the input: reduce the padding")


def _first_empty_window(in_size, out_size, kernel_size, stride, pad_lo, dilation):
    """Index of the first window with no tap inside the input, or None."""
    if out_size < 1:
        return None
    if dilation <= in_size:
        # No gap between taps is wider than the input, so a window holds an input
        # element iff it starts in [-dilation * (kernel - 1), in): check both ends in O(1)
        # (any padding, however large, costs nothing).
        if -pad_lo < -dilation * (kernel_size - 1):
            return 0
        if (out_size - 1) * stride - pad_lo >= in_size:
            return -(-(in_size + pad_lo) // stride)
        return None
    counts = taps_inside(in_size, out_size, kernel_size, stride, dilation, pad_lo)
    return int(np.argmin(counts)) if counts.min() == 0 else None


def transposed_output_size(in_size: int, kernel_size: int, stride: int, padding=(0, 0),
                           dilation: int = 1, output_padding: int = 0) -> int:
    """Output length of a transposed convolution along one axis.

    ``out = (in - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1) + output_padding + 1``
    """
    lo, hi = padding
    return (in_size - 1) * stride - lo - hi + dilation * (kernel_size - 1) + output_padding + 1


# ------------------------------------------------------------ public helpers


def transposed_same_padding(kernel_size, stride, dilation, output_padding, function: str):
    """Crops and output padding that make a transposed convolution's ``out = in * stride``.

    With ``total = dilation * (kernel - 1) + 1 - stride`` (the full output minus
    ``in * stride``), ``total // 2`` is cropped at the low side and the rest at the
    high side; a negative ``total`` becomes ``output_padding = -total`` instead
    (TensorFlow's ``conv2d_transpose`` with SAME). ``output_padding`` must be 0.

    Returns
    -------
    (crops, output_padding) : one ``(lo, hi)`` pair and one int per spatial axis
    """
    if any(output_padding):
        raise ValueError(f"{function}: padding='same' chooses the output padding itself; "
                         f"output_padding must be 0, got {tuple(output_padding)}")
    crops, extra = [], []
    for k, s, d in zip(kernel_size, stride, dilation):
        total = d * (k - 1) + 1 - s
        if total >= 0:
            crops.append((total // 2, total - total // 2))
            extra.append(0)
        else:
            crops.append((0, 0))
            extra.append(-total)
    return tuple(crops), tuple(extra)


def _spatial(input_size, function, spatial: int = 2):
    names = "(height, width)" if spatial == 2 else f"({', '.join(axis_names(spatial))})"
    if _is_int(input_size):
        return (int(input_size),) * spatial
    try:
        size = tuple(input_size)
    except TypeError:
        size = ()
    if len(size) < spatial or not all(_is_int(s) and s >= 0 for s in size):
        raise TypeError(f"{function}: input_size must be an int or a shape ending in "
                        f"{names}, got {input_size!r}")
    return tuple(int(s) for s in size[len(size) - spatial:])


def conv_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1,
                      spatial: int = 2, function: str = "conv_output_shape") -> tuple:
    """The output size of a convolution with ``spatial`` spatial axes, per axis.

    ``input_size`` is the spatial size or any shape ending in it (e.g. ``(N, C, H, W)``);
    the other arguments as the convolution takes them.

    Examples
    --------
    >>> conv_output_shape((16, 8, 8), 3, stride=2, padding=1, spatial=3)
    (8, 4, 4)
    """
    size = _spatial(input_size, function, spatial)
    kernel = int_tuple(kernel_size, spatial, "kernel_size", function)
    stride = int_tuple(stride, spatial, "stride", function)
    dilation = int_tuple(dilation, spatial, "dilation", function)
    pads = padding_pairs(padding, function, input_size=size, kernel_size=kernel,
                         stride=stride, dilation=dilation)
    return window_output_shape(function, size, kernel, stride, pads, dilation)


def pool_output_shape(input_size, kernel_size, stride=None, padding=0, dilation=1,
                      ceil_mode=False, spatial: int = 2,
                      function: str = "pool_output_shape") -> tuple:
    """The output size of max/avg/Lp pooling with ``spatial`` axes (stride defaults to
    the kernel), checked like the pools (every window must overlap the input)."""
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{function}: ceil_mode must be True or False, got {ceil_mode!r}")
    size = _spatial(input_size, function, spatial)
    kernel = int_tuple(kernel_size, spatial, "kernel_size", function)
    stride = pool_stride(stride, kernel, function)
    dilation = int_tuple(dilation, spatial, "dilation", function)
    pads = padding_pairs(padding, function, input_size=size, kernel_size=kernel,
                         stride=stride, dilation=dilation)
    out = window_output_shape(function, size, kernel, stride, pads, dilation, ceil_mode)
    check_windows_hold_input(function, size, out, kernel, stride, pads, dilation)
    return out


def conv_transpose_output_shape(input_size, kernel_size, stride=1, padding=0,
                                output_padding=0, dilation=1, spatial: int = 2,
                                function: str = "conv_transpose_output_shape") -> tuple:
    """The output size of a transposed convolution with ``spatial`` axes;
    ``padding='same'`` gives ``in * stride`` (:func:`transposed_same_padding`)."""
    size = _spatial(input_size, function, spatial)
    kernel = int_tuple(kernel_size, spatial, "kernel_size", function)
    stride = int_tuple(stride, spatial, "stride", function)
    dilation = int_tuple(dilation, spatial, "dilation", function)
    extra = int_tuple(output_padding, spatial, "output_padding", function, minimum=0)
    if isinstance(padding, str) and padding == "same":
        pads, extra = transposed_same_padding(kernel, stride, dilation, extra, function)
    else:
        pads = padding_pairs(padding, function, ndim=spatial)
    return tuple(transposed_output_size(n, k, s, p, d, e)
                 for n, k, s, p, d, e in zip(size, kernel, stride, pads, dilation, extra))


def conv1d_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1) -> tuple:
    """``(out_length,)`` of :func:`cnnlab.functional.conv1d` (:func:`conv_output_shape`).

    Examples
    --------
    >>> conv1d_output_shape(100, 5, stride=2, padding="same")
    (50,)
    """
    return conv_output_shape(input_size, kernel_size, stride, padding, dilation, 1,
                             "conv1d_output_shape")


def conv2d_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1) -> tuple:
    """``(out_height, out_width)`` of :func:`cnnlab.functional.conv2d`.

    Parameters
    ----------
    input_size : int or tuple
        ``(H, W)``, or any shape ending in ``(H, W)`` (e.g. ``(N, C, H, W)``).
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'

    Examples
    --------
    >>> conv2d_output_shape((8, 8), 5, stride=(3, 4), padding=(0, 1))
    (2, 2)
    """
    return conv_output_shape(input_size, kernel_size, stride, padding, dilation, 2,
                             "conv2d_output_shape")


def conv3d_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1) -> tuple:
    """``(out_depth, out_height, out_width)`` of :func:`cnnlab.functional.conv3d`.

    Examples
    --------
    >>> conv3d_output_shape((1, 3, 16, 112, 112), (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3))
    (16, 56, 56)
    """
    return conv_output_shape(input_size, kernel_size, stride, padding, dilation, 3,
                             "conv3d_output_shape")


def pool2d_output_shape(input_size, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False) -> tuple:
    """``(out_height, out_width)`` of max/avg/Lp pooling (stride defaults to the kernel).

    Examples
    --------
    >>> pool2d_output_shape((4, 4), (2, 4), stride=(2, 3), padding=(1, 2))
    (3, 2)
    """
    return pool_output_shape(input_size, kernel_size, stride, padding, dilation, ceil_mode, 2,
                             "pool2d_output_shape")


def conv_transpose2d_output_shape(input_size, kernel_size, stride=1, padding=0,
                                  output_padding=0, dilation=1) -> tuple:
    """``(out_height, out_width)`` of :func:`cnnlab.functional.conv_transpose2d`.

    ``padding='same'`` gives ``in * stride`` (:func:`transposed_same_padding`).

    Examples
    --------
    >>> conv_transpose2d_output_shape((4, 4), 3, stride=2, padding=1, output_padding=1)
    (8, 8)
    >>> conv_transpose2d_output_shape((4, 5), 3, stride=2, padding="same")
    (8, 10)
    """
    return conv_transpose_output_shape(input_size, kernel_size, stride, padding,
                                       output_padding, dilation, 2,
                                       "conv_transpose2d_output_shape")

"""Naive loop references for pooling, tested against PyTorch in test_pool.py.

Written for clarity, not speed: one explicit loop per output element, each window
read position by position. Arguments are canonical (pairs, per-side padding
``((top, bottom), (left, right))``); the output size is computed here from the
formula, independently of :mod:`cnnlab.shapes`.
"""

import math

import numpy as np


def pooled_size(in_size, kernel_size, stride, padding, dilation, ceil_mode):
    """PyTorch's pooling output size along one axis (ceil: the last window must start
    inside the input or the low padding)."""
    lo, hi = padding
    span = in_size + lo + hi - dilation * (kernel_size - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    if (out - 1) * stride >= in_size + lo:
        out -= 1
    return out


def _window_positions(out_index, kernel_size, stride, lo, dilation):
    """The input positions (may be outside the input) read by one window along one axis."""
    return [out_index * stride - lo + t * dilation for t in range(kernel_size)]


def _window(p, q, kernel_size, stride, padding, dilation):
    """The (row, column) input positions of window (p, q), row-major (padding included)."""
    rows = _window_positions(p, kernel_size[0], stride[0], padding[0][0], dilation[0])
    cols = _window_positions(q, kernel_size[1], stride[1], padding[1][0], dilation[1])
    return [(r, s) for r in rows for s in cols]


def _out_shape(x, kernel_size, stride, padding, dilation, ceil_mode):
    return tuple(pooled_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d
                 in zip(x.shape[-2:], kernel_size, stride, padding, dilation))


def max_pool2d_reference(x, kernel_size, stride, padding, dilation=(1, 1), ceil_mode=False):
    """``(out, indices)`` by PyTorch's scan.

    Each window visits its input positions (padding skipped) in row-major order,
    starting from the first one, and takes a value when it is greater than the best
    so far or NaN. So ties go to the first maximum and NaN to the last NaN.
    """
    batch, channels, height, width = x.shape
    out_h, out_w = _out_shape(x, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.zeros((batch, channels, out_h, out_w), x.dtype)
    indices = np.zeros((batch, channels, out_h, out_w), np.int64)
    for n in range(batch):
        for c in range(channels):
            for p in range(out_h):
                for q in range(out_w):
                    best, best_index = None, None
                    for r, s in _window(p, q, kernel_size, stride, padding, dilation):
                        if not (0 <= r < height and 0 <= s < width):
                            continue
                        value = x[n, c, r, s]
                        if best is None or value > best or np.isnan(value):
                            best, best_index = value, r * width + s
                    out[n, c, p, q] = best
                    indices[n, c, p, q] = best_index
    return out, indices


def scatter_reference(grad_output, indices, input_shape):
    """Gradient of a max pool: each output gradient added at its index."""
    batch, channels = input_shape[:2]
    grad = np.zeros((batch, channels, input_shape[2] * input_shape[3]), grad_output.dtype)
    for n in range(batch):
        for c in range(channels):
            for index, value in zip(indices[n, c].ravel(), grad_output[n, c].ravel()):
                grad[n, c, index] += value
    return grad.reshape(input_shape)


def avg_pool2d_reference(x, kernel_size, stride, padding, dilation=(1, 1), ceil_mode=False,
                         count_include_pad=True, divisor_override=None):
    """Window sums over real elements (padding adds zeros) divided by:
    ``divisor_override``; or the number of taps inside the padded input
    ``[-top, H + bottom) x [-left, W + right)`` (``count_include_pad``); or the number
    of taps on real elements. Integers are summed in float64 and returned as float32."""
    batch, channels, height, width = x.shape
    (top, bottom), (left, right) = padding
    out_h, out_w = _out_shape(x, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.zeros((batch, channels, out_h, out_w), np.float64)
    for n in range(batch):
        for c in range(channels):
            for p in range(out_h):
                for q in range(out_w):
                    total, real, padded = 0.0, 0, 0
                    for r, s in _window(p, q, kernel_size, stride, padding, dilation):
                        if -top <= r < height + bottom and -left <= s < width + right:
                            padded += 1
                        if 0 <= r < height and 0 <= s < width:
                            real += 1
                            total += float(x[n, c, r, s])
                    if divisor_override is not None:
                        divisor = divisor_override
                    else:
                        divisor = padded if count_include_pad else real
                    out[n, c, p, q] = total / divisor
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float32)


def lp_pool2d_reference(x, norm_type, kernel_size, stride, padding=((0, 0), (0, 0)),
                        dilation=(1, 1), ceil_mode=False):
    """``(sum over the window's real elements of |x|^p)^(1/p)``; ``p = inf``: max |x|."""
    batch, channels, height, width = x.shape
    out_h, out_w = _out_shape(x, kernel_size, stride, padding, dilation, ceil_mode)
    out = np.zeros((batch, channels, out_h, out_w), np.float64)
    for n in range(batch):
        for c in range(channels):
            for p in range(out_h):
                for q in range(out_w):
                    values = [abs(float(x[n, c, r, s]))
                              for r, s in _window(p, q, kernel_size, stride, padding, dilation)
                              if 0 <= r < height and 0 <= s < width]
                    if math.isinf(norm_type):
                        out[n, c, p, q] = max(values)
                    else:
                        out[n, c, p, q] = sum(v ** norm_type for v in values) ** (1 / norm_type)
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float32)


def adaptive_windows_reference(in_size, out_size):
    """``[(start, end)]`` with start = floor(i * in / out), end = ceil((i + 1) * in / out)."""
    return [((i * in_size) // out_size, -((-(i + 1) * in_size) // out_size))
            for i in range(out_size)]


def adaptive_avg_pool2d_reference(x, output_size):
    batch, channels, height, width = x.shape
    rows = adaptive_windows_reference(height, output_size[0])
    cols = adaptive_windows_reference(width, output_size[1])
    out = np.zeros((batch, channels, len(rows), len(cols)), np.float64)
    for n in range(batch):
        for c in range(channels):
            for p, (r0, r1) in enumerate(rows):
                for q, (s0, s1) in enumerate(cols):
                    out[n, c, p, q] = np.mean(x[n, c, r0:r1, s0:s1].astype(np.float64))
    return out.astype(x.dtype if x.dtype.kind == "f" else np.float32)


def adaptive_max_pool2d_reference(x, output_size):
    """``(out, indices)`` with the same scan as :func:`max_pool2d_reference`."""
    batch, channels, height, width = x.shape
    rows = adaptive_windows_reference(height, output_size[0])
    cols = adaptive_windows_reference(width, output_size[1])
    out = np.zeros((batch, channels, len(rows), len(cols)), x.dtype)
    indices = np.zeros(out.shape, np.int64)
    for n in range(batch):
        for c in range(channels):
            for p, (r0, r1) in enumerate(rows):
                for q, (s0, s1) in enumerate(cols):
                    best, best_index = None, None
                    for r in range(r0, r1):
                        for s in range(s0, s1):
                            value = x[n, c, r, s]
                            if best is None or value > best or np.isnan(value):
                                best, best_index = value, r * width + s
                    out[n, c, p, q] = best
                    indices[n, c, p, q] = best_index
    return out, indices


def max_unpool2d_reference(x, indices, output_size):
    """Zeros of ``output_size`` with ``x[n, c, i, j]`` written at ``indices[n, c, i, j]``
    (in row-major order, so a repeated index keeps the last value)."""
    batch, channels = x.shape[:2]
    out = np.zeros((batch, channels, output_size[0] * output_size[1]), x.dtype)
    for n in range(batch):
        for c in range(channels):
            for index, value in zip(indices[n, c].ravel(), x[n, c].ravel()):
                out[n, c, index] = value
    return out.reshape(batch, channels, *output_size)

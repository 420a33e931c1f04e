"""Naive loop references for convolution, tested against PyTorch in test_conv.py.

Written for clarity, not speed: one explicit loop per output element, padding by
``np.pad``. They accept NumPy arrays with canonical arguments (pairs, per-side
padding) and keep integer inputs exact (int64).
"""

import numpy as np

# padding_mode -> np.pad mode
NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                   "circular": "wrap"}


def conv2d_reference(x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)),
                     dilation=(1, 1), groups=1, padding_mode="zeros"):
    """y[n, o, p, q] = b[o] + sum_{c in group(o), i, j} w[o, c, i, j] xp[n, c, p*s + i*d, q*s + j*d]."""
    integer = x.dtype.kind in "biu" and weight.dtype.kind in "biu"
    dtype = np.int64 if integer else np.result_type(x, weight)
    x, weight = x.astype(dtype), weight.astype(dtype)
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding), mode=NUMPY_PAD_MODES[padding_mode])
    n_batch, _, padded_h, padded_w = xp.shape
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    out_h = (padded_h - dh * (kernel_h - 1) - 1) // sh + 1
    out_w = (padded_w - dw * (kernel_w - 1) - 1) // sw + 1
    out = np.zeros((n_batch, out_channels, out_h, out_w), dtype)
    per_group = out_channels // groups
    for n in range(n_batch):
        for o in range(out_channels):
            first = (o // per_group) * group_channels
            for p in range(out_h):
                for q in range(out_w):
                    total = 0
                    for c in range(group_channels):
                        for i in range(kernel_h):
                            for j in range(kernel_w):
                                total += (weight[o, c, i, j]
                                          * xp[n, first + c, p * sh + i * dh, q * sw + j * dw])
                    out[n, o, p, q] = total
    if bias is not None:
        out += bias.astype(dtype).reshape(1, -1, 1, 1)
    return out


def conv_transpose2d_reference(x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)),
                               output_padding=(0, 0), groups=1, dilation=(1, 1)):
    """Scatter every input pixel times the kernel into the full output, then crop."""
    integer = x.dtype.kind in "biu" and weight.dtype.kind in "biu"
    dtype = np.int64 if integer else np.result_type(x, weight)
    x, weight = x.astype(dtype), weight.astype(dtype)
    n_batch, in_channels, height, width = x.shape
    _, group_out, kernel_h, kernel_w = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    (top, bottom), (left, right) = padding
    full_h = (height - 1) * sh + dh * (kernel_h - 1) + 1 + output_padding[0]
    full_w = (width - 1) * sw + dw * (kernel_w - 1) + 1 + output_padding[1]
    full = np.zeros((n_batch, group_out * groups, full_h, full_w), dtype)
    per_group = in_channels // groups
    for n in range(n_batch):
        for c in range(in_channels):
            first = (c // per_group) * group_out
            for p in range(height):
                for q in range(width):
                    for o in range(group_out):
                        for i in range(kernel_h):
                            for j in range(kernel_w):
                                full[n, first + o, p * sh + i * dh, q * sw + j * dw] += (
                                    x[n, c, p, q] * weight[c, o, i, j])
    out = full[:, :, top:full_h - bottom, left:full_w - right]
    if bias is not None:
        out = out + bias.astype(dtype).reshape(1, -1, 1, 1)
    return out

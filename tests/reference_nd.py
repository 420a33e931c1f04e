"""Naive loop references for 1-D and 3-D convolution and pooling (any number of
spatial axes): one Python loop iteration per output element, nothing shared with the
library. Tested themselves in tests/test_nd_reference.py."""

import itertools

import numpy as np


def _pad(x, padding, value=0.0):
    widths = ((0, 0), (0, 0)) + tuple(tuple(p) for p in padding)
    return np.pad(x, widths, constant_values=value)


def conv_nd_reference(x, weight, bias=None, stride=None, padding=None, dilation=None, groups=1):
    """``y[n, o, *p] = b[o] + sum_{c, *t} w[o, c, *t] * xp[n, g*C/G + c, *(p*s + t*d)]``."""
    spatial = x.ndim - 2
    stride = stride or (1,) * spatial
    dilation = dilation or (1,) * spatial
    padding = padding or ((0, 0),) * spatial
    xp = _pad(x.astype(np.float64), padding)
    n, channels = x.shape[:2]
    out_channels, group_channels = weight.shape[:2]
    kernel = weight.shape[2:]
    out_size = tuple((xp.shape[2 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
                     for a in range(spatial))
    out = np.zeros((n, out_channels) + out_size)
    per_group = out_channels // groups
    for b, o in itertools.product(range(n), range(out_channels)):
        first = (o // per_group) * group_channels
        for position in itertools.product(*(range(s) for s in out_size)):
            total = 0.0 if bias is None else float(bias[o])
            for c in range(group_channels):
                for tap in itertools.product(*(range(k) for k in kernel)):
                    where = tuple(p * s + t * d for p, s, t, d
                                  in zip(position, stride, tap, dilation))
                    total += weight[(o, c) + tap] * xp[(b, first + c) + where]
            out[(b, o) + position] = total
    return out


def conv_transpose_nd_reference(x, weight, bias=None, stride=None, padding=None,
                                output_padding=None, dilation=None, groups=1):
    """Scatter every input element times the kernel into the full output, then crop."""
    spatial = x.ndim - 2
    stride = stride or (1,) * spatial
    dilation = dilation or (1,) * spatial
    padding = padding or ((0, 0),) * spatial
    output_padding = output_padding or (0,) * spatial
    n, in_channels = x.shape[:2]
    per_group_out = weight.shape[1]
    kernel = weight.shape[2:]
    per_group_in = in_channels // groups
    full = tuple((x.shape[2 + a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
                 + output_padding[a] for a in range(spatial))
    out = np.zeros((n, per_group_out * groups) + full)
    for b, c in itertools.product(range(n), range(in_channels)):
        g = c // per_group_in
        for position in itertools.product(*(range(s) for s in x.shape[2:])):
            for o in range(per_group_out):
                for tap in itertools.product(*(range(k) for k in kernel)):
                    where = tuple(p * s + t * d for p, s, t, d
                                  in zip(position, stride, tap, dilation))
                    out[(b, g * per_group_out + o) + where] += (
                        x[(b, c) + position] * weight[(c, o) + tap])
    crop = tuple(slice(lo, size - hi) for (lo, hi), size in zip(padding, full))
    out = out[(slice(None), slice(None)) + crop]
    if bias is not None:
        out = out + np.asarray(bias).reshape((1, -1) + (1,) * spatial)
    return out


def pool_nd_reference(x, kernel, stride, padding, dilation, reduce, ceil_mode=False):
    """``reduce`` (a function of the list of in-input window values and the window's
    count inside the padded input) over every window; returns (out, out_size)."""
    spatial = x.ndim - 2
    sizes = x.shape[2:]
    out_size = []
    for n, k, s, (lo, hi), d in zip(sizes, kernel, stride, padding, dilation):
        span = n + lo + hi - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + lo:
            o -= 1
        out_size.append(o)
    out = []
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for position in itertools.product(*(range(o) for o in out_size)):
            values, padded_count = [], 0
            for tap in itertools.product(*(range(k) for k in kernel)):
                where = tuple(p * s + t * d - lo for p, s, t, d, (lo, _)
                              in zip(position, stride, tap, dilation, padding))
                if all(-lo <= w < n + hi for w, n, (lo, hi) in zip(where, sizes, padding)):
                    padded_count += 1
                if all(0 <= w < n for w, n in zip(where, sizes)):
                    values.append(x[(b, c) + where])
            out.append(reduce(values, padded_count))
    return np.array(out).reshape(x.shape[:2] + tuple(out_size))

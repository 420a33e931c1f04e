#!/usr/bin/env python
"""What a compiled kernel would give batch norm: the evidence for a dependency proposal.

cnnlab does not use numba. This script (``pip install numba`` first) fuses batch norm's
training forward (both statistics, then the affine map) and backward (both sums, then
``dx``) into one numba loop nest each, parallel over channels, and times it against
cnnlab's NumPy kernel (``src/cnnlab/kernels/batchnorm.py``, which needs four passes
forward and five backward because NumPy cannot fuse them) and PyTorch, interleaved
with 0.25 s idle gaps (medians of 7 paired ratios), after checking the values::

    python benchmarks/numba_batchnorm.py
"""
import gc
import statistics
import time

import numba
import numpy as np
import torch
from numba import njit, prange

import cnnlab

numba.set_num_threads(2)
torch.set_num_threads(2)


def ab(first, second, repeats=7, gap=0.25):
    """Median times (ms) of two calls sampled alternately, and the median paired ratio."""
    first(), second()
    times = ([], [])
    for _ in range(repeats):
        for call, sink in zip((first, second), times):
            gc.collect()
            time.sleep(gap)
            start = time.perf_counter()
            call()
            sink.append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(*times)]
    return (statistics.median(times[0]) * 1e3, statistics.median(times[1]) * 1e3,
            statistics.median(ratios))



@njit(parallel=True, cache=True)
def bn_forward(x, weight, bias, eps, y, mean, inv_std):
    """Per channel (in parallel): mean, then the two-pass variance, then ``y``; one
    read of ``x`` each, float64 sums."""
    n, channels, length = x.shape
    count = n * length
    for c in prange(channels):
        total = 0.0
        for i in range(n):
            for j in range(length):
                total += x[i, c, j]
        m = total / count
        squares = 0.0
        for i in range(n):
            for j in range(length):
                d = x[i, c, j] - m
                squares += d * d
        scale = weight[c] / np.sqrt(squares / count + eps)
        mean[c], inv_std[c] = m, scale / weight[c]
        scale32, shift32 = np.float32(scale), np.float32(bias[c] - m * scale)
        for i in range(n):
            for j in range(length):
                y[i, c, j] = x[i, c, j] * scale32 + shift32


@njit(parallel=True, cache=True)
def bn_backward(dy, x, weight, mean, inv_std, dx, dweight, dbias):
    """Per channel: both sums in one read of ``dy`` and ``x``, then ``dx`` in one more."""
    n, channels, length = x.shape
    count = n * length
    for c in prange(channels):
        sum_dy, sum_dy_d, m = 0.0, 0.0, mean[c]
        for i in range(n):
            for j in range(length):
                g = dy[i, c, j]
                sum_dy += g
                sum_dy_d += g * (x[i, c, j] - m)
        dweight[c], dbias[c] = sum_dy_d * inv_std[c], sum_dy
        scale = weight[c] * inv_std[c]
        along = -scale * inv_std[c] * inv_std[c] * sum_dy_d / count
        scale32 = np.float32(scale)
        along32 = np.float32(along)
        offset32 = np.float32(-scale * sum_dy / count - along * m)
        for i in range(n):
            for j in range(length):
                dx[i, c, j] = dy[i, c, j] * scale32 + x[i, c, j] * along32 + offset32


def _numba_step(x, g, weight, bias):
    channels = x.shape[1]
    y, mean, inv_std = np.empty_like(x), np.empty(channels), np.empty(channels)
    bn_forward(x, weight, bias, 1e-5, y, mean, inv_std)
    dx, dw, db = np.empty_like(x), np.empty(channels), np.empty(channels)
    bn_backward(g, x, weight, mean, inv_std, dx, dw, db)
    return y, dx


def _module_step(module, x, g):
    x.grad = None
    out = module(x)
    out.backward(g)
    return out


def main():
    """ResNet-18's batch-normalised activations at 96 px, batch 128 (as run.py)."""
    rng = np.random.default_rng(0)
    for channels, size in ((64, 48), (64, 24), (128, 12), (256, 6), (512, 3)):
        shape = (128, channels, size, size)
        x = rng.standard_normal(shape, dtype=np.float32) * 2 + 1
        g = rng.standard_normal(shape, dtype=np.float32)
        flat_x, flat_g = x.reshape(128, channels, -1), g.reshape(128, channels, -1)
        weight, bias = np.ones(channels), np.zeros(channels)
        t_bn, c_bn = torch.nn.BatchNorm2d(channels), cnnlab.nn.BatchNorm2d(channels)
        tx, tg = torch.tensor(x, requires_grad=True), torch.from_numpy(g)
        cx, cg = cnnlab.tensor(x, requires_grad=True), cnnlab.from_numpy(g)
        y, dx = _numba_step(flat_x, flat_g, weight, bias)
        ty = _module_step(t_bn, tx, tg)
        error = max(np.abs(y - ty.detach().numpy().reshape(y.shape)).max(),
                    np.abs(dx - tx.grad.numpy().reshape(dx.shape)).max() / np.abs(dx).max())
        numba_ms, torch_ms, numba_ratio = ab(lambda: _numba_step(flat_x, flat_g, weight, bias),
                                             lambda: _module_step(t_bn, tx, tg))
        numpy_ms, _, numpy_ratio = ab(lambda: _module_step(c_bn, cx, cg),
                                      lambda: _module_step(t_bn, tx, tg))
        print(f"{channels}ch {size}px: numba {numba_ms:.1f} ms (x{numba_ratio:.2f} torch), "
              f"cnnlab (NumPy) {numpy_ms:.1f} ms (x{numpy_ratio:.2f} torch), torch "
              f"{torch_ms:.1f} ms; largest error against torch {error:.1e}", flush=True)


if __name__ == "__main__":
    main()

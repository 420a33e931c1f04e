"""Bounded scratch memory, and clear MemoryErrors for outputs that cannot fit."""

import tracemalloc

import numpy as np
import pytest

import cnnlab
import cnnlab.functional as F
from cnnlab.kernels import buffers
from cnnlab.kernels import pool_chunks as pool_kernels
from cnnlab.kernels import window

BUDGET = 256 * 1024  # a small budget, so that a modest input needs many chunks


def peak_extra(function):
    """Peak bytes allocated while ``function()`` runs, minus its result's own bytes.

    The scratch-buffer pool is emptied first, so every buffer the call needs counts.
    """
    buffers.clear()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    arrays = result if isinstance(result, tuple) else (result,)
    return peak - before - sum(a.array.nbytes for a in arrays), result


def forward_backward(op, x, *args, **kwargs):
    t = cnnlab.tensor(x, requires_grad=True)
    out = op(t, *args, **kwargs)
    out = out[0] if isinstance(out, tuple) else out
    out.backward(np.ones(out.shape, dtype=out.array.dtype))
    return out.detach().numpy(), t.grad.numpy()


OPS = {
    "conv2d": (lambda x: F.conv2d(x, np.ones((8, 4, 3, 3), np.float32) / 36, padding=1)),
    "conv2d-strided": (lambda x: F.conv2d(x, np.ones((8, 4, 3, 3), np.float32), stride=2)),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1)),
    "max_pool2d-indices": (lambda x: F.max_pool2d(x, 2, return_indices=True)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    "lp_pool2d": (lambda x: F.lp_pool2d(x, 2, 3, 2)),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (5, 7))),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (5, 7))),
}


@pytest.mark.parametrize("name", OPS)
def test_chunked_results_equal_unchunked(name, monkeypatch):
    x = np.random.default_rng(0).standard_normal((6, 4, 24, 24)).astype(np.float32)
    op = OPS[name]
    expected = forward_backward(op, x)
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", 8 * 1024)
    plans = []  # the chunk plans of the convolution and pooling kernels
    for module, name in ((window, "batch_chunks"), (pool_kernels, "_plane_chunks")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, _original=original: plans.append(list(_original(*a)))
                            or plans[-1])
    chunked = forward_backward(op, x)
    assert plans, "the op did not plan chunks"
    assert all(len(plan) > 1 for plan in plans)  # really split
    for ours, reference in zip(chunked, expected):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OPS)
def test_forward_scratch_stays_within_the_budget(name, monkeypatch):
    """Beyond its output, a forward pass allocates at most a few budgets.

    The input (64 x 4 x 48 x 48 float32 = 2.4 MiB) is ten times the budget: an
    unchunked kernel, whose scratch is several input-sized arrays (im2col columns are
    nine), exceeds the bound below by far.
    """
    x = np.random.default_rng(1).standard_normal((64, 4, 48, 48)).astype(np.float32)
    op = OPS[name]
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", BUDGET)
    extra, out = peak_extra(lambda: op(x))
    out = out[0] if isinstance(out, tuple) else out
    assert extra <= 3 * BUDGET + 64 * 1024, (extra, out.array.nbytes)
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", 1 << 40)
    unbounded, _ = peak_extra(lambda: op(x))
    assert unbounded > extra  # the bound is one that chunking makes true


HUGE = [
    ("conv2d", lambda: F.conv2d(np.zeros((1, 1, 1, 1), np.float32),
                                np.zeros((1, 1, 1, 1), np.float32), padding=10 ** 6),
     r"conv2d: the output of shape \(1, 1, 2000001, 2000001\) \(float32\) would need 14\.6 TiB"),
    ("conv_transpose2d", lambda: F.conv_transpose2d(np.zeros((1, 1, 2, 2), np.float32),
                                                    np.zeros((1, 1, 3, 3), np.float32),
                                                    stride=10 ** 6),
     r"conv_transpose2d: the output of shape \(1, 1, 1000003, 1000003\)"),
    ("max_pool2d", lambda: F.max_pool2d(np.broadcast_to(np.float32(0), (10 ** 5, 10 ** 4, 8, 8)), 2),
     r"max_pool2d: the output of shape \(100000, 10000, 4, 4\) \(float32\) would need 59\.6 GiB"),
    ("max_unpool2d", lambda: F.max_unpool2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), np.int64),
                                            10 ** 6, output_size=(10 ** 6, 10 ** 6)),
     r"max_unpool2d: the output of shape \(1, 1, 1000000, 1000000\)"),
    ("pad", lambda: F.pad(np.zeros((2, 2)), (10 ** 6,) * 4),
     r"pad: the output of shape \(2000002, 2000002\) \(float64\)"),
    ("unfold", lambda: F.unfold(np.broadcast_to(np.float32(0), (1, 10 ** 4, 10 ** 3, 10 ** 3)), 5),
     r"unfold: the output of shape \(1, 250000, 992016\)"),
    ("correlate2d", lambda: F.correlate2d(np.zeros((2, 2)), np.broadcast_to(0.0, (10 ** 6, 10 ** 6))),
     r"correlate2d: the padded input of shape \(2000000, 2000000\) \(float64\)"),
]


@pytest.mark.parametrize("name,call,message", HUGE, ids=[h[0] for h in HUGE])
def test_output_that_cannot_fit_is_a_clear_memory_error_before_allocating(name, call, message):
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match=message + r".*more than this machine's memory"):
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2 ** 20  # nothing large was allocated first


def test_conv_scratch_for_one_image_that_cannot_fit():
    image = np.broadcast_to(np.float32(0), (1, 64, 40000, 40000))
    with pytest.raises(MemoryError, match=r"conv2d: the scratch for one image .* would need"):
        F.conv2d(image, np.zeros((1, 64, 3, 3), np.float32), stride=3)


def test_set_scratch_budget_is_what_kernels_read():
    previous = cnnlab.set_scratch_budget(12345)
    try:
        assert window.CONFIG.scratch_bytes == 12345
        with pytest.raises(ValueError, match=r"set_scratch_budget: nbytes must be a positive int, got 0"):
            cnnlab.set_scratch_budget(0)
    finally:
        assert cnnlab.set_scratch_budget(previous) == 12345


@pytest.mark.parametrize("name", OPS)
def test_threaded_results_equal_single_threaded(name, monkeypatch):
    """Kernels split work across threads (cnnlab.set_num_threads); results must not change."""
    from cnnlab.kernels import parallel

    monkeypatch.setattr(parallel, "MIN_ELEMENTS_PER_THREAD", 1)  # split even this small input
    calls = []
    original = parallel.map_threads
    monkeypatch.setattr(parallel, "map_threads",
                        lambda work, items: calls.append(len(list(items))) or original(work, items))
    x = np.random.default_rng(2).standard_normal((6, 4, 40, 40)).astype(np.float32)
    previous = cnnlab.set_num_threads(1)
    try:
        expected = forward_backward(OPS[name], x)
        cnnlab.set_num_threads(2)
        calls.clear()
        threaded = forward_backward(OPS[name], x)
        assert max(calls) >= 2  # the work really was split
    finally:
        cnnlab.set_num_threads(previous)
    for ours, reference in zip(threaded, expected):
        np.testing.assert_array_equal(ours, reference)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match=r"set_num_threads: threads must be a positive int, got 0"):
        cnnlab.set_num_threads(0)


def test_columns_kept_for_backward_return_to_the_pool_when_the_graph_is_freed():
    # The forward keeps its im2col columns for the weight gradient; once backward has
    # run (autograd drops the closure), the next forward must reuse that memory rather
    # than fault in a fresh buffer.
    buffers.clear()
    x = cnnlab.tensor(np.random.default_rng(0).standard_normal((4, 3, 16, 16),
                                                               dtype=np.float32))
    w = cnnlab.tensor(np.ones((5, 3, 3, 3), np.float32), requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    pooled = [buffer for buffer in buffers._free() if buffer.nbytes >= 4 * 3 * 9 * 4 * 16 * 16]
    assert pooled, "the kept columns did not go back to the pool"
    before = {buffer.ctypes.data for buffer in pooled}
    out = F.conv2d(x, w, padding=1)
    after = {buffer.ctypes.data for buffer in buffers._free()}
    assert before - after, "the next forward did not take the returned columns"

"""1-D and 3-D pooling against PyTorch and the naive N-D reference: max (values,
indices, ties, gradients), average (float and int64 truncation), Lp, adaptive
average/max, max-unpooling; hypothesis over random configurations; nn layers and
their reprs; pinned errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from reference_nd import pool_nd_reference

RNG = np.random.default_rng(33)
SIZES = {1: (2, 3, 11), 3: (2, 2, 6, 7, 5)}


def ours_and_torch(name, spatial):
    return getattr(F, f"{name}{spatial}d"), getattr(TF, f"{name}{spatial}d")


def compare(ours, theirs, x, args, kwargs, dtype=np.float64, grads=True, pick=None):
    """Forward values (exact for max/integers, else 1e-12/1e-5) and float64 gradients."""
    x = x.astype(dtype)
    mine = cnnlab.tensor(x, requires_grad=grads and dtype == np.float64)
    reference = torch.tensor(x, requires_grad=grads and dtype == np.float64)
    out, expected = ours(mine, *args, **kwargs), theirs(reference, *args, **kwargs)
    if pick is not None:
        out, expected = out[pick], expected[pick]
    assert out.shape == tuple(expected.shape)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=rtol,
                               atol=rtol)
    if grads and dtype == np.float64:
        g = RNG.standard_normal(tuple(expected.shape))
        out.backward(cnnlab.tensor(g))
        expected.backward(torch.tensor(g))
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-8,
                                   atol=1e-10)
    return out, expected


WINDOWS = {  # spatial: list of (kernel, stride, padding, dilation, ceil_mode)
    1: [(2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 2, True), (4, 3, 2, 1, True)],
    3: [(2, None, 0, 1, False), ((3, 2, 2), (2, 1, 2), (1, 0, 1), 1, False),
        ((2, 3, 2), 2, (1, 1, 0), (2, 1, 1), True), (3, 3, 1, 1, True)],
}
CASES = [(spatial, i) for spatial in (1, 3) for i in range(4)]


@pytest.mark.parametrize("spatial,case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_max_pool_matches_torch(spatial, case, dtype):
    kernel, stride, padding, dilation, ceil_mode = WINDOWS[spatial][case]
    ours, theirs = ours_and_torch("max_pool", spatial)
    x = RNG.standard_normal(SIZES[spatial])
    x[..., 1] = x[..., 0]   # ties: the first maximum in row-major order wins
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    compare(ours, theirs, x, (kernel,), kwargs, dtype)
    out, expected = compare(ours, theirs, x, (kernel,), dict(kwargs, return_indices=True),
                            dtype, grads=False, pick=1)
    assert out.dtype == cnnlab.int64


@pytest.mark.parametrize("spatial,case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_matches_torch(spatial, case, dtype, count_include_pad):
    kernel, stride, padding, dilation, ceil_mode = WINDOWS[spatial][case]
    if dilation != 1:
        return  # PyTorch's average pooling has no dilation; see the reference test
    ours, theirs = ours_and_torch("avg_pool", spatial)
    x = RNG.standard_normal(SIZES[spatial])
    kwargs = dict(stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad)
    compare(ours, theirs, x, (kernel,), kwargs, dtype)
    ints = RNG.integers(-100, 100, SIZES[spatial])
    out = ours(ints, kernel, **kwargs)
    expected = theirs(torch.tensor(ints), kernel, **kwargs)
    assert out.dtype == cnnlab.int64 and expected.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_avg_pool3d_divisor_override_matches_torch():
    x = RNG.standard_normal(SIZES[3])
    compare(F.avg_pool3d, TF.avg_pool3d, x, (2,), dict(divisor_override=3))


@pytest.mark.parametrize("spatial", [1, 3])
@pytest.mark.parametrize("norm_type", [1, 2, 3.5])
def test_lp_pool_matches_torch(spatial, norm_type):
    ours, theirs = ours_and_torch("lp_pool", spatial)
    x = np.abs(RNG.standard_normal(SIZES[spatial])) + 0.1   # torch sums x^p without |.|
    compare(ours, theirs, x, (norm_type, 2), dict(stride=(1 if spatial == 1 else 2)))


@pytest.mark.parametrize("spatial", [1, 3])
@pytest.mark.parametrize("case", range(4))
def test_beyond_torch_options_match_the_reference(spatial, case):
    """Per-side padding, dilation in average pooling, 'same' with a stride."""
    x = RNG.standard_normal(SIZES[spatial])
    kernel, stride, _, dilation, ceil_mode = WINDOWS[spatial][case]
    kernel = cnnlab.shapes.int_tuple(kernel, spatial, "k", "t")
    stride = kernel if stride is None else cnnlab.shapes.int_tuple(stride, spatial, "s", "t")
    dilation = cnnlab.shapes.int_tuple(dilation, spatial, "d", "t")
    pads = ((1, 0), (0, 1), (1, 1))[:spatial]
    maxima = F.__dict__[f"max_pool{spatial}d"](x, kernel, stride, pads, dilation,
                                                ceil_mode=ceil_mode).numpy()
    np.testing.assert_array_equal(maxima, pool_nd_reference(
        x, kernel, stride, pads, dilation, lambda values, count: max(values), ceil_mode))
    means = F.__dict__[f"avg_pool{spatial}d"](x, kernel, stride, pads, ceil_mode,
                                               count_include_pad=False,
                                               dilation=dilation).numpy()
    np.testing.assert_allclose(means, pool_nd_reference(
        x, kernel, stride, pads, dilation, lambda values, count: sum(values) / len(values),
        ceil_mode), rtol=1e-12)
    same = F.__dict__[f"max_pool{spatial}d"](x, kernel, stride, "same")
    assert same.shape[2:] == tuple(-(-n // s) for n, s in zip(x.shape[2:], stride))


@pytest.mark.parametrize("spatial", [1, 3])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_adaptive_pools_match_torch(spatial, size):
    x = RNG.standard_normal(SIZES[spatial])
    x[..., 1] = x[..., 0]
    output_size = size if spatial == 1 else (size, None, max(1, size - 1))
    ours, theirs = ours_and_torch("adaptive_avg_pool", spatial)
    compare(ours, theirs, x, (output_size,), {})
    ours, theirs = ours_and_torch("adaptive_max_pool", spatial)
    compare(ours, theirs, x, (output_size,), {})
    compare(ours, theirs, x, (output_size,), dict(return_indices=True), grads=False, pick=1)


@pytest.mark.parametrize("spatial", [1, 3])
def test_max_unpool_round_trip_matches_torch(spatial):
    x = RNG.standard_normal(SIZES[spatial])
    values, indices = getattr(TF, f"max_pool{spatial}d")(torch.tensor(x), 2, return_indices=True)
    ours, theirs = ours_and_torch("max_unpool", spatial)
    size = x.shape[2:]
    mine = cnnlab.tensor(values.numpy(), requires_grad=True)
    reference = values.clone().requires_grad_(True)
    out = ours(mine, indices.numpy(), 2, output_size=size)
    expected = theirs(reference, indices, 2, output_size=size)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    g = RNG.standard_normal(tuple(expected.shape))
    out.backward(cnnlab.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_array_equal(mine.grad.numpy(), reference.grad.numpy())


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_hypothesis_pools_match_torch(data):
    spatial = data.draw(st.sampled_from([1, 3]), "spatial")
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(spatial))
    padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = data.draw(st.booleans(), "ceil_mode")
    size = tuple(data.draw(st.integers(d * (k - 1) + 1, d * (k - 1) + (7 if spatial == 1 else 3)))
                 for k, d in zip(kernel, dilation))
    x = RNG.standard_normal((data.draw(st.integers(1, 2)), 2) + size)
    if data.draw(st.booleans(), "ties"):
        x = np.round(x)
    kwargs = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    ours, theirs = ours_and_torch("max_pool", spatial)
    compare(ours, theirs, x, (kernel,), dict(kwargs, dilation=dilation))
    compare(ours, theirs, x, (kernel,), dict(kwargs, dilation=dilation, return_indices=True),
            grads=False, pick=1)
    ours, theirs = ours_and_torch("avg_pool", spatial)
    compare(ours, theirs, x, (kernel,), dict(kwargs, count_include_pad=data.draw(st.booleans())))


def test_nn_layers_delegate_and_print_like_torch():
    nn, tnn = cnnlab.nn, torch.nn
    pairs = [(nn.MaxPool1d(2), tnn.MaxPool1d(2)), (nn.MaxPool3d(2), tnn.MaxPool3d(2)),
             (nn.AvgPool1d(2), tnn.AvgPool1d(2)), (nn.AvgPool3d(2), tnn.AvgPool3d(2)),
             (nn.LPPool1d(2, 2), tnn.LPPool1d(2, 2)), (nn.LPPool3d(2, 2), tnn.LPPool3d(2, 2)),
             (nn.AdaptiveAvgPool1d(2), tnn.AdaptiveAvgPool1d(2)),
             (nn.AdaptiveAvgPool3d(2), tnn.AdaptiveAvgPool3d(2)),
             (nn.AdaptiveMaxPool1d(2), tnn.AdaptiveMaxPool1d(2)),
             (nn.AdaptiveMaxPool3d((2, None, 1)), tnn.AdaptiveMaxPool3d((2, None, 1))),
             (nn.MaxUnpool1d(2), tnn.MaxUnpool1d(2)), (nn.MaxUnpool3d(2), tnn.MaxUnpool3d(2))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        if "Unpool" in repr(ours):
            continue
        spatial = int(type(ours).__name__[-2])
        x = np.abs(RNG.standard_normal(SIZES[spatial])) + 0.1
        np.testing.assert_allclose(ours(cnnlab.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-12)


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.max_pool1d(np.ones((1, 1, 4, 4)), 2), ValueError,
     r"max_pool1d: input must be 2-D \(C, L\) or 3-D \(N, C, L\), got shape \(1, 1, 4, 4\)"),
    (lambda: F.avg_pool3d(np.ones((1, 2, 2, 2)), (2, 2)), TypeError,
     r"avg_pool3d: kernel_size must be an int or a tuple of 3 ints \(depth, height, width\), "
     r"got \(2, 2\)"),
    (lambda: F.max_pool3d(np.ones((1, 4, 4, 4)), 2, padding=(0, 0, 3)), ValueError,
     r"max_pool3d: padding \(3, 3\) along the width leaves window 0 \(of 5\) with no input "
     r"element"),
    (lambda: F.max_pool1d(np.ones((1, 3)), 5), ValueError,
     r"max_pool1d: kernel size \(5,\) with dilation \(1,\) spans 5 along the length, larger "
     r"than the padded input 3 \+ 0 \+ 0 = 3; the output would be empty: out_length = "
     r"floor\(\(in \+ pad_lo \+ pad_hi - dilation\*\(kernel-1\) - 1\) / stride\) \+ 1"),
    (lambda: F.adaptive_avg_pool3d(np.ones((1, 2, 2, 2)), (1, 2)), TypeError,
     r"adaptive_avg_pool3d: output_size must be an int or a tuple of 3 \(depth, height, width\) "
     r"of ints or None, got \(1, 2\)"),
    (lambda: F.max_unpool1d(np.zeros((1, 2)), np.zeros((1, 2), dtype=int), 2,
                            output_size=(9,)), ValueError,
     r"max_unpool1d: output_size \(9,\) is out of range along spatial dimension 0: 9 must lie "
     r"in \[3, 5\], i.e. strictly between default - stride and default \+ stride with default "
     r"= \(in - 1\) \* stride - pad_lo - pad_hi \+ kernel = \(2 - 1\) \* 2 - 0 - 0 \+ 2 = 4"),
    (lambda: F.max_unpool3d(np.zeros((1, 1, 1, 1)), np.full((1, 1, 1, 1), 8), 2), ValueError,
     r"max_unpool3d: found an invalid max index 8: indices must lie in \[0, 8\) for an output "
     r"plane of size 2x2x2"),
    (lambda: cnnlab.nn.MaxPool3d((2, 2)), TypeError,
     r"MaxPool3d: kernel_size must be an int or a tuple of 3 ints"),
], ids=lambda v: None)
def test_errors_are_clear(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("spatial", [1, 3])
def test_empty_batch_with_indices(spatial):
    x = cnnlab.tensor(np.zeros((0, 2) + (4,) * spatial), requires_grad=True)
    out, indices = getattr(F, f"max_pool{spatial}d")(x, 2, return_indices=True)
    assert out.shape == (0, 2) + (2,) * spatial and indices.shape == out.shape
    out.sum().backward()
    assert x.grad.shape == x.shape

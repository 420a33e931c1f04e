"""Pooling against PyTorch (values, indices, float64 gradients) and the naive references."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab.kernels import adaptive as pool_kernels
from reference_pool import (adaptive_avg_pool2d_reference, adaptive_max_pool2d_reference,
                            avg_pool2d_reference, lp_pool2d_reference, max_pool2d_reference,
                            max_unpool2d_reference, pooled_size, scatter_reference)

RNG = np.random.default_rng(1234)


def pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def sides(padding):
    """Symmetric padding int/pair as ((top, bottom), (left, right))."""
    ph, pw = pair(padding)
    return ((ph, ph), (pw, pw))


def weights_like(shape, seed=7):
    return np.random.default_rng(seed).standard_normal(shape)


def run(ours_fn, torch_fn, x, grad=True, **options):
    """Call both with the same float64 array; compare values (and indices) exactly,
    gradients with rtol 1e-8. Returns (ours, indices or None)."""
    ours_in = cnnlab.tensor(x, requires_grad=grad)
    theirs_in = torch.tensor(x, requires_grad=grad)
    ours = ours_fn(ours_in, **options)
    theirs = torch_fn(theirs_in, **options)
    indices = None
    if isinstance(theirs, tuple):
        (ours, indices), (theirs, their_indices) = ours, theirs
        assert indices.dtype == cnnlab.int64
        np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    if grad and theirs.numel():
        w = weights_like(tuple(theirs.shape))
        ours.backward(w)
        theirs.backward(torch.tensor(w))
        np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(),
                                   rtol=1e-8, atol=1e-12)
    return ours, indices


def torch_accepts(kernel_size, padding, stride, dilation, size, ceil_mode):
    """Whether PyTorch's pooling takes this config (pad <= k // 2, non-empty output)."""
    k, p, s, d = pair(kernel_size), pair(padding), pair(stride), pair(dilation)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        return False
    return all(pooled_size(n, ki, si, (pi, pi), di, ceil_mode) >= 1
               for n, ki, si, pi, di in zip(size, k, s, p, d))


# ------------------------------------------------------------------- seed cases


SEED_X = np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4)


def test_seed_default_stride_is_kernel():
    out = F.max_pool2d(SEED_X, 3)
    assert out.dtype == cnnlab.float32
    np.testing.assert_array_equal(out.numpy(), [[[[10.0]]]])


def test_seed_padding_and_stride():
    out = F.max_pool2d(SEED_X, 3, padding=1, stride=2)
    np.testing.assert_array_equal(out.numpy(), [[[[5, 7], [13, 15]]]])


def test_seed_rectangular_window():
    out = F.max_pool2d(SEED_X, (2, 4), padding=(1, 2), stride=(2, 3))
    np.testing.assert_array_equal(out.numpy(), [[[[1, 3], [9, 11], [13, 15]]]])


def test_seed_two_channels():
    x = np.concatenate([SEED_X, SEED_X + 1], axis=1)
    out = F.max_pool2d(x, 3, padding=1, stride=2)
    np.testing.assert_array_equal(out.numpy(), [[[[5, 7], [13, 15]], [[6, 8], [14, 16]]]])


# ---------------------------------------------------- references against torch


REFERENCE_CONFIGS = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((3, 2), (1, 2), (1, 0), (2, 1), False),
    ((2, 3), (3, 2), (1, 1), (1, 2), True),
]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", REFERENCE_CONFIGS,
                         ids=lambda v: str(v))
def test_max_reference_matches_torch(kernel, stride, padding, dilation, ceil_mode):
    x = np.round(RNG.standard_normal((2, 2, 7, 8)))  # ties
    x[0, 0, 1, 1] = np.nan
    expected, expected_indices = TF.max_pool2d(torch.tensor(x), kernel, stride, padding,
                                               dilation, ceil_mode, return_indices=True)
    out, indices = max_pool2d_reference(x, kernel, stride, sides(padding), dilation, ceil_mode)
    np.testing.assert_array_equal(out, expected.numpy())
    np.testing.assert_array_equal(indices, expected_indices.numpy())
    theirs = torch.tensor(x, requires_grad=True)
    w = weights_like(out.shape)
    TF.max_pool2d(theirs, kernel, stride, padding, dilation, ceil_mode).backward(torch.tensor(w))
    np.testing.assert_allclose(scatter_reference(w, indices, x.shape), theirs.grad.numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", REFERENCE_CONFIGS,
                         ids=lambda v: str(v))
@pytest.mark.parametrize("count_include_pad", [True, False], ids=["count_pad", "real_only"])
def test_avg_reference_matches_torch(kernel, stride, padding, dilation, ceil_mode,
                                     count_include_pad):
    x = RNG.standard_normal((2, 2, 7, 8))
    if dilation != (1, 1):  # torch has no dilated average pooling
        dilation = (1, 1)
    expected = TF.avg_pool2d(torch.tensor(x), kernel, stride, padding, ceil_mode,
                             count_include_pad)
    out = avg_pool2d_reference(x, kernel, stride, sides(padding), dilation, ceil_mode,
                               count_include_pad)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-12)
    overridden = avg_pool2d_reference(x, kernel, stride, sides(padding), dilation, ceil_mode,
                                      count_include_pad, divisor_override=3)
    np.testing.assert_allclose(overridden, TF.avg_pool2d(torch.tensor(x), kernel, stride, padding,
                                                         ceil_mode, count_include_pad, 3).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5])
def test_lp_reference_matches_torch(norm_type):
    x = RNG.random((2, 2, 7, 8)) + 0.1  # positive: torch has no absolute value
    out = lp_pool2d_reference(x, norm_type, (2, 3), (2, 2))
    np.testing.assert_allclose(out, TF.lp_pool2d(torch.tensor(x), norm_type, (2, 3), 2).numpy(),
                               rtol=1e-12)


def test_adaptive_and_unpool_references_match_torch():
    x = np.round(RNG.standard_normal((2, 2, 7, 5)))
    for size in [(3, 2), (7, 5), (9, 11), (1, 1)]:
        np.testing.assert_allclose(adaptive_avg_pool2d_reference(x, size),
                                   TF.adaptive_avg_pool2d(torch.tensor(x), size).numpy(),
                                   rtol=1e-12)
        out, indices = adaptive_max_pool2d_reference(x, size)
        expected, expected_indices = TF.adaptive_max_pool2d(torch.tensor(x), size, True)
        np.testing.assert_array_equal(out, expected.numpy())
        np.testing.assert_array_equal(indices, expected_indices.numpy())
    values, indices = TF.max_pool2d(torch.tensor(x), 2, 1, return_indices=True)
    expected = TF.max_unpool2d(values, indices, 2, 1, output_size=(7, 5))
    np.testing.assert_array_equal(max_unpool2d_reference(values.numpy(), indices.numpy(), (7, 5)),
                                  expected.numpy())


# ----------------------------------------------------------- max pool vs torch


MAX_SWEEP = [
    (kernel, stride, padding, dilation, ceil_mode)
    for kernel, stride, padding, dilation, ceil_mode in itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2, (1, 3)], [0, 1, (1, 0)], [1, 2], [False, True])
    if torch_accepts(kernel, padding, kernel if stride is None else stride, dilation, (7, 8),
                     ceil_mode)
]


def sweep_id(config):
    kernel, stride, padding, dilation, ceil_mode = config
    return f"k{kernel}-s{stride}-p{padding}-d{dilation}{'-ceil' if ceil_mode else ''}"


@pytest.mark.parametrize("config", MAX_SWEEP, ids=[sweep_id(c) for c in MAX_SWEEP])
def test_max_pool2d_matches_torch(config):
    kernel, stride, padding, dilation, ceil_mode = config
    x = RNG.standard_normal((2, 3, 7, 8))
    options = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                   ceil_mode=ceil_mode, return_indices=True)
    out, indices = run(F.max_pool2d, TF.max_pool2d, x, **options)
    assert out.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    plain = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(plain.numpy(), out.detach().numpy())


@pytest.mark.parametrize("config", MAX_SWEEP[::5], ids=[sweep_id(c) for c in MAX_SWEEP[::5]])
def test_max_pool2d_ties_match_torch(config):
    """Many ties (integers in a small range): indices and the gradient go to the first
    maximum in row-major window order."""
    kernel, stride, padding, dilation, ceil_mode = config
    x = RNG.integers(-2, 2, (2, 2, 7, 8)).astype(np.float64)
    run(F.max_pool2d, TF.max_pool2d, x, kernel_size=kernel, stride=stride, padding=padding,
        dilation=dilation, ceil_mode=ceil_mode, return_indices=True)


def test_max_pool2d_constant_input_first_element_gets_gradient():
    x = cnnlab.ones((1, 1, 4, 4), dtype=cnnlab.float64, requires_grad=True)
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    out.sum().backward()
    np.testing.assert_array_equal(indices.numpy(), [[[[0, 2], [8, 10]]]])
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)
    # overlapping windows (stride 1) all pick the top-left element of their window
    run(F.max_pool2d, TF.max_pool2d, np.ones((1, 2, 5, 5)), kernel_size=3, stride=1, padding=1,
        return_indices=True)


def test_max_pool2d_overlapping_windows_accumulate():
    x = cnnlab.tensor([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    assert x.grad.numpy()[0, 0, 1, 1] == 4.0
    assert x.grad.numpy().sum() == 4.0


def test_max_pool2d_nan_propagates_like_torch():
    x = np.round(RNG.standard_normal((2, 2, 7, 7)))
    x[RNG.random(x.shape) < 0.15] = np.nan
    for options in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1),
                    dict(kernel_size=(2, 3), stride=(1, 2), dilation=2, ceil_mode=True)]:
        out, _ = run(F.max_pool2d, TF.max_pool2d, x, return_indices=True, **options)
        assert np.isnan(out.detach().numpy()).any()


def test_max_pool2d_nan_window_picks_last_nan():
    x = np.array([[[[1.0, np.nan, 3.0], [np.nan, 2.0, 0.0], [5.0, 5.0, 1.0]]]])
    out, indices = F.max_pool2d(x, 3, return_indices=True)
    assert np.isnan(out.item()) and indices.item() == 3


def test_max_pool2d_minus_inf_windows_report_first_real_position():
    x = np.full((1, 1, 3, 3), -np.inf)
    run(F.max_pool2d, TF.max_pool2d, x, kernel_size=2, stride=1, padding=1, return_indices=True)
    _, indices = F.max_pool2d(x, 2, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(indices.numpy()[0, 0, 0], [0, 0, 1, 2])


def test_max_pool2d_infinite_gradient_goes_only_to_the_winner():
    x = cnnlab.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1, padding=1).backward(np.full((1, 1, 3, 3), np.inf))
    grad = x.grad.numpy()[0, 0]
    assert np.isinf(grad).all()  # each element wins some window
    y = cnnlab.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    F.max_pool2d(y, 2).backward(np.array([[[[np.inf]]]]))
    np.testing.assert_array_equal(y.grad.numpy()[0, 0], [[0, 0], [0, np.inf]])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8], ids=str)
def test_max_pool2d_integers_exact(dtype):
    info = np.iinfo(dtype)
    x = RNG.integers(info.min, info.max, (2, 3, 7, 7), endpoint=True).astype(dtype)
    x[0, 0, :2, :2] = info.min  # windows whose real elements are all the minimum
    out, indices = F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True)
    expected, expected_indices = TF.max_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True,
                                               return_indices=True)
    assert out.numpy().dtype == dtype
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())


def test_max_pool2d_float32_and_float16():
    x = RNG.standard_normal((2, 3, 9, 9)).astype(np.float32)
    out = F.max_pool2d(x, 3, 2, 1)
    assert out.dtype == cnnlab.float32
    np.testing.assert_array_equal(out.numpy(), TF.max_pool2d(torch.tensor(x), 3, 2, 1).numpy())
    half = x.astype(np.float16)
    out = F.max_pool2d(half, 2)
    assert out.dtype == cnnlab.float16
    np.testing.assert_array_equal(out.numpy(), TF.max_pool2d(torch.tensor(half), 2).numpy())


# ----------------------------------------------------------- avg pool vs torch


AVG_SWEEP = [
    (kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    for kernel, stride, padding, ceil_mode, count_include_pad, divisor in itertools.product(
        [1, 2, 3, (2, 3)], [None, 1, 2, (1, 3)], [0, 1, (1, 0)], [False, True],
        [True, False], [None, 2])
    if torch_accepts(kernel, padding, kernel if stride is None else stride, 1, (7, 8), ceil_mode)
    and (divisor is None or count_include_pad)
]


def avg_id(config):
    kernel, stride, padding, ceil_mode, count_include_pad, divisor = config
    return (f"k{kernel}-s{stride}-p{padding}{'-ceil' if ceil_mode else ''}"
            f"{'' if count_include_pad else '-real_only'}"
            f"{'' if divisor is None else f'-div{divisor}'}")


@pytest.mark.parametrize("config", AVG_SWEEP, ids=[avg_id(c) for c in AVG_SWEEP])
def test_avg_pool2d_matches_torch(config):
    kernel, stride, padding, ceil_mode, count_include_pad, divisor = config
    x = RNG.standard_normal((2, 3, 7, 8))
    out, _ = run(F.avg_pool2d, TF.avg_pool2d, x, kernel_size=kernel, stride=stride,
                 padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                 divisor_override=divisor)
    assert out.grad_fn.name() == "AvgPool2DBackward0"


def test_avg_pool2d_float32():
    x = RNG.standard_normal((4, 3, 16, 16)).astype(np.float32)
    out = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    assert out.dtype == cnnlab.float32
    expected = TF.avg_pool2d(torch.tensor(x), 3, 2, 1, True, False)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [dict(count_include_pad=False), dict(count_include_pad=True),
                                     dict(divisor_override=-3), dict(ceil_mode=True)], ids=str)
def test_avg_pool2d_int64_truncates_like_torch(options):
    """Issue 13: torch keeps int64 and truncates each mean toward zero; so does cnnlab."""
    x = RNG.integers(-1000, 1000, (2, 3, 7, 7))
    out = F.avg_pool2d(x, 3, 2, 1, **options)
    expected = TF.avg_pool2d(torch.tensor(x), 3, 2, 1, **options)
    assert out.dtype == cnnlab.int64 and expected.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    small = F.avg_pool2d(x.astype(np.int16), 3, 2, 1, **options)   # beyond torch: any int
    assert small.dtype == cnnlab.int16
    np.testing.assert_array_equal(small.numpy(), expected.numpy())


def test_avg_pool2d_negative_divisor_override_like_torch():
    x = RNG.standard_normal((1, 2, 6, 6))
    run(F.avg_pool2d, TF.avg_pool2d, x, kernel_size=2, divisor_override=-3)


# ---------------------------------------------------------------- lp pool


@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5, 4.0])
@pytest.mark.parametrize("kernel,stride", [(2, None), ((2, 3), 1), (3, (2, 1))], ids=str)
def test_lp_pool2d_matches_torch_on_positive_inputs(norm_type, kernel, stride):
    x = RNG.random((2, 3, 7, 8)) + 0.1
    out, _ = run(F.lp_pool2d, TF.lp_pool2d, x, norm_type=norm_type, kernel_size=kernel,
                 stride=stride)
    assert out.grad_fn.name() == "LpPool2DBackward0"


@pytest.mark.parametrize("norm_type", [2, 4])
def test_lp_pool2d_even_powers_match_torch_on_signed_inputs(norm_type):
    x = RNG.standard_normal((2, 3, 6, 6))
    run(F.lp_pool2d, TF.lp_pool2d, x, norm_type=norm_type, kernel_size=3, stride=1)


def test_lp_pool2d_uses_absolute_values():
    """Beyond PyTorch: |x|^p (torch sums x^p: 1 + (-2) = -1 here, a NaN norm)."""
    out = F.lp_pool2d([[[1.0, -2.0]]], 1, (1, 2))
    np.testing.assert_allclose(out.numpy(), [[[3.0]]])
    assert torch.isnan(TF.lp_pool2d(torch.tensor([[[1.0, -2.0]]]), 1.5, (1, 2))).all()
    out = F.lp_pool2d([[[3.0, -4.0]]], 2, (1, 2))
    np.testing.assert_allclose(out.numpy(), [[[5.0]]])


def test_lp_pool2d_inf_is_max_of_abs():
    x = RNG.standard_normal((2, 3, 7, 8))
    ours = cnnlab.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.lp_pool2d(ours, math.inf, 3, 2, padding=1)
    expected = TF.max_pool2d(theirs.abs(), 3, 2, 1)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    w = weights_like(out.shape)
    out.backward(w)
    expected.backward(torch.tensor(w))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_lp_pool2d_gradient_is_zero_where_output_is_zero():
    x = cnnlab.tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)
    F.lp_pool2d(x, 2, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 1, 4, 4)))


def test_lp_pool2d_ceil_mode_sums_only_what_a_partial_window_covers():
    """Beyond PyTorch: torch scales a partial window's sum by k_h * k_w / covered."""
    x = RNG.random((1, 2, 5, 5)) + 0.1
    out = F.lp_pool2d(x, 2, 2, ceil_mode=True).numpy()
    np.testing.assert_allclose(out, lp_pool2d_reference(x, 2, (2, 2), (2, 2), ceil_mode=True),
                               rtol=1e-12)
    covered = np.outer([2, 2, 1], [2, 2, 1])
    theirs = TF.lp_pool2d(torch.tensor(x), 2, 2, ceil_mode=True).numpy()
    np.testing.assert_allclose(out ** 2 * 4 / covered, theirs ** 2, rtol=1e-12)


def test_lp_pool2d_integer_input_returns_float32():
    x = RNG.integers(-9, 9, (1, 2, 6, 6))
    out = F.lp_pool2d(x, 3, 2)
    assert out.dtype == cnnlab.float32
    np.testing.assert_allclose(out.numpy(), lp_pool2d_reference(x.astype(np.float64), 3, (2, 2),
                                                                (2, 2)), rtol=1e-6)


# -------------------------------------- per-side, large and 'same' padding; dilation


PER_SIDE = [((1, 0), (0, 2)), ((0, 1), (2, 1)), ((2, 0), (1, 1))]


@pytest.mark.parametrize("padding", PER_SIDE, ids=str)
@pytest.mark.parametrize("stride", [1, 2], ids=lambda s: f"s{s}")
def test_max_pool2d_per_side_padding_matches_padded_torch(padding, stride):
    (top, bottom), (left, right) = padding
    x = RNG.standard_normal((2, 2, 6, 7))
    ours = cnnlab.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(ours, 3, stride, padding, return_indices=True)
    padded = TF.pad(theirs, (left, right, top, bottom), value=-math.inf)
    expected, padded_indices = TF.max_pool2d(padded, 3, stride, return_indices=True)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    row, column = np.divmod(padded_indices.numpy(), 7 + left + right)
    np.testing.assert_array_equal(indices.numpy(), (row - top) * 7 + (column - left))
    w = weights_like(out.shape)
    out.backward(w)
    expected.backward(torch.tensor(w))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("padding", PER_SIDE, ids=str)
@pytest.mark.parametrize("count_include_pad", [True, False], ids=["count_pad", "real_only"])
def test_avg_pool2d_per_side_padding_matches_padded_torch(padding, count_include_pad):
    (top, bottom), (left, right) = padding
    x = RNG.standard_normal((2, 2, 6, 7))
    ours = cnnlab.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.avg_pool2d(ours, 3, 2, padding, count_include_pad=count_include_pad)
    widths = (left, right, top, bottom)
    expected = TF.avg_pool2d(TF.pad(theirs, widths), 3, 2)
    if not count_include_pad:  # mean of the real elements: padded sum / real count
        expected = expected / TF.avg_pool2d(TF.pad(torch.ones_like(theirs), widths), 3, 2)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    w = weights_like(out.shape)
    out.backward(w)
    expected.backward(torch.tensor(w))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8)


LARGE_PADDING = [  # beyond torch's cap of kernel // 2: every window still holds input
    (2, 1, ((1, 1), (1, 1)), (1, 1), False),
    (3, 2, ((2, 2), (2, 0)), (1, 1), True),
    ((2, 3), (1, 2), ((1, 1), (2, 2)), (2, 1), False),
    (4, 3, ((3, 3), (3, 1)), (1, 1), True),
]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", LARGE_PADDING, ids=str)
def test_large_padding_against_reference(kernel, stride, padding, dilation, ceil_mode):
    x = np.round(RNG.standard_normal((2, 2, 5, 6)))
    k, s = pair(kernel), pair(stride)
    tensor = cnnlab.tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(tensor, kernel, stride, padding, dilation, ceil_mode, True)
    expected, expected_indices = max_pool2d_reference(x, k, s, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    w = weights_like(out.shape)
    out.backward(w)
    np.testing.assert_allclose(tensor.grad.numpy(), scatter_reference(w, expected_indices, x.shape),
                               rtol=1e-12)
    for count_include_pad in (True, False):
        out = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad,
                           dilation=dilation)
        np.testing.assert_allclose(out.numpy(), avg_pool2d_reference(
            x, k, s, padding, dilation, ceil_mode, count_include_pad), rtol=1e-12)
    out = F.lp_pool2d(x, 3, kernel, stride, ceil_mode, padding, dilation)
    np.testing.assert_allclose(out.numpy(), lp_pool2d_reference(
        x, 3, k, s, padding, dilation, ceil_mode), rtol=1e-12)


@pytest.mark.parametrize("dilation", [(2, 1), (1, 3), (2, 2)], ids=str)
def test_dilated_avg_and_lp_gradients_match_torch_compositions(dilation):
    """Beyond PyTorch: dilated avg/Lp pooling equals a dilated all-ones depthwise
    convolution (divided by the count / followed by the root) in torch."""
    x = RNG.random((2, 3, 9, 9)) + 0.1
    ours = cnnlab.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    ones = torch.ones(3, 1, 2, 3, dtype=torch.float64)
    out = F.avg_pool2d(ours, (2, 3), 2, dilation=dilation) + F.lp_pool2d(
        ours, 3, (2, 3), 2, dilation=dilation)
    sums = TF.conv2d(theirs, ones, stride=2, dilation=dilation, groups=3)
    cubes = TF.conv2d(theirs ** 3, ones, stride=2, dilation=dilation, groups=3)
    expected = sums / 6 + cubes ** (1 / 3)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    w = weights_like(out.shape)
    out.backward(w)
    expected.backward(torch.tensor(w))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8)


@pytest.mark.parametrize("size,kernel,stride", [((7, 8), 3, 2), ((6, 6), 2, 2),
                                                ((5, 9), (2, 4), (3, 2)), ((8, 5), 3, 1)], ids=str)
def test_same_padding_output_is_ceil_of_input_over_stride(size, kernel, stride):
    x = RNG.standard_normal((1, 2) + size)
    k, s = pair(kernel), pair(stride)
    expected_shape = tuple(-(-n // si) for n, si in zip(size, s))
    pads = tuple(pool_kernels_same(n, ki, si) for n, ki, si in zip(size, k, s))
    out = F.max_pool2d(x, kernel, stride, "same")
    assert tuple(out.shape[-2:]) == expected_shape
    np.testing.assert_array_equal(out.numpy(), max_pool2d_reference(x, k, s, pads)[0])
    out = F.avg_pool2d(x, kernel, stride, "same", count_include_pad=False)
    np.testing.assert_allclose(out.numpy(), avg_pool2d_reference(
        x, k, s, pads, count_include_pad=False), rtol=1e-12)
    np.testing.assert_array_equal(F.max_pool2d(x, kernel, stride, "valid").numpy(),
                                  TF.max_pool2d(torch.tensor(x), kernel, stride).numpy())


def pool_kernels_same(n, k, s):
    """SAME_UPPER: total padding for ceil(n / s) outputs, the odd pixel at the end."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return (total // 2, total - total // 2)


# ------------------------------------------------------- hypothesis configurations


@st.composite
def window_configs(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    ceil_mode = draw(st.booleans())
    size, padding = [], []
    for k, s, d in zip(kernel, stride, dilation):
        n = draw(st.integers(d * (k - 1) + 1, 9))
        lo, hi = draw(st.integers(0, k)), draw(st.integers(0, k))
        size.append(n)
        padding.append((lo, hi))
    return tuple(size), kernel, stride, tuple(padding), dilation, ceil_mode


def windows_hold_input(size, kernel, stride, padding, dilation, ceil_mode):
    for n, k, s, (lo, hi), d in zip(size, kernel, stride, padding, dilation):
        out = pooled_size(n, k, s, (lo, hi), d, ceil_mode)
        if out < 1:
            return False
        for o in range(out):
            if not any(0 <= o * s - lo + t * d < n for t in range(k)):
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(config=window_configs(), seed=st.integers(0, 2 ** 16))
def test_hypothesis_pools_against_reference(config, seed):
    size, kernel, stride, padding, dilation, ceil_mode = config
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((1, 2) + size), 1)
    if not windows_hold_input(size, kernel, stride, padding, dilation, ceil_mode):
        with pytest.raises(ValueError, match="max_pool2d"):
            F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
        return
    tensor = cnnlab.tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(tensor, kernel, stride, padding, dilation, ceil_mode, True)
    expected, expected_indices = max_pool2d_reference(x, kernel, stride, padding, dilation,
                                                      ceil_mode)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    w = rng.standard_normal(out.shape)
    out.backward(w)
    np.testing.assert_allclose(tensor.grad.numpy(), scatter_reference(w, expected_indices, x.shape),
                               rtol=1e-12, atol=1e-12)
    count_include_pad = bool(seed % 2)
    out = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad,
                       dilation=dilation)
    np.testing.assert_allclose(out.numpy(), avg_pool2d_reference(
        x, kernel, stride, padding, dilation, ceil_mode, count_include_pad), rtol=1e-12,
        atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(config=window_configs(), seed=st.integers(0, 2 ** 16))
def test_hypothesis_symmetric_configs_against_torch(config, seed):
    size, kernel, stride, padding, dilation, ceil_mode = config
    symmetric = tuple(lo for lo, _ in padding)
    if not torch_accepts(kernel, symmetric, stride, dilation, size, ceil_mode):
        return
    x = np.random.default_rng(seed).standard_normal((2, 1) + size)
    run(F.max_pool2d, TF.max_pool2d, x, kernel_size=kernel, stride=stride, padding=symmetric,
        dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
    run(F.avg_pool2d, TF.avg_pool2d, x, kernel_size=kernel, stride=stride, padding=symmetric,
        ceil_mode=ceil_mode, count_include_pad=bool(seed % 2))


# ------------------------------------------------------------ adaptive pooling


ADAPTIVE_SIZES = [((7, 5), (3, 2)), ((7, 5), (7, 5)), ((5, 6), (9, 4)), ((6, 9), (1, 1)),
                  ((10, 7), (4, 3)), ((8, 8), (2, 4))]


@pytest.mark.parametrize("size,output_size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_pools_match_torch(size, output_size):
    x = RNG.standard_normal((2, 3) + size)
    out, _ = run(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, x, output_size=output_size)
    assert out.grad_fn.name() == "AdaptiveAvgPool2DBackward0"
    out, _ = run(F.adaptive_max_pool2d, TF.adaptive_max_pool2d, x, output_size=output_size,
                 return_indices=True)
    assert out.grad_fn.name() == "AdaptiveMaxPool2DBackward0"
    ties = np.round(x)
    ties[0, 0, 0, 0] = np.nan
    run(F.adaptive_max_pool2d, TF.adaptive_max_pool2d, ties, output_size=output_size,
        return_indices=True)


def test_adaptive_output_size_forms():
    x = RNG.standard_normal((2, 3, 7, 5))
    for output_size in [3, (None, 2), (4, None), [2, 3]]:
        run(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, x, output_size=output_size)
        run(F.adaptive_max_pool2d, TF.adaptive_max_pool2d, x, output_size=output_size)
    assert tuple(F.adaptive_avg_pool2d(x, (0, 2)).shape) == (2, 3, 0, 2)
    assert tuple(F.adaptive_max_pool2d(x, 0).shape) == (2, 3, 0, 0)


def test_adaptive_pools_float32_and_integers():
    x = RNG.standard_normal((2, 3, 13, 11)).astype(np.float32)
    out = F.adaptive_avg_pool2d(x, (5, 4))
    assert out.dtype == cnnlab.float32
    np.testing.assert_allclose(out.numpy(), TF.adaptive_avg_pool2d(torch.tensor(x), (5, 4)).numpy(),
                               rtol=1e-5, atol=1e-6)
    ints = RNG.integers(-100, 100, (2, 3, 7, 6))
    out = F.adaptive_avg_pool2d(ints, (3, 4))
    assert out.dtype == cnnlab.float32
    expected = TF.adaptive_avg_pool2d(torch.tensor(ints, dtype=torch.float64), (3, 4))
    np.testing.assert_array_equal(out.numpy(), expected.numpy().astype(np.float32))
    out, indices = F.adaptive_max_pool2d(ints, (3, 4), return_indices=True)
    expected, expected_indices = adaptive_max_pool2d_reference(ints, (3, 4))
    assert out.dtype == cnnlab.int64
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


# --------------------------------------------------------------- max unpooling


@pytest.mark.parametrize("size,kernel,stride,padding", [((6, 6), 2, None, 0), ((7, 7), 3, 2, 1),
                                                        ((5, 8), (2, 3), (1, 2), (1, 1))], ids=str)
def test_max_unpool2d_round_trip_matches_torch(size, kernel, stride, padding):
    x = RNG.standard_normal((2, 3) + size)
    values, indices = TF.max_pool2d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    ours_values = cnnlab.tensor(values.numpy(), requires_grad=True)
    theirs_values = values.clone().requires_grad_(True)
    out = F.max_unpool2d(ours_values, indices.numpy(), kernel, stride, padding, output_size=size)
    expected = TF.max_unpool2d(theirs_values, indices, kernel, stride, padding, output_size=size)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    assert out.grad_fn.name() == "MaxUnpool2DBackward0"
    w = weights_like(out.shape)
    out.backward(w)
    expected.backward(torch.tensor(w))
    np.testing.assert_array_equal(ours_values.grad.numpy(), theirs_values.grad.numpy())
    # the round trip through cnnlab's own max_pool2d
    pooled, our_indices = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    again = F.max_unpool2d(pooled, our_indices, kernel, stride, padding, output_size=(1, 1) + size)
    np.testing.assert_array_equal(again.numpy(), expected.detach().numpy())


def test_max_unpool2d_default_size_and_unbatched():
    x = RNG.standard_normal((3, 4, 4))
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    assert tuple(values.shape) == (3, 2, 2)
    out = F.max_unpool2d(values, indices, 2)
    expected = TF.max_unpool2d(torch.tensor(values.numpy()), torch.tensor(indices.numpy()), 2)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(out.numpy(), max_unpool2d_reference(
        values.numpy()[None], indices.numpy()[None], (4, 4))[0])


def test_max_unpool2d_repeated_index_keeps_last_value():
    out = F.max_unpool2d([[[[1.0, 2.0]]]], [[[[3, 3]]]], (2, 1), output_size=(2, 2))
    np.testing.assert_array_equal(out.numpy(), [[[[0, 0], [0, 2]]]])


# ------------------------------------------------------------- inputs and forms


def test_unbatched_numpy_and_list_inputs():
    x = RNG.standard_normal((3, 6, 6))
    batched = F.max_pool2d(x[None], 2)
    for source in (x, cnnlab.tensor(x)):
        out = F.max_pool2d(source, 2)
        assert tuple(out.shape) == (3, 3, 3)
        np.testing.assert_array_equal(out.numpy(), batched.numpy()[0])
    from_list = F.max_pool2d(x.tolist(), 2)  # nested lists become float32, as in torch
    assert from_list.dtype == cnnlab.float32
    np.testing.assert_array_equal(from_list.numpy(), batched.numpy()[0].astype(np.float32))
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    assert tuple(indices.shape) == (3, 3, 3)
    for fn, args in [(F.avg_pool2d, (2,)), (F.lp_pool2d, (2, 2)), (F.adaptive_avg_pool2d, (2,)),
                     (F.adaptive_max_pool2d, (2,))]:
        np.testing.assert_allclose(fn(x, *args).numpy(), fn(x[None], *args).numpy()[0], rtol=1e-12)


def test_unbatched_gradient_flows_back():
    x = cnnlab.tensor(RNG.standard_normal((2, 4, 4)), requires_grad=True)
    F.avg_pool2d(x, 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 4, 4), 0.25))


def test_empty_batch():
    out = F.max_pool2d(np.zeros((0, 3, 4, 4)), 2)
    assert tuple(out.shape) == (0, 3, 2, 2)
    assert tuple(F.avg_pool2d(np.zeros((0, 3, 4, 4)), 2).shape) == (0, 3, 2, 2)


def test_no_grad_records_nothing():
    x = cnnlab.tensor(RNG.standard_normal((1, 1, 4, 4)), requires_grad=True)
    with cnnlab.no_grad():
        out = F.max_pool2d(x, 2)
    assert not out.requires_grad and out.grad_fn is None


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.max_pool2d(np.zeros((4, 4)), 2), ValueError,
     r"max_pool2d: input must be 3-D \(C, H, W\) or 4-D \(N, C, H, W\), got shape \(4, 4\)"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2.5), TypeError,
     r"max_pool2d: kernel_size must be an int or a pair of ints \(height, width\), got 2.5"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), (2, 2, 2)), TypeError,
     r"max_pool2d: kernel_size must be an int or a pair"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 0), ValueError,
     r"max_pool2d: kernel_size must be >= 1, got 0"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, stride=0), ValueError,
     r"max_pool2d: stride must be >= 1, got 0"),
    (lambda: F.avg_pool2d(np.zeros((1, 4, 4)), 2, stride=(1, -1)), ValueError,
     r"avg_pool2d: stride must be >= 1, got \(1, -1\)"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, padding=-1), ValueError,
     r"max_pool2d: padding must be non-negative, got -1"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, padding="full"), ValueError,
     r"max_pool2d: padding string must be 'valid' or 'same', got 'full'"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, padding=1.5), TypeError,
     r"max_pool2d: padding must be an int, \(pad_h, pad_w\), \(\(top, bottom\), \(left, right\)\)"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, dilation=0), ValueError,
     r"max_pool2d: dilation must be >= 1, got 0"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, ceil_mode="yes"), TypeError,
     r"max_pool2d: ceil_mode must be True or False, got 'yes'"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, return_indices=1), TypeError,
     r"max_pool2d: return_indices must be True or False, got 1"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 5), ValueError,
     r"max_pool2d: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 along the height, larger "
     r"than the padded input 4 \+ 0 \+ 0 = 4; the output would be empty: out_height = "
     r"floor\(\(in \+ pad_lo \+ pad_hi - dilation\*\(kernel-1\) - 1\) / stride\) \+ 1 = "
     r"floor\(\(4 \+ 0 \+ 0 - 1\*\(5-1\) - 1\) / 5\) \+ 1 = 0"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2, padding=2), ValueError,
     r"max_pool2d: padding \(2, 2\) along the height leaves window 0 \(of 4\) with no input "
     r"element \(input 4, kernel 2, stride 2, dilation 1\); every pooling window must overlap "
     r"the input: reduce the padding"),
    (lambda: F.max_pool2d(np.zeros((1, 4, 4), dtype=bool), 2), TypeError,
     r"max_pool2d: input dtype cnnlab.bool is not supported; use a floating point or integer"),
    (lambda: F.avg_pool2d(np.zeros((1, 4, 4)), 2, count_include_pad=None), TypeError,
     r"avg_pool2d: count_include_pad must be True or False, got None"),
    (lambda: F.avg_pool2d(np.zeros((1, 4, 4)), 2, divisor_override=0), ValueError,
     r"avg_pool2d: divisor_override must be a non-zero int or None, got 0"),
    (lambda: F.avg_pool2d(np.zeros((1, 4, 4)), 2, divisor_override=1.5), ValueError,
     r"avg_pool2d: divisor_override must be a non-zero int or None, got 1.5"),
    (lambda: F.lp_pool2d(np.zeros((1, 4, 4)), 0, 2), ValueError,
     r"lp_pool2d: norm_type must be a number > 0 \(inf for the maximum\), got 0"),
    (lambda: F.lp_pool2d(np.zeros((1, 4, 4)), -2, 2), ValueError,
     r"lp_pool2d: norm_type must be a number > 0 \(inf for the maximum\), got -2"),
    (lambda: F.lp_pool2d(np.zeros((1, 4, 4)), math.nan, 2), ValueError,
     r"lp_pool2d: norm_type must be a number > 0 \(inf for the maximum\), got nan"),
    (lambda: F.lp_pool2d(np.zeros((1, 4, 4)), "2", 2), ValueError,
     r"lp_pool2d: norm_type must be a number > 0"),
    (lambda: F.adaptive_avg_pool2d(np.zeros((1, 4, 4)), (2, 2, 2)), TypeError,
     r"adaptive_avg_pool2d: output_size must be an int or a pair \(height, width\) of ints or "
     r"None, got \(2, 2, 2\)"),
    (lambda: F.adaptive_max_pool2d(np.zeros((1, 4, 4)), 1.5), TypeError,
     r"adaptive_max_pool2d: output_size must be an int or a pair"),
    (lambda: F.adaptive_avg_pool2d(np.zeros((1, 4, 4)), (-1, 2)), ValueError,
     r"adaptive_avg_pool2d: output_size must be >= 0, got \(-1, 2\)"),
    (lambda: F.adaptive_max_pool2d(np.zeros((1, 0, 4)), 2), ValueError,
     r"adaptive_max_pool2d: input must have a non-zero height and width, got shape \(1, 1, 0, 4\)"),
    (lambda: F.adaptive_max_pool2d(np.zeros((1, 4, 4)), 2, return_indices="no"), TypeError,
     r"adaptive_max_pool2d: return_indices must be True or False, got 'no'"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), 2), TypeError,
     r"max_unpool2d: indices must have an integer dtype \(int64 as returned by max_pool2d\), "
     r"got cnnlab.float64"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 3), dtype=int), 2), ValueError,
     r"max_unpool2d: indices shape \(1, 1, 2, 3\) must match the input shape \(1, 1, 2, 2\)"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.full((1, 2, 2), 16), 2), ValueError,
     r"max_unpool2d: found an invalid max index 16: indices must lie in \[0, 16\) for an output "
     r"plane of size 4x4; pass the output_size of the input that was pooled"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.full((1, 2, 2), -1), 2), ValueError,
     r"max_unpool2d: found an invalid max index -1"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), dtype=int), 2,
                            output_size=(1, 4, 4, 4)), TypeError,
     r"max_unpool2d: output_size must be \(height, width\) or the full output shape \(3 ints\), "
     r"got \(1, 4, 4, 4\)"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), dtype=int), 2,
                            output_size=(0, 4)), ValueError,
     r"max_unpool2d: output_size must be >= 1, got \(0, 4\)"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), dtype=int), 2,
                            output_size=(10, 10)), ValueError,
     r"max_unpool2d: output_size \(10, 10\) is out of range along spatial dimension 0: 10 must "
     r"lie in \[3, 5\], i.e. strictly between default - stride and default \+ stride with "
     r"default = \(in - 1\) \* stride - pad_lo - pad_hi \+ kernel = \(2 - 1\) \* 2 - 0 - 0 "
     r"\+ 2 = 4"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), dtype=int), 2,
                            output_size=(4, 2)), ValueError,
     r"max_unpool2d: output_size \(4, 2\) is out of range along spatial dimension 1: 2 must "
     r"lie in \[3, 5\]"),
    (lambda: F.max_unpool2d(np.zeros((1, 2, 2)), np.zeros((1, 2, 2), dtype=int), 2,
                            padding="same"), TypeError,
     r"max_unpool2d: padding must be an int, \(pad_h, pad_w\) or \(\(top, bottom\), \(left, "
     r"right\)\), got 'same'"),
    (lambda: F.max_unpool2d(np.zeros((1, 1, 1)), np.zeros((1, 1, 1), dtype=int), 1, padding=1),
     ValueError,
     r"max_unpool2d: the default output size \(H - 1\) \* stride - pad_lo - pad_hi \+ kernel = "
     r"\(1 - 1\) \* 1 - 1 - 1 \+ 1, \(1 - 1\) \* 1 - 1 - 1 \+ 1 = \(-1, -1\) is empty; pass "
     r"output_size"),
], ids=lambda v: None)
def test_errors_are_clear(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_kernel_unpool_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match=r"max_unpool2d: found an invalid max index 4"):
        pool_kernels.max_unpool(np.ones((1, 1, 1, 1)), np.array([[[[4]]]]), (2, 2))


def test_tap_parts_are_exactly_the_reads_inside_the_input():
    # tap_parts lets pooling skip the padded copy: for each tap it must list exactly
    # the (output, input) pairs whose read lands inside the input, by the definition
    # "tap t of output q reads input q * stride + t * dilation - low".
    from cnnlab.kernels.window import tap_parts
    for size, k, s, d, low, out in itertools.product(range(1, 7), range(1, 4), range(1, 4),
                                                      range(1, 3), range(3), range(1, 6)):
        expected = {(q, q * s + t * d - low) for t in range(k) for q in range(out)
                    if 0 <= q * s + t * d - low < size}
        got = set()
        for outputs, inputs in tap_parts(size, k, s, d, out, low):
            pairs = list(zip(range(out)[outputs], range(size)[inputs], strict=True))
            assert pairs, (size, k, s, d, low, out)
            got.update(pairs)
        assert got == expected, (size, k, s, d, low, out)

"""The fused batch-norm training kernel (cnnlab.kernels.batchnorm) against PyTorch:
values, gradients and running statistics, through both block layouts, with and
without the affine parameters, and its two-pass fallback for data far from zero."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab.kernels import batchnorm

SHAPES = {"2d": (4, 3, 5, 6), "1d-input": (6, 4), "3d": (2, 3, 2, 3, 4), "seq": (3, 5, 7)}


def _run(library, x, dy, weight, bias, running):
    """Forward and backward of training-mode batch norm; returns every array."""
    t = cnnlab if library == "cnnlab" else torch
    functional = F if library == "cnnlab" else torch.nn.functional
    xt = t.tensor(x, requires_grad=True)
    wt = None if weight is None else t.tensor(weight, requires_grad=True)
    bt = None if bias is None else t.tensor(bias, requires_grad=True)
    mean = t.tensor(running[0].copy())
    var = t.tensor(running[1].copy())
    out = functional.batch_norm(xt, mean, var, wt, bt, training=True, momentum=0.3)
    out.backward(t.tensor(dy))
    arrays = [out.detach().numpy(), xt.grad.numpy(), mean.numpy(), var.numpy()]
    arrays += [p.grad.numpy() for p in (wt, bt) if p is not None]
    return arrays


@pytest.mark.parametrize("block", [1 << 16, 7, 40], ids=["default", "channel-ranges",
                                                          "image-groups"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-11), (np.float32, 2e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", SHAPES)
def test_matches_torch(name, dtype, rtol, affine, block, monkeypatch):
    monkeypatch.setattr(batchnorm, "BLOCK_ELEMENTS", block)
    rng = np.random.default_rng(len(name) + block)
    shape = SHAPES[name]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    channels = shape[1]
    weight = rng.uniform(0.5, 1.5, channels).astype(dtype) if affine else None
    bias = rng.standard_normal(channels).astype(dtype) if affine else None
    running = (rng.standard_normal(channels).astype(dtype),
               rng.uniform(0.5, 2, channels).astype(dtype))
    ours = _run("cnnlab", x, dy, weight, bias, running)
    theirs = _run("torch", x, dy, weight, bias, running)
    assert len(ours) == len(theirs) == (6 if affine else 4)
    for mine, expected in zip(ours, theirs):
        assert mine.dtype == expected.dtype
        np.testing.assert_allclose(mine, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_blocks_cover_every_element_once():
    for shape, block in (((3, 5, 7), 7), ((3, 5, 7), 40), ((3, 5, 7), 1 << 16), ((2, 9, 1), 4)):
        hits = np.zeros(shape, int)
        original = batchnorm.BLOCK_ELEMENTS
        batchnorm.BLOCK_ELEMENTS = block
        try:
            for images, channels in batchnorm._blocks(np.empty(shape)):
                hits[images, channels] += 1
        finally:
            batchnorm.BLOCK_ELEMENTS = original
        assert (hits == 1).all(), (shape, block)


def _float64_reference(x, dy):
    """x_hat, dx and sum(dy * x_hat) in float64, two-pass (weight 1, no bias)."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    axes = (0, 2)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + 1e-5)
    x_hat = (x - mean) * inv_std
    dx = inv_std * (dy - dy.mean(axis=axes, keepdims=True)
                    - x_hat * (dy * x_hat).mean(axis=axes, keepdims=True))
    return x_hat, dx, (dy * x_hat).sum(axis=axes)


@pytest.mark.parametrize("offset", [0.0, 300.0, 1e4])
def test_far_from_zero_stays_exact(offset):
    """Data at 1e4 +- 1 in float32: the one-pass variance would cancel to noise; the
    kernel notices and takes the two-pass form (as the float64 reference)."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((16, 3, 50)) + offset).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    y, mean, inv_std, var, exact = batchnorm.forward(x, None, None, 1e-5)
    assert exact == (offset > 0)
    dx, dw, _ = batchnorm.backward(dy, x, mean, inv_std, None, exact, True)
    x_hat, ref_dx, ref_dw = _float64_reference(x, dy)
    # float32 data at 1e4 carry ~1e-3 absolute rounding in x itself: x_hat to ~1e-3
    tolerance = 1e-5 if offset == 0 else 2e-3
    np.testing.assert_allclose(y, x_hat, atol=tolerance)
    np.testing.assert_allclose(dx, ref_dx, atol=tolerance * np.abs(ref_dx).max())
    np.testing.assert_allclose(dw, ref_dw, rtol=tolerance, atol=tolerance * 50)


def test_the_one_pass_form_alone_would_fail_far_from_zero(monkeypatch):
    """The fallback is needed: without it the float32 variance at 1e4 +- 1 is off by
    more than 10% (this is what the check against CANCELLATION prevents)."""
    monkeypatch.setattr(batchnorm, "CANCELLATION", np.inf)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((16, 3, 50)) + 1e4).astype(np.float32)
    _, _, _, var, exact = batchnorm.forward(x, None, None, 1e-5)
    assert not exact
    true_var = x.astype(np.float64).var(axis=(0, 2))
    assert np.abs(var / true_var - 1).max() > 0.1


def test_input_gradient_skipped_when_not_needed():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5))
    weight = cnnlab.tensor(np.ones(3), requires_grad=True)
    out = F.batch_norm(cnnlab.tensor(x), None, None, weight, None, training=True)
    out.sum().backward()
    xt = torch.tensor(x)
    wt = torch.ones(3, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.batch_norm(xt, None, None, wt, None, training=True).sum().backward()
    np.testing.assert_allclose(weight.grad.numpy(), wt.grad.numpy(), atol=1e-12)
    assert repr(out.grad_fn) == "<NativeBatchNormBackward0 object>"


@pytest.mark.parametrize("centre", [0.0, 500.0])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_evaluation_mode_matches_torch(affine, centre):
    """Running statistics as constants: values and the gradients of input, weight and
    bias (the weight's with data far from the running mean, summed exactly)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 5, 2)) + centre
    dy = rng.standard_normal(x.shape)
    mean, var = rng.standard_normal(3) + centre, rng.uniform(0.5, 2, 3)
    weight = rng.uniform(0.5, 1.5, 3) if affine else None
    bias = rng.standard_normal(3) if affine else None
    results = []
    for t, functional in ((cnnlab, F), (torch, torch.nn.functional)):
        xt = t.tensor(x, requires_grad=True)
        params = [None if p is None else t.tensor(p, requires_grad=True) for p in (weight, bias)]
        out = functional.batch_norm(xt, t.tensor(mean), t.tensor(var), *params, training=False)
        out.backward(t.tensor(dy))
        results.append([out.detach().numpy(), xt.grad.numpy()]
                       + [p.grad.numpy() for p in params if p is not None])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10 * np.abs(theirs).max())


@pytest.mark.parametrize("centre", [1.0, 300.0])
def test_float16_is_computed_in_float32(centre):
    """Half-precision input: sums of thousands of values in float16 lose every digit
    (an earlier version gave errors of 4.7 on values of size 1), and x - mean at 300
    has float16 spacing 0.25. PyTorch computes in float32 and rounds; so does cnnlab:
    against a float32 reference both stay within float16's own rounding."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, 3, 20, 20)) * 2 + centre).astype(np.float16)
    dy = rng.standard_normal(x.shape).astype(np.float16)
    weight = np.array([0.5, 1.0, 2.0], np.float16)
    ours = _run("cnnlab", x, dy, weight, None, (np.zeros(3, np.float16), np.ones(3, np.float16)))
    reference = _run("torch", x.astype(np.float32), dy.astype(np.float32),
                     weight.astype(np.float32), None,
                     (np.zeros(3, np.float32), np.ones(3, np.float32)))
    assert all(array.dtype == np.float16 for array in ours)
    for mine, expected in zip(ours, reference):
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(mine.astype(np.float32), expected, atol=4e-3 * scale,
                                   rtol=2e-3)

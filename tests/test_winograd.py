"""The Winograd F(2x2, 3x3) forward path against PyTorch, im2col and its own rules."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab.kernels import conv as conv_kernels
from cnnlab.kernels import geometry, small, winograd


@pytest.fixture
def thin(monkeypatch):
    """Winograd for any channel count and size, so the tests can stay small; calls
    counted. (Tiny problems otherwise take the small path, narrow layout.)"""
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(small, "SMALL_ELEMENTS", 0)
    monkeypatch.setattr(geometry, "WIDE_MIN_ELEMENTS", 0)
    monkeypatch.setattr(geometry, "WIDE_MAX_WASTE", float("inf"))
    monkeypatch.setattr(winograd, "MAX_TILE_COST", float("inf"))
    calls = []
    original = winograd.conv3x3_forward

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)
    monkeypatch.setattr(winograd, "conv3x3_forward", counted)
    return calls


CASES = {   # name: (input shape, out channels, padding)
    "even": ((2, 3, 8, 8), 4, 1),
    "odd-height-and-width": ((2, 5, 9, 7), 6, 1),
    "no-padding": ((1, 4, 7, 10), 3, 0),
    "padding-2": ((3, 2, 5, 6), 5, 2),
    "per-side": ((2, 3, 6, 5), 2, ((2, 0), (1, 3))),
    "smallest-output": ((1, 2, 4, 4), 2, 0),
    "one-wide-output-row": ((2, 2, 3, 9), 3, ((0, 1), (0, 0))),
}


def _torch_conv(x, w, b, padding):
    if isinstance(padding, int):
        padding = ((padding, padding), (padding, padding))
    (top, bottom), (left, right) = padding
    xt = torch.nn.functional.pad(torch.from_numpy(x), (left, right, top, bottom))
    return torch.nn.functional.conv2d(xt, torch.from_numpy(w),
                                      None if b is None else torch.from_numpy(b)).numpy()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_matches_torch(thin, name, dtype, rtol, with_bias):
    shape, out_channels, padding = CASES[name]
    rng = np.random.default_rng(len(name))
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((out_channels, shape[1], 3, 3)).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype) if with_bias else None
    got = F.conv2d(x, w, b, padding=padding).numpy()
    assert thin, "the Winograd path did not run"
    expected = _torch_conv(x, w, b, padding)
    assert got.shape == expected.shape and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_chunked_batch_matches_unchunked(thin, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    whole = F.conv2d(x, w, padding=1).numpy()
    per_image = winograd.scratch_per_item(
        conv_kernels.conv_geometry(x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                                   "zeros"), 4, 8)
    monkeypatch.setattr(conv_kernels.window.CONFIG, "scratch_bytes", 2 * per_image)
    chunked = F.conv2d(x, w, padding=1).numpy()
    assert [shape[0] for shape in thin] == [5, 2, 2, 1]   # whole batch, then 2 + 2 + 1
    np.testing.assert_allclose(chunked, whole, rtol=1e-13)


def test_weight_transform_is_g_g_gt():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 3, 3))
    g = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
    expected = np.einsum("ai,ocij,bj->aboc", g, w, g).reshape(16, 3, 2)
    np.testing.assert_allclose(winograd.weight_transform(w), expected, rtol=1e-14)


@pytest.mark.parametrize("change,reason", [
    (dict(stride=2), "stride"), (dict(dilation=2), "dilation"), (dict(groups=2), "groups"),
    (dict(padding_mode="reflect"), "padding mode"), (dict(kernel=5), "kernel size")])
def test_other_convolutions_use_im2col(thin, change, reason):
    kernel = change.pop("kernel", 3)
    x = np.ones((1, 4, 9, 9))
    w = np.ones((4, 4 // change.get("groups", 1), kernel, kernel))
    F.conv2d(x, w, padding=1, **change)
    assert not thin, f"Winograd ran despite the {reason}"


def test_gradients_take_the_same_path_and_match_torch(thin):
    """Issue 13 item 4: the path depends on the shape, not on requires_grad; the
    weight gradient recomputes the columns the Winograd forward did not build."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    plain = F.conv2d(x, w, padding=1).numpy()
    assert len(thin) == 1
    xt = cnnlab.tensor(x, requires_grad=True)
    wt = cnnlab.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, padding=1)
    assert len(thin) == 2, "Winograd must run with gradients wanted too"
    np.testing.assert_array_equal(out.detach().numpy(), plain)
    g = rng.standard_normal(out.shape)
    (out * cnnlab.tensor(g)).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    wr = torch.tensor(w, requires_grad=True)
    (torch.nn.functional.conv2d(xr, wr, padding=1) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_non_finite_inputs_use_im2col(thin):
    x = np.ones((1, 2, 6, 6))
    x[0, 0, 2, 2] = np.inf
    out = F.conv2d(x, np.ones((2, 2, 3, 3)), padding=1).numpy()
    assert not thin
    expected = _torch_conv(x, np.ones((2, 2, 3, 3)), None, 1)
    np.testing.assert_array_equal(out, expected)     # inf where the window holds it


def test_eval_under_no_grad_gives_the_training_forward_bit_for_bit():
    """Issue 13 item 4, at the default threshold: a 3x3 stride-1 conv with 128
    channels gives identical logits whether or not a gradient is wanted."""
    cnnlab.manual_seed(0)
    model = cnnlab.nn.Sequential(cnnlab.nn.Conv2d(128, 128, 3, padding=1), cnnlab.nn.ReLU(),
                                 cnnlab.nn.Conv2d(128, 8, 3, padding=1))
    x = cnnlab.tensor(np.random.default_rng(0).standard_normal((2, 128, 8, 8)),
                      dtype=cnnlab.float32)
    trained = model(x).detach().numpy()
    model.eval()
    with cnnlab.no_grad():
        evaluated = model(x).numpy()
    assert trained.dtype == np.float32
    np.testing.assert_array_equal(evaluated, trained)


def test_default_threshold_keeps_thin_layers_on_im2col(monkeypatch):
    calls = []
    monkeypatch.setattr(winograd, "conv3x3_forward",
                        lambda *args, **kwargs: calls.append(1))
    F.conv2d(np.ones((1, 64, 8, 8), np.float32), np.ones((64, 64, 3, 3), np.float32),
             padding=1)
    assert not calls
    geometry = conv_kernels.conv_geometry((1, 128, 8, 8), (128, 128, 3, 3), (1, 1),
                                          ((1, 1), (1, 1)), (1, 1), 1, "zeros")
    assert winograd.applies(geometry, 128, np.float32)
    assert not winograd.applies(geometry, 128, np.int64)

"""conv1d/conv3d and conv_transpose1d/3d against PyTorch and the naive N-D reference:
forward in float32 (1e-5), float64 (1e-12) and integers (exact), float64 gradients
(1e-8), every route of the N-D kernel (small, narrow im2col, wide stride-1 layout,
depthwise, pointwise, chunked batches), hypothesis over random configurations, and
pinned error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab.kernels import conv as conv_kernels
from cnnlab.kernels import geometry, small
from reference_nd import conv_nd_reference, conv_transpose_nd_reference

RNG = np.random.default_rng(15)
OURS = {1: F.conv1d, 3: F.conv3d}
THEIRS = {1: TF.conv1d, 3: TF.conv3d}
OURS_T = {1: F.conv_transpose1d, 3: F.conv_transpose3d}
THEIRS_T = {1: TF.conv_transpose1d, 3: TF.conv_transpose3d}


@pytest.fixture(params=["default", "large-path"])
def route(request, monkeypatch):
    """Run each case through the small path (default sizes here) and again through
    the large one (im2col, wide layout where stride is 1)."""
    if request.param == "large-path":
        monkeypatch.setattr(small, "SMALL_ELEMENTS", 0)
        monkeypatch.setattr(geometry, "WIDE_MIN_ELEMENTS", 0)
    return request.param


def _tensors(*arrays):
    return [None if a is None else cnnlab.tensor(a, requires_grad=True) for a in arrays]


def _torch(*arrays):
    return [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]


def check_against_torch(ours, theirs, x, w, b, ours_kwargs, theirs_kwargs, dtype=np.float64):
    """Forward (float32/float64 tolerance) and, in float64, every gradient."""
    x, w = x.astype(dtype), w.astype(dtype)
    b = None if b is None else b.astype(dtype)
    ours_in, theirs_in = _tensors(x, w, b), _torch(x, w, b)
    out = ours(*ours_in, **ours_kwargs)
    expected = theirs(*theirs_in, **theirs_kwargs)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    scale = max(1.0, float(expected.detach().abs().max()))
    assert out.shape == tuple(expected.shape) and out.dtype == getattr(cnnlab, np.dtype(dtype).name)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=rtol,
                               atol=rtol * scale)
    if dtype != np.float64:
        return
    g = RNG.standard_normal(tuple(expected.shape))
    out.backward(cnnlab.tensor(g))
    expected.backward(torch.tensor(g))
    for mine, reference in zip(ours_in, theirs_in):
        if mine is not None:
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-8,
                                       atol=1e-8 * scale)


CONV_CASES = {  # name: (spatial, input shape, weight shape, kwargs)
    "1d-plain": (1, (2, 3, 11), (4, 3, 3), {}),
    "1d-stride-pad-dilation": (1, (2, 4, 13), (6, 2, 3), dict(stride=2, padding=2, dilation=2,
                                                             groups=2)),
    "1d-depthwise": (1, (2, 4, 12), (4, 1, 5), dict(padding=2, groups=4)),
    "1d-pointwise": (1, (3, 5, 9), (2, 5, 1), {}),
    "1d-same": (1, (1, 2, 10), (3, 2, 4), dict(padding="same")),
    "1d-kernel-is-input": (1, (2, 2, 4), (3, 2, 4), {}),
    "3d-plain": (3, (2, 2, 5, 6, 4), (3, 2, 3, 3, 2), {}),
    "3d-stride-pad": (3, (2, 3, 6, 5, 7), (4, 3, 2, 3, 3), dict(stride=(1, 2, 3),
                                                                padding=(1, 0, 2))),
    "3d-dilation-groups": (3, (1, 4, 7, 7, 6), (4, 2, 2, 2, 3), dict(dilation=(2, 1, 2),
                                                                    groups=2, padding=1)),
    "3d-depthwise": (3, (2, 3, 5, 5, 5), (3, 1, 3, 3, 3), dict(padding=1, groups=3)),
    "3d-pointwise": (3, (2, 4, 3, 4, 5), (6, 4, 1, 1, 1), {}),
    "3d-same": (3, (1, 2, 5, 4, 6), (2, 2, 3, 2, 3), dict(padding="same", dilation=(1, 2, 1))),
}


@pytest.mark.parametrize("name", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_conv_matches_torch(route, name, dtype, with_bias):
    spatial, x_shape, w_shape, kwargs = CONV_CASES[name]
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    b = RNG.standard_normal(w_shape[0]) if with_bias else None
    check_against_torch(OURS[spatial], THEIRS[spatial], x, w, b, kwargs, kwargs, dtype)


@pytest.mark.parametrize("name", ["1d-stride-pad-dilation", "3d-stride-pad", "3d-depthwise"])
def test_integer_conv_is_exact(route, name):
    spatial, x_shape, w_shape, kwargs = CONV_CASES[name]
    x = RNG.integers(-9, 10, x_shape)
    w = RNG.integers(-9, 10, w_shape)
    out = OURS[spatial](x, w, **kwargs)
    assert out.dtype == cnnlab.int64
    pads = cnnlab.shapes.padding_pairs(kwargs.get("padding", 0), "t", ndim=spatial)
    stride = cnnlab.shapes.int_tuple(kwargs.get("stride", 1), spatial, "s", "t")
    dilation = cnnlab.shapes.int_tuple(kwargs.get("dilation", 1), spatial, "d", "t")
    expected = conv_nd_reference(x, w, None, stride, pads, dilation, kwargs.get("groups", 1))
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.int64))


@pytest.mark.parametrize("spatial,padding,stride", [
    (1, ((2, 0),), (2,)), (1, "same", (3,)),
    (3, ((1, 0), (0, 2), (1, 1)), (1, 2, 1)), (3, "same", (2, 1, 3))], ids=str)
def test_beyond_torch_padding_matches_the_reference(route, spatial, padding, stride):
    """Per-side padding and 'same' with a stride (PyTorch has neither)."""
    x = RNG.standard_normal((2, 2) + (7,) * spatial if spatial == 1 else (2, 2, 5, 6, 4))
    w = RNG.standard_normal((3, 2) + (3,) * spatial)
    out = OURS[spatial](x, w, stride=stride, padding=padding).numpy()
    pads = cnnlab.shapes.padding_pairs(padding, "t", input_size=x.shape[2:],
                                       kernel_size=w.shape[2:], stride=stride)
    np.testing.assert_allclose(out, conv_nd_reference(x, w, None, stride, pads), rtol=1e-12,
                               atol=1e-12)
    if padding == "same":
        assert out.shape[2:] == tuple(-(-n // s) for n, s in zip(x.shape[2:], stride))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("spatial", [1, 3])
def test_padding_modes_match_torch(route, mode, spatial):
    x = RNG.standard_normal((2, 2) + (6, 5, 4)[:spatial] if spatial == 3 else (2, 2, 9))
    w = RNG.standard_normal((3, 2) + (3,) * spatial)
    padded = TF.pad(torch.tensor(x), (1, 2) * spatial, mode=mode)
    expected = THEIRS[spatial](padded, torch.tensor(w)).numpy()
    pads = ((1, 2),) * spatial
    got = OURS[spatial](x, w, padding=pads, padding_mode=mode).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_chunked_batches_match_one_chunk(monkeypatch):
    x = RNG.standard_normal((5, 2, 6, 5, 7))
    w = RNG.standard_normal((3, 2, 3, 2, 3))
    whole = F.conv3d(x, w, padding=1).numpy()
    monkeypatch.setattr(small, "SMALL_ELEMENTS", 0)
    monkeypatch.setattr(conv_kernels.window.CONFIG, "scratch_bytes", 8 * 2 * 27 * 6 * 5 * 7)
    xt = cnnlab.tensor(x, requires_grad=True)
    out = F.conv3d(xt, w, padding=1)
    np.testing.assert_allclose(out.detach().numpy(), whole, rtol=1e-12)
    out.sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    TF.conv3d(xr, torch.tensor(w), padding=1).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-10)


TRANSPOSE_CASES = {
    "1d-plain": (1, (2, 3, 6), (3, 2, 3), {}),
    "1d-stride-output-padding": (1, (2, 4, 5), (4, 3, 4), dict(stride=3, padding=1,
                                                               output_padding=2)),
    "1d-groups-dilation": (1, (1, 4, 7), (4, 1, 3), dict(groups=2, dilation=2, padding=2)),
    "3d-plain": (3, (2, 2, 3, 4, 3), (2, 3, 2, 3, 2), {}),
    "3d-stride-padding": (3, (1, 3, 3, 2, 4), (3, 2, 3, 3, 2),
                          dict(stride=(2, 1, 3), padding=(1, 0, 1), output_padding=(1, 0, 2))),
    "3d-groups": (3, (2, 4, 2, 3, 3), (4, 1, 2, 2, 2), dict(groups=4, dilation=(1, 2, 1))),
}


@pytest.mark.parametrize("name", TRANSPOSE_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_conv_transpose_matches_torch(route, name, dtype, with_bias):
    spatial, x_shape, w_shape, kwargs = TRANSPOSE_CASES[name]
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    groups = kwargs.get("groups", 1)
    b = RNG.standard_normal(w_shape[1] * groups) if with_bias else None
    check_against_torch(OURS_T[spatial], THEIRS_T[spatial], x, w, b, kwargs, kwargs, dtype)


def test_conv_transpose_integers_and_same():
    x = RNG.integers(-5, 6, (2, 2, 3, 4, 2))
    w = RNG.integers(-5, 6, (2, 3, 3, 2, 3))
    out = F.conv_transpose3d(x, w, stride=(2, 1, 2), padding=1)
    assert out.dtype == cnnlab.int64
    expected = conv_transpose_nd_reference(x, w, None, (2, 1, 2), ((1, 1),) * 3)
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.int64))
    same = F.conv_transpose1d(np.ones((1, 1, 5)), np.ones((1, 1, 4)), stride=3, padding="same")
    assert tuple(same.shape) == (1, 1, 15)


def test_unbatched_input():
    x = RNG.standard_normal((2, 9))
    w = RNG.standard_normal((3, 2, 2))
    out = F.conv1d(x, w, stride=2)
    assert tuple(out.shape) == (3, 4)
    np.testing.assert_allclose(out.numpy(), F.conv1d(x[None], w, stride=2).numpy()[0])
    y = F.conv_transpose3d(RNG.standard_normal((2, 3, 3, 3)), RNG.standard_normal((2, 1, 2, 2, 2)))
    assert tuple(y.shape) == (1, 4, 4, 4)


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_conv_hypothesis_matches_torch(data):
    spatial = data.draw(st.sampled_from([1, 3]), "spatial")
    groups = data.draw(st.integers(1, 2), "groups")
    in_per, out_per = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(spatial))
    padding = tuple(data.draw(st.integers(0, 2)) for _ in range(spatial))
    size = tuple(data.draw(st.integers(d * (k - 1) + 1, d * (k - 1) + (6 if spatial == 1 else 3)))
                 for k, d in zip(kernel, dilation))
    x = RNG.standard_normal((data.draw(st.integers(1, 2)), in_per * groups) + size)
    w = RNG.standard_normal((out_per * groups, in_per) + kernel)
    b = RNG.standard_normal(out_per * groups) if data.draw(st.booleans()) else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    check_against_torch(OURS[spatial], THEIRS[spatial], x, w, b, kwargs, kwargs)
    # the transposed convolution of the same configuration (output_padding < stride)
    extra = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    wt = RNG.standard_normal((in_per * groups, out_per) + kernel)
    bt = RNG.standard_normal(out_per * groups) if b is not None else None
    kwargs_t = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                    output_padding=extra)
    try:
        expected_shape = THEIRS_T[spatial](torch.tensor(x), torch.tensor(wt), None,
                                           **kwargs_t).shape
    except RuntimeError:
        return  # an empty output: checked in the error tests
    assert expected_shape
    check_against_torch(OURS_T[spatial], THEIRS_T[spatial], x, wt, bt, kwargs_t, kwargs_t)


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.conv1d(np.ones((1, 2, 3, 4)), np.ones((1, 2, 3))), ValueError,
     r"conv1d: input must be 2-D \(C, L\) or 3-D \(N, C, L\), got shape \(1, 2, 3, 4\)"),
    (lambda: F.conv3d(np.ones((2, 3, 3, 3)), np.ones((1, 2, 3, 3))), ValueError,
     r"conv3d: weight must be 5-D, got shape \(1, 2, 3, 3\)"),
    (lambda: F.conv1d(np.ones((1, 2, 3)), np.ones((1, 2, 5))), ValueError,
     r"conv1d: kernel size \(5,\) with dilation \(1,\) spans 5 along the length, larger than "
     r"the padded input 3 \+ 0 \+ 0 = 3; the output would be empty: out_length = floor\(\(in \+ "
     r"pad_lo \+ pad_hi - dilation\*\(kernel-1\) - 1\) / stride\) \+ 1 = floor\(\(3 \+ 0 \+ 0 - "
     r"1\*\(5-1\) - 1\) / 1\) \+ 1 = -1"),
    (lambda: F.conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((1, 2, 2, 2, 2)), stride=(1, 2)),
     TypeError, r"conv3d: stride must be an int or a tuple of 3 ints \(depth, height, width\), "
                r"got \(1, 2\)"),
    (lambda: F.conv3d(np.ones((1, 3, 4, 4, 4)), np.ones((1, 2, 2, 2, 2))), ValueError,
     r"conv3d: input has 3 channels, but weight of shape \(1, 2, 2, 2, 2\) with groups=1 "
     r"expects weight.shape\[1\] \* groups = 2 \* 1 = 2 channels"),
    (lambda: F.conv1d(np.ones((1, 2, 4)), np.ones((1, 2, 2)), padding_mode="mirror"), ValueError,
     r"conv1d: padding_mode must be one of \('zeros', 'reflect', 'replicate', 'circular'\), "
     r"got 'mirror'"),
    (lambda: F.conv_transpose3d(np.ones((1, 2, 2, 2, 2)), np.ones((3, 1, 2, 2, 2))), ValueError,
     r"conv_transpose3d: input has 2 channels, but weight of shape \(3, 1, 2, 2, 2\) expects "
     r"weight.shape\[0\] = 3 \(weight is \(in_channels, out_channels / groups, kd, kh, kw\)\)"),
    (lambda: F.conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 2)), padding=3), ValueError,
     r"conv_transpose1d: the output length would be -3: out = \(in - 1\)\*stride - pad_lo - "
     r"pad_hi \+ dilation\*\(kernel-1\) \+ output_padding \+ 1 = \(2 - 1\)\*1 - 3 - 3 \+ "
     r"1\*\(2-1\) \+ 0 \+ 1 = -3; reduce the padding"),
    (lambda: F.conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 2)), stride=2,
                                output_padding=2), ValueError,
     r"conv_transpose1d: output_padding must be smaller than either stride or dilation, got "
     r"output_padding \(2,\), stride \(2,\), dilation \(1,\) \(fails along the length\)"),
], ids=lambda v: None)
def test_errors_are_clear(call, error, message):
    with pytest.raises(error, match=message):
        call()

"""The small-problem convolution path (cnnlab.kernels.small) against PyTorch and the
large (im2col, scratch pool, chunks) path, and corr2d's direct route to it."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab.chapter import corr2d
from cnnlab.functional import correlate2d
from cnnlab.functional.conv import conv2d
from cnnlab.kernels import conv as conv_kernels
from cnnlab.kernels import small, window
from reference_conv import conv2d_reference
from test_conv import assert_close, per_side, torch_conv2d
from test_conv import pairs as pair

FORWARD_RTOL = {np.float32: 1e-5, np.float64: 1e-12}
GRAD_RTOL = 1e-8


@pytest.fixture
def small_spy(monkeypatch):
    """Count the calls of the small path."""
    calls = []
    original = small.conv_small

    def spy(*args, **kwargs):
        calls.append(args[3])  # the geometry
        return original(*args, **kwargs)
    monkeypatch.setattr(small, "conv_small", spy)
    return calls


@pytest.fixture
def large_only(monkeypatch):
    """Send every convolution down the large path."""
    monkeypatch.setattr(small, "SMALL_ELEMENTS", 0)


def forward_and_grads(function, arrays, grad_weights, library):
    """``function(*leaves)`` and the gradients of ``sum(out * grad_weights)``."""
    if library == "torch":
        leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        out = function(*leaves)
        (out * torch.tensor(grad_weights)).sum().backward()
        return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]
    leaves = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    out = function(*leaves)
    (out * cnnlab.tensor(grad_weights)).sum().backward()
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


# id: (N, C, H, W, O, kernel, stride, padding, dilation, groups)
SMALL_CASES = {
    "chapter-6x8-1x2": (1, 1, 6, 8, 1, (1, 2), 1, 0, 1, 1),
    "3x3-pad1": (2, 3, 5, 6, 4, 3, 1, 1, 1, 1),
    "1x1-pointwise": (3, 4, 4, 5, 2, 1, 1, 0, 1, 1),
    "1x1-stride2-padded": (2, 2, 5, 5, 3, 1, 2, 1, 1, 1),
    "stride-hw": (2, 2, 7, 6, 3, (2, 3), (2, 3), 0, 1, 1),
    "per-side-padding": (1, 2, 4, 5, 2, (3, 2), 1, ((2, 0), (1, 3)), 1, 1),
    "dilation-hw": (2, 2, 8, 9, 3, (2, 3), (2, 1), (0, 2), (3, 2), 1),
    "groups2": (2, 4, 5, 5, 6, 3, 1, 1, 1, 2),
    "groups3-stride2-dilation2": (2, 6, 7, 8, 3, 2, 2, 1, 2, 3),
    "kernel-equals-input": (2, 3, 4, 4, 2, 4, 1, 0, 1, 1),
    "single-pixel-output": (1, 2, 4, 4, 3, 4, 2, 0, 1, 1),
    "padding-larger-than-kernel": (1, 1, 2, 3, 2, 2, 1, 3, 1, 1),
    "stride-larger-than-kernel": (2, 2, 7, 7, 2, 2, 3, 0, 1, 1),
    "one-by-one-input": (3, 2, 1, 1, 2, 1, 1, 0, 1, 1),
}
SMALL_IDS = list(SMALL_CASES)


def make_case(rng, case, dtype=np.float64):
    n, c, h, w, o, kernel, stride, padding, dilation, groups = case
    kh, kw = pair(kernel)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    args = dict(stride=stride, padding=per_side(padding), dilation=dilation, groups=groups)
    return (x, weight, bias), args


def test_small_path_is_taken_only_where_it_applies(small_spy, rng):
    (x, w, b), _ = make_case(rng, SMALL_CASES["3x3-pad1"])
    conv2d(x, w, b, padding=1)
    assert len(small_spy) == 1
    conv2d(x, w, b, padding=1, padding_mode="reflect")             # not zero padding
    conv2d(x, rng.standard_normal((3, 1, 3, 3)), groups=3)          # depthwise
    conv2d(rng.standard_normal((2, 3, 40, 40)), w)                  # too many columns
    assert len(small_spy) == 1


def test_small_path_stays_within_the_scratch_budget(small_spy, monkeypatch, rng):
    (x, w, b), args = make_case(rng, SMALL_CASES["3x3-pad1"])
    geometry = conv_kernels.conv_geometry(x.shape, w.shape, (1, 1), args["padding"], (1, 1), 1,
                                          "zeros")
    scratch = x.shape[0] * geometry.scratch_per_item(w.shape[0], x.itemsize)
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", scratch)
    conv2d(x, w, b, padding=1)
    assert len(small_spy) == 1
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", scratch - 1)
    conv2d(x, w, b, padding=1)
    assert len(small_spy) == 1  # over budget: the large path chunks instead


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", SMALL_IDS)
def test_small_forward_matches_torch_and_reference(case, dtype, small_spy, rng):
    (x, w, b), args = make_case(rng, SMALL_CASES[case], dtype)
    ours = conv2d(x, w, b, **args).numpy()
    assert len(small_spy) == 1
    expected = torch_conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **args).numpy()
    assert ours.dtype == dtype
    assert ours.flags.c_contiguous
    assert_close(ours, expected, FORWARD_RTOL[dtype])
    reference = conv2d_reference(x, w, b, pair(args["stride"]), args["padding"],
                                 pair(args["dilation"]), args["groups"])
    assert_close(ours, reference, FORWARD_RTOL[dtype])


@pytest.mark.parametrize("case", SMALL_IDS)
def test_small_gradients_match_torch(case, small_spy, rng):
    arrays, args = make_case(rng, SMALL_CASES[case])
    grad_weights = rng.standard_normal(conv2d(*arrays, **args).shape)
    small_spy.clear()
    ours, our_grads = forward_and_grads(lambda x, w, b: conv2d(x, w, b, **args), arrays,
                                        grad_weights, "cnnlab")
    # the forward; a stride-1 input gradient is itself a small convolution of dy
    assert small_spy[0].input_shape == arrays[0].shape
    assert [g.input_shape for g in small_spy[1:]] in ([], [grad_weights.shape])
    expected, grads = forward_and_grads(lambda x, w, b: torch_conv2d(x, w, b, **args), arrays,
                                        grad_weights, "torch")
    assert_close(ours, expected, FORWARD_RTOL[np.float64])
    for mine, theirs in zip(our_grads, grads):
        assert_close(mine, theirs, GRAD_RTOL)


@pytest.mark.parametrize("case", SMALL_IDS)
def test_small_and_large_paths_agree(case, monkeypatch, rng):
    arrays, args = make_case(rng, SMALL_CASES[case])
    grad_weights = rng.standard_normal(conv2d(*arrays, **args).shape)
    def function(x, w, b):
        return conv2d(x, w, b, **args)
    small_out, small_grads = forward_and_grads(function, arrays, grad_weights, "cnnlab")
    monkeypatch.setattr(small, "SMALL_ELEMENTS", 0)
    large_out, large_grads = forward_and_grads(function, arrays, grad_weights, "cnnlab")
    assert_close(small_out, large_out, 1e-12)
    for a, b in zip(small_grads, large_grads):
        assert_close(a, b, 1e-12)


@pytest.mark.parametrize("path", ["small", "large"])
def test_integer_convolution_is_exact(path, monkeypatch, rng):
    if path == "large":
        monkeypatch.setattr(small, "SMALL_ELEMENTS", 0)
    # products near 2**60: float64 (53 bits) would round them
    x = rng.integers(-2**29, 2**29, (2, 4, 5, 5))
    w = rng.integers(-2**29, 2**29, (4, 2, 2, 2))
    b = rng.integers(-2**40, 2**40, 4)
    args = dict(stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2), groups=2)
    ours = conv2d(x, w, b, **args).numpy()
    assert ours.dtype == np.int64
    expected = conv2d_reference(x, w, b, args["stride"], args["padding"], args["dilation"], 2)
    np.testing.assert_array_equal(ours, expected)


def test_kept_columns_give_the_backward_of_recomputed_ones(rng):
    (x, w, b), args = make_case(rng, SMALL_CASES["groups3-stride2-dilation2"])
    stride, dilation = pair(args["stride"]), pair(args["dilation"])
    out, cache = conv_kernels.conv_forward(x, w, b, stride, args["padding"], dilation,
                                             args["groups"])
    assert cache.cols is not None
    dy = rng.standard_normal(out.shape)
    kept = conv_kernels.conv_backward(dy, cache)
    recomputed = conv_kernels.conv_backward(dy, cache._replace(cols=None))
    for a, b_ in zip(kept, recomputed):
        assert_close(a, b_, 1e-12)
    _, cache = conv_kernels.conv_forward(x, w, b, stride, args["padding"], dilation,
                                           args["groups"], keep_cols=False)
    assert cache.cols is None


def test_only_the_gradients_asked_for(rng):
    (x, w, b), args = make_case(rng, SMALL_CASES["3x3-pad1"])
    x_leaf, w_leaf = cnnlab.tensor(x, requires_grad=True), cnnlab.tensor(w)
    conv2d(x_leaf, w_leaf, b, **args).sum().backward()
    expected_x = torch.tensor(x, requires_grad=True)
    torch_conv2d(expected_x, torch.tensor(w), torch.tensor(b), **args).sum().backward()
    assert_close(x_leaf.grad.numpy(), expected_x.grad.numpy(), GRAD_RTOL)
    assert w_leaf.grad is None


def test_non_contiguous_input(small_spy, rng):
    x = rng.standard_normal((6, 5, 2, 3)).transpose(3, 2, 1, 0)  # (3, 2, 5, 6), a view
    w = rng.standard_normal((2, 2, 2, 3))
    ours = conv2d(x, w, stride=(1, 2), padding=1).numpy()
    assert len(small_spy) == 1
    expected = TF.conv2d(torch.tensor(np.ascontiguousarray(x)), torch.tensor(w),
                         stride=(1, 2), padding=1).numpy()
    assert_close(ours, expected, 1e-12)


def test_nan_and_inf_propagate_silently(small_spy):
    x = np.array([[[[np.inf, 1.0, np.nan], [0.0, 2.0, 3.0]]]])
    w = np.array([[[[1.0, -1.0]]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = conv2d(x, w, np.array([-np.inf])).numpy()
    assert len(small_spy) == 1
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w),
                         torch.tensor([-np.inf], dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(ours, expected)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_small_convolutions_match_torch(data):
    groups = data.draw(st.sampled_from([1, 2, 3]), "groups")
    n = data.draw(st.integers(1, 3), "n")
    channels = groups * data.draw(st.integers(1, 2), "channels per group")
    out_channels = groups * data.draw(st.integers(1, 2), "out channels per group")
    kernel = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), "kernel")
    stride = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), "stride")
    dilation = data.draw(st.tuples(st.integers(1, 2), st.integers(1, 2)), "dilation")
    padding = data.draw(st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                  st.tuples(st.integers(0, 2), st.integers(0, 2))), "padding")
    size = [data.draw(st.integers(max(1, d * (k - 1) + 1 - sum(p)), 7), axis)
            for axis, k, d, p in zip(("height", "width"), kernel, dilation, padding)]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), "seed"))
    x = rng.standard_normal((n, channels) + tuple(size))
    w = rng.standard_normal((out_channels, channels // groups) + kernel)
    b = rng.standard_normal(out_channels)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    grad_weights = rng.standard_normal(conv2d(x, w, b, **args).shape)
    ours, our_grads = forward_and_grads(lambda *t: conv2d(*t, **args), (x, w, b),
                                        grad_weights, "cnnlab")
    expected, grads = forward_and_grads(lambda *t: torch_conv2d(*t, **args), (x, w, b),
                                        grad_weights, "torch")
    assert_close(ours, expected, 1e-12)
    for mine, theirs in zip(our_grads, grads):
        assert_close(mine, theirs, GRAD_RTOL)


# ------------------------------------------------------------------ corr2d


def torch_corr2d(X, K):
    return TF.conv2d(X[None, None], K[None, None])[0, 0]


@pytest.mark.parametrize("shapes", [((6, 8), (1, 2)), ((5, 5), (3, 3)), ((4, 7), (4, 1)),
                                    ((1, 1), (1, 1)), ((3, 9), (2, 9))],
                         ids=["chapter", "3x3", "4x1", "1x1", "kernel-full-width"])
def test_corr2d_small_path_matches_torch_and_correlate2d(shapes, small_spy, rng):
    X, K = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    grad_weights = rng.standard_normal((shapes[0][0] - shapes[1][0] + 1,
                                        shapes[0][1] - shapes[1][1] + 1))
    ours, our_grads = forward_and_grads(corr2d, (X, K), grad_weights, "cnnlab")
    # the forward, then the input gradient as the small convolution of dy
    # (a 1x1 kernel's gradient is a plain product instead)
    assert [g.input_shape[2:] for g in small_spy] in ([shapes[0]],
                                                      [shapes[0], grad_weights.shape])
    expected, grads = forward_and_grads(torch_corr2d, (X, K), grad_weights, "torch")
    assert_close(ours, expected, 1e-12)
    for mine, theirs in zip(our_grads, grads):
        assert_close(mine, theirs, GRAD_RTOL)
    large, large_grads = forward_and_grads(lambda X, K: correlate2d(X, K, mode="valid"),
                                           (X, K), grad_weights, "cnnlab")
    assert_close(ours, large, 1e-12)
    for mine, theirs in zip(our_grads, large_grads):
        assert_close(mine, theirs, 1e-12)


def test_corr2d_small_path_dtypes(small_spy, rng):
    X32, K32 = rng.standard_normal((4, 5)).astype(np.float32), np.float32([[1, -2]])
    out = corr2d(X32, K32)
    assert out.dtype == cnnlab.float32
    assert_close(out.numpy(), torch_corr2d(torch.tensor(X32), torch.tensor(K32)).numpy(), 1e-5)
    # integers: exact (int64 products beyond float64's 53 bits), returned as float32
    X, K = np.array([[2**40 + 1, 3], [5, 7]]), np.array([[2**20 + 1, -1]])
    out = corr2d(X, K)
    assert out.dtype == cnnlab.float32
    exact = np.array([[(2**40 + 1) * (2**20 + 1) - 3], [5 * (2**20 + 1) - 7]])
    np.testing.assert_array_equal(out.numpy(), exact.astype(np.float32))
    assert len(small_spy) == 2
    # mixed dtypes take correlate2d's promotion (PyTorch's): float32 with int64 -> float32
    mixed = corr2d(np.arange(12).reshape(3, 4), K32)
    assert mixed.dtype == cnnlab.float32
    assert len(small_spy) == 2


def test_corr2d_gradient_reaches_the_leaf_dtype(rng):
    X = cnnlab.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    K = cnnlab.tensor(np.float32([[1, -1]]), requires_grad=True)
    out = corr2d(X, K)
    assert out.grad_fn is not None     # through F.conv2d (small path), then a view
    out.sum().backward()
    assert X.grad.dtype == cnnlab.float32 and K.grad.dtype == cnnlab.float32
    TX = torch.tensor(X.detach().numpy(), requires_grad=True)
    TK = torch.tensor(K.detach().numpy(), requires_grad=True)
    torch_corr2d(TX, TK).sum().backward()
    assert_close(X.grad.numpy(), TX.grad.numpy(), 1e-5)
    assert_close(K.grad.numpy(), TK.grad.numpy(), 1e-5)


def test_corr2d_large_inputs_keep_correlate2d(small_spy, rng):
    X, K = rng.standard_normal((130, 130)), rng.standard_normal((3, 3))
    ours = corr2d(X, K).numpy()
    assert small_spy == []
    assert_close(ours, torch_corr2d(torch.tensor(X), torch.tensor(K)).numpy(), 1e-12)


# ------------------------------------------------- conv2d's cached argument checks


@pytest.mark.parametrize("name, bad, error, message", [
    ("stride", True, TypeError,
     r"conv2d: stride must be an int or a pair of ints \(height, width\), got True"),
    ("stride", 1.0, TypeError, r"conv2d: stride must be an int or a pair of ints"),
    ("dilation", (1, 1.0), TypeError, r"conv2d: dilation must be an int or a pair of ints"),
    ("padding", (0, False), TypeError, r"conv2d: padding must be an int, \(pad_h, pad_w\)"),
    ("padding", ((0, 0), (0.0, 0)), TypeError, r"conv2d: padding must be an int"),
    ("groups", True, TypeError, r"conv2d: groups must be an int >= 1, got True"),
    ("groups", np.float64(1), TypeError, r"conv2d: groups must be an int >= 1, got "),
], ids=["stride-bool", "stride-float", "dilation-float", "padding-bool", "padding-per-side-float",
        "groups-bool", "groups-numpy-float"])
def test_cached_checks_still_reject_equal_values_of_other_types(name, bad, error, message, rng):
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2))
    good = {"stride": 1, "dilation": (1, 1), "padding": (0, 0),
            "groups": 1, "padding_mode": "zeros"}
    if name == "padding" and isinstance(bad[0], tuple):
        good["padding"] = ((0, 0), (0, 0))
    conv2d(x, w, **good)
    conv2d(x, w, **good)  # now cached
    assert bad == good[name]  # equal (and equal hashes), yet not accepted
    with pytest.raises(error, match=message):
        conv2d(x, w, **{**good, name: bad})


def test_cached_checks_see_a_different_bias(rng):
    x = cnnlab.tensor(rng.standard_normal((1, 2, 4, 4)).astype(np.float32))
    w = cnnlab.tensor(rng.standard_normal((3, 2, 2, 2)).astype(np.float32))
    conv2d(x, w, cnnlab.zeros(3))
    with pytest.raises(TypeError, match=r"conv2d: input dtype .* and bias dtype .* differ"):
        conv2d(x, w, cnnlab.zeros(3, dtype=cnnlab.float64))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(3,\)"):
        conv2d(x, w, cnnlab.zeros(2))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(3,\)"):
        conv2d(x, w, [0.0, 0.0])  # not a Tensor: never cached, checked in order
    with pytest.raises(ValueError, match=r"conv2d: input has 2 channels, but weight"):
        conv2d(x, w[:, :1], [0.0, 0.0])


def test_cached_checks_see_a_different_input(rng):
    w = rng.standard_normal((2, 1, 3, 3))
    conv2d(rng.standard_normal((1, 1, 4, 4)), w, padding="same", stride=2)
    out = conv2d(rng.standard_normal((1, 1, 7, 5)), w, padding="same", stride=2)
    assert out.shape == (1, 2, 4, 3)
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(3, 3\) with dilation"):
        conv2d(rng.standard_normal((1, 1, 2, 5)), w)
    with pytest.raises(TypeError, match=r"conv2d: input dtype .* and weight dtype .* differ"):
        conv2d(rng.standard_normal((1, 1, 4, 4)).astype(np.float32), w, padding="same",
               stride=2)


def test_plan_cache_is_bounded():
    from cnnlab.functional import conv as functional_conv
    plans = functional_conv._PLANS
    for size in range(1, plans.size + 20):
        conv2d(np.ones((1, 1, 1, size)), np.ones((1, 1, 1, 1)))
        assert len(plans.plans) <= plans.size

"""conv2d, conv_transpose2d, unfold and fold against PyTorch and a naive loop reference."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab.functional import conv2d, conv_transpose2d, fold, unfold
from cnnlab.kernels import conv as conv_kernels
from cnnlab.kernels import window
from reference_conv import conv2d_reference, conv_transpose2d_reference

FORWARD_RTOL = {np.float32: 1e-5, np.float64: 1e-12}
GRAD_RTOL = 1e-8
TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                   "circular": "circular"}
MODES = tuple(TORCH_PAD_MODES)


def assert_close(actual, expected, rtol):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def pairs(value):
    return value if isinstance(value, tuple) else (value, value)


def per_side(padding):
    """int / (ph, pw) / per-side -> ((top, bottom), (left, right))."""
    if isinstance(padding, tuple) and isinstance(padding[0], tuple):
        return padding
    ph, pw = pairs(padding)
    return ((ph, ph), (pw, pw))


def torch_conv2d(x, w, b, stride, padding, dilation, groups, padding_mode="zeros"):
    """PyTorch conv2d with per-side padding of any mode: F.pad, then an unpadded conv."""
    (top, bottom), (left, right) = per_side(padding)
    x = TF.pad(x, (left, right, top, bottom), mode=TORCH_PAD_MODES[padding_mode])
    return TF.conv2d(x, w, b, stride, 0, dilation, groups)


def random_conv(rng, n, c, h, w, o, kernel, groups, dtype=np.float64):
    kh, kw = pairs(kernel)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    return x, weight, bias


def run_with_grads(function, arrays, seed_grad_rng):
    """Forward with cnnlab leaves, backward of sum(out * r); returns out and the grads."""
    leaves = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    out = function(*leaves)
    weights = seed_grad_rng.standard_normal(out.shape)
    (out * cnnlab.tensor(weights)).sum().backward()
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves], weights


def torch_grads(function, arrays, weights):
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(*leaves)
    (out * torch.tensor(weights)).sum().backward()
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


# --------------------------------------------------------------- conv2d cases

# id: (N, C, H, W, O, kernel, stride, padding, dilation, groups)
CONV_CASES = {
    "3x3": (2, 3, 7, 8, 4, 3, 1, 1, 1, 1),
    "1x1-pointwise": (2, 4, 5, 6, 3, 1, 1, 0, 1, 1),
    "1x1-pointwise-groups": (2, 4, 5, 6, 6, 1, 1, 0, 1, 2),
    "1x1-stride2": (2, 4, 5, 6, 3, 1, 2, 0, 1, 1),
    "1x1-padded": (2, 4, 5, 6, 3, 1, 1, 1, 1, 1),
    "rect-kernel": (2, 3, 7, 9, 5, (2, 3), 1, 0, 1, 1),
    "stride2": (2, 3, 8, 8, 4, 3, 2, 1, 1, 1),
    "stride-hw-pad-hw": (1, 3, 9, 7, 2, 3, (3, 2), (1, 0), 1, 1),
    "dilation2": (2, 2, 9, 9, 3, 3, 1, 2, 2, 1),
    "dilation-hw": (1, 2, 9, 10, 3, (2, 3), (2, 1), (0, 2), (3, 2), 1),
    "groups2": (2, 4, 6, 6, 6, 3, 1, 1, 1, 2),
    "groups3-stride2": (2, 6, 7, 7, 3, 3, 2, 1, 1, 3),
    "depthwise": (2, 4, 6, 6, 4, 3, 1, 1, 1, 4),
    "depthwise-multiplier2": (2, 3, 6, 6, 6, 3, 2, 1, 1, 3),
    "kernel-equals-input": (2, 3, 5, 5, 2, 5, 1, 0, 1, 1),
    "padding-larger-than-kernel": (1, 2, 3, 3, 2, 2, 1, 3, 1, 1),
    "stride-larger-than-kernel": (2, 2, 9, 9, 3, 2, 3, 0, 1, 1),
    "single-pixel-output": (1, 2, 4, 4, 3, 4, 2, 0, 1, 1),
    "empty-batch": (0, 3, 5, 5, 2, 3, 1, 1, 1, 1),
}
CONV_IDS = list(CONV_CASES)


def test_conv2d_reference_matches_torch(rng):
    """The naive reference is itself checked, so it cannot rot."""
    for n, c, h, w, o, kernel, stride, padding, dilation, groups, mode in [
        (2, 4, 5, 6, 4, (2, 3), (2, 1), ((1, 0), (2, 1)), (1, 2), 2, "zeros"),
        (1, 2, 5, 5, 3, 3, 2, ((1, 2), (2, 1)), 1, 1, "reflect"),
        (1, 2, 4, 5, 2, 2, 1, ((2, 1), (0, 3)), (2, 1), 2, "replicate"),
        (1, 3, 4, 4, 3, 3, (1, 2), ((1, 1), (2, 0)), 1, 3, "circular"),
    ]:
        x, weight, bias = random_conv(rng, n, c, h, w, o, kernel, groups)
        expected = torch_conv2d(torch.tensor(x), torch.tensor(weight), torch.tensor(bias),
                                stride, padding, dilation, groups, mode).numpy()
        ours = conv2d_reference(x, weight, bias, pairs(stride), padding, pairs(dilation),
                                groups, mode)
        assert_close(ours, expected, 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CONV_IDS)
def test_conv2d_forward_matches_torch(case, dtype, rng):
    n, c, h, w, o, kernel, stride, padding, dilation, groups = CONV_CASES[case]
    x, weight, bias = random_conv(rng, n, c, h, w, o, kernel, groups, dtype)
    out = conv2d(x, weight, bias, stride, padding, dilation, groups)
    expected = TF.conv2d(torch.tensor(x), torch.tensor(weight), torch.tensor(bias), stride,
                         padding, dilation, groups)
    assert out.dtype == (cnnlab.float32 if dtype == np.float32 else cnnlab.float64)
    assert_close(out.numpy(), expected.numpy(), FORWARD_RTOL[dtype])


@pytest.mark.parametrize("case", CONV_IDS)
def test_conv2d_grads_match_torch(case, rng):
    n, c, h, w, o, kernel, stride, padding, dilation, groups = CONV_CASES[case]
    arrays = random_conv(rng, n, c, h, w, o, kernel, groups)
    out, grads, weights = run_with_grads(
        lambda x, wt, b: conv2d(x, wt, b, stride, padding, dilation, groups), arrays, rng)
    expected, expected_grads = torch_grads(
        lambda x, wt, b: TF.conv2d(x, wt, b, stride, padding, dilation, groups), arrays, weights)
    assert_close(out, expected, 1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


INT_CASES = ["3x3", "1x1-pointwise-groups", "stride-hw-pad-hw", "dilation-hw",
             "groups3-stride2", "depthwise-multiplier2"]


@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.uint8], ids=["int64", "int32", "uint8"])
@pytest.mark.parametrize("case", INT_CASES)
def test_conv2d_integers_are_exact(case, int_dtype, rng):
    """Beyond PyTorch: integer convolution in int64, exact."""
    n, c, h, w, o, kernel, stride, padding, dilation, groups = CONV_CASES[case]
    kh, kw = pairs(kernel)
    x = rng.integers(0, 100, (n, c, h, w)).astype(int_dtype)
    weight = rng.integers(-50, 50, (o, c // groups, kh, kw))
    bias = rng.integers(-1000, 1000, o)
    out = conv2d(x, weight, bias, stride, padding, dilation, groups)
    assert out.dtype == cnnlab.int64
    reference = conv2d_reference(x, weight, bias, pairs(stride), per_side(padding),
                                 pairs(dilation), groups)
    np.testing.assert_array_equal(out.numpy(), reference)
    through_torch = TF.conv2d(*(torch.tensor(a, dtype=torch.float64) for a in (x, weight, bias)),
                              stride, padding, dilation, groups)
    np.testing.assert_array_equal(out.numpy(), np.rint(through_torch.numpy()).astype(np.int64))


def test_conv2d_integers_beyond_float_precision():
    """Sums past 2**53 stay exact, which float64 cannot do."""
    big = 2 ** 40
    x = np.full((1, 1, 3, 3), big, dtype=np.int64)
    x[0, 0, 0, 0] += 1
    out = conv2d(x, np.full((1, 1, 3, 3), 2 ** 10, dtype=np.int64))
    assert int(out.numpy()[0, 0, 0, 0]) == (9 * big + 1) * 2 ** 10


# ---------------------------------------------------------- padding forms


PADDING_FORMS = {
    "int": 2,
    "pair": (1, 2),
    "per-side": ((0, 2), (3, 1)),
    "per-side-top-only": ((2, 0), (0, 0)),
    "valid": "valid",
    "same": "same",
}


@pytest.mark.parametrize("stride", [1, (2, 3)], ids=["stride1", "stride2x3"])
@pytest.mark.parametrize("form", list(PADDING_FORMS))
def test_padding_forms_match_torch_explicit_padding(form, stride, rng):
    padding = PADDING_FORMS[form]
    kernel, dilation = (3, 2), (1, 2)
    arrays = random_conv(rng, 2, 3, 7, 8, 2, kernel, 1)
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    elif padding == "same":
        pads = tf_same_padding((7, 8), kernel, pairs(stride), dilation)
    else:
        pads = per_side(padding)
    out, grads, weights = run_with_grads(
        lambda x, w, b: conv2d(x, w, b, stride, padding, dilation), arrays, rng)
    expected, expected_grads = torch_grads(
        lambda x, w, b: torch_conv2d(x, w, b, stride, pads, dilation, 1), arrays, weights)
    assert_close(out, expected, 1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


def tf_same_padding(input_size, kernel_size, stride, dilation):
    """TensorFlow's SAME, written out independently of cnnlab.shapes."""
    pads = []
    for n, k, s, d in zip(input_size, kernel_size, stride, dilation):
        out = math.ceil(n / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


@pytest.mark.parametrize("size,kernel,stride,dilation", [
    (7, 3, 2, 1), (8, 3, 2, 1), (8, 2, 2, 1), (9, 4, 3, 1), (5, 3, 3, 2), (10, 1, 4, 1),
    (6, 5, 1, 2), (4, 6, 2, 1), (1, 3, 2, 1),
], ids=lambda v: str(v))
def test_same_padding_with_stride(size, kernel, stride, dilation, rng):
    """Beyond PyTorch: 'same' with stride > 1 gives ceil(in / stride), TF's padding."""
    x, w, _ = random_conv(rng, 1, 2, size, size + 1, 3, kernel, 1)
    out = conv2d(x, w, stride=stride, padding="same", dilation=dilation)
    assert out.shape[2:] == (math.ceil(size / stride), math.ceil((size + 1) / stride))
    pads = tf_same_padding((size, size + 1), (kernel, kernel), (stride, stride),
                           (dilation, dilation))
    expected = torch_conv2d(torch.tensor(x), torch.tensor(w), None, stride, pads, dilation, 1)
    assert_close(out.numpy(), expected.numpy(), 1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel,dilation", [(3, 1), (4, 1), ((2, 5), 1), (3, 2), ((2, 3), (3, 2))],
                         ids=["k3", "k4-even", "k2x5", "k3-d2", "k2x3-d3x2"])
def test_same_padding_stride1_matches_torch_same(kernel, dilation, rng):
    x, w, b = random_conv(rng, 2, 2, 6, 7, 3, kernel, 1)
    out = conv2d(x, w, b, padding="same", dilation=dilation)
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding="same",
                         dilation=dilation)
    assert_close(out.numpy(), expected.numpy(), 1e-12)


# ------------------------------------------------------------- padding modes


@pytest.mark.parametrize("padding", [1, ((2, 0), (1, 3)), ((0, 1), (2, 2))],
                         ids=["1", "2-0-1-3", "0-1-2-2"])
@pytest.mark.parametrize("mode", MODES)
def test_padding_mode_matches_torch(mode, padding, rng):
    stride, dilation, groups = (2, 1), (1, 2), 2
    arrays = random_conv(rng, 2, 4, 6, 7, 4, 3, groups)
    out, grads, weights = run_with_grads(
        lambda x, w, b: conv2d(x, w, b, stride, padding, dilation, groups, mode), arrays, rng)
    expected, expected_grads = torch_grads(
        lambda x, w, b: torch_conv2d(x, w, b, stride, padding, dilation, groups, mode),
        arrays, weights)
    assert_close(out, expected, 1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


@pytest.mark.parametrize("mode", MODES)
def test_padding_mode_matches_nn_conv2d(mode, rng):
    x, w, b = random_conv(rng, 2, 3, 6, 6, 4, 3, 1)
    layer = torch.nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w))
        layer.bias.copy_(torch.tensor(b))
        expected = layer(torch.tensor(x)).numpy()
    assert_close(conv2d(x, w, b, padding=2, padding_mode=mode).numpy(), expected, 1e-12)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_beyond_input_size(mode, rng):
    """Beyond PyTorch: padding may exceed the input (reflects/wraps again, like np.pad)."""
    x = rng.integers(-9, 9, (1, 2, 3, 2))
    w = rng.integers(-9, 9, (2, 2, 2, 3))
    padding = ((4, 3), (5, 2))
    out = conv2d(x, w, padding=padding, padding_mode=mode)
    np.testing.assert_array_equal(
        out.numpy(), conv2d_reference(x, w, padding=padding, padding_mode=mode))


# --------------------------------------------------------- inputs and shapes


def test_unbatched_and_array_like_inputs(rng):
    x, w, b = random_conv(rng, 1, 3, 5, 6, 2, 3, 1)
    batched = conv2d(x, w, b, padding=1).numpy()
    for source in (x[0], cnnlab.tensor(x[0])):
        out = conv2d(source, cnnlab.tensor(w), b, padding=1)
        assert tuple(out.shape) == (2, 5, 6)
        assert_close(out.numpy(), batched[0], 1e-12)
    from_lists = conv2d(x[0].tolist(), w.tolist(), b.tolist(), padding=1)  # float32, as torch
    assert from_lists.dtype == cnnlab.float32 and tuple(from_lists.shape) == (2, 5, 6)
    assert_close(from_lists.numpy(), batched[0], 1e-5)
    expected = TF.conv2d(torch.tensor(x[0]), torch.tensor(w), torch.tensor(b), padding=1)
    assert_close(conv2d(x[0], w, b, padding=1).numpy(), expected.numpy(), 1e-12)


def test_unbatched_gradients(rng):
    x, w, b = random_conv(rng, 1, 2, 4, 5, 3, 2, 1)
    out, grads, weights = run_with_grads(lambda x, w, b: conv2d(x, w, b, 2, 1), (x[0], w, b), rng)
    expected, expected_grads = torch_grads(lambda x, w, b: TF.conv2d(x, w, b, 2, 1),
                                           (x[0], w, b), weights)
    assert out.shape == (3, 3, 3)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


def test_only_requested_gradients_are_computed(rng):
    x, w, b = random_conv(rng, 2, 2, 4, 4, 2, 3, 1)
    x_leaf = cnnlab.tensor(x)
    w_leaf = cnnlab.tensor(w, requires_grad=True)
    out = conv2d(x_leaf, w_leaf, b, padding=1)
    assert "Convolution" in repr(out.grad_fn)
    out.sum().backward()
    assert x_leaf.grad is None
    expected_w = torch.tensor(w, requires_grad=True)
    TF.conv2d(torch.tensor(x), expected_w, torch.tensor(b), padding=1).sum().backward()
    assert_close(w_leaf.grad.numpy(), expected_w.grad.numpy(), GRAD_RTOL)
    without_grad = conv2d(x, w, b, padding=1)
    assert not without_grad.requires_grad
    assert_close(without_grad.numpy(), out.detach().numpy(), 0)


def test_finite_differences():
    rng = np.random.default_rng(3)
    x, w, b = random_conv(rng, 1, 2, 4, 5, 2, (2, 3), 1)
    args = dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2), padding_mode="reflect")
    weights = rng.standard_normal(conv2d(x, w, b, **args).shape)

    def loss(x, w, b):
        return float((conv2d(x, w, b, **args).numpy() * weights).sum())

    leaves = [cnnlab.tensor(a, requires_grad=True) for a in (x, w, b)]
    (conv2d(*leaves, **args) * cnnlab.tensor(weights)).sum().backward()
    arrays = [x, w, b]
    eps = 1e-6
    for k, leaf in enumerate(leaves):
        numeric = np.zeros_like(arrays[k])
        for index in np.ndindex(arrays[k].shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[k][index] += eps
            minus[k][index] -= eps
            numeric[index] = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(leaf.grad.numpy(), numeric, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ chunking


@pytest.fixture
def chunk_spy(monkeypatch):
    """Record the chunks every kernel call asks for."""
    seen = []
    original = window.batch_chunks

    def spy(n, bytes_per_item):
        chunks = list(original(n, bytes_per_item))
        seen.append((bytes_per_item, chunks))
        return iter(chunks)
    monkeypatch.setattr(window, "batch_chunks", spy)
    return seen


@pytest.mark.parametrize("items_per_chunk", [1, 2], ids=["1-per-chunk", "2-per-chunk"])
@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_chunked_batch_gives_the_same_result(items_per_chunk, mode, chunk_spy, monkeypatch, rng):
    args = dict(stride=(2, 1), padding=((1, 2), (0, 1)), dilation=(1, 2), groups=2,
                padding_mode=mode)
    arrays = random_conv(rng, 5, 4, 6, 7, 4, 3, 2)
    whole, whole_grads, weights = run_with_grads(lambda x, w, b: conv2d(x, w, b, **args),
                                                 arrays, rng)
    bytes_per_item = chunk_spy[0][0]
    assert len(chunk_spy[0][1]) == 1
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", bytes_per_item * items_per_chunk)
    chunk_spy.clear()
    leaves = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    out = conv2d(*leaves, **args)
    (out * cnnlab.tensor(weights)).sum().backward()
    assert [len(chunks) for _, chunks in chunk_spy] == [math.ceil(5 / items_per_chunk)] * 2
    assert_close(out.detach().numpy(), whole, 1e-12)
    for leaf, grad in zip(leaves, whole_grads):
        assert_close(leaf.grad.numpy(), grad, 1e-12)


def test_chunked_forward_does_not_keep_columns(monkeypatch, rng):
    x, w, b = random_conv(rng, 3, 2, 5, 5, 2, 3, 1)
    _, cache = conv_kernels.conv_forward(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert cache.cols is not None
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", 1)
    _, cache = conv_kernels.conv_forward(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert cache.cols is None


def test_chunked_transposed_convolution(chunk_spy, monkeypatch, rng):
    x = rng.standard_normal((3, 4, 3, 4))
    w = rng.standard_normal((4, 3, 3, 2))
    whole = conv_transpose2d(x, w, stride=2, padding=1, groups=2).numpy()
    monkeypatch.setattr(window.CONFIG, "scratch_bytes", 1)
    chunk_spy.clear()
    chunked = conv_transpose2d(x, w, stride=2, padding=1, groups=2).numpy()
    assert len(chunk_spy[0][1]) == 3
    assert_close(chunked, whole, 1e-12)


# ---------------------------------------------------------------- hypothesis


@st.composite
def conv_configs(draw):
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    padding = ((draw(st.integers(0, 3)), draw(st.integers(0, 3))),
               (draw(st.integers(0, 3)), draw(st.integers(0, 3))))
    mode = draw(st.sampled_from(MODES))
    for n, (lo, hi), k, d in zip(size, padding, kernel, dilation):
        assume(n + lo + hi >= d * (k - 1) + 1)
        if mode == "reflect":
            assume(max(lo, hi) < n)
        if mode == "circular":
            assume(max(lo, hi) <= n)
    batch = draw(st.integers(1, 2))
    return batch, channels, size, out_channels, kernel, stride, padding, dilation, groups, mode


@settings(max_examples=60, deadline=None)
@given(conv_configs(), st.integers(0, 2 ** 32 - 1))
def test_conv2d_hypothesis_matches_torch(config, seed):
    batch, channels, size, out_channels, kernel, stride, padding, dilation, groups, mode = config
    rng = np.random.default_rng(seed)
    arrays = random_conv(rng, batch, channels, *size, out_channels, kernel, groups)
    out, grads, weights = run_with_grads(
        lambda x, w, b: conv2d(x, w, b, stride, padding, dilation, groups, mode), arrays, rng)
    expected, expected_grads = torch_grads(
        lambda x, w, b: torch_conv2d(x, w, b, stride, padding, dilation, groups, mode),
        arrays, weights)
    assert_close(out, expected, 1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


# -------------------------------------------------------------------- errors


X = np.zeros((1, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))

CONV_ERRORS = {
    "input-2d": (lambda: conv2d(np.zeros((5, 5)), W), ValueError,
                 r"conv2d: input must be 3-D \(C, H, W\) or 4-D \(N, C, H, W\), got shape \(5, 5\)"),
    "weight-3d": (lambda: conv2d(X, np.zeros((4, 3, 3))), ValueError,
                  r"conv2d: weight must be 4-D, got shape \(4, 3, 3\)"),
    "channels": (lambda: conv2d(X, np.zeros((4, 2, 3, 3)), groups=2), ValueError,
                 r"conv2d: input has 3 channels, but weight of shape \(4, 2, 3, 3\) with "
                 r"groups=2 expects weight.shape\[1\] \* groups = 2 \* 2 = 4 channels"),
    "out-channels-groups": (lambda: conv2d(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2),
                            ValueError, r"conv2d: out_channels \(weight.shape\[0\] = 3\) must be "
                                        r"divisible by groups = 2"),
    "bias-shape": (lambda: conv2d(X, W, np.zeros(3)), ValueError,
                   r"conv2d: bias must have shape \(4,\) .*got shape \(3,\)"),
    "groups-zero": (lambda: conv2d(X, W, groups=0), ValueError, r"conv2d: groups must be >= 1, got 0"),
    "groups-float": (lambda: conv2d(X, W, groups=1.5), TypeError,
                     r"conv2d: groups must be an int >= 1, got 1.5"),
    "groups-bool": (lambda: conv2d(X, W, groups=True), TypeError, r"conv2d: groups must be an int"),
    "kernel-too-large": (lambda: conv2d(np.zeros((1, 3, 2, 9)), W), ValueError,
                         r"conv2d: kernel size \(3, 3\) with dilation \(1, 1\) spans 3 along the "
                         r"height, larger than the padded input 2 \+ 0 \+ 0 = 2.*"
                         r"out_height = floor\("),
    "dilated-too-large": (lambda: conv2d(X, W, dilation=(1, 3)), ValueError,
                          r"spans 7 along the width, larger than the padded input 5 \+ 0 \+ 0 = 5"),
    "float-dtypes": (lambda: conv2d(X.astype(np.float32), W), TypeError,
                     r"conv2d: input dtype .*float32.* and weight dtype .*float64.* differ"),
    "int-and-float": (lambda: conv2d(X.astype(np.int64), W), TypeError,
                      r"conv2d: input dtype .*int64.* and weight dtype .*float64.* differ"),
    "bias-dtype": (lambda: conv2d(X, W, np.zeros(4, np.float32)), TypeError,
                   r"conv2d: input dtype .* and bias dtype .* differ"),
    "padding-mode": (lambda: conv2d(X, W, padding_mode="mirror"), ValueError,
                     r"conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', "
                     r"'circular'\), got 'mirror'"),
    "padding-negative": (lambda: conv2d(X, W, padding=-1), ValueError,
                         r"conv2d: padding must be non-negative, got -1"),
    "padding-string": (lambda: conv2d(X, W, padding="full"), ValueError,
                       r"conv2d: padding string must be 'valid' or 'same', got 'full'"),
    "padding-type": (lambda: conv2d(X, W, padding=1.5), TypeError, r"conv2d: padding must be an int"),
    "stride-zero": (lambda: conv2d(X, W, stride=0), ValueError, r"conv2d: stride must be >= 1, got 0"),
    "stride-triple": (lambda: conv2d(X, W, stride=(1, 1, 1)), TypeError,
                      r"conv2d: stride must be an int or a pair of ints"),
    "dilation-zero": (lambda: conv2d(X, W, dilation=(1, 0)), ValueError,
                      r"conv2d: dilation must be >= 1"),
    "reflect-empty": (lambda: conv2d(np.zeros((1, 3, 0, 5)), W, padding=2, padding_mode="reflect"),
                      ValueError, r"conv2d: padding_mode='reflect' cannot pad an empty input"),
}


@pytest.mark.parametrize("case", list(CONV_ERRORS))
def test_conv2d_errors(case):
    call, error, message = CONV_ERRORS[case]
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------ conv_transpose2d

# id: (N, Cin, H, W, Cout/groups, kernel, stride, padding, output_padding, groups, dilation)
TRANSPOSE_CASES = {
    "basic": (2, 3, 4, 5, 2, 3, 1, 0, 0, 1, 1),
    "stride2-pad1-outpad1": (2, 3, 4, 4, 2, 3, 2, 1, 1, 1, 1),
    "hw-arguments": (1, 2, 3, 4, 3, (2, 3), (2, 3), (1, 0), (1, 2), 1, 1),
    "outpad-below-dilation": (1, 2, 3, 3, 2, 3, 1, 0, 1, 1, 2),
    "dilation-stride": (2, 2, 3, 4, 2, (3, 2), 2, (2, 1), 0, 1, (2, 3)),
    "groups2": (2, 4, 3, 3, 3, 3, 2, 1, 0, 2, 1),
    "depthwise": (2, 3, 4, 4, 1, 3, 2, 1, 1, 3, 1),
    "1x1": (2, 4, 3, 3, 2, 1, 1, 0, 0, 2, 1),
    "1x1-stride2": (2, 4, 3, 3, 2, 1, 2, 0, 1, 1, 1),
    "large-crop": (1, 2, 5, 5, 2, 3, 2, 2, 0, 1, 1),
    "kernel-smaller-than-stride": (2, 2, 3, 3, 2, 2, 3, 0, 2, 1, 1),
}
TRANSPOSE_IDS = list(TRANSPOSE_CASES)


def random_transposed(rng, case, dtype=np.float64):
    n, cin, h, w, group_out, kernel, stride, padding, output_padding, groups, dilation = case
    kh, kw = pairs(kernel)
    x = rng.standard_normal((n, cin, h, w)).astype(dtype)
    weight = rng.standard_normal((cin, group_out, kh, kw)).astype(dtype)
    bias = rng.standard_normal(group_out * groups).astype(dtype)
    return (x, weight, bias), (stride, padding, output_padding, groups, dilation)


def test_conv_transpose2d_reference_matches_torch(rng):
    for case in ("hw-arguments", "dilation-stride", "groups2", "outpad-below-dilation"):
        (x, w, b), (stride, padding, output_padding, groups, dilation) = random_transposed(
            rng, TRANSPOSE_CASES[case])
        expected = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride,
                                       padding, output_padding, groups, dilation).numpy()
        ours = conv_transpose2d_reference(x, w, b, pairs(stride), per_side(padding),
                                          pairs(output_padding), groups, pairs(dilation))
        assert_close(ours, expected, 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", TRANSPOSE_IDS)
def test_conv_transpose2d_forward_matches_torch(case, dtype, rng):
    arrays, args = random_transposed(rng, TRANSPOSE_CASES[case], dtype)
    out = conv_transpose2d(*arrays, *args)
    expected = TF.conv_transpose2d(*(torch.tensor(a) for a in arrays), *args)
    assert_close(out.numpy(), expected.numpy(), FORWARD_RTOL[dtype])


@pytest.mark.parametrize("case", TRANSPOSE_IDS)
def test_conv_transpose2d_grads_match_torch(case, rng):
    arrays, args = random_transposed(rng, TRANSPOSE_CASES[case])
    out, grads, weights = run_with_grads(lambda x, w, b: conv_transpose2d(x, w, b, *args),
                                         arrays, rng)
    expected, expected_grads = torch_grads(
        lambda x, w, b: TF.conv_transpose2d(x, w, b, *args), arrays, weights)
    assert_close(out, expected, 1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


@pytest.mark.parametrize("case", ["hw-arguments", "groups2", "dilation-stride"])
def test_conv_transpose2d_integers_are_exact(case, rng):
    _, _, h, w, group_out, kernel, stride, padding, output_padding, groups, dilation = \
        TRANSPOSE_CASES[case]
    cin = TRANSPOSE_CASES[case][1]
    kh, kw = pairs(kernel)
    x = rng.integers(-20, 20, (2, cin, h, w))
    weight = rng.integers(-20, 20, (cin, group_out, kh, kw)).astype(np.int32)
    out = conv_transpose2d(x, weight, None, stride, padding, output_padding, groups, dilation)
    assert out.dtype == cnnlab.int64
    expected = conv_transpose2d_reference(x, weight, None, pairs(stride), per_side(padding),
                                          pairs(output_padding), groups, pairs(dilation))
    np.testing.assert_array_equal(out.numpy(), expected)


def test_conv_transpose2d_per_side_padding_crops_the_full_output(rng):
    """Beyond PyTorch: per-side crops; equals torch's full output, cropped."""
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 2))
    padding = ((2, 0), (1, 3))
    out = conv_transpose2d(x, w, stride=(2, 3), padding=padding, output_padding=(1, 0))
    full = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=(2, 3),
                               output_padding=(1, 0)).numpy()
    assert_close(out.numpy(), full[:, :, 2:, 1:-3], 1e-12)


@pytest.mark.parametrize("kernel,stride,dilation", [
    (3, 2, 1), (4, 2, 1), (1, 3, 1), (2, 3, 1), (3, 1, 1), (3, (2, 3), 2), (5, 4, 1),
], ids=lambda v: str(v))
def test_conv_transpose2d_same_is_the_adjoint_of_conv2d_same(kernel, stride, dilation, rng):
    """'same': out = in * stride, and <conv2d_same(u), v> == <u, conv_transpose2d_same(v)>."""
    v = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((3, 2) + pairs(kernel))
    out = conv_transpose2d(v, w, stride=stride, padding="same", dilation=dilation)
    sh, sw = pairs(stride)
    assert out.shape == (2, 2, 4 * sh, 5 * sw)
    u = rng.standard_normal(out.shape)
    forward = conv2d(u, w, stride=stride, padding="same", dilation=dilation)
    assert forward.shape == v.shape
    np.testing.assert_allclose((forward.numpy() * v).sum(), (u * out.numpy()).sum(), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2), st.integers(0, 2 ** 32 - 1),
       st.tuples(*[st.integers(1, 3)] * 6), st.tuples(*[st.integers(0, 2)] * 4),
       st.tuples(st.integers(1, 5), st.integers(1, 5)))
def test_conv_transpose2d_hypothesis_matches_torch(groups, in_per_group, out_per_group, seed,
                                                   kernel_stride_dilation, pad_extra, size):
    kh, kw, sh, sw, dh, dw = kernel_stride_dilation
    ph, pw, eh, ew = pad_extra
    assume(eh < max(sh, dh) and ew < max(sw, dw))
    for n, k, s, p, d, e in ((size[0], kh, sh, ph, dh, eh), (size[1], kw, sw, pw, dw, ew)):
        assume((n - 1) * s - 2 * p + d * (k - 1) + e + 1 >= 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, groups * in_per_group) + size)
    w = rng.standard_normal((groups * in_per_group, out_per_group, kh, kw))
    b = rng.standard_normal(groups * out_per_group)
    args = ((sh, sw), (ph, pw), (eh, ew), groups, (dh, dw))
    out, grads, weights = run_with_grads(lambda x, w, b: conv_transpose2d(x, w, b, *args),
                                         (x, w, b), rng)
    expected, expected_grads = torch_grads(lambda x, w, b: TF.conv_transpose2d(x, w, b, *args),
                                           (x, w, b), weights)
    assert_close(out, expected, 1e-12)
    for grad, expected_grad in zip(grads, expected_grads):
        assert_close(grad, expected_grad, GRAD_RTOL)


TRANSPOSE_ERRORS = {
    "input-5d": (lambda: conv_transpose2d(np.zeros((1, 1, 3, 3, 3)), np.zeros((1, 1, 2, 2))),
                 ValueError, r"conv_transpose2d: input must be 3-D"),
    "weight-channels": (lambda: conv_transpose2d(np.zeros((1, 3, 3, 3)), np.zeros((2, 1, 2, 2))),
                        ValueError, r"conv_transpose2d: input has 3 channels, but weight of shape "
                                    r"\(2, 1, 2, 2\) expects weight.shape\[0\] = 2"),
    "groups": (lambda: conv_transpose2d(np.zeros((1, 3, 3, 3)), np.zeros((3, 1, 2, 2)), groups=2),
               ValueError, r"conv_transpose2d: in_channels \(3\) must be divisible by groups = 2"),
    "bias": (lambda: conv_transpose2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 3, 2, 2)), np.zeros(2),
                                      groups=2),
             ValueError, r"conv_transpose2d: bias must have shape \(6,\)"),
    "output-padding": (lambda: conv_transpose2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)),
                                                stride=2, output_padding=(0, 2)),
                       ValueError, r"conv_transpose2d: output_padding must be smaller than either "
                                   r"stride or dilation, got output_padding \(0, 2\), stride "
                                   r"\(2, 2\), dilation \(1, 1\) \(fails along the width\)"),
    "same-with-output-padding": (lambda: conv_transpose2d(np.zeros((1, 1, 3, 3)),
                                                          np.zeros((1, 1, 2, 2)), stride=2,
                                                          padding="same", output_padding=1),
                                 ValueError, r"conv_transpose2d: padding='same' chooses the output "
                                             r"padding itself; output_padding must be 0"),
    "empty-output": (lambda: conv_transpose2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)),
                                              padding=(2, 0)),
                     ValueError, r"conv_transpose2d: the output height would be -1: .* = \(2 - 1\)"
                                 r"\*1 - 2 - 2 \+ 1\*\(2-1\) \+ 0 \+ 1 = -1"),
    "dtype": (lambda: conv_transpose2d(np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2))),
              TypeError, r"conv_transpose2d: input dtype .* and weight dtype .* differ"),
    "negative-output-padding": (lambda: conv_transpose2d(np.zeros((1, 1, 2, 2)),
                                                         np.zeros((1, 1, 2, 2)), output_padding=-1),
                                ValueError, r"conv_transpose2d: output_padding must be >= 0"),
}


@pytest.mark.parametrize("case", list(TRANSPOSE_ERRORS))
def test_conv_transpose2d_errors(case):
    call, error, message = TRANSPOSE_ERRORS[case]
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------ unfold / fold

# id: (N, C, H, W, kernel, dilation, padding, stride)
UNFOLD_CASES = {
    "2x2": (2, 3, 4, 5, 2, 1, 0, 1),
    "3x3-pad1": (2, 2, 5, 5, 3, 1, 1, 1),
    "stride2": (1, 3, 6, 7, 3, 1, 1, 2),
    "rect-all": (2, 2, 7, 8, (2, 3), (2, 1), (1, 2), (2, 3)),
    "1x1": (2, 4, 3, 3, 1, 1, 0, 1),
    "dilated": (1, 2, 9, 9, 3, 3, 0, 2),
}
UNFOLD_IDS = list(UNFOLD_CASES)


@pytest.mark.parametrize("case", UNFOLD_IDS)
def test_unfold_matches_torch(case, rng):
    n, c, h, w, kernel, dilation, padding, stride = UNFOLD_CASES[case]
    x = rng.standard_normal((n, c, h, w))
    out, (grad,), weights = run_with_grads(lambda x: unfold(x, kernel, dilation, padding, stride),
                                           [x], rng)
    expected, (expected_grad,) = torch_grads(lambda x: TF.unfold(x, kernel, dilation, padding, stride),
                                             [x], weights)
    assert_close(out, expected, 0)
    assert_close(grad, expected_grad, GRAD_RTOL)


@pytest.mark.parametrize("case", UNFOLD_IDS)
def test_fold_matches_torch(case, rng):
    n, c, h, w, kernel, dilation, padding, stride = UNFOLD_CASES[case]
    blocks = TF.unfold(torch.zeros(n, c, h, w), kernel, dilation, padding, stride).shape
    cols = rng.standard_normal(tuple(blocks))
    out, (grad,), weights = run_with_grads(
        lambda cols: fold(cols, (h, w), kernel, dilation, padding, stride), [cols], rng)
    expected, (expected_grad,) = torch_grads(
        lambda cols: TF.fold(cols, (h, w), kernel, dilation, padding, stride), [cols], weights)
    assert_close(out, expected, 1e-12)
    assert_close(grad, expected_grad, GRAD_RTOL)


def test_unfold_fold_unbatched_and_integer(rng):
    x = rng.integers(-9, 9, (2, 4, 5))
    cols = unfold(x, 2, padding=1)
    expected = TF.unfold(torch.tensor(x, dtype=torch.float64), 2, padding=1).numpy()
    assert cols.dtype == cnnlab.int64 and cols.shape == expected.shape
    np.testing.assert_array_equal(cols.numpy(), expected)
    image = fold(cols, (4, 5), 2, padding=1)
    expected = TF.fold(torch.tensor(expected), (4, 5), 2, padding=1).numpy()
    np.testing.assert_array_equal(image.numpy(), expected)


def test_unfold_per_side_padding_and_conv_identity(rng):
    """Beyond PyTorch: per-side padding; and conv2d == weight @ unfold."""
    x, w, _ = random_conv(rng, 2, 3, 5, 6, 4, (2, 3), 1)
    padding = ((1, 0), (2, 1))
    cols = unfold(x, (2, 3), padding=padding, stride=(2, 1))
    expected = TF.unfold(TF.pad(torch.tensor(x), (2, 1, 1, 0)), (2, 3), stride=(2, 1)).numpy()
    assert_close(cols.numpy(), expected, 0)
    conv = conv2d(x, w, padding=padding, stride=(2, 1)).numpy()
    assert_close((w.reshape(4, -1) @ cols.numpy()).reshape(conv.shape), conv, 1e-12)


UNFOLD_ERRORS = {
    "unfold-2d": (lambda: unfold(np.zeros((3, 3)), 2), ValueError, r"unfold: input must be 3-D"),
    "unfold-kernel": (lambda: unfold(np.zeros((1, 1, 3, 3)), 4), ValueError,
                      r"unfold: kernel size \(4, 4\) with dilation \(1, 1\) spans 4 along the height"),
    "unfold-kernel-type": (lambda: unfold(np.zeros((1, 1, 3, 3)), 2.0), TypeError,
                           r"unfold: kernel_size must be an int or a pair of ints"),
    "fold-4d": (lambda: fold(np.zeros((1, 4, 4, 1)), 3, 2), ValueError,
                r"fold: input must be 2-D \(C \* kh \* kw, L\) or 3-D \(N, C \* kh \* kw, L\)"),
    "fold-rows": (lambda: fold(np.zeros((1, 6, 4)), 3, 2), ValueError,
                  r"fold: input.shape\[-2\] = 6 must be divisible by the product of kernel_size "
                  r"\(2, 2\) = 4"),
    "fold-blocks": (lambda: fold(np.zeros((1, 4, 5)), 3, 2), ValueError,
                    r"fold: input.shape\[-1\] = 5 must equal the number of sliding blocks 2 \* 2 "
                    r"= 4 for output_size \(3, 3\)"),
    "fold-kernel": (lambda: fold(np.zeros((1, 16, 1)), 3, 4), ValueError,
                    r"fold: kernel size \(4, 4\) with dilation \(1, 1\) spans 4"),
}


@pytest.mark.parametrize("case", list(UNFOLD_ERRORS))
def test_unfold_fold_errors(case):
    call, error, message = UNFOLD_ERRORS[case]
    with pytest.raises(error, match=message):
        call()

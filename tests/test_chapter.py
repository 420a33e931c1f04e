"""The D2L chapter's helpers: the seed notebook's printed output, torch, and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab.chapter import (corr2d, corr2d_multi_in, corr2d_multi_in_out,
                            corr2d_multi_in_out_1x1, pool2d)

# ----------------------------------------------- the notebook's loops, in torch


def seed_corr2d(X, K):
    h, w = K.shape
    out = torch.zeros(X.size()[0] - h + 1, X.size()[1] - w + 1, dtype=torch.float64)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return out


def seed_corr2d_multi_in(X, K):
    return sum(seed_corr2d(x, k) for x, k in zip(X, K))


def seed_corr2d_multi_in_out(X, K):
    return torch.stack([seed_corr2d_multi_in(X, k) for k in K])


def seed_pool2d(X, pool_size, mode="max"):
    X = X.double()  # the notebook has X.float(); float64 for the comparisons here
    p_h, p_w = pool_size
    Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1, dtype=torch.float64)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i:i + p_h, j:j + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def test_the_loops_agree_with_torch_conv_and_pool(rng):
    X = torch.tensor(rng.standard_normal((3, 6, 5)))
    K = torch.tensor(rng.standard_normal((2, 3, 2, 3)))
    torch.testing.assert_close(seed_corr2d_multi_in_out(X, K), TF.conv2d(X, K),
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(seed_pool2d(X[0], (2, 3)), TF.max_pool2d(X[:1], (2, 3), 1)[0])
    torch.testing.assert_close(seed_pool2d(X[0], (3, 2), "avg"), TF.avg_pool2d(X[:1], (3, 2), 1)[0])


# ---------------------------------------------------- the notebook's printed output

X_SEED = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
X_TWO_CHANNELS = [[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]
K_TWO_CHANNELS = [[[0, 1], [2, 3]], [[1, 2], [3, 4]]]


def test_corr2d_prints_as_the_notebook():
    X = cnnlab.tensor(X_SEED)
    K = cnnlab.tensor([[0, 1], [1, 0]])
    assert repr(corr2d(X, K)) == "tensor([[ 4.,  6.],\n        [10., 12.]])"


def test_corr2d_multi_in_prints_as_the_notebook_and_prints_nothing_itself(capsys):
    out = corr2d_multi_in(cnnlab.tensor(X_TWO_CHANNELS), cnnlab.tensor(K_TWO_CHANNELS))
    assert repr(out) == "tensor([[ 56.,  72.],\n        [104., 120.]])"
    assert capsys.readouterr().out == ""


def test_corr2d_multi_in_out_prints_as_the_notebook():
    K = cnnlab.tensor(K_TWO_CHANNELS)
    K = cnnlab.stack([K, K + 1, K + 2])
    assert repr(K.shape) == "cnnlab.Size([3, 2, 2, 2])"
    out = corr2d_multi_in_out(cnnlab.tensor(X_TWO_CHANNELS), K)
    assert repr(out) == ("tensor([[[ 56.,  72.],\n"
                         "         [104., 120.]],\n"
                         "\n"
                         "        [[ 76., 100.],\n"
                         "         [148., 172.]],\n"
                         "\n"
                         "        [[ 96., 128.],\n"
                         "         [192., 224.]]])")


def test_pool2d_prints_as_the_notebook():
    X = cnnlab.tensor(X_SEED)
    assert repr(pool2d(X, (2, 2))) == "tensor([[4., 5.],\n        [7., 8.]])"
    assert repr(pool2d(X, (2, 2), "avg")) == "tensor([[2., 3.],\n        [5., 6.]])"
    X = cnnlab.arange(16, dtype=cnnlab.float).view((1, 1, 4, 4))
    assert repr(pool2d(X.view(-1, 4), (2, 2))) == ("tensor([[ 5.,  6.,  7.],\n"
                                                   "        [ 9., 10., 11.],\n"
                                                   "        [13., 14., 15.]])")


def test_edge_detection_of_the_notebook():
    image = cnnlab.ones(6, 8)
    image[:, 2:6] = 0
    Y = corr2d(image, cnnlab.tensor([[1.0, -1]]))
    expected = [[0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]] * 6
    assert Y.dtype == cnnlab.float32
    assert Y.tolist() == expected


def learn_edge_kernel(lib, corr):
    """The notebook's training loop: learn K = [[1, -1]] from the edge image."""
    image = lib.ones(6, 8)
    image[:, 2:6] = 0
    Y = corr(image, lib.tensor([[1.0, -1]]))
    weight = lib.tensor([[0.5, 0.2]], requires_grad=True)
    bias = lib.tensor([0.1], requires_grad=True)
    losses = []
    for _ in range(30):
        loss = ((corr(image, weight) + bias - Y) ** 2).sum()
        loss.backward()
        weight.data -= 0.01 * weight.grad
        bias.data -= 0.01 * bias.grad
        weight.grad.fill_(0)
        bias.grad.fill_(0)
        losses.append(loss.item())
    return losses, weight.detach().numpy()


def test_the_notebook_learns_the_edge_kernel_through_corr2d():
    losses, weight = learn_edge_kernel(cnnlab, corr2d)
    expected_losses, expected_weight = learn_edge_kernel(
        torch, lambda X, K: TF.conv2d(X[None, None], K[None, None])[0, 0])
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-4)
    np.testing.assert_allclose(weight, expected_weight, rtol=1e-4)
    assert losses[-1] < losses[0] / 10


# ------------------------------------------------------------ against torch, float64


def check(ours_function, theirs_function, *arrays):
    """Same values and gradients (float64) from cnnlab and the torch reference."""
    ours = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours_function(*ours)
    expected = theirs_function(*theirs)
    assert out.dtype == cnnlab.float64
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    weights = np.random.default_rng(2).standard_normal(expected.shape)
    out.backward(weights)
    expected.backward(torch.tensor(weights))
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-8, atol=1e-12)


SHAPES = [((3, 3), (2, 2)), ((5, 7), (3, 2)), ((4, 4), (4, 4)), ((6, 2), (1, 2)), ((1, 5), (1, 1))]


@pytest.mark.parametrize("x_shape,k_shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_corr2d_matches_torch(x_shape, k_shape, rng):
    check(corr2d, lambda X, K: TF.conv2d(X[None, None], K[None, None])[0, 0],
          rng.standard_normal(x_shape), rng.standard_normal(k_shape))


@pytest.mark.parametrize("x_shape,k_shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("channels", [1, 3])
def test_corr2d_multi_in_matches_torch(x_shape, k_shape, channels, rng):
    check(corr2d_multi_in, lambda X, K: TF.conv2d(X, K[None])[0],
          rng.standard_normal((channels,) + x_shape), rng.standard_normal((channels,) + k_shape))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6),
       st.integers(1, 3), st.integers(1, 3))
def test_corr2d_multi_in_out_matches_torch(c_i, c_o, height, width, k_h, k_w):
    k_h, k_w = min(k_h, height), min(k_w, width)
    generator = np.random.default_rng(c_i * 100 + height * 10 + width)
    X = generator.standard_normal((c_i, height, width))
    K = generator.standard_normal((c_o, c_i, k_h, k_w))
    check(corr2d_multi_in_out, TF.conv2d, X, K)


@pytest.mark.parametrize("c_i,c_o,h,w", [(3, 2, 3, 3), (1, 4, 2, 5), (5, 1, 1, 1)])
def test_1x1_equals_corr2d_multi_in_out_and_torch(c_i, c_o, h, w, rng):
    X, K = rng.standard_normal((c_i, h, w)), rng.standard_normal((c_o, c_i, 1, 1))
    check(corr2d_multi_in_out_1x1, TF.conv2d, X, K)
    np.testing.assert_allclose(corr2d_multi_in_out_1x1(X, K).numpy(),
                               corr2d_multi_in_out(X, K).numpy(), rtol=1e-12, atol=1e-12)


def test_1x1_of_float32_like_the_book(rng):
    X = cnnlab.tensor(rng.standard_normal((3, 3, 3)).astype(np.float32))
    K = cnnlab.tensor(rng.standard_normal((2, 3, 1, 1)).astype(np.float32))
    Y1, Y2 = corr2d_multi_in_out_1x1(X, K), corr2d_multi_in_out(X, K)
    assert Y1.dtype == Y2.dtype == cnnlab.float32
    assert float(cnnlab.abs(Y1 - Y2).sum()) < 1e-5


@pytest.mark.parametrize("x_shape,size", [((3, 3), (2, 2)), ((5, 4), (2, 3)), ((4, 4), 3),
                                           ((2, 6), (2, 1))], ids=str)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_matches_torch(x_shape, size, mode, rng):
    pool = TF.max_pool2d if mode == "max" else TF.avg_pool2d
    check(lambda X: pool2d(X, size, mode), lambda X: pool(X[None], size, 1)[0],
          rng.standard_normal(x_shape))


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_matches_the_notebook_loop(mode, rng):
    X = rng.integers(0, 4, (5, 6))  # many ties for max
    expected = seed_pool2d(torch.tensor(X), (3, 2), mode)
    np.testing.assert_allclose(pool2d(X, (3, 2), mode).numpy(), expected.numpy(), rtol=1e-6)


# --------------------------------------------------------------------- dtypes


def test_integer_inputs_are_exact_then_float32(rng):
    X = rng.integers(-1000, 1000, (2, 7, 6))
    K = rng.integers(-1000, 1000, (3, 2, 3, 3))
    expected = seed_corr2d_multi_in_out(torch.tensor(X), torch.tensor(K)).numpy()
    out = corr2d_multi_in_out(X, K)
    assert out.dtype == cnnlab.float32
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.float32))
    assert corr2d(X[0], K[0, 0]).dtype == cnnlab.float32
    assert corr2d_multi_in(X, K[0]).dtype == cnnlab.float32
    assert corr2d_multi_in_out_1x1(X, K[:, :, :1, :1]).dtype == cnnlab.float32
    assert pool2d(X[0], 2).dtype == cnnlab.float32


@pytest.mark.parametrize("x_dtype,k_dtype,expected", [
    (np.float32, np.int64, cnnlab.float32), (np.int32, np.float64, cnnlab.float64),
    (np.float32, np.float64, cnnlab.float64), (np.float64, np.float64, cnnlab.float64),
])
def test_mixed_dtypes_promote(x_dtype, k_dtype, expected):
    X = np.arange(18).reshape(2, 3, 3).astype(x_dtype)
    K = np.ones((2, 2, 2, 2), dtype=k_dtype)
    assert corr2d(X[0], K[0, 0]).dtype == expected
    assert corr2d_multi_in(X, K[0]).dtype == expected
    assert corr2d_multi_in_out(X, K).dtype == expected
    assert corr2d_multi_in_out_1x1(X, K[:, :, :1, :1]).dtype == expected
    assert corr2d_multi_in_out(X, K).tolist() == seed_corr2d_multi_in_out(
        torch.tensor(X.astype(np.float64)), torch.tensor(K.astype(np.float64))).tolist()


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize("call,match", [
    (lambda: corr2d(np.ones((2, 3)), np.ones((3, 3))),
     r"corr2d: kernel size \(3, 3\) .* spans 3 along the height, larger than the padded input "
     r"2 \+ 0 \+ 0 = 2.*out_height = floor"),
    (lambda: corr2d(np.ones((2, 2, 3)), np.ones((2, 2))),
     r"corr2d: X must be 2-D \(height, width\), got shape \(2, 2, 3\)"),
    (lambda: corr2d(np.ones((3, 3)), np.ones(2)),
     r"corr2d: K must be 2-D \(k_h, k_w\), got shape \(2,\)"),
    (lambda: corr2d(np.ones((3, 3)), np.ones((0, 2))),
     r"corr2d: K must not be empty, got shape \(0, 2\)"),
    (lambda: corr2d_multi_in(np.ones((2, 3, 3)), np.ones((3, 2, 2))),
     r"corr2d_multi_in: X has 2 input channels but K has 3; K needs one kernel per input "
     r"channel: shape \(c_i, k_h, k_w\) with c_i = 2, got \(3, 2, 2\)"),
    (lambda: corr2d_multi_in(np.ones((3, 3)), np.ones((3, 2, 2))),
     r"corr2d_multi_in: X must be 3-D \(c_i, height, width\)"),
    (lambda: corr2d_multi_in(np.ones((1, 3, 3)), np.ones((1, 2, 4))),
     r"corr2d_multi_in: kernel size \(2, 4\) .* along the width"),
    (lambda: corr2d_multi_in_out(np.ones((2, 3, 3)), np.ones((2, 2, 2))),
     r"corr2d_multi_in_out: K must be 4-D \(c_o, c_i, k_h, k_w\), got shape \(2, 2, 2\)"),
    (lambda: corr2d_multi_in_out(np.ones((2, 3, 3)), np.ones((4, 3, 2, 2))),
     r"corr2d_multi_in_out: X has 2 input channels but K has 3"),
    (lambda: corr2d_multi_in_out_1x1(np.ones((2, 3, 3)), np.ones((4, 2, 2, 2))),
     r"corr2d_multi_in_out_1x1: K must hold 1x1 kernels, shape \(c_o, c_i, 1, 1\), got shape "
     r"\(4, 2, 2, 2\)"),
    (lambda: corr2d_multi_in_out_1x1(np.ones((2, 3, 3)), np.ones((4, 3, 1, 1))),
     r"corr2d_multi_in_out_1x1: X has 2 input channels but K has 3"),
    (lambda: pool2d(np.ones((3, 3)), (2, 2), "min"),
     r"pool2d: mode must be 'max' or 'avg', got 'min'"),
    (lambda: pool2d(np.ones((3, 3)), (4, 2)), r"pool2d: kernel size \(4, 2\) .* along the height"),
    (lambda: pool2d(np.ones((1, 3, 3)), 2), r"pool2d: X must be 2-D \(height, width\)"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("size", [0, (2, 0), -1])
def test_pool2d_rejects_empty_windows(size):
    with pytest.raises(ValueError, match=r"pool2d: pool_size must be >= 1"):
        pool2d(np.ones((3, 3)), size)


def test_pool2d_rejects_a_non_integer_size():
    with pytest.raises(TypeError, match=r"pool2d: pool_size must be an int or a pair of ints"):
        pool2d(np.ones((3, 3)), (2.0, 2))

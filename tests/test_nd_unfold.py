"""Tensor.unfold(dimension, size, step) against PyTorch: values, float64 gradients
(overlapping and gapped windows), 0-d and negative dimensions, errors."""

import numpy as np
import pytest
import torch

import cnnlab

RNG = np.random.default_rng(9)


@pytest.mark.parametrize("shape,dimension,size,step", [
    ((7,), 0, 3, 2), ((7,), 0, 3, 1), ((7,), 0, 2, 3), ((4, 6), 1, 2, 2), ((4, 6), -2, 3, 1),
    ((2, 5, 3), 1, 5, 1), ((2, 5, 3), 2, 1, 1), ((3, 4), 0, 0, 2), ((2, 3, 4), -1, 2, 5)],
    ids=str)
def test_tensor_unfold_matches_torch(shape, dimension, size, step):
    x = RNG.standard_normal(shape)
    ours, theirs = cnnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = ours.unfold(dimension, size, step)
    expected = theirs.unfold(dimension, size, step)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    g = RNG.standard_normal(tuple(expected.shape))
    out.backward(cnnlab.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_integer_and_zero_dimensional_input():
    x = np.arange(10)
    np.testing.assert_array_equal(cnnlab.tensor(x).unfold(0, 4, 3).numpy(),
                                  torch.tensor(x).unfold(0, 4, 3).numpy())
    scalar = cnnlab.tensor(5.0)
    assert scalar.unfold(0, 1, 1).tolist() == torch.tensor(5.0).unfold(0, 1, 1).tolist()


@pytest.mark.parametrize("call,error,message", [
    (lambda x: x.unfold(0, 5, 1), ValueError,
     r"unfold: size must lie in \[0, 4\] \(the length of dimension 0\), got 5"),
    (lambda x: x.unfold(1, 2, 0), ValueError, r"unfold: step must be >= 1, got 0"),
    (lambda x: x.unfold(2, 1, 1), IndexError,
     r"unfold: dimension 2 is out of range for a tensor of 2 dimensions \(expected \[-2, 1\]\)"),
    (lambda x: x.unfold(0, 1.5, 1), TypeError, r"unfold: size must be an int, got 1.5"),
], ids=lambda v: None)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(cnnlab.zeros(4, 3))

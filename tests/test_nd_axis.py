"""PyTorch's ``axis=`` alias of ``dim=`` in the reductions, functions and methods."""

import numpy as np
import pytest
import torch

import cnnlab

NAMES = ["sum", "mean", "var", "std", "amax", "amin", "argmax", "argmin", "cumsum"]


@pytest.mark.parametrize("name", NAMES)
def test_axis_is_dim(name):
    x = np.random.default_rng(0).standard_normal((3, 4))
    ours = getattr(cnnlab.tensor(x), name)(axis=1) if hasattr(cnnlab.Tensor, name) else \
        getattr(cnnlab.ops, name)(cnnlab.tensor(x), axis=1)
    theirs = getattr(torch, name)(torch.tensor(x), axis=1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    by_dim = getattr(cnnlab.ops, name)(cnnlab.tensor(x), dim=1)
    np.testing.assert_array_equal(getattr(cnnlab.ops, name)(cnnlab.tensor(x), axis=1).numpy(),
                                  by_dim.numpy())


def test_max_min_all_any_take_axis():
    x = np.array([[1.0, 5.0], [3.0, 2.0]])
    values, indices = cnnlab.tensor(x).max(axis=0)
    assert values.tolist() == [3.0, 5.0] and indices.tolist() == [1, 0]
    assert cnnlab.tensor(x).min(axis=1).values.tolist() == [1.0, 2.0]
    assert (cnnlab.tensor(x) > 2).any(axis=1).tolist() == [True, True]
    assert (cnnlab.tensor(x) > 2).all(axis=0).tolist() == [False, False]


def test_dim_and_axis_together_is_an_error():
    with pytest.raises(TypeError, match=r"sum: got both dim and axis; pass one \(axis is an "
                                        r"alias of dim\)"):
        cnnlab.tensor([1.0]).sum(dim=0, axis=0)

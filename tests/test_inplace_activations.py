"""``inplace=True`` in activations: the input tensor itself takes the result, as in
PyTorch, with the same values and gradients (recorded like ``x += y``)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F

CASES = [("relu", ()), ("relu6", ()), ("silu", ()), ("leaky_relu", (0.2,)), ("elu", (0.5,)),
         ("hardtanh", (-0.5, 0.5)), ("mish", ()), ("hardswish", ()), ("hardsigmoid", ())]
MODULES = {"relu": ("ReLU", ()), "relu6": ("ReLU6", ()), "silu": ("SiLU", ()),
           "leaky_relu": ("LeakyReLU", (0.2,)), "elu": ("ELU", (0.5,)),
           "hardtanh": ("Hardtanh", (-0.5, 0.5)), "mish": ("Mish", ()),
           "hardswish": ("Hardswish", ()), "hardsigmoid": ("Hardsigmoid", ())}


@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_inplace_changes_the_input_and_keeps_gradients(name, args):
    data = np.random.default_rng(0).standard_normal((3, 4)) * 3
    weights = np.arange(12.0).reshape(3, 4)
    results = []
    for lib, functional in ((cnnlab, F), (torch, TF)):
        leaf = lib.tensor(data, requires_grad=True)
        hidden = leaf * 2
        out = getattr(functional, name)(hidden, *args, inplace=True)
        assert out is hidden
        (hidden * lib.tensor(weights)).sum().backward()
        results.append((hidden.detach().numpy().copy(), leaf.grad.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    # 1e-7: PyTorch's float64 hardsigmoid backward multiplies by a float32 1/6
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-7)


@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_inplace_without_grad_writes_through_views_and_modules_pass_it_on(name, args):
    data = np.random.default_rng(1).standard_normal((2, 3)) * 3
    x = cnnlab.tensor(data)
    view = x.view(6)
    getattr(F, name)(x, *args, inplace=True)
    expected = getattr(TF, name)(torch.tensor(data), *args).numpy()
    np.testing.assert_allclose(view.numpy(), expected.reshape(6), rtol=1e-12)
    module_name, module_args = MODULES[name]
    y = cnnlab.tensor(data)
    assert getattr(cnnlab.nn, module_name)(*module_args, inplace=True)(y) is y
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_in_torch():
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        F.relu(cnnlab.ones(2, requires_grad=True), inplace=True)
    with pytest.raises(TypeError, match="inplace=True needs a Tensor"):
        F.silu(np.ones(2), inplace=True)
    x = cnnlab.tensor([-1.0, 2.0])
    assert F.relu_(x) is x and x.tolist() == [0.0, 2.0]


_UNARY_INPLACE = ["relu", "sigmoid", "tanh", "exp", "log", "sqrt", "rsqrt", "abs", "neg",
                  "square", "sign", "floor", "ceil", "round", "sin", "cos"]


@pytest.mark.parametrize("name", _UNARY_INPLACE)
def test_unary_inplace_methods_match_pytorch(name):
    """``x.<op>_()`` on a non-leaf: the values and the leaf's gradient are PyTorch's;
    on a leaf that requires grad both refuse."""
    import torch
    data = np.random.default_rng(0).uniform(0.2, 2.0, (3, 4))
    weights = np.random.default_rng(1).standard_normal((3, 4))
    results = []
    for lib in (torch, cnnlab):
        leaf = lib.tensor(data, requires_grad=True)
        x = leaf * 1.5 - 0.25          # positive, as log, sqrt and rsqrt need
        same = getattr(x, name + "_")()
        assert same is x
        (x * lib.tensor(weights)).sum().backward()
        results.append((x.detach().numpy(), leaf.grad.numpy()))
        with pytest.raises(RuntimeError):
            getattr(lib.tensor(data, requires_grad=True), name + "_")()
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-15)


def test_masked_fill_and_clamp_bounds_inplace_match_pytorch():
    import torch
    data = np.random.default_rng(2).standard_normal((4, 5))
    mask = np.random.default_rng(3).random((4, 5)) > 0.5
    results = []
    for lib in (torch, cnnlab):
        leaf = lib.tensor(data, requires_grad=True)
        x = leaf * 2
        x.masked_fill_(lib.tensor(mask), 0.5).clamp_min_(-1.0).clamp_max_(1.5)
        y = x.clamp_min(-0.5) + x.clamp_max(0.25)
        (y * y).sum().backward()
        results.append((y.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)

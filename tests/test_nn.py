"""Layers, modules and optimisers against their PyTorch twins."""

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn, optim


def lenet(module):
    n = module.nn
    return n.Sequential(
        n.Conv2d(1, 6, kernel_size=5, padding=2), n.ReLU(), n.MaxPool2d(2),
        n.Conv2d(6, 16, kernel_size=5), n.ReLU(), n.MaxPool2d(2),
        n.Flatten(), n.Linear(16 * 5 * 5, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(),
        n.Linear(84, 10))


def copy_weights(ours, theirs):
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            tp.copy_(torch.tensor(p.detach().numpy()))


def test_lenet_parameters_match_torch_names_and_shapes():
    ours, theirs = lenet(cnnlab), lenet(torch)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert sum(p.numel() for p in ours.parameters()) == 61706


@pytest.mark.parametrize("layer,fan_in", [(lambda m: m.Conv2d(3, 8, 3), 27),
                                          (lambda m: m.Conv2d(4, 8, (3, 5), groups=2), 30),
                                          (lambda m: m.Linear(50, 7), 50),
                                          (lambda m: m.ConvTranspose2d(4, 6, 3), 54)])
def test_default_initialisation_follows_pytorch(layer, fan_in):
    module = layer(nn)
    bound = 1 / math.sqrt(fan_in)
    weight = module.weight.detach().numpy()
    bias = module.bias.detach().numpy()
    assert tuple(weight.shape) == tuple(layer(torch.nn).weight.shape)
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    # A uniform sample over the whole interval, not a narrower one.
    assert np.abs(weight).max() > 0.5 * bound
    assert weight.dtype == np.float32


def test_repr_is_pytorchs():
    # Every module against torch's: tests/test_module_repr.py.
    assert repr(nn.Conv2d(1, 6, 5)) == "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"
    assert repr(nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)) == \
        "Conv2d(1, 1, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"
    assert repr(nn.MaxPool2d(3, padding=1, stride=2)) == \
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxPool2d(2)) == \
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(lenet(cnnlab)) == repr(lenet(torch))


def test_module_bookkeeping():
    model = lenet(cnnlab)
    assert len(list(model.children())) == 12
    assert len(list(model.modules())) == 13
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    assert isinstance(model[0].weight, nn.Parameter)
    assert repr(nn.Parameter(cnnlab.ones(2))) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"


def test_state_dict_round_trip_and_errors():
    a, b = lenet(cnnlab), lenet(cnnlab)
    state = a.state_dict()
    assert list(state) == list(lenet(torch).state_dict())
    b.load_state_dict(state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "11.bias"\. '):
        b.load_state_dict(OrderedDict(list(state.items())[:-1]))
    bad = dict(state)
    bad["0.weight"] = cnnlab.zeros(6, 1, 3, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with "
                                           r"shape cnnlab.Size\(\[6, 1, 3, 3\]\) from checkpoint, "
                                           r"the shape in current model is cnnlab.Size\(\[6, 1, 5, 5\]\)"):
        b.load_state_dict(bad)


def test_modules_accept_numpy_arrays():
    conv = nn.Conv2d(1, 2, 3)
    out = conv(np.ones((1, 1, 5, 5), dtype=np.float32))
    assert isinstance(out, cnnlab.Tensor) and out.shape == (1, 2, 3, 3)


def test_custom_module_with_parameters():
    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(cnnlab.ones(3))
            self.inner = nn.Linear(3, 3)

        def forward(self, x):
            return self.inner(x) * self.scale

    model = Affine()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["scale", "inner.weight", "inner.bias"]
    model(cnnlab.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


OPTIMISERS = {
    "sgd": lambda m, p: m.optim.SGD(p, lr=0.05),
    "sgd-momentum": lambda m, p: m.optim.SGD(p, lr=0.05, momentum=0.9),
    "sgd-nesterov-wd": lambda m, p: m.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "sgd-dampening": lambda m, p: m.optim.SGD(p, lr=0.01, momentum=0.5, dampening=0.3),
    "adam": lambda m, p: m.optim.Adam(p, lr=1e-3),
    "adam-wd-amsgrad": lambda m, p: m.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), weight_decay=1e-2, amsgrad=True),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("make", OPTIMISERS.values(), ids=OPTIMISERS.keys())
def test_lenet_training_matches_torch(make, dtype):
    """Same weights, same batches: same losses, gradients and parameters after 5 steps.

    float64 agrees to 1e-9. In float32, rounding differences of 1e-7 in a gradient
    near zero change Adam's normalised step m / sqrt(v) by up to a few percent of lr,
    so Adam's float32 parameters are compared with an absolute tolerance of 3% of the
    largest distance 5 steps can move them (5 * lr).
    """
    rng = np.random.default_rng(0)
    ours, theirs = lenet(cnnlab).to(dtype), lenet(torch).to(getattr(torch, dtype))
    copy_weights(ours, theirs)
    opt, topt = make(cnnlab, ours.parameters()), make(torch, theirs.parameters())
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    rtol = 1e-9 if dtype == "float64" else 1e-4
    atol = 1e-12 if dtype == "float64" else 1e-6
    param_atol = atol
    if dtype == "float32" and isinstance(opt, optim.Adam):
        param_atol = 0.03 * 5 * opt.param_groups[0]["lr"]
    for step in range(5):
        images = rng.standard_normal((16, 1, 28, 28)).astype(dtype)
        labels = rng.integers(0, 10, 16)
        opt.zero_grad()
        topt.zero_grad()
        loss = loss_fn(ours(images), labels)
        tloss = tloss_fn(theirs(torch.tensor(images)), torch.tensor(labels))
        loss.backward()
        tloss.backward()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=rtol)
        for p, tp in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=rtol * 10, atol=atol)
        opt.step()
        topt.step()
        for p, tp in zip(ours.parameters(), theirs.parameters()):
            assert p.dtype.name == dtype
            np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=rtol,
                                       atol=param_atol)


@pytest.mark.parametrize("make", OPTIMISERS.values(), ids=OPTIMISERS.keys())
def test_optimiser_update_rule_in_float64(make):
    rng = np.random.default_rng(1)
    start = rng.standard_normal((4, 3))
    p, tp = cnnlab.tensor(start, requires_grad=True), torch.tensor(start, requires_grad=True)
    opt, topt = make(cnnlab, [p]), make(torch, [tp])
    for _ in range(10):
        g = rng.standard_normal((4, 3))
        p.grad, tp.grad = cnnlab.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12)


def test_optimiser_state_dict_round_trip():
    p = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = cnnlab.tensor([0.5, -0.5])
    opt.step()
    state = opt.state_dict()
    q = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    other = optim.Adam([q], lr=0.5)
    other.load_state_dict(state)
    assert other.param_groups[0]["lr"] == 0.1
    assert other.state[id(q)]["step"] == 1


def test_optimiser_errors():
    with pytest.raises(ValueError, match=r"SGD: lr must be a number in \[0.0, inf\), got -1"):
        optim.SGD([cnnlab.zeros(1, requires_grad=True)], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum > 0"):
        optim.SGD([cnnlab.zeros(1, requires_grad=True)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])


def test_losses_match_torch():
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 5))
    labels = rng.integers(0, 5, 6)
    weight = rng.uniform(0.5, 2, 5)
    cases = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(weight=weight),
             dict(label_smoothing=0.1), dict(ignore_index=labels[0])]
    for kwargs in cases:
        x, tx = cnnlab.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
        tkwargs = {k: torch.tensor(v) if k == "weight" else v for k, v in kwargs.items()}
        tkwargs = {k: int(v) if k == "ignore_index" else v for k, v in tkwargs.items()}
        out = cnnlab.functional.cross_entropy(x, labels, **kwargs)
        tout = torch.nn.functional.cross_entropy(tx, torch.tensor(labels), **tkwargs)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10)
        out.sum().backward()
        tout.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    probs = rng.dirichlet(np.ones(5), 6)
    x, tx = cnnlab.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    cnnlab.functional.cross_entropy(x, probs).backward()
    torch.nn.functional.cross_entropy(tx, torch.tensor(probs)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(nn.MSELoss()(a, b).item(), torch.nn.MSELoss()(torch.tensor(a), torch.tensor(b)).item())


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"target 7 is out of bounds for 5 classes"):
        cnnlab.functional.cross_entropy(cnnlab.zeros(2, 5), [1, 7])
    with pytest.raises(ValueError, match=r"target shape \(3,\) does not match input shape \(2, 5\)"):
        cnnlab.functional.cross_entropy(cnnlab.zeros(2, 5), [1, 2, 3])


def test_dropout_scales_and_is_identity_in_eval():
    layer = nn.Dropout(0.25)
    x = cnnlab.ones(1000)
    out = layer(x).numpy()
    assert set(np.unique(out).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert 0.15 < (out == 0).mean() < 0.35
    layer.eval()
    assert np.array_equal(layer(x).numpy(), x.numpy())


@pytest.mark.parametrize("input_shape", [(7,), (5, 7), (2, 3, 7)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_linear_values_and_gradients_match_torch(input_shape, with_bias):
    rng = np.random.default_rng(3)
    x, w, b = (rng.standard_normal(s) for s in (input_shape, (4, 7), (4,)))
    grad = rng.standard_normal(input_shape[:-1] + (4,))
    ours = [cnnlab.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = cnnlab.functional.linear(ours[0], ours[1], ours[2] if with_bias else None)
    expected = torch.nn.functional.linear(theirs[0], theirs[1], theirs[2] if with_bias else None)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    out.backward(cnnlab.tensor(grad))
    expected.backward(torch.tensor(grad))
    for mine, reference in zip(ours if with_bias else ours[:2], theirs, strict=False):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10)
    if not with_bias:
        assert ours[2].grad is None

"""Whole models, twice: cnnlab and PyTorch with the same float64 weights.

Each model is written once against a library namespace (``cnnlab`` or ``torch``), built
in both, given the PyTorch twin's weights, and run on the same input. The loss, the
input's gradient and every parameter's gradient must agree to 1e-8 relative. The
models are the compositions that broke when the backward order was wrong: a residual
block with the skip first and last, a dense block (``cat((X, f(X)))``), batch norm
written from ops, SiLU, and the book's LeNet. Then the autograd API on the same
twins: ``retain_graph`` with two passes over shared subgraphs, accumulation across
calls, ``retain_grad`` on intermediates, ``register_hook`` and ``autograd.grad``.
"""

import numpy as np
import pytest
import torch

import cnnlab

RTOL = 1e-8
LIBS = {"cnnlab": cnnlab, "torch": torch}


def _functional(lib):
    return cnnlab.functional if lib is cnnlab else torch.nn.functional


def lenet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def residual(lib, skip_first, projection=False):
    nn, F = lib.nn, _functional(lib)

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, kernel_size=3, padding=1, stride=2 if projection else 1)
            self.conv2 = nn.Conv2d(4, 4 if projection else 3, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(3, 4, kernel_size=1, stride=2) if projection else None

        def forward(self, X):
            Y = self.conv2(F.relu(self.conv1(X)))
            skip = self.conv3(X) if self.conv3 is not None else X
            return F.relu(skip + Y if skip_first else Y + skip)

    return nn.Sequential(Residual(), Residual() if not projection else nn.Identity(),
                         nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(4 if projection else 3, 10))


def dense(lib):
    nn = lib.nn

    class DenseBlock(nn.Module):
        def __init__(self, channels, growth, layers):
            super().__init__()
            self.net = nn.Sequential(*[nn.Sequential(
                nn.ReLU(), nn.Conv2d(channels + i * growth, growth, 3, padding=1))
                for i in range(layers)])

        def forward(self, X):
            for block in self.net:
                X = lib.cat((X, block(X)), dim=1)
            return X

    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), DenseBlock(4, 2, 3),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(10 * 3 * 3, 10))


def batch_norm_from_ops(lib):
    nn = lib.nn

    class OpsBatchNorm(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.gamma = nn.Parameter(lib.ones(1, channels, 1, 1, dtype=lib.float64) * 1.5)
            self.beta = nn.Parameter(lib.zeros(1, channels, 1, 1, dtype=lib.float64) + 0.1)

        def forward(self, X):
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            return self.gamma * (X - mean) / lib.sqrt(var + 1e-5) + self.beta

    return nn.Sequential(nn.Conv2d(3, 4, 3), OpsBatchNorm(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def silu(lib):
    nn = lib.nn

    class SiLU(nn.Module):
        def forward(self, X):
            return X * lib.sigmoid(X)

    return nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), SiLU(), nn.AvgPool2d(2),
                         nn.Conv2d(5, 5, 3), SiLU(), nn.Flatten(), nn.Linear(5, 10))


MODELS = {
    "lenet": (lenet, (2, 1, 28, 28)),
    "residual-skip-first": (lambda lib: residual(lib, True), (2, 3, 6, 6)),
    "residual-skip-last": (lambda lib: residual(lib, False), (2, 3, 6, 6)),
    "residual-projection": (lambda lib: residual(lib, True, projection=True), (2, 3, 6, 6)),
    "dense-block": (dense, (2, 3, 6, 6)),
    "batch-norm-from-ops": (batch_norm_from_ops, (4, 3, 6, 6)),
    "silu": (silu, (2, 3, 6, 6)),
}


def twins(name):
    """The model built in both libraries with PyTorch's float64 weights, and an input."""
    build, shape = MODELS[name]
    torch.manual_seed(0)
    theirs = build(torch).double()
    ours = build(cnnlab)
    ours_params = dict(ours.named_parameters())
    theirs_params = dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for key, param in theirs_params.items():
        ours_params[key].data = cnnlab.tensor(param.detach().numpy().copy())
    data = np.random.default_rng(1).standard_normal(shape)
    target = np.arange(shape[0]) % 10
    return ours, theirs, data, target


def both(name):
    """[(library, model, input data, target)] for cnnlab and for torch."""
    ours, theirs, data, target = twins(name)
    return [(cnnlab, ours, data, target), (torch, theirs, data, target)]


def loss_of(lib, model, X, target):
    return _functional(lib).cross_entropy(model(X), lib.tensor(target))


def assert_close(ours, theirs, what):
    theirs = np.asarray(theirs)
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=RTOL,
                               atol=RTOL * max(1.0, np.abs(theirs).max()), err_msg=what)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_gradients_match_torch(name):
    ours, theirs, data, target = twins(name)
    X_ours = cnnlab.tensor(data, requires_grad=True)
    X_theirs = torch.tensor(data, requires_grad=True)
    loss_ours = loss_of(cnnlab, ours, X_ours, target)
    loss_theirs = loss_of(torch, theirs, X_theirs, target)
    assert_close(loss_ours.item(), loss_theirs.item(), "loss")
    loss_ours.backward()
    loss_theirs.backward()
    assert_close(X_ours.grad.numpy(), X_theirs.grad.numpy(), "input gradient")
    for (key, p_ours), (_, p_theirs) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p_ours.grad.numpy(), p_theirs.grad.numpy(), f"{key}.grad")


@pytest.mark.parametrize("name", ["residual-skip-first", "dense-block", "lenet"])
def test_retain_graph_twice_and_accumulation_across_calls(name):
    """Two backward passes through one retained graph, then a third from a fresh
    forward: every gradient is the sum of the three, as in PyTorch."""
    results = []
    for lib, model, data, target in both(name):
        X = lib.tensor(data, requires_grad=True)
        features = model[0](X)           # a subgraph shared by both losses
        first = _functional(lib).cross_entropy(model[1:](features), lib.tensor(target))
        second = (features ** 2).mean() + first
        first.backward(retain_graph=True)
        second.backward()
        loss_of(lib, model, X, target).backward()
        results.append([X.grad.detach().numpy().copy()]
                       + [p.grad.detach().numpy().copy() for p in model.parameters()])
    for mine, reference in zip(*results):
        assert_close(mine, reference, name)


def test_backward_twice_without_retain_graph_raises():
    ours, _, data, target = twins("silu")
    loss = loss_of(cnnlab, ours, cnnlab.tensor(data), target)
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


@pytest.mark.parametrize("name", ["residual-skip-last", "dense-block", "batch-norm-from-ops"])
def test_retain_grad_and_hooks_on_intermediates(name):
    """Saliency as learners compute it: the input's gradient, an intermediate feature
    map's gradient (retain_grad), and hooks that record and rescale it."""
    outputs = []
    for lib, model, data, target in both(name):
        X = lib.tensor(data, requires_grad=True)
        features = model[0](X)
        features.retain_grad()
        seen = []
        handle = features.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
        features.register_hook(lambda g: g * 3)   # replaces the gradient passed on
        loss = _functional(lib).cross_entropy(model[1:](features), lib.tensor(target))
        loss.backward(retain_graph=True)
        handle.remove()
        loss.backward()                           # the recording hook is gone
        outputs.append((X.grad.detach().numpy().copy(), features.grad.detach().numpy().copy(),
                        seen))
    (x_ours, f_ours, seen_ours), (x_theirs, f_theirs, seen_theirs) = outputs
    assert len(seen_ours) == len(seen_theirs) == 1
    assert_close(seen_ours[0], seen_theirs[0], "gradient seen by the hook")
    assert_close(f_ours, f_theirs, "retained gradient (after the rescaling hook)")
    assert_close(x_ours, x_theirs, "input gradient")


@pytest.mark.parametrize("name", ["lenet", "residual-projection", "dense-block"])
def test_autograd_grad_matches_torch_and_leaves_grad_alone(name):
    grads = []
    for module, model, data, target in both(name):
        X = module.tensor(data, requires_grad=True)
        features = model[0](X)
        loss = loss_of(module, model, X, target)
        params = list(model.parameters())
        result = module.autograd.grad(loss, [X, params[0]], retain_graph=True)
        result_mid = module.autograd.grad(loss, X, grad_outputs=module.tensor(2.0,
                                                                              dtype=module.float64))
        unused = module.autograd.grad((features * 2).sum(), [X, params[-1]], allow_unused=True)
        assert unused[1] is None
        assert all(p.grad is None for p in params) and X.grad is None
        grads.append([r.detach().numpy() for r in result + result_mid + unused[:1]])
    for mine, reference in zip(*grads):
        assert_close(mine, reference, name)


def test_autograd_grad_errors_match_torch():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    w = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used"):
        cnnlab.autograd.grad((x * 2).sum(), [x, w])
    with pytest.raises(RuntimeError, match="does not require grad"):
        cnnlab.autograd.grad((x * 2).sum(), cnnlab.tensor([1.0]))
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        cnnlab.autograd.grad(x * 2, x)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        cnnlab.autograd.grad(x * 2, x, grad_outputs=cnnlab.ones(3))
    with pytest.raises(NotImplementedError, match="create_graph"):
        cnnlab.autograd.grad((x * 2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cnnlab.ones(2).register_hook(lambda g: g)
    zeros = cnnlab.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True)
    assert zeros[1].tolist() == [0.0, 0.0]


def test_leaf_hook_replaces_what_is_accumulated_and_hooks_on_old_values():
    """A leaf hook runs before .grad accumulates; a hook registered before an in-place
    update sees the gradient of the old value (PyTorch's documented rules)."""
    results = []
    for lib in LIBS.values():
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        a.register_hook(lambda g: g * 10)
        y = a * 2
        seen = []
        y.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
        y.retain_grad()
        y += a ** 2
        (y * lib.tensor([1.0, 2.0, 4.0])).sum().backward()
        results.append((a.grad.tolist(), y.grad.tolist(), seen[0].tolist()))
    assert results[0] == results[1]

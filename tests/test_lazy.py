"""Lazy layers against PyTorch's: placeholders, the dry run, class change, initialisation."""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn, optim

# (lazy constructor, eager constructor with the input size the dry run will find, input)
CASES = {
    "LazyConv2d": (lambda m: m.LazyConv2d(6, 5, padding=2),
                   lambda m: m.Conv2d(3, 6, 5, padding=2), (2, 3, 8, 8)),
    "LazyConv2d-groups": (lambda m: m.LazyConv2d(4, (3, 1), stride=2, groups=2, bias=False),
                          lambda m: m.Conv2d(6, 4, (3, 1), stride=2, groups=2, bias=False),
                          (1, 6, 7, 5)),
    "LazyConv2d-unbatched": (lambda m: m.LazyConv2d(2, 3), lambda m: m.Conv2d(4, 2, 3),
                             (4, 5, 5)),
    "LazyConvTranspose2d": (lambda m: m.LazyConvTranspose2d(5, 3, stride=2, output_padding=1),
                            lambda m: m.ConvTranspose2d(3, 5, 3, stride=2, output_padding=1),
                            (2, 3, 4, 4)),
    "LazyConv1d": (lambda m: m.LazyConv1d(4, 3, groups=2, padding=1),
                   lambda m: m.Conv1d(6, 4, 3, groups=2, padding=1), (2, 6, 9)),
    "LazyConv3d-unbatched": (lambda m: m.LazyConv3d(2, (1, 2, 3)),
                             lambda m: m.Conv3d(3, 2, (1, 2, 3)), (3, 4, 4, 4)),
    "LazyConvTranspose1d": (lambda m: m.LazyConvTranspose1d(3, 2, stride=2),
                            lambda m: m.ConvTranspose1d(5, 3, 2, stride=2), (1, 5, 4)),
    "LazyConvTranspose3d": (lambda m: m.LazyConvTranspose3d(4, 3, groups=2, bias=False),
                            lambda m: m.ConvTranspose3d(2, 4, 3, groups=2, bias=False),
                            (1, 2, 3, 3, 3)),
    "LazyLinear": (lambda m: m.LazyLinear(7), lambda m: m.Linear(12, 7), (3, 12)),
    "LazyLinear-3d": (lambda m: m.LazyLinear(2, bias=False),
                      lambda m: m.Linear(4, 2, bias=False), (2, 3, 4)),
    "LazyBatchNorm1d": (lambda m: m.LazyBatchNorm1d(), lambda m: m.BatchNorm1d(5), (4, 5)),
    "LazyBatchNorm2d": (lambda m: m.LazyBatchNorm2d(momentum=None),
                        lambda m: m.BatchNorm2d(3, momentum=None), (2, 3, 4, 4)),
    # The lazy instance norms default to affine=True, track_running_stats=True (PyTorch's).
    "LazyInstanceNorm1d": (lambda m: m.LazyInstanceNorm1d(),
                           lambda m: m.InstanceNorm1d(3, affine=True, track_running_stats=True),
                           (2, 3, 5)),
    "LazyInstanceNorm2d": (lambda m: m.LazyInstanceNorm2d(affine=False),
                           lambda m: m.InstanceNorm2d(2, track_running_stats=True),
                           (2, 2, 3, 3)),
    "LazyInstanceNorm3d": (lambda m: m.LazyInstanceNorm3d(bias=False, track_running_stats=False),
                           lambda m: m.InstanceNorm3d(2, affine=True, bias=False),
                           (1, 2, 2, 2, 2)),
    "LazyBatchNorm3d": (lambda m: m.LazyBatchNorm3d(affine=False),
                        lambda m: m.BatchNorm3d(2, affine=False), (2, 2, 2, 3, 3)),
}


def data(shape, seed=0):
    values = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return cnnlab.tensor(values), torch.tensor(values)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_lazy_layer_prints_materialises_and_becomes_eager_like_torch(case):
    lazy, eager, shape = case
    ours, theirs = lazy(nn), lazy(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.has_uninitialized_params()
    x, tx = data(shape)
    ours(x), theirs(tx)
    assert repr(ours) == repr(theirs)
    assert type(ours) is type(eager(nn))
    assert not isinstance(ours, nn.LazyModuleMixin)
    assert [(n, tuple(p.shape), type(p)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape), nn.Parameter) for n, p in theirs.named_parameters()]
    assert [(n, tuple(b.shape)) for n, b in ours.named_buffers()] == \
        [(n, tuple(b.shape)) for n, b in theirs.named_buffers()]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_dry_run_initialises_exactly_as_the_eager_layer(case):
    lazy, eager, shape = case
    x, _ = data(shape)
    cnnlab.manual_seed(3)
    module = lazy(nn)
    module(x)
    cnnlab.manual_seed(3)
    reference = eager(nn)
    state, expected = module.state_dict(), reference.state_dict()
    assert list(state) == list(expected)
    for key in expected:
        if key == "num_batches_tracked" or key.endswith("running_mean") or \
                key.endswith("running_var"):
            continue   # updated by the dry run's forward in training mode
        np.testing.assert_array_equal(state[key].numpy(), expected[key].numpy())
        assert state[key].dtype == expected[key].dtype


def test_lazy_lenet_matches_torch_after_copying_weights():
    def lenet(m):
        return m.Sequential(
            m.LazyConv2d(6, kernel_size=5, padding=2), m.LazyBatchNorm2d(), m.Sigmoid(),
            m.AvgPool2d(kernel_size=2, stride=2), m.LazyConv2d(16, kernel_size=5),
            m.Sigmoid(), m.AvgPool2d(kernel_size=2, stride=2), m.Flatten(),
            m.LazyLinear(120), m.LazyBatchNorm1d(), m.Sigmoid(), m.LazyLinear(10))
    ours, theirs = lenet(nn), lenet(torch.nn)
    x, tx = data((4, 1, 28, 28))
    ours(x), theirs(tx)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.state_dict().items(),
                                          theirs.state_dict().items()):
            assert name == tname
            tp.copy_(torch.tensor(p.numpy()))
    x, tx = data((4, 1, 28, 28), seed=1)
    np.testing.assert_allclose(ours(x).detach().numpy(), theirs(tx).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_init_cnn_applied_after_the_dry_run():
    # The book's init_cnn: Xavier-uniform weights for every Linear and Conv2d.
    def init_cnn(module):
        if type(module) is nn.Linear or type(module) is nn.Conv2d:
            nn.init.xavier_uniform_(module.weight)

    net = nn.Sequential(nn.LazyConv2d(6, 5), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(ValueError, match="uninitialized parameter"):
        net.apply(lambda m: nn.init.xavier_uniform_(m.weight) if hasattr(m, "weight")
                  else None)
    net(cnnlab.zeros(1, 1, 8, 8))
    cnnlab.manual_seed(0)
    net.apply(init_cnn)
    conv, linear = cnnlab.empty(6, 1, 5, 5), cnnlab.empty(10, 6 * 4 * 4)
    cnnlab.manual_seed(0)   # apply visits the children in order: the conv draws first
    nn.init.xavier_uniform_(conv), nn.init.xavier_uniform_(linear)
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), conv.numpy())
    np.testing.assert_array_equal(net[3].weight.detach().numpy(), linear.numpy())
    bound = np.sqrt(6 / (6 * 16 + 10))
    assert 0.5 * bound < np.abs(linear.numpy()).max() <= bound


def test_optimizer_built_before_the_dry_run_keeps_working():
    net = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(1))
    sgd = optim.SGD(net.parameters(), lr=0.1)
    adam = optim.Adam(net.parameters(), lr=0.1)
    sgd.step(), adam.step()   # placeholders have no gradient: skipped, as in PyTorch
    sgd.zero_grad()
    loss = net(cnnlab.ones(4, 5)).sum()
    loss.backward()
    before = net[0].weight.detach().numpy().copy()
    grad = net[0].weight.grad.numpy().copy()
    sgd.step()
    np.testing.assert_allclose(net[0].weight.detach().numpy(), before - 0.1 * grad, rtol=1e-6)
    adam.step()
    assert set(adam.state_dict()["state"]) == {0, 1, 2, 3}


def test_placeholders_refuse_use_like_torch():
    layer = nn.LazyConv2d(6, 5)
    assert repr(layer.weight) == "<UninitializedParameter>"
    assert isinstance(layer.weight, nn.Parameter)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        layer.weight.shape
    with pytest.raises(ValueError, match="uninitialized parameter"):
        layer.weight + 1
    with pytest.raises(ValueError, match="uninitialized parameter"):
        sum(p.numel() for p in layer.parameters())
    assert layer.weight.dtype == cnnlab.float32 and layer.weight.requires_grad
    with pytest.raises(ValueError, match=r"LazyConv2d: expected 3D \(unbatched\) or 4D "
                                         r"\(batched\) input, got input of shape \(2, 3\)"):
        layer(cnnlab.zeros(2, 3))
    with pytest.raises(ValueError, match=r"5 channels must be a positive multiple of groups "
                                         r"\(2\)"):
        nn.LazyConv2d(4, 3, groups=2)(cnnlab.zeros(1, 5, 4, 4))
    with pytest.raises(ValueError, match=r"LazyBatchNorm2d: expected 4D input \(got 2D"):
        nn.LazyBatchNorm2d()(cnnlab.zeros(2, 3))


def test_dtype_before_the_dry_run():
    layer = nn.LazyLinear(2, dtype=cnnlab.float64)
    layer(cnnlab.zeros(1, 3, dtype=cnnlab.float64))
    assert layer.weight.dtype == cnnlab.float64
    net = nn.Sequential(nn.LazyConv2d(2, 3), nn.LazyBatchNorm2d()).double()
    assert net[0].weight.dtype == cnnlab.float64
    net(cnnlab.zeros(2, 1, 4, 4, dtype=cnnlab.float64))
    assert {str(t.dtype) for t in net.state_dict().values()} == {"cnnlab.float64",
                                                                 "cnnlab.int64"}


def test_load_state_dict_materialises_a_lazy_layer():
    source = nn.Linear(3, 4)
    layer = nn.LazyLinear(4)
    layer.load_state_dict(source.state_dict())
    assert type(layer) is nn.LazyLinear and not layer.has_uninitialized_params()
    np.testing.assert_array_equal(layer.weight.detach().numpy(),
                                  source.weight.detach().numpy())
    x = cnnlab.randn(2, 3)
    np.testing.assert_array_equal(layer(x).detach().numpy(), source(x).detach().numpy())
    assert type(layer) is nn.Linear


# ------------------------------------------------------------- nn.init additions


@pytest.mark.parametrize("name", ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh",
                                  "relu", "leaky_relu", "selu"])
def test_calculate_gain_matches_torch(name):
    assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))


def test_more_init_functions():
    cnnlab.manual_seed(0)
    t = nn.init.trunc_normal_(cnnlab.empty(4000), mean=1.0, std=2.0, a=-1.0, b=2.5)
    values = t.numpy()
    assert values.min() >= -1.0 and values.max() <= 2.5 and values.std() > 0.5
    q = nn.init.orthogonal_(cnnlab.empty(3, 2, 2), gain=2.0).numpy().reshape(3, 4)
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(3), atol=1e-6)
    q = nn.init.orthogonal_(cnnlab.empty(5, 2)).numpy()
    np.testing.assert_allclose(q.T @ q, np.eye(2), atol=1e-6)
    assert nn.init.eye_(cnnlab.empty(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or "
                                         "'fan_out', got 'fan_avg'"):
        nn.init.kaiming_normal_(cnnlab.empty(2, 2), mode="fan_avg")
    # kaiming_normal_ with mode='fan_out' (ResNet's init) has torch's spread.
    w = nn.init.kaiming_normal_(cnnlab.empty(64, 32, 3, 3), mode="fan_out",
                                nonlinearity="relu").numpy()
    assert w.std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.05)


def test_load_state_dict_materialises_nested_lazy_layers():
    source = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))
    source(cnnlab.randn(2, 2, 4, 4))
    lazy = nn.Sequential(nn.LazyConv2d(3, 3), nn.LazyBatchNorm2d(), nn.Flatten(),
                         nn.LazyLinear(2))
    lazy.load_state_dict(source.state_dict())
    x = cnnlab.randn(2, 2, 4, 4)
    source.eval(), lazy.eval()
    np.testing.assert_array_equal(lazy(x).detach().numpy(), source(x).detach().numpy())
    assert [type(m) for m in lazy] == [type(m) for m in source]


def test_lazy_instance_norm_reads_channels_of_unbatched_input():
    # Beyond PyTorch, whose lazy instance norms read axis 1 here and then fail.
    layer = nn.LazyInstanceNorm1d()
    layer(cnnlab.randn(3, 5))
    assert layer.num_features == 3 and type(layer) is nn.InstanceNorm1d

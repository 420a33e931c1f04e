"""Every module prints as its PyTorch twin (built with the same arguments)."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn

# name -> builder taking the nn namespace (cnnlab.nn or torch.nn)
MODULES = {
    "Conv2d": lambda m: m.Conv2d(1, 6, 5),
    "Conv2d-all": lambda m: m.Conv2d(4, 8, (3, 5), stride=2, padding=1, dilation=2, groups=2,
                                     bias=False, padding_mode="reflect"),
    "Conv2d-same": lambda m: m.Conv2d(1, 1, 3, padding="same"),
    "Conv2d-valid": lambda m: m.Conv2d(1, 1, 3, padding="valid"),
    "ConvTranspose2d": lambda m: m.ConvTranspose2d(3, 5, 3, stride=2, output_padding=1),
    "Linear": lambda m: m.Linear(3, 4),
    "Linear-no-bias": lambda m: m.Linear(3, 4, bias=False),
    "MaxPool2d": lambda m: m.MaxPool2d(2),
    "MaxPool2d-all": lambda m: m.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True,
                                           return_indices=True),
    "AvgPool2d": lambda m: m.AvgPool2d(2),
    "AvgPool2d-all": lambda m: m.AvgPool2d((3, 2), stride=1, padding=1, ceil_mode=True,
                                           count_include_pad=False, divisor_override=2),
    "LPPool2d": lambda m: m.LPPool2d(2, 3),
    "LPPool2d-stride": lambda m: m.LPPool2d(1.5, (2, 3), stride=2, ceil_mode=True),
    "AdaptiveAvgPool2d": lambda m: m.AdaptiveAvgPool2d((1, 1)),
    "AdaptiveAvgPool2d-int": lambda m: m.AdaptiveAvgPool2d(7),
    "AdaptiveMaxPool2d": lambda m: m.AdaptiveMaxPool2d((2, None), return_indices=True),
    "MaxUnpool2d": lambda m: m.MaxUnpool2d(2),
    "MaxUnpool2d-all": lambda m: m.MaxUnpool2d((2, 3), stride=1, padding=(1, 0)),
    "ReLU": lambda m: m.ReLU(),
    "ReLU-inplace": lambda m: m.ReLU(inplace=True),
    "ReLU6": lambda m: m.ReLU6(inplace=True),
    "Sigmoid": lambda m: m.Sigmoid(),
    "Tanh": lambda m: m.Tanh(),
    "GELU": lambda m: m.GELU(),
    "GELU-tanh": lambda m: m.GELU(approximate="tanh"),
    "LeakyReLU": lambda m: m.LeakyReLU(),
    "LeakyReLU-args": lambda m: m.LeakyReLU(0.2, inplace=True),
    "SiLU": lambda m: m.SiLU(),
    "SiLU-inplace": lambda m: m.SiLU(inplace=True),
    "ELU": lambda m: m.ELU(),
    "ELU-args": lambda m: m.ELU(alpha=0.5, inplace=True),
    "Hardtanh": lambda m: m.Hardtanh(),
    "Hardtanh-args": lambda m: m.Hardtanh(-2.5, 0.5, inplace=True),
    "Hardswish": lambda m: m.Hardswish(),
    "Hardsigmoid": lambda m: m.Hardsigmoid(inplace=True),
    "Mish": lambda m: m.Mish(),
    "Softplus": lambda m: m.Softplus(beta=2, threshold=10),
    "LogSigmoid": lambda m: m.LogSigmoid(),
    "PReLU": lambda m: m.PReLU(),
    "PReLU-channels": lambda m: m.PReLU(3, init=0.1),
    "Softmax2d": lambda m: m.Softmax2d(),
    "Softmax": lambda m: m.Softmax(dim=1),
    "Softmax-none": lambda m: m.Softmax(),
    "LogSoftmax": lambda m: m.LogSoftmax(dim=-1),
    "Identity": lambda m: m.Identity(54, unused="argument"),
    "Flatten": lambda m: m.Flatten(),
    "Flatten-args": lambda m: m.Flatten(0, 2),
    "Dropout": lambda m: m.Dropout(),
    "Dropout-args": lambda m: m.Dropout(0.2, inplace=True),
    "BatchNorm1d": lambda m: m.BatchNorm1d(3),
    "BatchNorm2d-args": lambda m: m.BatchNorm2d(3, eps=1e-3, momentum=None, affine=False,
                                                track_running_stats=False),
    "BatchNorm3d": lambda m: m.BatchNorm3d(2, bias=False),
    "LayerNorm": lambda m: m.LayerNorm(4),
    "LayerNorm-args": lambda m: m.LayerNorm([4, 5], eps=1e-6, elementwise_affine=False),
    "GroupNorm": lambda m: m.GroupNorm(2, 4),
    "GroupNorm-args": lambda m: m.GroupNorm(1, 3, affine=False),
    "CrossEntropyLoss": lambda m: m.CrossEntropyLoss(),
    "NLLLoss": lambda m: m.NLLLoss(),
    "MSELoss": lambda m: m.MSELoss(),
    "LazyConv2d": lambda m: m.LazyConv2d(6, 5),
    "LazyConvTranspose2d": lambda m: m.LazyConvTranspose2d(3, 3, stride=2),
    "LazyLinear": lambda m: m.LazyLinear(10),
    "LazyBatchNorm1d": lambda m: m.LazyBatchNorm1d(),
    "LazyBatchNorm2d": lambda m: m.LazyBatchNorm2d(momentum=0.3),
    "LazyBatchNorm3d": lambda m: m.LazyBatchNorm3d(affine=False),
    "ModuleDict": lambda m: m.ModuleDict({"conv": m.Conv2d(1, 2, 3), "act": m.ReLU()}),
    "Unflatten": lambda m: m.Unflatten(1, (2, 5)),
    "Upsample": lambda m: m.Upsample(scale_factor=2),
    "Upsample-size": lambda m: m.Upsample(size=(4, 5), mode="bilinear", align_corners=True),
    "UpsamplingNearest2d": lambda m: m.UpsamplingNearest2d(scale_factor=2),
    "UpsamplingBilinear2d": lambda m: m.UpsamplingBilinear2d(size=3),
    "Sequential-nested": lambda m: m.Sequential(
        m.Conv2d(1, 6, kernel_size=5, padding=2), m.ReLU(),
        m.Sequential(m.MaxPool2d(kernel_size=2, stride=2), m.Flatten()),
        m.ModuleList([m.Linear(2, 3), m.Sequential()]), m.Identity()),
}


# Families whose N-d members take the same int arguments, for every N cnnlab has.
FAMILIES = {
    "Conv{}d": lambda cls: cls(2, 4, 3, stride=2, padding=1, bias=False),
    "ConvTranspose{}d": lambda cls: cls(2, 4, 3, stride=2, output_padding=1),
    "LazyConv{}d": lambda cls: cls(4, 3, dilation=2),
    "LazyConvTranspose{}d": lambda cls: cls(4, 3, groups=2),
    "MaxPool{}d": lambda cls: cls(3, stride=2, padding=1),
    "AvgPool{}d": lambda cls: cls(2),
    "LPPool{}d": lambda cls: cls(2, 3),
    "AdaptiveAvgPool{}d": lambda cls: cls(4),
    "AdaptiveMaxPool{}d": lambda cls: cls(2),
    "MaxUnpool{}d": lambda cls: cls(2),
    "Dropout{}d": lambda cls: cls(0.2),
    "InstanceNorm{}d": lambda cls: cls(3, affine=True),
    "LazyInstanceNorm{}d": lambda cls: cls(momentum=None, track_running_stats=True),
    "ZeroPad{}d": lambda cls: cls(1),
    "ConstantPad{}d": lambda cls: cls(1, 0.5),
    "ReflectionPad{}d": lambda cls: cls(2),
    "ReplicationPad{}d": lambda cls: cls(1),
    "CircularPad{}d": lambda cls: cls(1),
}
for _family, _build in FAMILIES.items():
    for _n in (1, 2, 3):
        _name = _family.format(_n)
        if hasattr(nn, _name) and _name not in MODULES:
            MODULES[_name] = (lambda name, build: lambda m: build(getattr(m, name)))(_name,
                                                                                   _build)


def test_every_cnnlab_module_is_covered():
    names = {name.split("-")[0] for name in MODULES} | {"Module", "ModuleList", "Sequential",
                                                       "Parameter", "LazyModuleMixin",
                                                       "ParameterList", "ParameterDict",
                                                       "UninitializedParameter",
                                                       "UninitializedBuffer"}
    exported = {name for name in dir(nn) if isinstance(getattr(nn, name), type)}
    assert exported - names == set()


@pytest.mark.parametrize("build", MODULES.values(), ids=MODULES.keys())
def test_repr_matches_torch(build):
    assert repr(build(nn)) == repr(build(torch.nn))
    assert str(build(nn)) == str(build(torch.nn))


def test_named_sequential_and_added_modules_print_like_torch():
    def build(m):
        from collections import OrderedDict
        net = m.Sequential(OrderedDict([("conv", m.Conv2d(1, 2, 3)), ("act", m.ReLU())]))
        net.add_module("pool", m.AdaptiveAvgPool2d((1, 1)))
        net.register_module("head", m.Sequential(m.Flatten(), m.LazyLinear(10)))
        return net
    assert repr(build(nn)) == repr(build(torch.nn))


# ----------------------------------------------------------- module traversal


def build_tree(m):
    class Block(m.Module):
        def __init__(self):
            super().__init__()
            self.conv = m.Conv2d(2, 2, 1)
            self.norm = m.BatchNorm2d(2)
            self.shared = self.conv   # the same module twice: visited once

        def forward(self, x):
            return self.norm(self.conv(x))
    return m.Sequential(Block(), m.ReLU(), Block())


def test_traversal_matches_torch():
    ours, theirs = build_tree(nn), build_tree(torch.nn)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(c).__name__ for c in ours.children()] == \
        [type(c).__name__ for c in theirs.children()]
    assert [type(c).__name__ for c in ours.modules()] == \
        [type(c).__name__ for c in theirs.modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    visited, torch_visited = [], []
    ours.apply(lambda m: visited.append(type(m).__name__))
    theirs.apply(lambda m: torch_visited.append(type(m).__name__))
    assert visited == torch_visited


def test_train_eval_and_zero_grad_like_torch():
    net = build_tree(nn)
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net[0].train(False)
    assert not net[0].conv.training and net[2].training
    net(cnnlab.ones(1, 2, 3, 3)).sum().backward()
    assert net[0].conv.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert net[0].conv.weight.grad.numpy().tolist() == [[[[0.0]], [[0.0]]]] * 2
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_add_module_checks_names_like_torch():
    with pytest.raises(KeyError, match="contain no '.'"):
        nn.Sequential().add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential().add_module("a", 3)
    module = nn.Module()
    module.plain = 1
    with pytest.raises(KeyError, match="already exists"):
        module.add_module("plain", nn.ReLU())


# --------------------------------------------------------------- activations

ACTIVATIONS = {
    "gelu": (lambda f, x: f.gelu(x), None),
    "gelu-tanh": (lambda f, x: f.gelu(x, approximate="tanh"), None),
    "leaky_relu": (lambda f, x: f.leaky_relu(x), None),
    "leaky_relu-0.2": (lambda f, x: f.leaky_relu(x, 0.2), None),
    "silu": (lambda f, x: f.silu(x), None),
    "elu": (lambda f, x: f.elu(x), None),
    "elu-0.5": (lambda f, x: f.elu(x, alpha=0.5), None),
    "relu6": (lambda f, x: f.relu6(x), None),
    "hardtanh": (lambda f, x: f.hardtanh(x), None),
    "hardtanh-args": (lambda f, x: f.hardtanh(x, -3.0, 6.0), None),
    "softplus": (lambda f, x: f.softplus(x), None),
    "softplus-args": (lambda f, x: f.softplus(x, beta=2.0, threshold=3.0), None),
    "logsigmoid": (lambda f, x: f.logsigmoid(x), None),
    "mish": (lambda f, x: f.mish(x), None),
    "hardswish": (lambda f, x: f.hardswish(x), None),
    "hardsigmoid": (lambda f, x: f.hardsigmoid(x), None),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_values_and_gradients_match_torch(name):
    apply = ACTIVATIONS[name][0]
    # Includes exact zeros, 6, and large magnitudes (the erf branches of gelu).
    values = np.concatenate([np.random.default_rng(0).normal(0, 3, size=200),
                             [0.0, 6.0, -0.0, 2.9999, 3.0, -3.0, 1.0, -1.0, 1.5, -4.5, 5.99,
                              7.0, -30.0, 30.0]])
    x = cnnlab.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    y, ty = apply(F, x), apply(torch.nn.functional, tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12,
                               atol=1e-14)
    y.sum().backward(), ty.sum().backward()
    # PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 even in float64
    # (0.1666666716...); cnnlab uses 1/6 of the dtype: 3e-8 apart.
    rtol = 5e-8 if name == "hardsigmoid" else 1e-8
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", ["GELU", "LeakyReLU", "SiLU", "ELU", "ReLU6", "ReLU", "Mish",
                                  "Hardswish", "Hardsigmoid", "Hardtanh", "Softplus",
                                  "LogSigmoid"])
def test_activation_modules_match_torch_in_float32(name):
    data = np.random.default_rng(1).normal(0, 2, size=(3, 4)).astype(np.float32)
    y = getattr(nn, name)()(cnnlab.tensor(data))
    assert y.dtype == cnnlab.float32
    np.testing.assert_allclose(y.numpy(), getattr(torch.nn, name)()(torch.tensor(data)).numpy(),
                               rtol=1e-6, atol=1e-6)


def test_erf_agrees_with_math_erf():
    import math

    from cnnlab.functional.nonlinear import erf
    grid = np.concatenate([np.linspace(-7, 7, 4001), [np.inf, -np.inf, 0.0]])
    expected = np.array([math.erf(v) for v in grid])
    np.testing.assert_allclose(erf(grid), expected, rtol=0, atol=2e-15)
    assert np.isnan(erf(np.array([np.nan]))[0])


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_without_dim_picks_torchs_legacy_dim(shape):
    data = np.random.default_rng(2).normal(size=shape)
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax()(torch.tensor(data)).numpy()
    np.testing.assert_allclose(nn.Softmax()(cnnlab.tensor(data)).numpy(), expected,
                               rtol=1e-12)


def test_activation_errors():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', "
                                         "got 'fast'"):
        F.gelu(cnnlab.ones(2), approximate="fast")
    with pytest.raises(TypeError, match="ReLU: inplace must be True or False"):
        nn.ReLU(inplace="yes")
    with pytest.raises(TypeError, match="leaky_relu: input must be a floating tensor"):
        F.leaky_relu(cnnlab.tensor([1, 2]))


def test_assigning_to_a_parameter_name_like_torch():
    layer = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        layer.weight = cnnlab.zeros(3, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert "bias" in layer._parameters and repr(layer).endswith("bias=False)")
    layer.weight = nn.Parameter(cnnlab.ones(3, 2))
    assert layer.weight.sum().item() == 6


def test_traversal_options_like_torch():
    ours, theirs = build_tree(nn), build_tree(torch.nn)
    for keep in (True, False):
        assert [n for n, _ in ours.named_modules(remove_duplicate=keep)] == \
            [n for n, _ in theirs.named_modules(remove_duplicate=keep)]
        assert [n for n, _ in ours.named_parameters(prefix="net", remove_duplicate=keep)] == \
            [n for n, _ in theirs.named_parameters(prefix="net", remove_duplicate=keep)]
        assert [n for n, _ in ours.named_buffers(remove_duplicate=keep)] == \
            [n for n, _ in theirs.named_buffers(remove_duplicate=keep)]
    assert [n for n, _ in ours[0].named_parameters(recurse=False)] == []
    assert ours.get_submodule("2.norm") is ours[2].norm
    assert ours.get_parameter("0.conv.bias") is ours[0].conv.bias
    assert ours.get_buffer("2.norm.running_var") is ours[2].norm.running_var
    with pytest.raises(AttributeError, match="has no submodule 'nope'"):
        ours.get_submodule("0.nope")


# ------------------------------------------------------------------ containers


def parameter_containers(library):
    m = library.nn
    return (m.ParameterList([m.Parameter(library.ones(2, 3)),
                             library.ones(4, dtype=library.float64)]),
            m.ParameterDict({"w": m.Parameter(library.ones(2))}),
            m.ParameterDict({"a": library.zeros(3, 1, dtype=library.int64).float(),
                             "b": m.Parameter(library.ones(1, dtype=library.float64))}))


def test_parameter_containers_print_and_register_like_torch():
    for ours, theirs in zip(parameter_containers(cnnlab), parameter_containers(torch)):
        assert repr(ours) == repr(theirs).replace("torch.", "cnnlab.")
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert len(ours) == len(theirs)


def test_sequential_and_module_list_edit_like_torch():
    from collections import OrderedDict

    def build(m):
        return m.Sequential(OrderedDict([("conv", m.Conv2d(1, 2, 3)), ("act", m.ReLU()),
                                         ("pool", m.MaxPool2d(2))]))
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours[1:]) == repr(theirs[1:])      # a slice keeps the names
    assert repr(ours[-1]) == repr(theirs[-1])
    for net in (ours, theirs):
        del net[0]
    assert repr(ours) == repr(theirs)             # ... and deleting renumbers
    library = {id(ours): nn, id(theirs): torch.nn}
    for net in (ours, theirs):
        m = library[id(net)]
        net.insert(1, m.Tanh())
        net.append(m.Flatten())
        net.extend([m.Identity()])
        net[0] = m.Sigmoid()
        net.pop(2)
    assert repr(ours) == repr(theirs)
    assert repr(ours + nn.Sequential(nn.ReLU())) == repr(theirs + torch.nn.Sequential(
        torch.nn.ReLU()))
    with pytest.raises(IndexError, match="index 9 is out of range for 4"):
        ours[9]

    def build_list(m):
        return m.ModuleList([m.ReLU(), m.Linear(2, 3), m.Tanh()])
    ours, theirs = build_list(nn), build_list(torch.nn)
    for net, m in ((ours, nn), (theirs, torch.nn)):
        net.insert(1, m.Sigmoid())
        del net[0]
        net[-1] = m.ELU()
        net.extend([m.Identity()])
    assert repr(ours) == repr(theirs)
    assert repr(ours[1:3]) == repr(theirs[1:3])
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_module_dict_behaves_like_torchs():
    def build(m):
        heads = m.ModuleDict({"digit": m.Linear(4, 10)})
        heads["parity"] = m.Linear(4, 2)
        heads.update([("extra", m.ReLU())])
        heads.pop("extra")
        return heads
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    assert list(ours.keys()) == list(theirs.keys()) == ["digit", "parity"]
    assert "digit" in ours and len(ours) == 2
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    with pytest.raises(ValueError, match="expected a mapping or pairs"):
        ours.update([nn.ReLU()])


def test_unflatten_like_torch():
    data = np.arange(30.0).reshape(3, 10)
    np.testing.assert_array_equal(nn.Unflatten(1, (2, 5))(cnnlab.tensor(data)).numpy(),
                                  torch.nn.Unflatten(1, (2, 5))(torch.tensor(data)).numpy())


@pytest.mark.parametrize("shape,slopes", [((4, 3, 2), 3), ((5, 3), 1), ((6,), 1),
                                          ((2, 2, 2, 2), 2)])
def test_prelu_values_and_gradients_match_torch(shape, slopes):
    rng = np.random.default_rng(4)
    values = rng.normal(size=shape)
    weights = rng.uniform(0.05, 0.5, size=slopes)
    x, tx = cnnlab.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    w, tw = cnnlab.tensor(weights, requires_grad=True), torch.tensor(weights, requires_grad=True)
    y, ty = F.prelu(x, w), torch.nn.functional.prelu(tx, tw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    dy = rng.normal(size=shape)
    y.backward(cnnlab.tensor(dy)), ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)


def test_softmax2d_and_prelu_module_like_torch():
    data = np.random.default_rng(5).normal(size=(2, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(nn.Softmax2d()(cnnlab.tensor(data)).numpy(),
                               torch.nn.Softmax2d()(torch.tensor(data)).numpy(), rtol=1e-6)
    layer, twin = nn.PReLU(3), torch.nn.PReLU(3)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    np.testing.assert_allclose(layer(cnnlab.tensor(data)).detach().numpy(),
                               twin(torch.tensor(data)).detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="weight has 2 slopes; expected 1 or the 3 channels"):
        F.prelu(cnnlab.ones(2, 3), cnnlab.ones(2))
    with pytest.raises(ValueError, match="weight has 6 slopes; expected 1 or the 1 channels"):
        F.prelu(cnnlab.ones(6), cnnlab.ones(6))   # torch: 1-D input has one channel
    with pytest.raises(ValueError, match=r"min_val \(2\) cannot be greater than max_val"):
        nn.Hardtanh(2, 1)


# ------------------------------------------------------------------ nn.utils


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(6)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    grads = [rng.normal(size=s) for s in shapes]
    ours = [cnnlab.zeros(*s, dtype=cnnlab.float64, requires_grad=True) for s in shapes]
    theirs = [torch.zeros(*s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p, tp, g in zip(ours, theirs, grads):
        p.grad, tp.grad = cnnlab.tensor(g), torch.tensor(g)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_parameter_vectors_match_torch():
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    values = np.arange(8.0) - 4
    nn.utils.vector_to_parameters(cnnlab.tensor(values), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(values), theirs.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(ours.parameters()).detach()
                                  .numpy(), torch.nn.utils.parameters_to_vector(
                                      theirs.parameters()).detach().numpy())
    x = np.random.default_rng(1).normal(size=(4, 3)) * 10
    ours(cnnlab.tensor(x)).sum().backward(), theirs(torch.tensor(x)).sum().backward()
    nn.utils.clip_grad_value_(ours.parameters(), 0.7)
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.7)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    with pytest.raises(ValueError, match="vec has 3 elements, the parameters 8"):
        nn.utils.vector_to_parameters(cnnlab.zeros(3), ours.parameters())
    broken = cnnlab.zeros(2, requires_grad=True)
    broken.grad = cnnlab.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([broken], 1.0, error_if_nonfinite=True)

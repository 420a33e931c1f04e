"""cnnlab.onnx.export: every layer form the issue lists, the twin models and custom
forwards, each file checked by onnx.checker (full_check) and run by ONNX Runtime
against cnnlab's own output (1e-5 relative); and clear errors for what ONNX cannot say."""

import numpy as np
import onnx
import onnxruntime
import pytest
import torch  # noqa: F401  (the suite's oracle; its absence must fail the run)

import cnnlab
import cnnlab.onnx
from cnnlab import nn
from cnnlab.nn import functional as F

from model_twins import TWINS


def run_onnx(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check_export(tmp_path, model, shape, opset=17, batch=3, seed=0):
    """Export on a batch of 1, run a batch of ``batch`` in ONNX Runtime and in cnnlab."""
    model.eval()
    x = np.random.default_rng(seed).standard_normal((batch, *shape[1:])).astype(np.float32)
    path = tmp_path / "model.onnx"
    proto = cnnlab.onnx.export(model, cnnlab.tensor(x[:1]), path, opset_version=opset)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    expected = model(cnnlab.tensor(x)).detach().numpy()
    actual = run_onnx(path, x)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    return [node.op_type for node in proto.graph.node]


@pytest.mark.parametrize("name", list(TWINS))
def test_twin_models_agree_with_onnx_runtime(tmp_path, name):
    build, shape = TWINS[name]
    ops = check_export(tmp_path, build(nn), shape)
    assert "Conv" in ops


CONV = {
    "plain": dict(),
    "pad1": dict(padding=1),
    "pad-hw": dict(padding=(2, 1)),
    "per-side": dict(padding=((1, 0), (2, 1))),
    "same": dict(padding="same"),
    "same-dilated": dict(padding="same", dilation=2),
    "same-stride2": dict(padding="same", stride=2),
    "valid": dict(padding="valid"),
    "stride-dilation": dict(stride=(2, 1), dilation=(1, 2), padding=1),
    "groups": dict(groups=2, padding=1),
    "depthwise": dict(groups=4, out=8),
    "no-bias": dict(bias=False),
    "reflect": dict(padding=1, padding_mode="reflect"),
    "replicate": dict(padding=(1, 2), padding_mode="replicate"),
}


@pytest.mark.parametrize("kwargs", CONV.values(), ids=CONV.keys())
def test_conv2d_forms(tmp_path, kwargs):
    kwargs = dict(kwargs)
    out = kwargs.pop("out", 6)
    check_export(tmp_path, nn.Conv2d(4, out, 3, **kwargs), (1, 4, 9, 8))


def test_gelu_tanh_needs_opset_20(tmp_path):
    check_export(tmp_path, nn.GELU(approximate="tanh"), (1, 3, 4), opset=20)
    check_export(tmp_path, nn.GELU(), (1, 3, 4), opset=20)
    with pytest.raises(ValueError, match=r"approximate='tanh' needs opset 20 \(Gelu\)"):
        cnnlab.onnx.export(nn.GELU(approximate="tanh"), cnnlab.zeros(1, 3), tmp_path / "x.onnx")


def test_circular_padding_needs_opset_19(tmp_path):
    layer = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")
    check_export(tmp_path, layer, (1, 2, 6, 7), opset=19)
    with pytest.raises(ValueError, match=r"onnx.export: the model \(Conv2d\): "
                                         r"padding_mode='circular' needs opset 19"):
        cnnlab.onnx.export(layer, cnnlab.zeros(1, 2, 6, 7), tmp_path / "x.onnx")


TRANSPOSED = {
    "plain": dict(),
    "stride2": dict(stride=2, padding=1, output_padding=1),
    "dilated-groups": dict(dilation=2, groups=2),
    "asymmetric": dict(stride=(2, 3), padding=(0, 1)),
}


@pytest.mark.parametrize("kwargs", TRANSPOSED.values(), ids=TRANSPOSED.keys())
def test_conv_transpose2d_forms(tmp_path, kwargs):
    check_export(tmp_path, nn.ConvTranspose2d(4, 6, 3, **kwargs), (1, 4, 5, 6))


POOLS = {
    "max": (lambda: nn.MaxPool2d(2), 17),
    "max-overlap-pad": (lambda: nn.MaxPool2d(3, stride=2, padding=1), 17),
    "max-ceil": (lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True), 17),
    "max-dilation": (lambda: nn.MaxPool2d(2, stride=1, dilation=2), 17),
    "avg": (lambda: nn.AvgPool2d(2), 17),
    "avg-pad-include": (lambda: nn.AvgPool2d(3, stride=2, padding=1), 17),
    "avg-pad-exclude": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                        17),
    "avg-ceil": (lambda: nn.AvgPool2d(2, ceil_mode=True), 17),
    "avg-dilation": (lambda: nn.AvgPool2d(2, stride=1, dilation=2), 19),
    "lp2": (lambda: nn.LPPool2d(2, 2), 17),
    "lp1-stride": (lambda: nn.LPPool2d(1, 3, stride=2), 17),
    "lp2-ceil": (lambda: nn.LPPool2d(2, 2, ceil_mode=True), 18),
    "adaptive-avg-global": (lambda: nn.AdaptiveAvgPool2d(1), 17),
    "adaptive-avg-divisible": (lambda: nn.AdaptiveAvgPool2d((3, 2)), 17),
    "adaptive-max-global": (lambda: nn.AdaptiveMaxPool2d((1, 1)), 17),
    "adaptive-max-divisible": (lambda: nn.AdaptiveMaxPool2d(3), 17),
}


@pytest.mark.parametrize("make, opset", POOLS.values(), ids=POOLS.keys())
def test_pooling_forms(tmp_path, make, opset):
    check_export(tmp_path, make(), (1, 3, 9, 6), opset=opset)


def trained_batch_norm():
    layer = nn.BatchNorm2d(4)
    layer.train()
    for seed in range(3):
        layer(cnnlab.randn(5, 4, 3, 3) * (seed + 1) + seed)
    return layer


LAYERS = {
    "batch-norm": (trained_batch_norm, (1, 4, 5, 5)),
    "batch-norm-no-affine": (lambda: nn.BatchNorm2d(4, affine=False), (1, 4, 5, 5)),
    "linear": (lambda: nn.Linear(7, 3), (1, 7)),
    "linear-no-bias-3d": (lambda: nn.Linear(7, 3, bias=False), (1, 2, 7)),
    "sigmoid": (nn.Sigmoid, (1, 3, 4)),
    "tanh": (nn.Tanh, (1, 3, 4)),
    "leaky-relu": (lambda: nn.LeakyReLU(0.2), (1, 3, 4)),
    "relu6": (nn.ReLU6, (1, 3, 4)),
    "elu": (lambda: nn.ELU(0.5), (1, 3, 4)),
    "silu": (nn.SiLU, (1, 3, 4)),
    "gelu": (nn.GELU, (1, 3, 4)),
    "layer-norm": (lambda: nn.LayerNorm((4, 5)), (1, 3, 4, 5)),
    "layer-norm-no-affine": (lambda: nn.LayerNorm(5, elementwise_affine=False), (1, 3, 5)),
    "softmax": (lambda: nn.Softmax(dim=1), (1, 5, 2)),
    "log-softmax": (lambda: nn.LogSoftmax(dim=-1), (1, 2, 5)),
    "flatten-2": (lambda: nn.Sequential(nn.Flatten(2), nn.ReLU()), (1, 3, 4, 5)),
    "dropout": (lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)), (1, 4)),
    "upsample-nearest": (lambda: nn.Upsample(scale_factor=2), (1, 2, 3, 4)),
    "upsample-bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4)),
    "upsample-bilinear-corners": (lambda: nn.Upsample(size=(5, 7), mode="bilinear",
                                                      align_corners=True), (1, 2, 3, 4)),
    "group-norm": (lambda: _randomised(nn.GroupNorm(2, 6)), (1, 6, 4, 5)),
    "group-norm-no-affine": (lambda: nn.GroupNorm(3, 6, affine=False), (1, 6, 7)),
    "instance-norm": (lambda: nn.InstanceNorm2d(3), (1, 3, 4, 5)),
    "instance-norm-affine": (lambda: _randomised(nn.InstanceNorm1d(3, affine=True)), (1, 3, 7)),
    "instance-norm-running": (lambda: _randomised(nn.InstanceNorm2d(
        3, affine=True, track_running_stats=True)), (1, 3, 4, 5)),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 2.0), (1, 3, 4)),
    "hardswish": (nn.Hardswish, (1, 3, 4)),
    "hardsigmoid": (nn.Hardsigmoid, (1, 3, 4)),
    "softplus": (nn.Softplus, (1, 3, 4)),
    "softplus-beta": (lambda: nn.Softplus(beta=2.5), (1, 3, 4)),
    "log-sigmoid": (nn.LogSigmoid, (1, 3, 4)),
    "mish": (nn.Mish, (1, 3, 4)),
    "prelu": (lambda: _randomised(nn.PReLU(3)), (1, 3, 4, 5)),
    "prelu-one": (nn.PReLU, (1, 3, 4)),
    "identity": (lambda: nn.Sequential(nn.Identity(), nn.ReLU()), (1, 3, 4)),
    "softmax2d": (nn.Softmax2d, (1, 3, 4, 5)),
}


def _randomised(module):
    """``module`` with random parameters and running statistics (not the identity's)."""
    rng = np.random.default_rng(3)
    for tensor in list(module.parameters()) + [b for b in module.buffers() if b.ndim]:
        tensor.array[...] = rng.uniform(0.5, 1.5, tensor.shape)
    return module


@pytest.mark.parametrize("make, shape", LAYERS.values(), ids=LAYERS.keys())
def test_other_layers(tmp_path, make, shape):
    check_export(tmp_path, make(), shape)


@pytest.mark.parametrize("opset", [13, 18, 21])
@pytest.mark.parametrize("name", ["group-norm", "instance-norm-affine", "mish", "prelu",
                                  "softplus-beta", "log-sigmoid"])
def test_newer_layers_at_every_opset(tmp_path, name, opset):
    make, shape = LAYERS[name]
    ops = check_export(tmp_path, make(), shape, opset=opset)
    if name == "mish":   # its own op from opset 18, x tanh(softplus(x)) before
        assert ("Mish" in ops) == (opset >= 18), ops


ND = {
    "conv1d": (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=1), (1, 3, 11)),
    "conv1d-same": (lambda: nn.Conv1d(3, 4, 4, padding="same", dilation=2), (1, 3, 11)),
    "conv3d-groups": (lambda: nn.Conv3d(4, 4, 3, padding=(1, 0, 1), groups=2), (1, 4, 5, 6, 4)),
    "conv-transpose1d": (lambda: nn.ConvTranspose1d(3, 2, 3, stride=2, output_padding=1),
                         (1, 3, 7)),
    "conv-transpose3d": (lambda: nn.ConvTranspose3d(2, 3, 2, stride=2), (1, 2, 3, 3, 2)),
    "max-pool1d": (lambda: nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True), (1, 3, 10)),
    "avg-pool3d": (lambda: nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False),
                   (1, 2, 4, 5, 3)),
    "lp-pool1d": (lambda: nn.LPPool1d(2, 3, stride=2), (1, 3, 9)),
    "adaptive-avg1d": (lambda: nn.AdaptiveAvgPool1d(1), (1, 3, 9)),
    "adaptive-max3d": (lambda: nn.AdaptiveMaxPool3d((2, 1, 3)), (1, 2, 4, 5, 6)),
    "batch-norm1d-3d-input": (lambda: nn.BatchNorm1d(3), (1, 3, 7)),
}


@pytest.mark.parametrize("make, shape", ND.values(), ids=ND.keys())
def test_one_and_three_dimensional_layers(tmp_path, make, shape):
    check_export(tmp_path, make(), shape)


class Residual(nn.Module):
    """The book's ResNet block: F.relu and an in-place ``+=`` in a custom forward."""

    def __init__(self, channels, use_1x1conv=False, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels * (2 if use_1x1conv else 1), 3,
                               padding=1, stride=stride)
        out = channels * (2 if use_1x1conv else 1)
        self.conv2 = nn.Conv2d(out, out, 3, padding=1)
        self.conv3 = nn.Conv2d(channels, out, 1, stride=stride) if use_1x1conv else None
        self.bn1, self.bn2 = nn.BatchNorm2d(out), nn.BatchNorm2d(out)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


class Tensors(nn.Module):
    """cat, view, mean, permute, arithmetic with numbers between layers."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 3, 1), nn.Conv2d(2, 4, 3, padding=1)

    def forward(self, x):
        y = cnnlab.cat((self.a(x), self.b(x)), dim=1) * 0.5 - 1
        pooled = y.mean((2, 3))
        flat = y.view(y.shape[0], -1)
        return cnnlab.cat((pooled, flat.permute(1, 0).permute(1, 0) / 2), dim=1).tanh()


@pytest.mark.parametrize("make", [lambda: nn.Sequential(Residual(3), Residual(3, True, 2)),
                                  Tensors], ids=["residual", "tensor-ops"])
def test_custom_forwards(tmp_path, make):
    check_export(tmp_path, make(), (1, 3 if make is not Tensors else 2, 6, 6))


ERRORS = {
    "divisor": (lambda: nn.AvgPool2d(2, divisor_override=3), 17,
                r"\(AvgPool2d\): divisor_override=3 has no ONNX form"),
    "avg-dilation-17": (lambda: nn.AvgPool2d(2, dilation=2), 17,
                        r"dilation=\(2, 2\) needs opset 19 \(AveragePool dilations\); got "
                        r"opset_version=17"),
    "adaptive-uneven": (lambda: nn.AdaptiveAvgPool2d(4), 17,
                        r"output_size=4 from input \(9, 6\): ONNX has no adaptive pooling"),
    "indices": (lambda: nn.MaxPool2d(2, return_indices=True), 17,
                r"returned a tuple; only layers returning one tensor"),
    "lp-fraction": (lambda: nn.LPPool2d(1.5, 2), 17, r"norm_type=1.5 must be a positive whole"),
    "functional": (lambda: FunctionalPool(), 17,
                   r"cannot export the tensor operation 'MaxPool2DWithIndices': it was called "
                   r"as a function inside a forward.*use the layer nn.MaxPool2d"),
    "opset": (lambda: nn.ReLU(), 12, r"opset_version must be an int from 13 to 21, got 12"),
    "hardswish-13": (lambda: nn.Hardswish(), 13, r"\(Hardswish\): HardSwish needs opset 14; "
                     r"got opset_version=13"),
    "instance-norm-unbatched": (lambda: UnbatchedInstanceNorm(), 17,
                                r"unbatched input cannot be exported"),
}


class UnbatchedInstanceNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.InstanceNorm2d(3)

    def forward(self, x):   # (3, 9, N * 6): an unbatched image for InstanceNorm2d
        return self.norm(x.reshape(3, 9, -1))


class FunctionalPool(nn.Module):
    def forward(self, x):
        return F.max_pool2d(x, 2)


@pytest.mark.parametrize("make, opset, message", ERRORS.values(), ids=ERRORS.keys())
def test_what_onnx_cannot_express_is_a_clear_error(tmp_path, make, opset, message):
    with pytest.raises(ValueError, match=message):
        cnnlab.onnx.export(make(), cnnlab.zeros(1, 3, 9, 6), tmp_path / "x.onnx",
                           opset_version=opset)
    assert not (tmp_path / "x.onnx").exists()


def test_export_restores_training_mode_and_fixed_batch(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5), nn.ReLU())
    model.train()
    proto = cnnlab.onnx.export(model, cnnlab.zeros(2, 1, 5, 5), tmp_path / "m.onnx",
                               dynamic_batch=False)
    assert model.training and model[1].training
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 1, 5, 5]
    assert "forward" not in model[0].__dict__  # the tracing wrapper is gone


def test_scalar_operands_are_zero_dimensional(tmp_path):
    """ONNX wants Clip's bounds as scalars: 0-d initializers (np.ascontiguousarray had
    made them 1-D)."""
    cnnlab.onnx.export(nn.Sequential(nn.ReLU6(), nn.Hardtanh(0.2, 0.8)), cnnlab.zeros(1, 3),
                       tmp_path / "m.onnx")
    bounds = [list(i.dims) for i in onnx.load(tmp_path / "m.onnx").graph.initializer]
    assert bounds == [[]] * 4, bounds

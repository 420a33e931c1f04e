"""cnnlab.onnx.load: ONNX's own backend test cases for the supported operators, models
exported by torch.onnx.export from the PyTorch twins (same outputs, same gradients,
further training), round trips of cnnlab's exporter, and one clear error listing
everything a file uses that cnnlab cannot run."""

import warnings

import numpy as np
import onnx
import onnx.helper as oh
import pytest
import torch

import cnnlab
import cnnlab.onnx
from cnnlab import nn

from model_twins import TWINS

OPS = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
       "GlobalMaxPool", "BatchNormalization", "Gemm", "MatMul", "Relu", "Sigmoid", "Tanh",
       "Flatten", "Reshape", "Concat", "Add", "Mul", "Dropout", "Softmax", "LogSoftmax",
       "Resize", "Clip", "LeakyRelu", "Elu", "LayerNormalization", "Gelu",
       "InstanceNormalization", "PRelu", "HardSigmoid", "HardSwish", "Softplus", "Mish"]

# Cases that load but are refused when run: where ONNX and PyTorch disagree.
REFUSED_AT_RUN = {
    "test_resize_downsample_scales_linear_align_corners": "do not give whole sizes",
    "test_resize_downsample_scales_cubic_align_corners": "do not give whole sizes",
    "test_resize_downsample_sizes_linear_pytorch_half_pixel": "output length of 1",
}

# Cases whose expected values the ONNX test writes with 4 significant digits.
ROUNDED = {"test_averagepool_2d_ceil_last_window_starts_on_pad": 1e-3}

# The fewest data sets per operator that must load and match (counted when written,
# 1-D and 3-D windows included: a refusal creeping in makes the test fail).
MIN_MATCHED = {"Conv": 6, "ConvTranspose": 8, "MaxPool": 17, "AveragePool": 19, "LpPool": 8,
               "GlobalAveragePool": 2, "GlobalMaxPool": 2, "BatchNormalization": 2,
               "Gemm": 11, "MatMul": 7, "Relu": 1, "Sigmoid": 2, "Tanh": 2, "Flatten": 9,
               "Reshape": 9, "Concat": 12, "Add": 8, "Mul": 9, "Dropout": 4, "Softmax": 7,
               "LogSoftmax": 7, "Resize": 8, "Clip": 1, "LeakyRelu": 1, "Elu": 1,
               "LayerNormalization": 19, "Gelu": 4, "InstanceNormalization": 2, "PRelu": 2,
               "HardSigmoid": 3, "HardSwish": 1, "Softplus": 2, "Mish": 1}


# The modules of onnx.backend.test.case.node that define the cases of OPS; importing one
# generates its cases (importing all of them takes three times as long).
CASE_MODULES = ["conv", "convtranspose", "maxpool", "averagepool", "lppool",
                "globalaveragepool", "globalmaxpool", "batch_normalization", "gemm", "matmul",
                "relu", "sigmoid", "tanh", "flatten", "reshape", "concat", "add", "mul",
                "dropout", "softmax", "logsoftmax", "resize", "clip", "leakyrelu", "elu",
                "layernormalization", "gelu", "instance_normalization", "prelu",
                "hardsigmoid", "hardswish", "softplus", "mish"]


@pytest.fixture(scope="module")
def backend_cases():
    import importlib

    import onnx.backend.test.case.node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in CASE_MODULES:
            importlib.import_module(f"onnx.backend.test.case.node.{name}")
    return [case for case in node_cases._NodeTestCases if len(case.model.graph.node) == 1]


@pytest.mark.parametrize("op_type", OPS)
def test_onnx_backend_node_cases(tmp_path, backend_cases, op_type):
    matched, refused = [], []
    for case in backend_cases:
        if case.model.graph.node[0].op_type != op_type:
            continue
        path = tmp_path / f"{case.name}.onnx"
        onnx.save(case.model, path)
        try:
            model = cnnlab.onnx.load(path)
        except ValueError as error:
            assert str(error).startswith(f"onnx.load: {path} uses what cnnlab cannot run:\n  - ")
            refused.append(case.name)
            continue
        for inputs, outputs in case.data_sets:
            if case.name in REFUSED_AT_RUN:
                with pytest.raises(ValueError, match=REFUSED_AT_RUN[case.name]):
                    model(*inputs)
                continue
            with cnnlab.no_grad():
                result = model(*inputs)
            results = result if isinstance(result, tuple) else (result,)
            for actual, expected in zip(results, outputs):
                actual = actual.numpy()
                assert actual.shape == expected.shape, case.name
                np.testing.assert_allclose(actual, expected, rtol=ROUNDED.get(case.name, 1e-5),
                                           atol=1e-5, err_msg=case.name)
            matched.append(case.name)
    assert len(matched) >= MIN_MATCHED[op_type], (matched, refused)


def export_torch(model, x, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x),), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})


@pytest.mark.parametrize("name", list(TWINS))
def test_torch_exported_models_run_and_train_in_cnnlab(tmp_path, name):
    build, shape = TWINS[name]
    theirs = build(torch.nn).eval()
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    export_torch(theirs, x[:1], tmp_path / "m.onnx")
    ours = cnnlab.onnx.load(tmp_path / "m.onnx")
    # same outputs, on another batch size than the traced one
    out = ours(cnnlab.tensor(x))
    expected = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    # parameters keep PyTorch's names; gradients agree
    torch_parameters = dict(theirs.named_parameters())
    ours_parameters = dict(ours.named_parameters())
    assert set(ours_parameters) == set(torch_parameters)
    weights = rng.standard_normal(expected.shape).astype(np.float32)
    (out * cnnlab.tensor(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for key, parameter in ours_parameters.items():
        np.testing.assert_allclose(parameter.grad.numpy(), torch_parameters[key].grad.numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=key)
    # one step of SGD in both: still the same function
    cnnlab.optim.SGD(ours.parameters(), lr=0.1).step()
    torch.optim.SGD(theirs.parameters(), lr=0.1).step()
    np.testing.assert_allclose(ours(cnnlab.tensor(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-4,
                               atol=1e-5)


def test_cnnlab_export_then_import_with_batch_norm(tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3),
                          nn.LogSoftmax(dim=1))
    model.train()
    model(cnnlab.randn(6, 2, 5, 5))  # running statistics away from 0 / 1
    model.eval()
    cnnlab.onnx.export(model, cnnlab.zeros(1, 2, 5, 5), tmp_path / "m.onnx")
    again = cnnlab.onnx.load(tmp_path / "m.onnx")
    x = cnnlab.randn(3, 2, 5, 5)
    np.testing.assert_allclose(again(x).detach().numpy(), model(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    state = again.state_dict()
    assert {"1.running_mean", "1.running_var"} <= set(state)
    assert "1.running_mean" not in dict(again.named_parameters())  # statistics are buffers
    np.testing.assert_array_equal(state["1.running_var"].numpy(),
                                  model[1].running_var.numpy())


def test_unsupported_ops_and_attributes_are_listed_at_once(tmp_path):
    nodes = [oh.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1]),
             oh.make_node("Erf", ["y"], ["z"]),
             oh.make_node("MaxPool", ["z"], ["out", "indices"], kernel_shape=[2, 2],
                          storage_order=1)]
    graph = oh.make_graph(
        nodes, "g", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 4, 4])],
        [oh.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1, 1, 2, 2]),
         oh.make_tensor_value_info("indices", onnx.TensorProto.INT64, [1, 1, 2, 2])],
        [onnx.numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")])
    path = tmp_path / "odd.onnx"
    onnx.save(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]), path)
    with pytest.raises(ValueError) as raised:
        cnnlab.onnx.load(path)
    message = str(raised.value)
    assert message.startswith(f"onnx.load: {path} uses what cnnlab cannot run:")
    assert message.count("\n  - ") == 3  # Conv is fine; three problems, one error
    assert "node 1 (Erf): operator Erf is not supported (supported: Abs, Add, AveragePool" in message
    assert "node 2 (MaxPool): attribute storage_order=1 must be 0" in message
    assert "node 2 (MaxPool): output Indices is not computed" in message


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x08\x07garbage that protobuf cannot parse \xff\xff")
    with pytest.raises(ValueError, match=r"onnx.load: .*junk\.onnx is not a valid ONNX model"):
        cnnlab.onnx.load(path)


def test_cnnlab_export_then_import_norms_and_activations(tmp_path):
    """GroupNorm (reshape, InstanceNormalization, reshape by Shape, affine), instance
    norm, PReLU and the hard/soft activations survive cnnlab's export and load."""
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.GroupNorm(2, 6), nn.PReLU(6),
                          nn.InstanceNorm2d(6, affine=True), nn.Hardswish(),
                          nn.Conv2d(6, 4, 1), nn.Softplus(beta=2.0), nn.Mish(),
                          nn.Hardsigmoid(), nn.Hardtanh(0.2, 0.8), nn.LogSigmoid())
    rng = np.random.default_rng(0)
    for p in model.parameters():
        p.array[...] = rng.uniform(-1, 1, p.shape)
    model.eval()
    cnnlab.onnx.export(model, cnnlab.zeros(1, 3, 5, 6), tmp_path / "m.onnx")
    again = cnnlab.onnx.load(tmp_path / "m.onnx")
    x = cnnlab.tensor(rng.standard_normal((2, 3, 5, 6)).astype(np.float32))
    np.testing.assert_allclose(again(x).detach().numpy(), model(x).detach().numpy(),
                               rtol=1e-5, atol=1e-6)

"""The book's models (defined by the D2L chapters' own cells, see tests/d2l_book.py) out
of cnnlab and back: ONNX export run by ONNX Runtime, torch.onnx.export of the PyTorch
twin loaded by cnnlab.onnx.load, and safetensors weights both ways, bit-identical."""

import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import safetensors.torch
import torch

import cnnlab
import cnnlab.onnx
import d2l_book

# (section, constructor as written in the book's cells, input shape); the inputs are
# small where the architecture allows. The chapter's first model, the from-scratch
# Conv2D of conv-layer (a Python loop over corr2d), has no ONNX form: see the last test.
MODELS = [
    ("lenet", "LeNet()", (2, 1, 28, 28)),
    ("alexnet", "AlexNet()", (2, 1, 67, 67)),
    ("vgg", "VGG(arch=((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)))", (2, 1, 32, 32)),
    ("nin", "NiN()", (2, 1, 67, 67)),
    ("googlenet", "GoogleNet()", (2, 1, 64, 64)),
    ("batch-norm", "BNLeNetScratch()", (2, 1, 28, 28)),
    ("batch-norm", "BNLeNet()", (2, 1, 28, 28)),
    ("resnet", "ResNeXtBlock(32, 16, 1)", (2, 32, 8, 8)),
    ("resnet", "ResNet18()", (2, 1, 64, 64)),
    ("densenet", "DenseNet()", (2, 1, 64, 64)),
    ("cnn-design", "RegNetX32()", (2, 1, 64, 64)),
]
IDS = [f"{m[0]}-{m[1].split('(')[0]}" for m in MODELS]

_NAMESPACES = {}


def twins(section, constructor, shape):
    """The cnnlab and PyTorch models, shaped by one batch in training mode (lazy layers,
    batch-norm statistics away from 0 / 1), weights copied from PyTorch, in eval mode."""
    if section not in _NAMESPACES:
        found = next(s for s in d2l_book.load_sections() if s["section"].endswith("/" + section))
        _NAMESPACES[section] = (d2l_book.build_namespace(found, "cnnlab"),
                                d2l_book.build_namespace(found, "torch"))
    ours_ns, theirs_ns = _NAMESPACES[section]
    cnnlab.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = eval(constructor, ours_ns), eval(constructor, theirs_ns)
    dry = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours(cnnlab.tensor(dry))
    with torch.no_grad():
        theirs(torch.from_numpy(dry))
    ours.load_state_dict(theirs.state_dict())
    # The book's from-scratch BatchNorm keeps its statistics as plain attributes, which no
    # state dict carries (in PyTorch neither): copy them too.
    for (_, mine), (_, other) in zip(ours.named_modules(), theirs.named_modules()):
        for name in ("moving_mean", "moving_var"):
            if isinstance(getattr(other, name, None), torch.Tensor):
                setattr(mine, name, cnnlab.tensor(getattr(other, name).detach().numpy()))
    return ours.eval(), theirs.eval()


def sample(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5,
                               atol=1e-5 * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("section, constructor, shape", MODELS, ids=IDS)
def test_book_model_exported_runs_in_onnx_runtime(tmp_path, section, constructor, shape):
    ours, _ = twins(section, constructor, shape)
    path = tmp_path / "model.onnx"
    cnnlab.onnx.export(ours, cnnlab.tensor(sample(shape)[:1]), path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x = sample(shape)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # With gradients recorded, as the trace ran: the book's from-scratch BatchNorm picks
    # batch statistics when torch.is_grad_enabled(), and the export follows that branch.
    expected = ours(cnnlab.tensor(x)).detach().numpy()
    assert_close(session.run(None, {"input": x})[0], expected)


@pytest.mark.parametrize("section, constructor, shape", MODELS, ids=IDS)
def test_book_model_from_torch_onnx_export_runs_in_cnnlab(tmp_path, section, constructor,
                                                          shape):
    _, theirs = twins(section, constructor, shape)
    path = tmp_path / "torch.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(theirs, (torch.from_numpy(sample(shape)[:1]),), str(path),
                          dynamo=False, input_names=["input"],
                          dynamic_axes={"input": {0: "N"}})
    ours = cnnlab.onnx.load(path)
    x = sample(shape)
    # With gradients recorded, as torch.onnx.export traced (see the test above).
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(ours(cnnlab.tensor(x)).detach().numpy(), expected)


@pytest.mark.parametrize("section, constructor, shape", MODELS, ids=IDS)
def test_book_model_weights_both_ways_through_safetensors(tmp_path, section, constructor,
                                                          shape):
    ours, theirs = twins(section, constructor, shape)
    # cnnlab -> PyTorch: perturb ours, write, load into the twin
    with cnnlab.no_grad():
        for parameter in ours.parameters():
            parameter.array += np.float32(0.01)
    cnnlab.save_weights(ours, tmp_path / "ours.safetensors")
    theirs.load_state_dict(safetensors.torch.load_file(tmp_path / "ours.safetensors"))
    for key, value in theirs.state_dict().items():
        assert value.numpy().tobytes() == ours.state_dict()[key].numpy().tobytes(), key
    x = sample(shape)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with cnnlab.no_grad():
        assert_close(ours(cnnlab.tensor(x)).numpy(), expected)
    # PyTorch -> cnnlab, into a fresh cnnlab twin
    safetensors.torch.save_file(theirs.state_dict(), tmp_path / "theirs.safetensors")
    fresh, _ = twins(section, constructor, shape)
    fresh.load_state_dict(cnnlab.load_weights(tmp_path / "theirs.safetensors"))
    for key, value in fresh.state_dict().items():
        assert value.numpy().tobytes() == theirs.state_dict()[key].numpy().tobytes(), key


def test_the_from_scratch_conv2d_is_refused_clearly(tmp_path):
    ours, _ = twins("conv-layer", "Conv2D(kernel_size=(1, 2))", (6, 8))
    with pytest.raises(ValueError, match=r"onnx.export: cannot export the tensor operation"):
        cnnlab.onnx.export(ours, cnnlab.zeros(6, 8), tmp_path / "x.onnx")

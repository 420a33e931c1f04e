"""Every model of the book's 13 CNN sections, defined by the book's own cells, against
PyTorch: the same weights copied in, float64, then the forward output and every
parameter's gradient compared (float64, 1e-8 for gradients).

The models come from running each section's cells (up to its first training cell) once
on cnnlab (through torch_compat) and once on PyTorch; see tests/d2l_book.py.
Inputs are small where the architecture allows (VGG at 32 x 32, ResNet at 64 x 64).
Models with dropout are compared in eval mode; the others in training mode, so batch
normalisation uses the batch statistics (its running statistics are copied too).
"""

import numpy as np
import pytest
import torch

import cnnlab
import d2l_book

# (section, constructor as written in the book's cells, input shape, mode)
MODELS = [
    ("conv-layer", "Conv2D(kernel_size=(1, 2))", (6, 8), "train"),
    ("lenet", "LeNet()", (2, 1, 28, 28), "train"),
    ("alexnet", "AlexNet()", (2, 1, 67, 67), "eval"),      # 67: the smallest it takes
    ("vgg", "VGG(arch=((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)))", (2, 1, 32, 32),
     "eval"),
    ("nin", "NiN()", (2, 1, 67, 67), "eval"),
    ("googlenet", "Inception(64, (96, 128), (16, 32), 32)", (2, 8, 12, 12), "train"),
    ("googlenet", "GoogleNet()", (2, 1, 64, 64), "train"),
    ("batch-norm", "BNLeNetScratch()", (4, 1, 28, 28), "train"),
    ("batch-norm", "BNLeNet()", (4, 1, 28, 28), "train"),
    ("resnet", "Residual(3)", (4, 3, 6, 6), "train"),
    ("resnet", "Residual(6, use_1x1conv=True, strides=2)", (4, 3, 6, 6), "train"),
    ("resnet", "ResNeXtBlock(32, 16, 1)", (2, 32, 8, 8), "train"),
    ("resnet", "ResNet18()", (2, 1, 64, 64), "train"),
    ("densenet", "DenseBlock(2, 10)", (4, 3, 8, 8), "train"),
    ("densenet", "transition_block(10)", (4, 23, 8, 8), "train"),
    ("densenet", "DenseNet()", (2, 1, 64, 64), "train"),
    ("cnn-design", "RegNetX32()", (2, 1, 64, 64), "train"),
]

_NAMESPACES = {}


def _assert_close(ours, theirs, tolerance, what):
    """Largest absolute difference within ``tolerance`` (cheaper than assert_allclose on
    AlexNet's 16-million-entry gradients)."""
    assert ours.shape == theirs.shape, what
    error = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    assert error <= tolerance, f"{what}: largest difference {error:.3g} > {tolerance:.3g}"


def _namespaces(section_name):
    if section_name not in _NAMESPACES:
        section = next(s for s in d2l_book.load_sections()
                       if s["section"].endswith("/" + section_name))
        _NAMESPACES[section_name] = (d2l_book.build_namespace(section, "cnnlab"),
                                     d2l_book.build_namespace(section, "torch"))
    return _NAMESPACES[section_name]


def test_every_section_with_a_model_is_covered():
    sections = {s["section"].split("/")[1] for s in d2l_book.load_sections()}
    without_models = {"padding-and-strides", "channels", "pooling"}   # layers only
    assert {m[0] for m in MODELS} == sections - without_models


@pytest.mark.parametrize("section, constructor, shape, mode", MODELS,
                         ids=[f"{m[0]}-{m[1].split('(')[0]}" for m in MODELS])
def test_book_model_matches_torch(section, constructor, shape, mode):
    ours_ns, theirs_ns = _namespaces(section)
    cnnlab.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = eval(constructor, ours_ns), eval(constructor, theirs_ns)
    rng = np.random.default_rng(0)
    dry = rng.standard_normal(shape).astype(np.float32)
    ours(cnnlab.tensor(dry))          # shape the lazy layers
    theirs(torch.tensor(dry))
    ours.double()
    theirs.double()
    their_state = theirs.state_dict()
    our_state = ours.state_dict()
    assert list(our_state) == list(their_state)
    with torch.no_grad():
        for name, value in our_state.items():
            value.array[...] = their_state[name].numpy()
    ours.train(mode == "train")
    theirs.train(mode == "train")

    x = rng.standard_normal(shape)
    our_in = cnnlab.tensor(x, requires_grad=True)
    their_in = torch.tensor(x, requires_grad=True)
    our_out, their_out = ours(our_in), theirs(their_in)
    reference = their_out.detach().numpy()
    assert our_out.dtype == cnnlab.float64 and tuple(our_out.shape) == reference.shape
    _assert_close(our_out.detach().numpy(), reference,
                  1e-10 * max(1.0, float(np.abs(reference).max())), f"{constructor}: output")

    grad = rng.standard_normal(reference.shape)
    our_out.backward(cnnlab.tensor(grad))
    their_out.backward(torch.tensor(grad))
    their_params = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert list(our_params) == list(their_params)
    for name, param in our_params.items():
        expected = their_params[name].grad.numpy()
        scale = max(1.0, float(np.abs(expected).max()))
        _assert_close(param.grad.numpy(), expected, 1e-8 * scale,
                      f"{constructor}: gradient of {name}")
    expected = their_in.grad.numpy()
    _assert_close(our_in.grad.numpy(), expected, 1e-8 * max(1.0, float(np.abs(expected).max())),
                  f"{constructor}: gradient of the input")

"""PyTorch's own ModuleInfo inputs, run through cnnlab's twin of each module it has.

For each ModuleInfo in ``torch.testing._internal.common_modules.module_db`` whose class
name is in :data:`MODULES`, in float32 and float64, training and eval mode: the torch
module is built from the sample's constructor arguments, cnnlab's twin from the same
arguments, and torch's parameters and buffers are copied in with
``load_state_dict(torch_module.state_dict())`` (torch tensors as values). Outputs must
agree (values, dtypes, shapes), the buffers after the forward too (batch norm's running
statistics), and in float64 the gradients of the inputs and of every parameter (1e-8).
Companion of tests/test_opinfo.py.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from torch.testing._internal.common_modules import module_db

import cnnlab
from opinfo_support import (TOLERANCES, Untranslatable, assert_same_value, translate,
                            Translator, to_float64)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

# ModuleInfo class names with a cnnlab.nn twin of the same name; each in float32,
# float64 and float16 (the last where PyTorch's CPU has a kernel). Not listed: recurrent
# and attention modules, and other modules cnnlab does not have.
MODULES = ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "Conv2d", "ConvTranspose2d", "LazyConv2d",
           "LazyConvTranspose2d", "Linear", "LPPool2d", "MaxPool2d", "MSELoss", "NLLLoss",
           "CrossEntropyLoss", "ELU", "GELU", "GroupNorm", "LayerNorm", "ReLU",
           "LeakyReLU", "ReLU6", "Sigmoid", "SiLU", "Softmax", "LogSoftmax", "Tanh",
           # 1-D and 3-D windows, instance norm and the other activations
           "AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d",
           "AvgPool1d", "AvgPool3d", "MaxPool1d", "MaxPool3d", "LPPool1d", "LPPool3d",
           "Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose3d", "LazyConv1d",
           "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose3d", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "Hardswish", "Hardtanh", "LogSigmoid", "Mish",
           "PReLU", "Softmax2d", "Softplus")

# (module, dtype, training, input description) -> (owner, reason); strict xfails.
KNOWN_DIVERGENCES = {}

# Inputs where cnnlab deliberately differs (README, 'Beyond PyTorch'): (module, input
# description) -> reason. The test checks cnnlab's result is finite there.
BEYOND_PYTORCH = {
    (name, "(1.5, 2) {} -> norm"):
        f"{name} on negative inputs: PyTorch gives NaN for p = 1.5, cnnlab "
        "(sum |x|^p)^(1/p)"
    for name in ("LPPool1d", "LPPool2d", "LPPool3d")
}

MODULE_INFOS = {info.module_cls.__name__: info for info in module_db
                if info.module_cls.__name__ in MODULES}
FLOAT32_TOLERANCE = (1e-4, 1e-4)   # conv and linear outputs are long float32 sums


@functools.lru_cache(maxsize=None)
def module_inputs(name, dtype, training):
    info = MODULE_INFOS[name]
    torch.manual_seed(0)
    return info.module_inputs_func(info, device="cpu", dtype=getattr(torch, dtype),
                                   requires_grad=dtype == "float64", training=training)


def describe(module_input) -> str:
    return (f"{module_input.constructor_input.args!r} {module_input.constructor_input.kwargs!r}"
            f" -> {module_input.desc or 'forward'}")


class _Sample:
    """A constructor or forward input in the shape ``translate`` expects."""

    def __init__(self, function_input):
        args = function_input.args
        self.input = args[0] if args else None
        self.args = args[1:]
        self.kwargs = function_input.kwargs


def _ctor(function_input):
    translator = Translator()
    return translator(tuple(function_input.args)), translator(dict(function_input.kwargs))


def build_and_run(name, dtype, training, module_input):
    """Both modules (torch's weights copied into cnnlab's) and cnnlab's output."""
    theirs, ours, translator, expected, actual, _ = _run(name, dtype, training, module_input)
    return theirs, ours, actual


def compare_module(name, dtype, training, module_input):
    """Build both modules, copy the weights, compare outputs, buffers and gradients.

    float16: against the accuracy of PyTorch's float16 result, measured from a float64
    copy of the module run on the same numbers (opinfo_support.assert_same_value)."""
    theirs, ours, translator, expected, actual, reference = _run(name, dtype, training,
                                                                 module_input)
    tolerance = FLOAT32_TOLERANCE if dtype == "float32" else None
    half = torch.float16
    output = reference(*to_float64(module_input.forward_input.args, half),
                       **to_float64(module_input.forward_input.kwargs, half)) if reference else None
    assert_same_value(actual, expected, "output", tolerance, output)
    buffers = reference.state_dict() if reference else {}
    for key, value in theirs.state_dict().items():   # running statistics after the step
        assert_same_value(ours.state_dict()[key], value, f"buffer {key}", tolerance,
                          buffers.get(key))
    if dtype != "float64" or not isinstance(expected, torch.Tensor) or not expected.requires_grad:
        return
    weights = np.random.default_rng(0).standard_normal(tuple(expected.shape))
    torch_params = dict(theirs.named_parameters())
    torch_leaves = [t for t, _ in translator.leaves] + list(torch_params.values())
    grads = torch.autograd.grad(expected, torch_leaves, torch.tensor(weights),
                                allow_unused=True)
    (actual * cnnlab.tensor(weights)).sum().backward()
    ours_params = dict(ours.named_parameters())
    ours_leaves = [o for _, o in translator.leaves] + [ours_params[k] for k in torch_params]
    rtol, atol = TOLERANCES["float64"]
    for k, (leaf, grad) in enumerate(zip(ours_leaves, grads)):
        want = np.zeros(tuple(leaf.shape)) if grad is None else grad.numpy()
        got = np.zeros(tuple(leaf.shape)) if leaf.grad is None else leaf.grad.numpy()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient {k} of {len(ours_leaves)}")


def _run(name, dtype, training, module_input):
    torch_dtype = getattr(torch, dtype)
    ctor_args, ctor_kwargs = _ctor(module_input.constructor_input)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*module_input.constructor_input.args,
                                     **module_input.constructor_input.kwargs).to(torch_dtype)
    ours = getattr(cnnlab.nn, name)(*ctor_args, **ctor_kwargs).to(getattr(cnnlab, dtype))
    theirs.train(training)
    ours.train(training)
    forward = _Sample(module_input.forward_input)
    if forward.input is None:
        raise Untranslatable("no positional forward input")
    translator, x, args, kwargs = translate(forward)
    if name.startswith("Lazy"):
        # materialise both from a first forward without gradients, as a user would
        with torch.no_grad():
            theirs(*[a.detach() if isinstance(a, torch.Tensor) else a
                     for a in module_input.forward_input.args])
    ours.load_state_dict(theirs.state_dict())
    reference = copy.deepcopy(theirs).double() if dtype == "float16" else None
    try:
        expected = theirs(*module_input.forward_input.args,
                          **module_input.forward_input.kwargs)
    except NotImplementedError as error:   # no PyTorch kernel for this dtype: no oracle
        raise Untranslatable(str(error)) from None
    actual = ours(x, *args, **kwargs)
    return theirs, ours, translator, expected, actual, reference


CASES = [(name, dtype, training) for name in MODULES if name in MODULE_INFOS
         for dtype in ("float16", "float32", "float64") for training in (True, False)
         if getattr(torch, dtype) in MODULE_INFOS[name].dtypes or dtype == "float16"]


@pytest.mark.parametrize("name,dtype,training", CASES,
                         ids=[f"{n}-{d}-{'train' if t else 'eval'}" for n, d, t in CASES])
def test_moduleinfo_inputs_match_torch(name, dtype, training):
    compared, known, failures = 0, 0, []
    for module_input in module_inputs(name, dtype, training):
        key = describe(module_input)
        if (name, dtype, training, key) in KNOWN_DIVERGENCES:
            known += 1   # run by test_known_module_divergence
            continue
        if (name, key) in BEYOND_PYTORCH:
            try:
                _, _, output = build_and_run(name, dtype, training, module_input)
            except Untranslatable:
                continue
            assert np.all(np.isfinite(output.detach().numpy())), BEYOND_PYTORCH[(name, key)]
            continue
        try:
            compare_module(name, dtype, training, module_input)
        except Untranslatable:
            continue
        except Exception as error:   # collect every input's failure, then report all
            failures.append(f"{key}: {type(error).__name__}: {str(error).strip()[:300]}")
        compared += 1
    assert not failures, f"{len(failures)} of {compared} inputs differ:\n" + "\n".join(failures)
    # float16 runs for every module, compared where PyTorch has a float16 kernel
    assert compared or known or dtype == "float16", "no input could be translated"


KNOWN_CASES = [pytest.param(*case, id="-".join(map(str, case)), marks=pytest.mark.xfail(
    strict=True, reason=": ".join(KNOWN_DIVERGENCES[case]))) for case in sorted(KNOWN_DIVERGENCES)]


if KNOWN_CASES:  # none left now; defined only when there are some (no empty skip)
    @pytest.mark.parametrize("name,dtype,training,key", KNOWN_CASES)
    def test_known_module_divergence(name, dtype, training, key):
        """Fails while the divergence lasts (xfail); passes, and so turns red, once
        fixed."""
        for module_input in module_inputs(name, dtype, training):
            if describe(module_input) == key:
                compare_module(name, dtype, training, module_input)


def test_known_divergences_are_still_generated():
    for name, dtype, training, key in KNOWN_DIVERGENCES:
        assert key in [describe(m) for m in module_inputs(name, dtype, training)], key
    for name, key in BEYOND_PYTORCH:
        assert any(key in [describe(m) for m in module_inputs(name, dtype, training)]
                   for dtype in ("float32", "float64") for training in (True, False)), key


def test_every_listed_module_has_a_moduleinfo_and_a_twin():
    assert set(MODULES) <= set(MODULE_INFOS), set(MODULES) - set(MODULE_INFOS)
    assert all(hasattr(cnnlab.nn, name) for name in MODULES)


def test_readme_states_the_coverage():
    """The README's count of ModuleInfo inputs and modules is the one this file runs
    (to within 5%)."""
    import pathlib
    import re
    text = " ".join(pathlib.Path(__file__).parent.parent.joinpath("README.md").read_text()
                    .split())
    found = re.search(r"([\d,]+) module inputs over (\d+) modules", text)
    assert found, "README: the ModuleInfo coverage sentence is missing"
    stated = [int(group.replace(",", "")) for group in found.groups()]
    actual = [sum(len(module_inputs(*case)) for case in CASES), len(MODULES)]
    for said, counted in zip(stated, actual):
        assert abs(said - counted) <= 0.05 * counted, (stated, actual)

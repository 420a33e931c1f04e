"""Running PyTorch's OpInfo / ModuleInfo sample inputs through cnnlab.

PyTorch describes each of its operators with an ``OpInfo`` (torch/testing/_internal):
``sample_inputs(device, dtype, requires_grad)`` yields ``SampleInput(input, args,
kwargs)`` and ``error_inputs(device)`` yields inputs that must raise. This module turns
those samples into cnnlab values (tensors, dtypes, sizes; anything else it cannot
translate makes the sample :class:`Untranslatable`), runs both libraries, and compares
values, dtypes, shapes and float64 gradients. Used by tests/test_opinfo.py and
tests/test_moduleinfo.py.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

import cnnlab

# Tolerances: float32 results may differ in summation order (BLAS, pairwise sums);
# float64 values to 1e-7 relative, float64 gradients to 1e-8 absolute (the project's bar).
TOLERANCES = {"float32": (1e-5, 1e-5), "float64": (1e-7, 1e-8)}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
          "bool": torch.bool, "float16": torch.float16}


class Untranslatable(Exception):
    """A sample holds something cnnlab has no counterpart for (a device, a generator,
    a complex or half tensor, ...): it is skipped and counted, not compared."""


def sample_key(sample) -> str:
    """A readable description of a sample: shapes, dtypes and the other arguments."""
    def describe(value):
        if isinstance(value, torch.Tensor):
            return f"T{list(value.shape)}:{str(value.dtype).split('.')[-1]}"
        if isinstance(value, (list, tuple)):
            inner = ", ".join(describe(v) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner})"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}={describe(v)}" for k, v in value.items()) + "}"
        return repr(value)
    parts = [describe(sample.input)]
    parts += [describe(a) for a in sample.args]
    parts += [f"{k}={describe(v)}" for k, v in sample.kwargs.items()]
    return ", ".join(parts)


# ------------------------------------------------------------------ translation


class Translator:
    """torch values -> cnnlab values; keeps the pairs of differentiable leaves."""

    def __init__(self):
        self.leaves = []   # (torch tensor, cnnlab tensor) with requires_grad

    def __call__(self, value):
        if isinstance(value, torch.Tensor):
            if value.dtype not in DTYPES.values() and value.dtype not in (
                    torch.int32, torch.int16, torch.int8, torch.uint8, torch.float16):
                raise Untranslatable(f"tensor of dtype {value.dtype}")
            if value.dim() > 32:
                raise Untranslatable(f"{value.dim()}-D tensor (NumPy's limit is 64)")
            array = value.detach().numpy().copy()
            ours = cnnlab.tensor(array, requires_grad=value.requires_grad and value.is_leaf)
            if value.requires_grad and value.is_leaf:
                self.leaves.append((value, ours))
            elif value.requires_grad:
                raise Untranslatable("non-leaf tensor requiring grad")
            return ours
        if isinstance(value, torch.dtype):
            name = str(value).split(".")[-1]
            if not hasattr(cnnlab, name):
                raise Untranslatable(f"dtype {value}")
            return getattr(cnnlab, name)
        if isinstance(value, torch.Size):
            return tuple(value)
        if isinstance(value, tuple):
            return tuple(self(v) for v in value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if value is None or value is Ellipsis or isinstance(value, (bool, numbers.Number, str, slice)):
            if isinstance(value, complex):
                raise Untranslatable("complex number")
            return value
        raise Untranslatable(f"{type(value).__name__} argument")


def translate(sample):
    """(translator, cnnlab input, args, kwargs) for a torch ``SampleInput``."""
    if "out" in sample.kwargs:
        raise Untranslatable("out= argument (cnnlab has no out= variants)")
    translator = Translator()
    return (translator, translator(sample.input), translator(tuple(sample.args)),
            translator(dict(sample.kwargs)))


# ------------------------------------------------------------------ comparison


def _flat(value):
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _dtype_name(dtype) -> str:
    return str(dtype).split(".")[-1]


def to_float64(value, dtype):
    """``value`` (a sample's input, args or kwargs) with its ``dtype`` tensors and dtype
    arguments in float64: the same numbers, for a reference result without rounding."""
    if isinstance(value, torch.Tensor) and value.dtype == dtype:
        return value.detach().double()
    if value is dtype:
        return torch.float64
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        return type(value)(to_float64(item, dtype) for item in value)
    if isinstance(value, dict):
        return {key: to_float64(item, dtype) for key, item in value.items()}
    return value


def _as_accurate(actual, expected, reference, where):
    """Each element of ``actual`` is as close to the float64 ``reference`` as PyTorch's
    ``expected``, give or take two steps of their dtype at the result's scale (its
    largest magnitude: a sum of values that size carries errors that size, however
    small the sum; two: a separable resampling rounds once more per axis)."""
    reference = np.asarray(reference, dtype=np.float64)
    finite = np.isfinite(reference) & np.isfinite(expected)
    scale = np.abs(reference[finite]).max(initial=0.0)
    step = 2 * float(np.spacing(expected.dtype.type(scale)))
    ours = np.abs(actual.astype(np.float64) - reference)
    theirs = np.abs(expected.astype(np.float64) - reference)
    bad = finite & ~(ours <= theirs + step)
    assert not bad.any(), (
        f"{where}: {int(bad.sum())} of {bad.size} {expected.dtype} values further from the "
        f"float64 result than PyTorch's (by more than {step:.3g}); first at "
        f"{tuple(int(i) for i in np.argwhere(bad)[0])}: cnnlab {actual[bad][0]}, "
        f"PyTorch {expected[bad][0]}, float64 {reference[bad][0]}")
    np.testing.assert_array_equal(np.isfinite(actual), np.isfinite(expected), err_msg=where)


def assert_same_value(ours, theirs, where="", tolerance=None, reference=None):
    """Compare one output: tensors by dtype, shape and values; others by equality.

    ``tolerance``: (rtol, atol) for floating values instead of :data:`TOLERANCES`.
    ``reference``: the result computed in float64, for outputs judged by accuracy
    (float16, where rounding once or twice differs by whole steps): cnnlab's must be at
    least as accurate as PyTorch's (:func:`_as_accurate`).
    """
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cnnlab.Tensor), f"{where}: expected a Tensor, got {type(ours)}"
        assert _dtype_name(ours.dtype) == _dtype_name(theirs.dtype), \
            f"{where}: dtype {ours.dtype} != {theirs.dtype}"
        assert tuple(ours.shape) == tuple(theirs.shape), \
            f"{where}: shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
        expected = theirs.detach().numpy()
        actual = ours.detach().numpy()
        if expected.dtype.kind == "f" and expected.dtype != np.float64 \
                and reference is not None:
            _as_accurate(actual, expected, reference.detach().numpy(), where)
        elif expected.dtype.kind == "f":
            rtol, atol = tolerance or TOLERANCES.get(_dtype_name(theirs.dtype), (1e-5, 1e-5))
            np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol,
                                       equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)), f"{where}: expected a sequence, got {type(ours)}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} outputs != {len(theirs)}"
        references = reference if isinstance(reference, (list, tuple)) else [None] * len(ours)
        for i, (a, b, r) in enumerate(zip(ours, theirs, references)):
            assert_same_value(a, b, f"{where}[{i}]", tolerance, r)
    else:
        if isinstance(ours, cnnlab.Tensor):
            ours = ours.item()
        if isinstance(theirs, float) and np.isnan(theirs):
            assert np.isnan(ours), where
        else:
            assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


def assert_same_gradients(ours_out, theirs_out, leaves, seed=0):
    """Backpropagate the same random weighting of every differentiable output through
    both libraries; the gradients of every differentiable input must agree (float64,
    1e-8). An output cnnlab does not record (a piecewise-constant op) contributes
    nothing; if PyTorch's gradient through it is not zero, the comparison shows it."""
    rng = np.random.default_rng(seed)
    pairs = [(ours, theirs) for ours, theirs in zip(_flat(ours_out), _flat(theirs_out))
             if isinstance(theirs, torch.Tensor) and theirs.requires_grad]
    if not pairs or not leaves:
        return 0
    weights = [rng.standard_normal(tuple(theirs.shape)) for _, theirs in pairs]
    torch_grads = torch.autograd.grad(
        [theirs for _, theirs in pairs], [theirs for theirs, _ in leaves],
        [torch.tensor(w, dtype=theirs.dtype) for w, (_, theirs) in zip(weights, pairs)],
        allow_unused=True)
    terms = [(ours * cnnlab.tensor(w, dtype=ours.dtype)).sum()
             for w, (ours, _) in zip(weights, pairs)
             if isinstance(ours, cnnlab.Tensor) and ours.requires_grad]
    if terms:
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        total.backward()
    for k, ((theirs_leaf, ours_leaf), expected) in enumerate(zip(leaves, torch_grads)):
        expected = np.zeros(tuple(theirs_leaf.shape)) if expected is None else expected.numpy()
        actual = ours_leaf.grad
        actual = np.zeros(tuple(ours_leaf.shape)) if actual is None else actual.numpy()
        rtol, atol = TOLERANCES["float64"]
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"gradient of input {k}")
    return len(leaves)

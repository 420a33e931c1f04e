"""PyTorch's own OpInfo sample inputs, run through cnnlab for every op it has.

For each OpInfo in ``torch.testing._internal.common_methods_invocations.op_db`` whose
name is in :data:`OPS`, and each of float16, float32, float64, int64 and bool that
PyTorch supports for it on the CPU: every sample (input, args, kwargs) is translated to
cnnlab values and run through both libraries; values, dtypes and shapes must agree, and
in float64 the gradients of every differentiable input too (1e-8). float16 values are
held to accuracy rather than to PyTorch's bits: each must be as close to the sample's
float64 result as PyTorch's is, give or take one float16 step. Each op's
``error_inputs`` must make cnnlab raise (ValueError, TypeError, RuntimeError or
IndexError), except where cnnlab deliberately accepts more (:data:`BEYOND_PYTORCH`).

Differences found and not yet fixed are listed in :data:`KNOWN_DIVERGENCES`, each with
its reason and owner; those samples run as strict xfails, so a fix turns them red
until the entry is removed. Sample generation is seeded (``torch.manual_seed(0)``),
so the sample descriptions are stable. Run: ``python -m pytest -q tests/test_opinfo.py``
(needs PyTorch's ``expecttest``, a test dependency).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch.testing._internal.common_methods_invocations import op_db

import cnnlab
import cnnlab.functional as F
from opinfo_support import (DTYPES, Untranslatable, assert_same_gradients,
                            assert_same_value, sample_key, translate, to_float64)

# PyTorch warns about some of its own samples (degrees of freedom <= 0, ...); NumPy too
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")


def method(name):
    """``x.name(*args, **kwargs)``: for OpInfos whose torch op is a Tensor method."""
    def call(x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)
    call.__name__ = name
    return call


def reflected(function):
    return lambda x, other: function(other, x)


# torch OpInfo name (".variant" appended) -> the cnnlab callable taking the same arguments.
# Not listed: ops cnnlab does not have (linalg, fft, ...), random ops (dropout,
# rand_like, randn), in-place and out= variants, and Tensor.to (every sample passes a
# memory_format, which cnnlab does not have).
OPS = {
    # elementwise
    "abs": cnnlab.abs, "add": cnnlab.add, "sub": cnnlab.sub, "mul": cnnlab.mul,
    "div.no_rounding_mode": cnnlab.div, "true_divide": cnnlab.div,
    "floor_divide": cnnlab.floor_divide, "remainder": cnnlab.remainder,
    "pow": cnnlab.pow, "neg": cnnlab.neg, "exp": cnnlab.exp, "log": cnnlab.log,
    "sqrt": cnnlab.sqrt, "sin": cnnlab.sin, "cos": cnnlab.cos, "sign": cnnlab.sign,
    "floor": method("floor"), "ceil": method("ceil"), "round": method("round"),
    "sigmoid": cnnlab.sigmoid, "tanh": cnnlab.tanh, "square": cnnlab.square,
    "clamp": cnnlab.clamp, "maximum": cnnlab.maximum, "minimum": cnnlab.minimum,
    "where": lambda x, condition, other: cnnlab.where(condition, x, other),
    "masked_fill": method("masked_fill"),
    "isnan": cnnlab.isnan, "isfinite": cnnlab.isfinite,
    "eq": cnnlab.eq, "ne": cnnlab.ne, "lt": cnnlab.lt, "le": cnnlab.le, "gt": cnnlab.gt,
    "ge": cnnlab.ge, "logical_not": method("logical_not"),
    "logical_and": cnnlab.logical_and, "logical_or": cnnlab.logical_or,
    "logical_xor": cnnlab.logical_xor, "bitwise_and": cnnlab.bitwise_and,
    "bitwise_or": cnnlab.bitwise_or, "bitwise_xor": cnnlab.bitwise_xor,
    "bitwise_not": cnnlab.bitwise_not, "__rand__": lambda x, other: other & x,
    "__ror__": lambda x, other: other | x, "__rxor__": lambda x, other: other ^ x,
    "matmul": cnnlab.matmul,
    "__radd__": reflected(cnnlab.add), "__rsub__": reflected(cnnlab.sub),
    "__rmul__": reflected(cnnlab.mul), "__rdiv__": reflected(cnnlab.div),
    "__rpow__": reflected(cnnlab.pow), "__rmatmul__": reflected(cnnlab.matmul),
    "__rmod__": lambda x, other: other % x,
    # reductions
    "sum": cnnlab.sum, "mean": cnnlab.mean, "var": cnnlab.var, "std": cnnlab.std,
    "var.unbiased": cnnlab.var, "std.unbiased": cnnlab.std, "prod": cnnlab.prod,
    "amax": cnnlab.amax, "amin": cnnlab.amin,
    "max.reduction_no_dim": cnnlab.max, "max.reduction_with_dim": cnnlab.max,
    "max.binary": cnnlab.max, "min.reduction_no_dim": cnnlab.min,
    "min.reduction_with_dim": cnnlab.min, "min.binary": cnnlab.min,
    "argmax": cnnlab.argmax, "argmin": cnnlab.argmin, "all": cnnlab.all, "any": cnnlab.any,
    "cumsum": cnnlab.cumsum, "norm": cnnlab.norm, "allclose": cnnlab.allclose,
    "equal": cnnlab.equal, "sort": cnnlab.sort, "argsort": cnnlab.argsort,
    "topk": cnnlab.topk, "softmax": cnnlab.softmax, "softmax.with_dtype": cnnlab.softmax,
    "log_softmax": cnnlab.log_softmax, "log_softmax.with_dtype": cnnlab.log_softmax,
    # shapes
    "reshape": cnnlab.reshape, "view": method("view"), "view_as": method("view_as"),
    "reshape_as": method("reshape_as"), "flatten": cnnlab.flatten,
    "unflatten": method("unflatten"), "squeeze": cnnlab.squeeze,
    "squeeze.multiple": cnnlab.squeeze, "unsqueeze": cnnlab.unsqueeze,
    "permute": cnnlab.permute, "transpose": cnnlab.transpose, "t": method("t"),
    "T": lambda x: x.T, "mT": lambda x: x.mT,
    "expand": method("expand"), "expand_as": method("expand_as"), "repeat": method("repeat"),
    "flip": cnnlab.flip, "cat": cnnlab.cat, "stack": cnnlab.stack, "split": cnnlab.split,
    "split.list_args": cnnlab.split, "chunk": cnnlab.chunk, "unbind": cnnlab.unbind,
    "clone": method("clone"), "contiguous": method("contiguous"),
    "__getitem__": lambda x, index: x[index], "unfold": method("unfold"),
    # creation
    "zeros_like": cnnlab.zeros_like, "ones_like": cnnlab.ones_like,
    "full_like": cnnlab.full_like, "zeros": cnnlab.zeros, "ones": cnnlab.ones,
    "full": cnnlab.full, "arange": cnnlab.arange, "linspace": cnnlab.linspace,
    "eye": cnnlab.eye,
    # nn.functional
    "nn.functional.conv1d": F.conv1d, "nn.functional.conv2d": F.conv2d,
    "nn.functional.conv3d": F.conv3d, "nn.functional.conv_transpose1d": F.conv_transpose1d,
    "nn.functional.conv_transpose2d": F.conv_transpose2d,
    "nn.functional.conv_transpose3d": F.conv_transpose3d,
    "nn.functional.unfold": F.unfold,
    "nn.functional.max_pool2d": F.max_pool2d, "nn.functional.avg_pool2d": F.avg_pool2d,
    "nn.functional.adaptive_avg_pool2d": F.adaptive_avg_pool2d,
    "nn.functional.adaptive_max_pool2d": F.adaptive_max_pool2d,
    "nn.functional.max_unpool2d": F.max_unpool2d, "nn.functional.max_unpool2d.grad": F.max_unpool2d,
    "nn.functional.pad.constant": F.pad, "nn.functional.pad.reflect": F.pad,
    "nn.functional.pad.replicate": F.pad, "nn.functional.pad.circular": F.pad,
    "nn.functional.relu": F.relu, "nn.functional.relu6": F.relu6, "nn.functional.elu": F.elu,
    "nn.functional.gelu": F.gelu, "nn.functional.leaky_relu": F.leaky_relu,
    "nn.functional.silu": F.silu, "nn.functional.linear": F.linear,
    "nn.functional.cross_entropy": F.cross_entropy, "nn.functional.nll_loss": F.nll_loss,
    "nn.functional.mse_loss": F.mse_loss,
    "nn.functional.batch_norm": F.batch_norm, "nn.functional.layer_norm": F.layer_norm,
    "nn.functional.group_norm": F.group_norm,
    "nn.functional.interpolate.nearest": F.interpolate,
    "nn.functional.interpolate.nearest-exact": F.interpolate,
    "nn.functional.interpolate.bilinear": F.interpolate,
    "nn.functional.interpolate.bicubic": F.interpolate,
    "nn.functional.interpolate.area": F.interpolate,
    "nn.functional.interpolate.linear": F.interpolate,
    "nn.functional.interpolate.trilinear": F.interpolate,
    "nn.functional.upsample_bilinear": F.upsample_bilinear,
    "nn.functional.upsample_nearest": F.upsample_nearest,
    # 1-D and 3-D pooling, activations and norms beyond the 2-D core
    "nn.functional.max_pool1d": F.max_pool1d, "nn.functional.max_pool3d": F.max_pool3d,
    "nn.functional.avg_pool1d": F.avg_pool1d, "nn.functional.avg_pool3d": F.avg_pool3d,
    "nn.functional.adaptive_avg_pool1d": F.adaptive_avg_pool1d,
    "nn.functional.adaptive_avg_pool3d": F.adaptive_avg_pool3d,
    "nn.functional.adaptive_max_pool1d": F.adaptive_max_pool1d,
    "nn.functional.adaptive_max_pool3d": F.adaptive_max_pool3d,
    "nn.functional.max_unpool1d": F.max_unpool1d, "nn.functional.max_unpool1d.grad": F.max_unpool1d,
    "nn.functional.max_unpool3d": F.max_unpool3d, "nn.functional.max_unpool3d.grad": F.max_unpool3d,
    "nn.functional.hardsigmoid": F.hardsigmoid, "nn.functional.hardswish": F.hardswish,
    "nn.functional.hardtanh": F.hardtanh, "nn.functional.logsigmoid": F.logsigmoid,
    "nn.functional.mish": F.mish, "nn.functional.softplus": F.softplus,
    "nn.functional.prelu": F.prelu, "nn.functional.instance_norm": F.instance_norm,
    # Tensor methods
    "narrow": method("narrow"), "select": method("select"), "item": method("item"),
    "zero_": lambda x: x.clone().zero_(),   # as PyTorch's OpInfo: on a copy
    # products, selection, more reductions and factories
    "mm": cnnlab.mm, "bmm": cnnlab.bmm, "dot": cnnlab.dot, "outer": cnnlab.outer,
    "index_select": cnnlab.index_select, "gather": cnnlab.gather, "tril": cnnlab.tril,
    "triu": cnnlab.triu, "logsumexp": cnnlab.logsumexp, "rsqrt": cnnlab.rsqrt,
    "isinf": cnnlab.isinf, "roll": cnnlab.roll, "repeat_interleave": cnnlab.repeat_interleave,
    "masked_select": cnnlab.masked_select, "nonzero": cnnlab.nonzero,
    "diag": cnnlab.diag, "trace": cnnlab.trace,
    "new_zeros": method("new_zeros"),
    "new_ones": method("new_ones"), "new_full": method("new_full"),
}

# Samples per op and dtype: all of PyTorch's, up to this many, evenly spaced (only
# max_pool2d has more: 1,440 per dtype).
MAX_SAMPLES = 400
# float32 tolerances where results are long sums (a conv output adds C*k*k products
# in another order than PyTorch's kernels): (rtol, atol); 1e-5 elsewhere.
FLOAT32_TOLERANCE = {name: (1e-4, 1e-4) for name in (
    "nn.functional.conv1d", "nn.functional.conv2d", "nn.functional.conv3d",
    "nn.functional.conv_transpose1d", "nn.functional.conv_transpose2d",
    "nn.functional.conv_transpose3d", "nn.functional.linear",
    "matmul", "__rmatmul__")}


def held_to_accuracy(name, dtype, sample) -> bool:
    """Whether the sample is judged by accuracy against its float64 result rather than
    by closeness to PyTorch's: float16 (one rounding more or less is a whole step), and
    antialiased resampling in float32 (PyTorch's float32 kernel is 2-5e-5 from its own
    float64 result, times the values' size; cnnlab's within 4e-7)."""
    return dtype == "float16" or (dtype == "float32" and sample.kwargs.get("antialias")
                                  and name.startswith("nn.functional.interpolate"))

# (op, dtype, sample description) -> (owner, reason). Each runs as a strict xfail.
KNOWN_DIVERGENCES = {
    **{("nn.functional.batch_norm", dtype, f"T[0]:{dtype}, T[0]:{dtype}, T[0]:{dtype}, "
        f"None, None, training={training}"):
       ("deliberate", "F.batch_norm wants (N, C, ...) input and says so; PyTorch also "
        "takes a 1-D empty one")
       for dtype in ("float16", "float32", "float64") for training in (True, False)},
    **{("nn.functional.layer_norm", dtype, f"T[2, 2, 3]:{dtype}, (2, 3), T[2, 3]:{dtype}, "
        f"T[2, 3]:{dtype}, eps=-0.5"):
       ("deliberate", "F.layer_norm refuses eps < 0 with a clear error (clearer errors, "
        "README); PyTorch computes, NaN where var + eps < 0")
       for dtype in ("float16", "float32", "float64")},
    **{("nn.functional.group_norm", dtype, f"T[2, 6, 3]:{dtype}, 2, weight=T[6]:{dtype}, "
        f"bias=T[6]:{dtype}, eps=-0.5"):
       ("deliberate", "F.group_norm refuses eps < 0 with a clear error (clearer errors, "
        "README); PyTorch computes, NaN where var + eps < 0")
       for dtype in ("float16", "float32", "float64")},
}

# Error inputs that cnnlab deliberately accepts: (op, sample description) -> reason.
# The test checks that cnnlab does return a result for them.
_NUMBERS = ("cnnlab's ops take Python numbers as operands (cnnlab.ops docstring: "
            "'Operands may be Tensors, NumPy arrays or Python numbers'); PyTorch's "
            "functions want a tensor")
_BIG_PADDING = ("pools take padding above kernel_size // 2 while every window still "
                "overlaps the input (max_pool docstring, 'Beyond PyTorch')")
BEYOND_PYTORCH = {
    ("nn.functional.max_pool1d", "T[0, 1, 49]:float32, kernel_size=3, dilation=2, stride=1, "
     "padding=3, return_indices=True"): _BIG_PADDING,
    **{(name, "T[3]:int64, 2"): _NUMBERS for name in ("maximum", "minimum")},
    **{(name, "2, T[3]:int64"): _NUMBERS for name in ("max.binary", "min.binary")},
    **{(name, "T[3]:int64, 2"): _NUMBERS for name in ("logical_and", "logical_or",
                                                       "logical_xor")},
}
# Elementwise ops whose first operand may be a number in cnnlab (not in PyTorch).
NUMBER_OPERANDS = {"add", "sub", "mul", "div.no_rounding_mode", "true_divide",
                   "floor_divide", "remainder", "pow", "maximum", "minimum", "eq", "ne",
                   "lt", "le", "gt", "ge", "__radd__", "__rsub__", "__rmul__", "__rdiv__",
                   "__rpow__", "__rmod__", "logical_and", "logical_or", "logical_xor",
                   "bitwise_and", "bitwise_or", "bitwise_xor", "__rand__", "__ror__",
                   "__rxor__"}


_SAME_STRIDED = ("padding='same' with stride > 1 gives ceil(in / stride) outputs in cnnlab "
                 "(README, 'Beyond PyTorch'); PyTorch refuses it")

# Error inputs where cnnlab does not raise (or raises another kind of error) and
# should: (op, error input description) -> (owner, reason). Strict xfails.
KNOWN_ERROR_DIVERGENCES = {}


def beyond_pytorch(name, sample):
    """Why cnnlab accepts this error input on purpose, or None."""
    if name in NUMBER_OPERANDS and not isinstance(sample.input, torch.Tensor):
        return _NUMBERS
    stride = sample.kwargs.get("stride", 1)
    if name.startswith("nn.functional.conv") and sample.kwargs.get("padding") == "same" \
            and stride not in (1, (1,), (1, 1), (1, 1, 1)):
        return _SAME_STRIDED
    return BEYOND_PYTORCH.get((name, sample_key(sample)))


def _full_name(opinfo) -> str:
    return opinfo.name + (f".{opinfo.variant_test_name}" if opinfo.variant_test_name else "")


OPINFOS = {_full_name(opinfo): opinfo for opinfo in op_db if _full_name(opinfo) in OPS}


def _dtypes(name):
    supported = OPINFOS[name].supported_dtypes("cpu")
    return [dtype for dtype, torch_dtype in DTYPES.items() if torch_dtype in supported]


@functools.lru_cache(maxsize=None)
def samples(name: str, dtype: str):
    """[(description, SampleInput)] for one op and dtype (seeded, capped)."""
    opinfo = OPINFOS[name]
    grad = dtype == "float64" and opinfo.supports_autograd
    torch.manual_seed(0)
    # sample_inputs_func directly: OpInfo.sample_inputs wraps it in an iterator that
    # inspects the call stack for every sample (to seed per test), 10-100x the cost
    generated = opinfo.sample_inputs_func(opinfo, "cpu", DTYPES[dtype], grad)
    everything = list(generated)
    keep = np.unique(np.linspace(0, len(everything) - 1, MAX_SAMPLES).round().astype(int)) \
        if len(everything) > MAX_SAMPLES else range(len(everything))
    chosen = [everything[i] for i in keep]
    return [(sample_key(sample), sample) for sample in chosen]


def _ties_allowed(name, ours, theirs, sample):
    """sort/argsort/topk: PyTorch leaves the order of equal elements unspecified
    (unless stable=True); the indices must pick the same values, the values agree."""
    source = sample.input.detach().numpy()
    args = dict(zip(("dim",) if name == "argsort" else ("k", "dim"), sample.args))
    dim = sample.kwargs.get("dim", args.get("dim", -1))
    if name == "sort":
        dim = sample.args[0] if sample.args else dim
    indices = ours if name == "argsort" else ours[1]
    expected = theirs if name == "argsort" else theirs[1]
    if source.ndim == 0:
        return assert_same_value(ours, theirs, "out")
    picked = np.take_along_axis(source, indices.numpy(), dim)
    wanted = np.take_along_axis(source, expected.numpy(), dim)
    np.testing.assert_array_equal(picked, wanted)
    if name != "argsort":
        assert_same_value(ours[0], theirs[0], "values")


def compare(name, dtype, sample):
    """Run one sample through both libraries and compare; returns the gradient count."""
    opinfo = OPINFOS[name]
    translator, x, args, kwargs = translate(sample)
    try:
        theirs = opinfo.op(sample.input, *sample.args, **sample.kwargs)
    except NotImplementedError as error:   # no PyTorch kernel for this dtype: no oracle
        raise Untranslatable(str(error)) from None
    ours = OPS[name](x, *args, **kwargs)
    if name in ("sort", "argsort", "topk"):
        _ties_allowed(name, ours, theirs, sample)
    else:
        tolerance = FLOAT32_TOLERANCE.get(name) if dtype == "float32" else None
        reference = None
        if held_to_accuracy(name, dtype, sample):
            wide = DTYPES[dtype]
            reference = opinfo.op(to_float64(sample.input, wide),
                                  *to_float64(sample.args, wide),
                                  **to_float64(sample.kwargs, wide))
        assert_same_value(ours, theirs, "output", tolerance, reference)
    if dtype == "float64" and opinfo.supports_autograd:
        return assert_same_gradients(ours, theirs, translator.leaves)
    return 0


OP_CASES = [(name, dtype) for name in OPS for dtype in _dtypes(name)]


@pytest.mark.parametrize("name,dtype", OP_CASES, ids=[f"{n}-{d}" for n, d in OP_CASES])
def test_opinfo_samples_match_torch(name, dtype):
    compared, known, failures = 0, 0, []
    for key, sample in samples(name, dtype):
        if (name, dtype, key) in KNOWN_DIVERGENCES:
            known += 1   # run by test_known_divergence
            continue
        try:
            compare(name, dtype, sample)
        except Untranslatable:
            continue
        except Exception as error:   # collect every sample's failure, then report all
            failures.append(f"{key}: {type(error).__name__}: {str(error).strip()[:300]}")
        compared += 1
    assert not failures, f"{len(failures)} of {compared} samples differ:\n" + "\n".join(failures)
    assert compared or known or not samples(name, dtype), "no sample could be translated"


# PyTorch's reference inputs: larger tensors, extremal values (inf, NaN, -0.0, huge and
# tiny numbers), non-contiguous layouts. Values only (the gradients are compared on the
# sample inputs above), at most this many per op and dtype beyond the sample inputs.
MAX_REFERENCE_SAMPLES = 60


@functools.lru_cache(maxsize=None)
def reference_samples(name: str, dtype: str):
    """[(description, SampleInput)] from ``reference_inputs_func`` that are not sample
    inputs already (seeded, capped, evenly spaced). A Python number standing in for
    the tensor of a reflected operator (``Tensor.__rsub__(2.5, t)``) is left out: that
    is PyTorch's internal calling convention, not user code."""
    opinfo = OPINFOS[name]
    torch.manual_seed(0)
    seen = {key for key, _ in samples(name, dtype)}
    fresh = [(sample_key(sample), sample) for sample
             in opinfo.reference_inputs_func(opinfo, "cpu", DTYPES[dtype], False)
             if not (name.startswith("__r") and not isinstance(sample.input, torch.Tensor))]
    fresh = [(key, sample) for key, sample in fresh if key not in seen]
    if len(fresh) > MAX_REFERENCE_SAMPLES:
        keep = np.unique(np.linspace(0, len(fresh) - 1, MAX_REFERENCE_SAMPLES).round())
        fresh = [fresh[int(i)] for i in keep]
    return fresh


REFERENCE_CASES = [(name, dtype) for name, dtype in OP_CASES
                   if OPINFOS[name].reference_inputs_func is not None]


@pytest.mark.parametrize("name,dtype", REFERENCE_CASES,
                         ids=[f"{n}-{d}" for n, d in REFERENCE_CASES])
def test_opinfo_reference_inputs_match_torch(name, dtype):
    failures = []
    for key, sample in reference_samples(name, dtype):
        if (name, dtype, key) in KNOWN_DIVERGENCES:
            continue   # run by test_known_divergence
        try:
            compare(name, dtype, sample)
        except Untranslatable:
            continue
        except Exception as error:
            failures.append(f"{key}: {type(error).__name__}: {str(error).strip()[:300]}")
    assert not failures, f"{len(failures)} reference inputs differ:\n" + "\n".join(failures)


def _strict_xfail(owner_reason):
    return pytest.mark.xfail(strict=True, reason=f"{owner_reason[0]}: {owner_reason[1]}")


KNOWN_CASES = [pytest.param(*case, marks=_strict_xfail(KNOWN_DIVERGENCES[case]),
                            id="-".join(case))
               for case in sorted(KNOWN_DIVERGENCES)]


@pytest.mark.parametrize("name,dtype,key", KNOWN_CASES)
def test_known_divergence(name, dtype, key):
    """Fails while the divergence lasts (xfail); passes, and so turns red, once fixed."""
    for sample_key_, sample in samples(name, dtype):
        if sample_key_ == key:
            compare(name, dtype, sample)


def _translatable_errors(name):
    """The op's error inputs that cnnlab values can express (no device, no out=, ...)."""
    if OPINFOS[name].error_inputs_func is None:
        return []
    found = []
    torch.manual_seed(0)
    opinfo = OPINFOS[name]
    for error_input in opinfo.error_inputs_func(opinfo, "cpu"):   # unwrapped, as above
        try:
            found.append((error_input, translate(error_input.sample_input)))
        except Untranslatable:
            pass
    return found


ERROR_CASES = [name for name in OPS if _translatable_errors(name)]


@pytest.mark.parametrize("name", ERROR_CASES)
def test_opinfo_error_inputs_raise(name):
    failures = []
    for error_input, (_, x, args, kwargs) in _translatable_errors(name):
        key = sample_key(error_input.sample_input)
        if (name, key) in KNOWN_ERROR_DIVERGENCES:
            continue   # run by test_known_error_divergence
        if beyond_pytorch(name, error_input.sample_input):
            OPS[name](x, *args, **kwargs)   # accepted on purpose: must give a result
            continue
        try:
            OPS[name](x, *args, **kwargs)
        except (ValueError, TypeError, RuntimeError, IndexError):
            continue
        except Exception as error:
            failures.append(f"{key}: raised {type(error).__name__} ({error}); PyTorch: "
                            f"{error_input.error_type.__name__} {error_input.error_regex!r}")
            continue
        failures.append(f"{key}: no error; PyTorch raises {error_input.error_type.__name__}"
                        f" {error_input.error_regex!r}")
    assert not failures, "\n".join(failures)


KNOWN_ERROR_CASES = [pytest.param(*case, marks=_strict_xfail(KNOWN_ERROR_DIVERGENCES[case]),
                                  id="-".join(case))
                     for case in sorted(KNOWN_ERROR_DIVERGENCES)]


if KNOWN_ERROR_CASES:  # none left now; defined only when there are some (no empty skip)
    @pytest.mark.parametrize("name,key", KNOWN_ERROR_CASES)
    def test_known_error_divergence(name, key):
        """Fails while cnnlab accepts the input (xfail); passes, so turns red, once it
        raises."""
        for error_input, (_, x, args, kwargs) in _translatable_errors(name):
            if sample_key(error_input.sample_input) == key:
                with pytest.raises((ValueError, TypeError, RuntimeError, IndexError)):
                    OPS[name](x, *args, **kwargs)


def test_known_divergences_are_still_generated():
    """Every KNOWN entry names a sample PyTorch still generates (else it tests nothing)."""
    for name, dtype, key in KNOWN_DIVERGENCES:
        assert key in [k for k, _ in samples(name, dtype)], (name, dtype, key)
    for name, key in KNOWN_ERROR_DIVERGENCES:
        keys = [sample_key(e.sample_input) for e, _ in _translatable_errors(name)]
        assert key in keys, (name, key)


def test_readme_states_the_coverage():
    """The README's counts of PyTorch test data run here are the ones this file runs
    (to within 5%: sample generation varies a little with the PyTorch build)."""
    import pathlib
    import re
    text = " ".join(pathlib.Path(__file__).parent.parent.joinpath("README.md").read_text()
                    .split())
    found = re.search(r"([\d,]+) op samples over (\d+) ops .*?([\d,]+) of its reference inputs",
                      text)
    assert found, "README: the OpInfo coverage sentence is missing"
    stated = [int(group.replace(",", "")) for group in found.groups()]
    actual = [sum(len(samples(n, d)) for n, d in OP_CASES), len(OPS),
              sum(len(reference_samples(n, d)) for n, d in REFERENCE_CASES)]
    for said, counted in zip(stated, actual):
        assert abs(said - counted) <= 0.05 * counted, (stated, actual)

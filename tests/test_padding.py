"""F.pad against torch; correlate2d / convolve2d against scipy.signal and torch."""

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F
from cnnlab.kernels import pad as pad_kernels

NON_CONSTANT = ("reflect", "replicate", "circular")


def run_pad(array, pad, mode="constant", value=None, grad=True):
    """F.pad in cnnlab and torch on the same array; outputs (and float64 grads) compared."""
    requires_grad = grad and array.dtype == np.float64
    ours = cnnlab.tensor(array, requires_grad=requires_grad)
    theirs = torch.tensor(array, requires_grad=requires_grad)
    out = F.pad(ours, pad, mode, value)
    expected = TF.pad(theirs, pad, mode, value)
    assert out.dtype.name == str(expected.dtype).replace("torch.", "")
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    if requires_grad and expected.numel():
        weights = np.random.default_rng(1).standard_normal(expected.shape)
        out.backward(weights)
        expected.backward(torch.tensor(weights))
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-12)
    return out


# ------------------------------------------------------------- naive reference


def naive_source(position, size, mode, before=0, after=0):
    """The input index a padded position copies, by walking the mirror/wrap step by step."""
    if mode == "replicate":
        return min(max(position, 0), size - 1)
    if mode == "circular":
        low, high = max(-before, 0), size - max(-after, 0)
        while position < low:
            position += high - low
        while position >= high:
            position -= high - low
        return position
    while not 0 <= position < size:
        if size == 1:
            return 0
        if mode == "reflect":
            position = -position if position < 0 else 2 * (size - 1) - position
        else:  # symmetric: the edge is repeated
            position = -position - 1 if position < 0 else 2 * size - 1 - position
    return position


def naive_pad_1d(values, before, after, mode):
    size = len(values)
    return [values[naive_source(p, size, mode, before, after)]
            for p in range(-before, size + after)]


@pytest.mark.parametrize("mode", NON_CONSTANT)
@pytest.mark.parametrize("before,after", [(0, 0), (2, 1), (3, 3), (-1, 2), (2, -3), (-2, -1)],
                         ids=lambda v: str(v))
def test_naive_reference_matches_torch(mode, before, after):
    values = np.arange(6.0)
    expected = TF.pad(torch.tensor(values).view(1, 1, 6), (before, after), mode).view(-1)
    assert naive_pad_1d(list(values), before, after, mode) == expected.tolist()


@pytest.mark.parametrize("mode,numpy_mode", [("reflect", "reflect"), ("symmetric", "symmetric"),
                                             ("circular", "wrap"), ("replicate", "edge")])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_naive_reference_matches_numpy_beyond_the_size(mode, numpy_mode, size):
    values = list(range(size))
    expected = np.pad(np.arange(size), (11, 7), numpy_mode).tolist()
    assert naive_pad_1d(values, 11, 7, mode) == expected


SOURCE_CASES = [(mode, size, before, after)
                for mode in NON_CONSTANT + ("symmetric",)
                for size in (1, 2, 4, 7)
                for before, after in ((0, 0), (1, 2), (5, 9), (-1, 3), (4, -2), (-2, -1))
                if size + before + after >= 0
                and (mode != "circular" or size + min(before, 0) + min(after, 0) > 0)]


@pytest.mark.parametrize("mode,size,before,after", SOURCE_CASES)
def test_source_index_matches_naive(mode, size, before, after):
    index = pad_kernels.source_index(size, before, after, mode)
    expected = [naive_source(p, size, mode, before, after) for p in range(-before, size + after)]
    assert index.tolist() == expected


# ------------------------------------------------------------------- F.pad forward


CONSTANT_CASES = {
    "1d-pad": ((5,), (2, 3)),
    "1d-crop": ((5,), (-1, -2)),
    "1d-crop-all": ((5,), (-2, -3)),
    "2d-last-dim": ((3, 4), (1, 0)),
    "2d-both": ((3, 4), (1, 2, 3, 0)),
    "3d-mixed": ((2, 3, 4), (-1, 2, 0, -2, 1, 1)),
    "4d-hw": ((2, 3, 4, 5), (1, 1, 2, 2)),
    "4d-all": ((2, 3, 4, 5), (1, -1, 0, 2, -1, 0, 1, 1)),
    "5d": ((1, 2, 3, 2, 3), (1, 0, 0, 1, 1, 1)),
    "empty-pad": ((2, 3), ()),
    "0d": ((), ()),
    "zero-batch": ((0, 3), (1, 1)),
}


@pytest.mark.parametrize("case", CONSTANT_CASES.values(), ids=CONSTANT_CASES.keys())
@pytest.mark.parametrize("value", [None, 0.0, -1.5])
def test_constant_pad_matches_torch(case, value, rng):
    shape, pad = case
    run_pad(rng.standard_normal(shape), pad, "constant", value)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8, np.float32, np.bool_])
@pytest.mark.parametrize("value", [None, 7, 2.5])
def test_constant_pad_keeps_the_dtype_and_casts_the_value(dtype, value, rng):
    array = rng.integers(0, 5, (2, 3, 4)).astype(dtype)
    out = run_pad(array, (1, 2, -1, 1), "constant", value)
    assert out.numpy().dtype == dtype


def _non_constant_cases():
    cases = {}
    for k, shapes in ((1, [(2, 5), (2, 3, 5)]), (2, [(2, 4, 5), (2, 2, 4, 5)]),
                      (3, [(1, 3, 4, 5), (1, 2, 3, 4, 5)])):
        pads = [(1, 2) * k, (0, 3, 2, 0, 1, 1)[:2 * k], (-1, 2, 2, -2, 1, 0)[:2 * k],
                (2, -1, -1, -1, 0, 2)[:2 * k]]
        for shape in shapes:
            for pad in pads:
                cases[f"{len(shape)}d-pad{pad}"] = (shape, pad)
    return cases


NON_CONSTANT_CASES = _non_constant_cases()


@pytest.mark.parametrize("mode", NON_CONSTANT)
@pytest.mark.parametrize("case", NON_CONSTANT_CASES.values(), ids=NON_CONSTANT_CASES.keys())
def test_non_constant_pad_matches_torch(mode, case, rng):
    shape, pad = case
    run_pad(rng.standard_normal(shape), pad, mode)


@pytest.mark.parametrize("mode", NON_CONSTANT)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.float32])
def test_non_constant_pad_on_other_dtypes(mode, dtype, rng):
    array = rng.integers(0, 100, (2, 3, 4, 5)).astype(dtype)
    out = run_pad(array, (2, 1, -1, 2), mode)
    assert out.numpy().dtype == dtype


@pytest.mark.parametrize("mode", NON_CONSTANT)
def test_value_zero_is_accepted_by_every_mode(mode, rng):
    run_pad(rng.standard_normal((2, 3, 4)), (1, 1), mode, value=0)


@st.composite
def pad_configs(draw):
    mode = draw(st.sampled_from(("constant",) + NON_CONSTANT))
    if mode == "constant":
        ndim = draw(st.integers(1, 4))
        pairs = draw(st.integers(0, ndim))
    else:
        pairs = draw(st.integers(1, 3))
        ndim = pairs + draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    pad = []
    for axis in range(ndim - 1, ndim - 1 - pairs, -1):
        size = shape[axis]
        # at least one element kept, so every mode has something to copy
        before = draw(st.integers(-(size - 1), size + 2))
        after = draw(st.integers(-(size - 1 + min(before, 0)), size + 2))
        kept = size + min(before, 0) + min(after, 0)
        # stay inside what torch accepts, so that it can be the oracle
        if mode == "reflect":
            before, after = min(before, size - 1), min(after, size - 1)
        if mode == "circular":
            before, after = min(before, kept), min(after, kept)
        pad += [before, after]
    return shape, tuple(pad), mode


@settings(max_examples=60, deadline=None)
@given(pad_configs())
def test_pad_property_matches_torch(config):
    shape, pad, mode = config
    array = np.random.default_rng(len(pad)).standard_normal(shape)
    run_pad(array, pad, mode)


@pytest.mark.parametrize("mode,k,name", [("constant", 2, "ConstantPadNdBackward0"),
                                         ("reflect", 1, "ReflectionPad1DBackward0"),
                                         ("reflect", 2, "ReflectionPad2DBackward0"),
                                         ("replicate", 3, "ReplicationPad3DBackward0"),
                                         ("circular", 2, "CircularPad2DBackward0")])
def test_pad_grad_fn_names(mode, k, name):
    x = cnnlab.ones((1,) * 2 + (3,) * k, requires_grad=True)
    assert repr(F.pad(x, (1, 1) * k, mode).grad_fn) == f"<{name} object>"


def test_pad_accepts_arrays_and_lists():
    expected = [[0, 1, 2, 0], [0, 3, 4, 0]]
    assert F.pad([[1, 2], [3, 4]], [1, 1]).tolist() == expected
    assert F.pad(np.array([[1, 2], [3, 4]]), (1, 1)).tolist() == expected


# ----------------------------------------------------------------- beyond PyTorch


@pytest.mark.parametrize("mode,numpy_mode", [("reflect", "reflect"), ("circular", "wrap")])
@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("widths", [(4, 0), (7, 5), (0, 9)], ids=str)
def test_padding_wider_than_the_input_matches_numpy(mode, numpy_mode, size, widths, rng):
    # PyTorch refuses these (reflect needs pad < size, circular wraps at most once).
    array = rng.standard_normal((2, size, size + 1))
    out = F.pad(array, widths * 2, mode)
    np.testing.assert_array_equal(out.numpy(), np.pad(array, ((0, 0), widths, widths), numpy_mode))


@pytest.mark.parametrize("mode", ["reflect", "circular"])
def test_gradient_of_padding_wider_than_the_input(mode, rng):
    # Each padded element adds its gradient to the element it copies: compare with
    # the transpose of the 0/1 copy matrix built from NumPy's own padding.
    size, widths = 3, (5, 8)
    numpy_mode = {"reflect": "reflect", "circular": "wrap"}[mode]
    copies = np.pad(np.eye(size), (widths, (0, 0)), numpy_mode)  # (padded, size)
    x = cnnlab.tensor(rng.standard_normal((1, size)), requires_grad=True)
    weights = rng.standard_normal((1, size + sum(widths)))
    F.pad(x, widths, mode).backward(weights)
    np.testing.assert_allclose(x.grad.numpy(), weights @ copies, rtol=1e-12)


def test_symmetric_kernel_mode_matches_numpy(rng):
    array = rng.standard_normal((3, 4))
    widths = ((5, 2), (1, 9))
    np.testing.assert_array_equal(pad_kernels.pad(array, widths, "symmetric"),
                                  np.pad(array, widths, "symmetric"))
    copies = np.pad(np.eye(4), ((1, 9), (0, 0)), "symmetric")
    grad = rng.standard_normal((3, 14))
    grad_input = pad_kernels.pad_backward(grad, ((0, 0), (1, 9)), "symmetric", (3, 4))
    np.testing.assert_allclose(grad_input, grad @ copies, rtol=1e-12)


# --------------------------------------------------------------------- F.pad errors


@pytest.mark.parametrize("call,error,match", [
    (lambda x: F.pad(x, (1, 1, 1)), ValueError, r"pad: .*divisible by 2, got 3 values"),
    (lambda x: F.pad(x, (1,) * 8), ValueError, r"pads 4 dimensions, but the input has only 3"),
    (lambda x: F.pad(x, (1.0, 1)), TypeError, r"pad must be a tuple of ints"),
    (lambda x: F.pad(x, 1), TypeError, r"pad must be a tuple of ints"),
    (lambda x: F.pad(x, (1, 1), "foo"), ValueError, r"mode must be one of .*got 'foo'"),
    (lambda x: F.pad(x, (1, 1), "reflect", 1.0), ValueError,
     r"mode 'reflect' does not take a value \(got value=1.0\)"),
    (lambda x: F.pad(x, (1, 1, 1, 1, 1, 1), "replicate"), ValueError,
     r"a pad of length 2 needs a 2-D or 3-D input.*got a pad of length 6 and a 3-D input"),
    (lambda x: F.pad(x[0, 0], (1, 1), "circular"), ValueError, r"got a pad of length 2 and a 1-D"),
    (lambda x: F.pad(x, (-3, -2)), ValueError,
     r"padding \(-3, -2\) of dimension 2 \(size 4\) gives a negative size: 4 \+ -3 \+ -2 = -1"),
    (lambda x: F.pad(x, (-4, 1), "circular"), ValueError,
     r"crops dimension 2 \(size 4\) to nothing"),
    (lambda x: F.pad(x[:, :, :0], (1, 1), "replicate"), ValueError,
     r"mode 'replicate' cannot pad dimension 2: it is empty"),
])
def test_pad_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(cnnlab.zeros(2, 3, 4))


# ------------------------------------------------------ correlate2d / convolve2d

BOUNDARIES = ("fill", "wrap", "symm")
KERNELS = [(1, 1), (2, 2), (3, 3), (2, 3), (4, 1), (3, 4)]


def scipy_reference(function, x, w, mode, boundary, fillvalue):
    return getattr(scipy.signal, function)(x, w, mode, boundary, fillvalue)


@pytest.mark.parametrize("function", ["correlate2d", "convolve2d"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: f"k{k[0]}x{k[1]}")
@pytest.mark.parametrize("kind", ["int", "float64"])
def test_correlate_matches_scipy(function, mode, boundary, kernel, kind, rng):
    x = rng.integers(-9, 10, (5, 6))
    w = rng.integers(-9, 10, kernel)
    if kind == "float64":
        x, w = x + rng.random(x.shape), w + rng.random(w.shape)
    out = getattr(F, function)(x, w, mode, boundary, 3)
    expected = scipy_reference(function, x, w, mode, boundary, 3)
    if kind == "int":
        assert out.dtype == cnnlab.int64
        np.testing.assert_array_equal(out.numpy(), expected)
    else:
        assert out.dtype == cnnlab.float64
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("function", ["correlate2d", "convolve2d"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same"])
def test_kernel_larger_than_the_input_wraps_and_mirrors_like_scipy(function, boundary, mode, rng):
    x = rng.integers(-9, 10, (2, 3))
    w = rng.integers(-9, 10, (7, 6))
    np.testing.assert_array_equal(getattr(F, function)(x, w, mode, boundary, -2).numpy(),
                                  scipy_reference(function, x, w, mode, boundary, -2))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["correlate2d", "convolve2d"]), st.sampled_from(["full", "same", "valid"]),
       st.sampled_from(BOUNDARIES + ("pad", "circular", "symmetric")),
       st.integers(1, 7), st.integers(1, 7), st.integers(1, 5), st.integers(1, 5),
       st.integers(-3, 3))
def test_correlate_property_matches_scipy(function, mode, boundary, rows, cols, k_rows, k_cols,
                                          fillvalue):
    if mode == "valid" and (k_rows > rows or k_cols > cols):
        k_rows, k_cols = min(k_rows, rows), min(k_cols, cols)
    generator = np.random.default_rng(rows * 10 + cols)
    x = generator.standard_normal((rows, cols)).astype(np.float32)
    w = generator.standard_normal((k_rows, k_cols)).astype(np.float32)
    out = getattr(F, function)(x, w, mode, boundary, fillvalue)
    assert out.dtype == cnnlab.float32
    expected = scipy_reference(function, x.astype(np.float64), w.astype(np.float64), mode,
                               boundary, fillvalue)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_fillvalue_is_cast_to_integers_like_scipy():
    x, w = np.arange(9).reshape(3, 3), np.array([[0, 1], [1, 0]])
    np.testing.assert_array_equal(F.correlate2d(x, w, "same", "fill", 2.5).numpy(),
                                  scipy.signal.correlate2d(x, w, "same", "fill", 2.5))


@pytest.mark.parametrize("types,expected", [
    ((np.int32, np.int8), cnnlab.int64), ((np.bool_, np.int64), cnnlab.int64),
    ((np.float32, np.int64), cnnlab.float32), ((np.float32, np.float64), cnnlab.float64),
])
def test_result_dtype(types, expected):
    x = np.ones((3, 3), dtype=types[0])
    w = np.ones((2, 2), dtype=types[1])
    assert F.correlate2d(x, w).dtype == expected


def torch_reference(function, x, w, mode, boundary, fillvalue):
    """scipy's correlate2d/convolve2d in torch: gather the boundary, then conv2d.

    The extension of ``x`` is gathered with index arrays made by ``np.pad`` (not by
    cnnlab), so torch differentiates an independent construction.
    """
    k_rows, k_cols = w.shape
    if mode == "full":
        pads = [(k - 1, k - 1) for k in (k_rows, k_cols)]
    elif mode == "same":
        offsets = [(k - 1) // 2 if function == "convolve2d" else k // 2 for k in (k_rows, k_cols)]
        pads = [(k - 1 - o, o) for k, o in zip((k_rows, k_cols), offsets)]
    else:
        pads = [(0, 0), (0, 0)]
    if boundary == "fill":
        extended = TF.pad(x, (*pads[1], *pads[0]), value=fillvalue)
    else:
        numpy_mode = {"wrap": "wrap", "symm": "symmetric"}[boundary]
        rows = np.pad(np.arange(x.shape[0]), pads[0], numpy_mode)
        cols = np.pad(np.arange(x.shape[1]), pads[1], numpy_mode)
        extended = x[torch.tensor(rows)][:, torch.tensor(cols)]
    kernel = torch.flip(w, (0, 1)) if function == "convolve2d" else w
    return TF.conv2d(extended[None, None], kernel[None, None])[0, 0]


@pytest.mark.parametrize("function", ["correlate2d", "convolve2d"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 3), (6, 7)],
                         ids=lambda k: f"k{k[0]}x{k[1]}")
def test_correlate_gradients_match_torch(function, mode, boundary, kernel, rng):
    shape = (5, 6) if kernel != (6, 7) or mode != "valid" else (6, 8)
    x_values, w_values = rng.standard_normal(shape), rng.standard_normal(kernel)
    x, w = cnnlab.tensor(x_values, requires_grad=True), cnnlab.tensor(w_values, requires_grad=True)
    tx, tw = torch.tensor(x_values, requires_grad=True), torch.tensor(w_values, requires_grad=True)
    out = getattr(F, function)(x, w, mode, boundary, 0.5)
    expected = torch_reference(function, tx, tw, mode, boundary, 0.5)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    weights = rng.standard_normal(expected.shape)
    out.backward(weights)
    expected.backward(torch.tensor(weights))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_gradient_only_where_required(rng):
    x = cnnlab.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    out = F.convolve2d(x, rng.standard_normal((2, 2)))
    assert repr(out.grad_fn) == "<Convolve2DBackward0 object>"
    out.sum().backward()
    assert x.grad.shape == (4, 4)
    assert F.correlate2d(rng.standard_normal((4, 4)), rng.standard_normal((2, 2))).grad_fn is None


@pytest.mark.parametrize("call,match", [
    (lambda: F.correlate2d(np.ones((2, 3)), np.ones((3, 3)), "valid"),
     r"correlate2d: in mode 'valid' the kernel in2 \(3, 3\) must fit inside in1 \(2, 3\): "
     r"out = \(M - P \+ 1, N - Q \+ 1\) = \(2 - 3 \+ 1, 3 - 3 \+ 1\) = \(0, 1\)\. "
     r"SciPy would swap"),
    (lambda: F.convolve2d(np.ones((2, 2)), np.ones((3, 3)), "valid"),
     r"convolve2d: in mode 'valid' the kernel in2 \(3, 3\)"),
    (lambda: F.correlate2d(np.ones(3), np.ones((1, 1))),
     r"in1 must be a 2-D array .*got shape \(3,\)"),
    (lambda: F.correlate2d(np.ones((3, 3)), np.ones((1, 1, 1))), r"in2 must be a 2-D array"),
    (lambda: F.correlate2d(np.ones((0, 3)), np.ones((1, 1))), r"in1 is empty \(shape \(0, 3\)\)"),
    (lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), "middle"),
     r"mode must be one of \('full', 'same', 'valid'\), got 'middle'"),
    (lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), boundary="reflect"),
     r"boundary must be 'fill', 'wrap' or 'symm' .*got 'reflect'"),
    (lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), fillvalue=[1, 2]),
     r"fillvalue must be a scalar, got \[1, 2\]"),
])
def test_correlate_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_scipy_swaps_where_cnnlab_raises():
    small, large = np.ones((2, 2)), np.arange(9.0).reshape(3, 3)
    assert scipy.signal.correlate2d(small, large, "valid").shape == (2, 2)
    with pytest.raises(ValueError, match="must fit inside"):
        F.correlate2d(small, large, "valid")


@pytest.mark.parametrize("args,match", [
    ((4, 1, 1, "constant"), r"pad: mode must be one of \('reflect', 'replicate', 'circular', "
                            r"'symmetric'\) here, got 'constant'"),
    ((4, -4, 1, "circular"), r"circular padding \(-4, 1\) of an axis of size 4 leaves nothing"),
    ((0, 1, 0, "symmetric"), r"cannot pad an empty axis with mode 'symmetric'"),
])
def test_source_index_errors(args, match):
    with pytest.raises(ValueError, match=match):
        pad_kernels.source_index(*args)

"""Odd but valid input behaves as in PyTorch.

- NaN and inf propagate as in PyTorch (a max-pooling window holding NaN gives NaN;
  a convolution over inf gives inf or NaN where PyTorch's does), forward and backward;
- empty batches (N = 0) work for every op, forward and backward;
- non-contiguous, Fortran-ordered, negatively strided and read-only arrays work, give
  the same numbers as a contiguous copy, and are never modified (nor is a read-only
  upstream gradient), and no output shares memory with its input;
- float16, float32 and float64 keep their dtype, values and gradients matching
  PyTorch's CPU kernels in that dtype;
- Python scalars, NumPy scalars and nested lists work where arrays do.

Every op is written once, ``op(F, x, extras)``, and run with ``F`` =
``cnnlab.functional`` and ``F`` = ``torch.nn.functional``: the two share names,
argument order and defaults.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F

RNG_SEED = 20240601


def _unpool_indices(shape, kernel):
    """Indices as max_pool2d returns them (from PyTorch, so both libraries get the same)."""
    n, c, h, w = shape
    source = torch.randn(n, c, h * kernel, w * kernel, generator=torch.Generator().manual_seed(1))
    return TF.max_pool2d(source, kernel, return_indices=True)[1].numpy()


# name -> (input shape, {extra name: shape or fixed array}, op(F, x, extras))
OPS = {
    "conv2d": ((2, 4, 7, 6), {"weight": (6, 2, 3, 2), "bias": (6,)},
               lambda F, x, e: F.conv2d(x, e["weight"], e["bias"], stride=(2, 1), padding=1,
                                        groups=2)),
    "conv2d-dilated": ((2, 3, 8, 8), {"weight": (2, 3, 3, 3)},
                       lambda F, x, e: F.conv2d(x, e["weight"], dilation=2, padding=(2, 1))),
    "conv_transpose2d": ((2, 4, 4, 5), {"weight": (4, 3, 3, 2), "bias": (6,)},
                         lambda F, x, e: F.conv_transpose2d(x, e["weight"], e["bias"], stride=2,
                                                            padding=1, output_padding=1,
                                                            groups=2)),
    "max_pool2d": ((2, 3, 7, 6), {},
                   lambda F, x, e: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)),
    "max_pool2d-indices": ((2, 3, 6, 6), {},
                           lambda F, x, e: F.max_pool2d(x, 2, dilation=2,
                                                        return_indices=True)[0]),
    "avg_pool2d": ((2, 3, 7, 6), {},
                   lambda F, x, e: F.avg_pool2d(x, (3, 2), stride=2, padding=1,
                                                count_include_pad=False)),
    "lp_pool2d": ((2, 3, 6, 6), {}, lambda F, x, e: F.lp_pool2d(x, 2, 2, stride=1)),
    "adaptive_avg_pool2d": ((2, 3, 7, 5), {}, lambda F, x, e: F.adaptive_avg_pool2d(x, (3, 4))),
    "adaptive_max_pool2d": ((2, 3, 7, 5), {}, lambda F, x, e: F.adaptive_max_pool2d(x, (3, 4))),
    "max_unpool2d": ((2, 3, 3, 3), {"indices": _unpool_indices((2, 3, 3, 3), 2)},
                     lambda F, x, e: F.max_unpool2d(x, e["indices"], 2)),
    "pad-constant": ((2, 3, 4, 5), {}, lambda F, x, e: F.pad(x, (1, 2, 0, 1), value=0.5)),
    "pad-reflect": ((2, 3, 4, 5), {}, lambda F, x, e: F.pad(x, (1, 2, 3, 1), mode="reflect")),
    "pad-replicate": ((2, 3, 4, 5), {},
                      lambda F, x, e: F.pad(x, (2, 0, 1, 3), mode="replicate")),
    "pad-circular": ((2, 3, 4, 5), {}, lambda F, x, e: F.pad(x, (1, 2, 3, 1), mode="circular")),
    "unfold": ((2, 3, 5, 6), {}, lambda F, x, e: F.unfold(x, (2, 3), padding=1, stride=(1, 2))),
    "fold": ((2, 12, 15), {}, lambda F, x, e: F.fold(x, (4, 5), 2, padding=1, stride=(1, 2))),
}
OP_IDS = list(OPS)


def _data(shape, dtype, seed=RNG_SEED):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _extras_arrays(name, dtype):
    _, extras, _ = OPS[name]
    out = {}
    for i, (key, spec) in enumerate(extras.items()):
        out[key] = spec if isinstance(spec, np.ndarray) else _data(spec, dtype, seed=i)
    return out


def _float(array):
    return array.dtype.kind == "f"


def run_cnnlab(name, x, extras, grad_output=None, grad_seed=7):
    """Forward and backward in cnnlab; arrays are wrapped without copying."""
    _, _, op = OPS[name]
    tx = cnnlab.from_numpy(x).requires_grad_()
    te = {k: cnnlab.from_numpy(v).requires_grad_() if _float(v) else cnnlab.from_numpy(v)
          for k, v in extras.items()}
    out = op(F, tx, te)
    if grad_output is None:
        grad_output = _data(out.shape, x.dtype, grad_seed)
    out.backward(grad_output)
    grads = {k: v.grad.numpy() for k, v in te.items() if _float(extras[k])}
    return out.detach().numpy(), tx.grad.numpy(), grads


def run_torch(name, x, extras, grad_seed=7):
    _, _, op = OPS[name]
    tx = torch.tensor(np.array(x), requires_grad=True)
    te = {k: torch.tensor(np.array(v), requires_grad=_float(v)) for k, v in extras.items()}
    out = op(TF, tx, te)
    out.backward(torch.tensor(_data(tuple(out.shape), x.dtype, grad_seed)))
    grads = {k: v.grad.numpy() for k, v in te.items() if _float(extras[k])}
    return out.detach().numpy(), tx.grad.numpy(), grads


def assert_same(ours, theirs, rtol, atol=0.0):
    (out, grad, grads), (t_out, t_grad, t_grads) = ours, theirs
    assert out.dtype == t_out.dtype and grad.dtype == t_grad.dtype
    np.testing.assert_allclose(out, t_out, rtol=rtol, atol=atol, equal_nan=True)
    np.testing.assert_allclose(grad, t_grad, rtol=rtol, atol=atol, equal_nan=True)
    assert grads.keys() == t_grads.keys()
    for key in grads:
        np.testing.assert_allclose(grads[key], t_grads[key], rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=key)


# ------------------------------------------------------------------ NaN, inf

def _with_specials(x):
    """NaN, inf and -inf at positions every op here reads (tap (0, 0) or (2, 2))."""
    x[(0,) * x.ndim] = np.nan
    x[(0, 1, 2, 2)[:x.ndim]] = np.inf
    x[(1, 0, 2, 0)[:x.ndim]] = -np.inf
    flat = x.reshape(-1)  # and a few more anywhere (fold crops the corners above)
    spots = np.random.default_rng(3).choice(flat.size, size=max(3, flat.size // 40),
                                            replace=False)
    flat[spots] = np.resize([np.nan, np.inf, -np.inf], spots.size)
    return x


@pytest.mark.parametrize("name", OP_IDS)
def test_nan_and_inf_propagate_like_torch(name):
    shape, _, _ = OPS[name]
    x = _with_specials(_data(shape, np.float64))
    extras = _extras_arrays(name, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # silent, as PyTorch
        ours = run_cnnlab(name, x, extras)
    assert np.isnan(ours[0]).any() or np.isinf(ours[0]).any()
    assert_same(ours, run_torch(name, x, extras), rtol=1e-10, atol=1e-12)


def test_max_pooling_window_with_nan_is_nan_and_routes_the_gradient_to_it():
    x = np.array([[[[1.0, np.nan, 3.0, 2.0], [0.0, 5.0, 4.0, 1.0]]]])
    tx = cnnlab.tensor(x, requires_grad=True)
    out, indices = F.max_pool2d(tx, 2, return_indices=True)
    out.backward(np.ones(out.shape))
    values = out.detach().numpy()
    assert np.isnan(values[0, 0, 0, 0]) and values[0, 0, 0, 1] == 4.0
    assert indices.numpy().tolist() == [[[[1, 6]]]]
    t = torch.tensor(x, requires_grad=True)
    t_out, t_indices = TF.max_pool2d(t, 2, return_indices=True)
    t_out.backward(torch.ones_like(t_out))
    assert indices.numpy().tolist() == t_indices.numpy().tolist()
    np.testing.assert_array_equal(tx.grad.numpy(), t.grad.numpy())


def test_adaptive_avg_pool2d_inf_stays_in_its_window():
    """An inf must reach only the windows that hold it (the others stay 0)."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = np.inf
    expected = TF.adaptive_avg_pool2d(torch.tensor(x), 2).numpy()[0, 0]
    assert expected[0, 0] == np.inf and (expected.reshape(-1)[1:] == 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = F.adaptive_avg_pool2d(x, 2).numpy()[0, 0]
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------- empty batch


@pytest.mark.parametrize("name", OP_IDS)
def test_empty_batch_forward_and_backward(name):
    shape, _, _ = OPS[name]
    x = _data((0,) + shape[1:], np.float64)
    extras = _extras_arrays(name, np.float64)
    if "indices" in extras:
        extras["indices"] = extras["indices"][:0]
    ours = run_cnnlab(name, x, extras)
    theirs = run_torch(name, x, extras)
    assert ours[0].shape == theirs[0].shape and ours[0].shape[0] == 0
    assert ours[1].shape == x.shape
    assert_same(ours, theirs, rtol=0)


@pytest.mark.parametrize("function", [
    lambda F, x: F.adaptive_avg_pool2d(x, (0, 2)),
    lambda F, x: F.adaptive_max_pool2d(x, 0),
], ids=["adaptive_avg_pool2d", "adaptive_max_pool2d"])
def test_adaptive_pooling_to_size_zero_is_empty_like_torch(function):
    x = _data((2, 3, 4, 4), np.float64)
    out = function(F, cnnlab.tensor(x, requires_grad=True))
    assert out.shape == tuple(function(TF, torch.tensor(x)).shape)
    assert out.numel() == 0


# ------------------------------------------------------------- memory layouts


def _layouts(reference):
    """``{name: (array with reference's values, base array owning its memory)}``."""
    fortran = np.asfortranarray(reference)
    big = np.zeros(tuple(2 * s + 1 for s in reference.shape), reference.dtype)
    strided = big[tuple(slice(1, None, 2) for _ in reference.shape)]
    strided[...] = reference
    flip = (Ellipsis,) + (slice(None, None, -1),) * min(reference.ndim, 2)
    flipped = np.ascontiguousarray(reference[flip])
    negative = flipped[flip]
    transposed_base = np.ascontiguousarray(np.moveaxis(reference, 0, -1))
    transposed = np.moveaxis(transposed_base, -1, 0)
    readonly = reference.copy()
    readonly.flags.writeable = False
    return {"fortran": (fortran, fortran), "strided": (strided, big),
            "negative-strides": (negative, flipped), "transposed": (transposed, transposed_base),
            "read-only": (readonly, readonly)}


LAYOUTS = ["fortran", "strided", "negative-strides", "transposed", "read-only"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", OP_IDS)
def test_odd_memory_layouts_work_and_are_never_modified(name, layout):
    shape, _, _ = OPS[name]
    x_ref = _data(shape, np.float64)
    extras_ref = _extras_arrays(name, np.float64)
    expected = run_cnnlab(name, x_ref.copy(), {k: v.copy() for k, v in extras_ref.items()})

    x, x_base = _layouts(x_ref)[layout]
    extras, bases = {}, []
    for key, value in extras_ref.items():  # the weights (and indices) in the same layout
        extras[key], base = _layouts(value)[layout] if value.ndim else (value, value)
        bases.append((base, base.copy()))
    out_shape = expected[0].shape
    grad_output, grad_base = _layouts(_data(out_shape, np.float64, 7))[layout]
    snapshots = [(x_base, x_base.copy()), (grad_base, grad_base.copy())] + bases

    ours = run_cnnlab(name, x, extras, grad_output=grad_output)

    for base, snapshot in snapshots:
        assert np.array_equal(base, snapshot, equal_nan=True), "an input array was modified"
    if layout == "read-only":
        assert not x.flags.writeable
    assert not np.shares_memory(ours[0], x_base), "the output is a view of the input"
    assert_same(ours, expected, rtol=1e-13, atol=1e-13)
    assert_same(ours, run_torch(name, x_ref, extras_ref), rtol=1e-10, atol=1e-12)


def test_writing_into_an_output_never_changes_the_input():
    x = cnnlab.tensor(_data((1, 2, 3, 3), np.float32))
    before = x.numpy().copy()
    for out in (F.pad(x, (0, 0)), F.pad(x, (0, 0, 0, 0), mode="reflect"),
                F.pad(x, (0, 0, 0, 0), mode="replicate"), F.pad(x, (0, 0, 0, 0), mode="circular"),
                F.adaptive_avg_pool2d(x, 3), F.adaptive_max_pool2d(x, 3),
                F.max_pool2d(x, 1), F.avg_pool2d(x, 1), F.unfold(x, 1),
                F.conv2d(x, np.ones((2, 1, 1, 1), np.float32), groups=2)):
        out[...] = 7
        np.testing.assert_array_equal(x.numpy(), before)


# -------------------------------------------------------------------- dtypes

TOLERANCE = {np.float16: (2e-3, 2e-3), np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-12)}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64],
                         ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("name", OP_IDS)
def test_floating_dtypes_are_kept_and_match_torch(name, dtype):
    shape, _, _ = OPS[name]
    x = _data(shape, dtype)
    if name == "lp_pool2d":  # PyTorch sums x^p without |.|: compare where they agree
        x = np.abs(x) + dtype(0.5)
    extras = _extras_arrays(name, dtype)
    ours = run_cnnlab(name, x, extras)
    assert ours[0].dtype == dtype and ours[1].dtype == dtype
    assert all(g.dtype == dtype for g in ours[2].values())
    rtol, atol = TOLERANCE[dtype]
    theirs = run_torch(name, x, extras)
    scale = max(1.0, float(np.abs(theirs[0].astype(np.float64)).max()))
    assert_same(ours, theirs, rtol=rtol, atol=atol * scale)


@pytest.mark.parametrize("op", [
    lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x * 4, 2), lambda x: F.pad(x, (1, 1)),
    lambda x: F.conv2d(x, np.ones((1, 1, 2, 2), x.dtype)),
], ids=["max_pool2d", "avg_pool2d", "pad", "conv2d"])
def test_integer_inputs_are_exact(op):
    """Beyond PyTorch (no integer pooling/convolution on CPU): exact integer results
    (average pooling of x * 4 over 2x2 windows has integer means, so truncation,
    PyTorch's int64 rule, changes nothing)."""
    x = np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4)
    out = op(x)
    reference = op(x.astype(np.float64))
    np.testing.assert_array_equal(out.numpy().astype(np.float64), reference.numpy())
    assert x.tolist() == np.arange(16).reshape(1, 1, 4, 4).tolist()


# -------------------------------------------------- scalars and nested lists


@pytest.mark.parametrize("name", OP_IDS)
def test_nested_lists_work_like_arrays(name):
    shape, _, op = OPS[name]
    x = _data(shape, np.float32)
    extras = _extras_arrays(name, np.float32)
    expected = op(F, x, extras).numpy()
    from_lists = op(F, x.tolist(), {k: v.tolist() for k, v in extras.items()})
    assert from_lists.dtype == cnnlab.float32  # Python floats are float32, as in torch
    np.testing.assert_allclose(from_lists.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_numpy_and_python_integer_scalars_as_sizes():
    x = _data((1, 2, 6, 6), np.float64)
    expected = TF.max_pool2d(torch.tensor(x), 2, stride=1, padding=1).numpy()
    for size in (2, np.int64(2), np.int32(2), (np.int16(2), 2)):
        out = F.max_pool2d(x, size, stride=np.uint8(1), padding=np.int64(1))
        np.testing.assert_array_equal(out.numpy(), expected)
    out = F.avg_pool2d(x, 2, divisor_override=np.int64(3)).numpy()
    np.testing.assert_allclose(out, TF.avg_pool2d(torch.tensor(x), 2, divisor_override=3).numpy())


@pytest.mark.parametrize("ours,theirs", [
    (lambda: F.relu(-2.5), lambda: torch.relu(torch.tensor(-2.5))),
    (lambda: F.sigmoid(0.25), lambda: torch.sigmoid(torch.tensor(0.25))),
    (lambda: F.tanh(3), lambda: torch.tanh(torch.tensor(3))),
    (lambda: F.mse_loss(2.0, 3.5), lambda: TF.mse_loss(torch.tensor(2.0), torch.tensor(3.5))),
    (lambda: F.mse_loss([1.0, 2.0], 3.0),
     lambda: TF.mse_loss(torch.tensor([1.0, 2.0]), torch.tensor(3.0).expand(2))),
    (lambda: cnnlab.tensor([1, 2]) * 2.5, lambda: torch.tensor([1, 2]) * 2.5),
    (lambda: cnnlab.tensor([1.0, 2.0], dtype=cnnlab.float64) + 1,
     lambda: torch.tensor([1.0, 2.0], dtype=torch.float64) + 1),
    (lambda: F.pad(np.ones((1, 2), np.float32), (1, 1), value=2),
     lambda: TF.pad(torch.ones(1, 2), (1, 1), value=2)),
    (lambda: F.pad([[1, 2]], (1, 0), value=np.float64(2.7)),
     lambda: TF.pad(torch.tensor([[1, 2]]), (1, 0), value=2.7)),
    (lambda: F.softmax([1.0, 2.0, 3.0], 0), lambda: torch.softmax(torch.tensor([1., 2., 3.]), 0)),
], ids=["relu", "sigmoid", "tanh-int", "mse-scalars", "mse-broadcast-scalar", "int-times-float",
        "float64-plus-int", "pad-int-value", "pad-int-tensor-float-value", "softmax-list"])
def test_python_scalars_work_like_torch(ours, theirs):
    out, expected = ours(), theirs()
    assert str(out.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


def test_softmax_over_an_empty_dimension_is_empty_like_torch():
    out = F.softmax(np.zeros((2, 0), np.float32), 1)
    assert out.shape == (2, 0)
    assert F.log_softmax(np.zeros((0, 3)), 1).shape == (0, 3)

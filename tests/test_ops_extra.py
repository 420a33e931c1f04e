"""prod/sort/argsort/topk, NaN gradients, loss corner cases, softmax dtype and
load_state_dict: each against PyTorch (values, dtypes, float64 gradients to 1e-8)."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn

NAN = float("nan")


def both(array, requires_grad=False):
    """The same data as a cnnlab tensor and a torch tensor."""
    array = np.asarray(array)
    grad = requires_grad and array.dtype.kind == "f"
    return (cnnlab.tensor(array.copy(), requires_grad=grad),
            torch.tensor(array.copy(), requires_grad=grad))


def assert_same(ours, theirs, atol=1e-8):
    theirs = theirs.detach()
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=1e-7, atol=atol,
                               equal_nan=True)


def check_grad(ours_in, ours_out, theirs_in, theirs_out, seed=0):
    """Backpropagate one random weighting through both outputs; compare input gradients."""
    weights = np.random.default_rng(seed).standard_normal(tuple(ours_out.shape))
    (ours_out * cnnlab.tensor(weights)).sum().backward()
    (theirs_out * torch.tensor(weights)).sum().backward()
    assert_same(ours_in.grad, theirs_in.grad)


# ----------------------------------------------------------------- prod


PROD_INPUTS = {
    "plain": np.arange(1, 13, dtype=np.float64).reshape(3, 4) / 3,
    "one_zero": np.array([[1., 0., 3.], [2., 5., 0.5]]),
    "two_zeros": np.array([[0., 0., 3.], [2., 0., 4.]]),
    "negative": np.array([[-1., 2., -3.], [4., -0.5, 6.]]),
    "scalar": np.array(2.5),
    "empty_dim": np.zeros((2, 0)),
}


@pytest.mark.parametrize("name", PROD_INPUTS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True), (1, False)])
def test_prod_matches_torch(name, dim, keepdim):
    array = PROD_INPUTS[name]
    if dim is not None and dim >= max(array.ndim, 1) or dim == -1 and array.ndim == 0:
        dim = 0
    x, tx = both(array, requires_grad=True)
    out = x.prod() if dim is None else x.prod(dim, keepdim=keepdim)
    expected = tx.prod() if dim is None else tx.prod(dim, keepdim=keepdim)
    assert_same(out, expected)
    if out.numel():
        check_grad(x, out, tx, expected)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_prod_of_integers_is_int64(dtype):
    array = np.array([[1, 2, 3], [0, 1, 1]]).astype(dtype)
    x, tx = both(array)
    assert_same(cnnlab.prod(x), torch.prod(tx))
    assert_same(cnnlab.prod(x, 1), torch.prod(tx, 1))
    assert_same(cnnlab.prod(x, 0, dtype=cnnlab.float64), torch.prod(tx, 0, dtype=torch.float64))


# ---------------------------------------------------- sort / argsort / topk


SORT_INPUTS = {
    "random": np.random.default_rng(1).standard_normal((3, 5)),
    "ties": np.array([[2., 1., 2., 1., 2.], [0., 0., 0., 0., 0.]]),
    "nan": np.array([[1., NAN, -1., NAN, 3.], [NAN, 0., 2., -2., 0.]]),
    "ints": np.array([[3, 1, 2, 1], [-5, 7, 7, 0]]),
    "bools": np.array([[True, False, True], [False, False, True]]),
    "scalar": np.array(4.0),
    "rank3": np.random.default_rng(2).standard_normal((2, 3, 4)),
}


@pytest.mark.parametrize("name", SORT_INPUTS)
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort_match_torch_stable(name, dim, descending):
    x, tx = both(SORT_INPUTS[name], requires_grad=True)
    values, indices = cnnlab.sort(x, dim=dim, descending=descending, stable=True)
    expected = torch.sort(tx, dim=dim, descending=descending, stable=True)
    assert_same(values, expected.values)
    assert_same(indices, expected.indices)
    assert_same(x.argsort(dim, descending=descending),
                torch.argsort(tx, dim=dim, descending=descending, stable=True))
    if x.requires_grad:
        check_grad(x, values, tx, expected.values)


@pytest.mark.parametrize("name", ["random", "nan", "ints", "rank3", "scalar"])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(name, largest):
    array = SORT_INPUTS[name]
    x, tx = both(array, requires_grad=True)
    size = array.shape[-1] if array.ndim else 1
    distinct = len(np.unique(array)) == array.size
    for k in range(size + 1):
        values, indices = x.topk(k, largest=largest)
        expected = tx.topk(k, largest=largest)
        assert_same(values, expected.values)
        if distinct:
            assert_same(indices, expected.indices)
        else:
            # PyTorch leaves the choice among equal values unspecified: the indices
            # must name the right values, and the first equal ones (cnnlab's rule)
            picked = np.take_along_axis(array, indices.numpy(), -1)
            np.testing.assert_array_equal(picked, values.detach().numpy())
            assert_same(indices, torch.sort(tx, descending=largest, stable=True)
                        .indices[..., :k])
            expected = torch.sort(tx, descending=largest, stable=True).values[..., :k]
    if x.requires_grad:
        check_grad(x, values, tx, expected if not distinct else expected.values)


def test_topk_and_sort_errors():
    x = cnnlab.ones(2, 3)
    with pytest.raises(IndexError, match=r"topk: k = 4 is out of range for dimension 1 of size 3"):
        x.topk(4)
    with pytest.raises(RuntimeError):
        torch.ones(2, 3).topk(4)
    with pytest.raises(IndexError, match="topk: k = -1"):
        x.topk(-1)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        x.topk(1.5)
    with pytest.raises(IndexError, match="sort: dim 2 is out of range"):
        x.sort(2)
    with pytest.raises(TypeError, match="sort: descending must be True or False"):
        x.sort(descending="yes")


def test_sort_result_is_a_named_tuple():
    result = cnnlab.tensor([3., 1., 2.]).sort()
    values, indices = result
    assert result.values is values and result.indices is indices
    assert indices.tolist() == [1, 2, 0]
    assert str(indices.dtype) == "cnnlab.int64"


# ------------------------------------------------------ NaN in gradients


NAN_OPS = {
    "relu": (cnnlab.relu, torch.relu),
    "F.relu": (F.relu, torch.nn.functional.relu),
    "sigmoid": (cnnlab.sigmoid, torch.sigmoid),
    "tanh": (cnnlab.tanh, torch.tanh),
    "abs": (cnnlab.abs, torch.abs),
    "clamp": (lambda x: cnnlab.clamp(x, 0, 1), lambda x: torch.clamp(x, 0, 1)),
    "maximum_left": (lambda x: cnnlab.maximum(x, cnnlab.zeros(4, dtype=cnnlab.float64)),
                     lambda x: torch.maximum(x, torch.zeros(4, dtype=torch.float64))),
    "maximum_right": (lambda x: cnnlab.maximum(cnnlab.zeros(4, dtype=cnnlab.float64), x),
                      lambda x: torch.maximum(torch.zeros(4, dtype=torch.float64), x)),
    "minimum": (lambda x: cnnlab.minimum(x, cnnlab.zeros(4, dtype=cnnlab.float64)),
                lambda x: torch.minimum(x, torch.zeros(4, dtype=torch.float64))),
    "max": (lambda x: x.max(), lambda x: x.max()),
    "amax": (lambda x: cnnlab.amax(x, 0), lambda x: torch.amax(x, 0)),
    "amin": (lambda x: cnnlab.amin(x, 0), lambda x: torch.amin(x, 0)),
}


@pytest.mark.parametrize("name", NAN_OPS)
def test_gradients_at_nan_match_torch(name):
    ours, theirs = NAN_OPS[name]
    x, tx = both(np.array([NAN, 1.0, -1.0, 0.0]), requires_grad=True)
    out, expected = ours(x), theirs(tx)
    assert_same(out, expected)
    check_grad(x, out, tx, expected)


def test_maximum_gradient_reaches_both_operands_at_nan():
    a, ta = both(np.array([NAN, 1.0, 2.0, NAN]), requires_grad=True)
    b, tb = both(np.array([0.0, NAN, 2.0, NAN]), requires_grad=True)
    cnnlab.maximum(a, b).sum().backward()
    torch.maximum(ta, tb).sum().backward()
    assert_same(a.grad, ta.grad)
    assert_same(b.grad, tb.grad)


# ------------------------------------------------------------------ losses


def logits_and_targets(shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.integers(0, shape[1], (shape[0],) + shape[2:])


LOSS_OPTIONS = {
    "plain": {},
    "smoothing": {"label_smoothing": 0.2},
    "weight": {"weight": np.array([0.5, 2.0, 1.0, 0.1])},
    "weight_smoothing": {"weight": np.array([0.5, 2.0, 1.0, 0.1]), "label_smoothing": 0.3},
}


def _options(options, module):
    return {key: (module.tensor(value) if key == "weight" else value)
            for key, value in options.items()}


@pytest.mark.parametrize("options", LOSS_OPTIONS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("targets", ["some_ignored", "all_ignored", "probabilities"])
def test_cross_entropy_matches_torch(options, reduction, targets):
    logits, labels = logits_and_targets((3, 4, 2))
    if targets == "some_ignored":
        labels[0, 1] = labels[2, 0] = -1
    elif targets == "all_ignored":
        labels[...] = -1
    else:
        labels = np.random.default_rng(5).random(logits.shape)
    x, tx = both(logits, requires_grad=True)
    t, tt = both(labels)
    extra = {} if targets == "probabilities" else {"ignore_index": -1}
    out = F.cross_entropy(x, t, reduction=reduction, **extra, **_options(LOSS_OPTIONS[options], cnnlab))
    expected = torch.nn.functional.cross_entropy(
        tx, tt, reduction=reduction, **extra, **_options(LOSS_OPTIONS[options], torch))
    assert_same(out, expected)
    out.sum().backward()
    expected.sum().backward()
    assert_same(x.grad, tx.grad)
    if targets == "all_ignored":
        assert np.all(x.grad.numpy() == 0)
        assert np.isnan(out.item()) if reduction == "mean" else True


def test_nll_loss_gradient_nan_only_where_weight_is_zero_like_torch():
    logits, _ = logits_and_targets()
    x, tx = both(logits, requires_grad=True)
    t, tt = both(np.array([0, 1, -100]))
    w, tw = both(np.array([0., 0., 1., 1.]))
    F.nll_loss(x, t, weight=w).backward()
    torch.nn.functional.nll_loss(tx, tt, weight=tw).backward()
    assert_same(x.grad, tx.grad)


def test_cross_entropy_refuses_ignore_index_with_probability_targets():
    logits, _ = logits_and_targets()
    probs = np.full(logits.shape, 0.25)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(probs), ignore_index=1)
    with pytest.raises(ValueError, match=r"cross_entropy: ignore_index=1 is not supported with "
                                         r"probability \(floating point\) targets"):
        F.cross_entropy(cnnlab.tensor(logits), cnnlab.tensor(probs), ignore_index=1)
    # the default -100 is no request to ignore anything: accepted, as in PyTorch
    assert_same(F.cross_entropy(cnnlab.tensor(logits), cnnlab.tensor(probs), ignore_index=-100),
                torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(probs)))


@pytest.mark.parametrize("shape", [(0, 4), (0, 0), (0, 4, 2, 2), (0, 0, 3)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_losses_on_empty_input_match_torch(shape, reduction, weighted, loss):
    x, tx = both(np.zeros(shape, dtype=np.float32))
    t, tt = both(np.zeros(shape[:1] + shape[2:], dtype=np.int64))
    w, tw = both(np.ones(shape[1], dtype=np.float32))
    kwargs = {"reduction": reduction}
    out = getattr(F, loss)(x, t, weight=w if weighted else None, **kwargs)
    expected = getattr(torch.nn.functional, loss)(tx, tt, weight=tw if weighted else None, **kwargs)
    assert_same(out, expected)


def test_cross_entropy_probability_targets_on_empty_batch_is_nan_like_torch():
    out = F.cross_entropy(cnnlab.zeros(0, 3), cnnlab.zeros(0, 3))
    expected = torch.nn.functional.cross_entropy(torch.zeros(0, 3), torch.zeros(0, 3))
    assert_same(out, expected)


def test_nll_loss_with_no_classes_names_the_target():
    with pytest.raises(ValueError, match=r"nll_loss: target 0 is out of bounds for 0 classes"):
        F.nll_loss(cnnlab.zeros(2, 0), cnnlab.zeros(2, dtype=cnnlab.int64),
                   weight=cnnlab.zeros(0))


# ----------------------------------------------------------------- softmax


@pytest.mark.parametrize("function", ["softmax", "log_softmax"])
@pytest.mark.parametrize("where", ["cnnlab", "F", "method"])
def test_softmax_dtype_argument(function, where):
    x, tx = both(np.random.default_rng(3).standard_normal((2, 5)).astype(np.float32),
                 requires_grad=True)
    ours = {"cnnlab": getattr(cnnlab, function), "F": getattr(F, function),
            "method": getattr(cnnlab.Tensor, function)}[where]
    out = ours(x, 1, dtype=cnnlab.float64)
    expected = getattr(torch, function)(tx, 1, dtype=torch.float64)
    assert_same(out, expected)
    check_grad(x, out, tx, expected)
    assert str(x.grad.dtype) == "cnnlab.float32"


def test_softmax_of_integers_with_dtype():
    x, tx = both(np.array([[1, 2, 3]]))
    assert_same(cnnlab.softmax(x, 1, dtype=cnnlab.float32), torch.softmax(tx, 1, dtype=torch.float32))


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_functional_softmax_implicit_dim_like_torch(shape):
    x, tx = both(np.random.default_rng(4).standard_normal(shape))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = F.softmax(x)
    with pytest.warns(UserWarning):
        expected = torch.nn.functional.softmax(tx)
    assert_same(out, expected)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        assert_same(F.log_softmax(x), torch.nn.functional.log_softmax(tx, 0 if len(shape) in (1, 3) else 1))


# --------------------------------------------------------- load_state_dict


def twin_models():
    def build(lib):
        lib.manual_seed(0)
        return lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.ReLU(), lib.nn.Flatten(),
                                 lib.nn.Linear(8, 3))
    return build(cnnlab), build(torch)


def _torch_text(error):
    return str(error).replace("torch.Size", "cnnlab.Size")


def test_load_state_dict_error_text_matches_torch():
    ours, theirs = twin_models()
    state = OrderedDict((key, value.detach().numpy().copy())
                        for key, value in theirs.state_dict().items())
    del state["0.bias"]
    state["extra"] = np.zeros(1, np.float32)
    state["more"] = np.zeros(1, np.float32)
    state["3.weight"] = np.zeros((3, 9), np.float32)
    torch_state = {key: torch.tensor(value) for key, value in state.items()}
    with pytest.raises(RuntimeError) as torch_error:
        theirs.load_state_dict(torch_state)
    before = [p.detach().numpy().copy() for p in ours.parameters()]
    with pytest.raises(RuntimeError) as our_error:
        ours.load_state_dict(state)
    assert str(our_error.value) == _torch_text(torch_error.value)
    assert str(our_error.value).startswith(
        'Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: '
        '"0.bias". \n\tUnexpected key(s) in state_dict: "extra", "more". \n\tsize mismatch '
        'for 3.weight: copying a param with shape cnnlab.Size([3, 9]) from checkpoint')
    # nothing was loaded by the failed call
    for array, param in zip(before, ours.parameters()):
        assert np.array_equal(array, param.detach().numpy())
    # strict=False: size mismatches still raise, key problems do not
    with pytest.raises(RuntimeError) as torch_error:
        theirs.load_state_dict(torch_state, strict=False)
    with pytest.raises(RuntimeError) as our_error:
        ours.load_state_dict(state, strict=False)
    assert str(our_error.value) == _torch_text(torch_error.value)


def test_load_state_dict_non_strict_returns_incompatible_keys_like_torch():
    ours, theirs = twin_models()
    state = {key: value.detach().clone() for key, value in theirs.state_dict().items()}
    del state["3.bias"]
    state["extra"] = torch.zeros(2)
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict(state, strict=False)
    assert repr(result) == repr(expected)
    assert result.missing_keys == ["3.bias"] and result.unexpected_keys == ["extra"]
    missing, unexpected = result
    assert (missing, unexpected) == (expected.missing_keys, expected.unexpected_keys)
    full = {key: value.detach().clone() for key, value in theirs.state_dict().items()}
    assert repr(ours.load_state_dict(full)) == repr(theirs.load_state_dict(full)) \
        == "<All keys matched successfully>"


def test_load_state_dict_takes_torch_tensors_and_keeps_dtype():
    ours, theirs = twin_models()
    ours.load_state_dict({key: value.double() for key, value in theirs.state_dict().items()})
    for (key, value), (_, expected) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert str(value.dtype) == "cnnlab.float32", key
        np.testing.assert_array_equal(value.numpy(), expected.numpy())
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(cnnlab.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # integer values are cast into the float parameters, as PyTorch's copy_ does
    layer, torch_layer = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ints = {"weight": torch.tensor([[1, 2], [3, 4]]), "bias": torch.tensor([5, 6])}
    layer.load_state_dict(ints)
    torch_layer.load_state_dict(ints)
    assert str(layer.weight.dtype) == "cnnlab.float32"
    np.testing.assert_array_equal(layer.weight.detach().numpy(), torch_layer.weight.detach().numpy())


def test_load_state_dict_refuses_lists_and_non_mappings_like_torch():
    layer, torch_layer = nn.Linear(2, 1), torch.nn.Linear(2, 1)
    state = {"weight": [[1.0, 2.0]], "bias": [0.0]}
    with pytest.raises(RuntimeError, match='While copying the parameter named "weight", '
                                           'expected torch.Tensor'):
        torch_layer.load_state_dict(state)
    with pytest.raises(RuntimeError, match=r'While copying the parameter named "weight", '
                                           r"expected a Tensor or array-like object .* but "
                                           r"received <class 'list'>"):
        layer.load_state_dict(state)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got <class 'list'>"):
        layer.load_state_dict([1])


# ------------------------------------- fixes found by PyTorch's OpInfo samples


def _rng_array(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


OPINFO_FIXES = {
    "clamp_tensor_bounds": lambda m, x, y, z: m.clamp(x, y, z),
    "clamp_min_above_max": lambda m, x, y, z: m.clamp(x, z + 1, z),
    "clamp_max_only_tensor": lambda m, x, y, z: m.clamp(x, None, y),
    "remainder": lambda m, x, y, z: x % (y + 3),
    "masked_fill_tensor_value": lambda m, x, y, z: x.masked_fill(y > 0, z.sum()),
    "dot": lambda m, x, y, z: m.matmul(x[0], y[0]),
    "var_unbiased_positional": lambda m, x, y, z: m.var(x, False),
    "cumsum_0d": lambda m, x, y, z: m.cumsum(x.sum(), 0),
    "max_0d_dim": lambda m, x, y, z: m.max(x.sum(), 0).values,
    "cat_legacy_empty": lambda m, x, y, z: m.cat([m.zeros(0, dtype=m.float64), x], 1),
}


@pytest.mark.parametrize("case", OPINFO_FIXES)
def test_opinfo_fixes_match_torch(case):
    function = OPINFO_FIXES[case]
    arrays = [_rng_array((3, 4), seed) for seed in range(3)]
    ours = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = function(cnnlab, *ours), function(torch, *theirs)
    assert_same(out, expected)
    weights = _rng_array(tuple(expected.shape), 9)
    (out * cnnlab.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy())
        else:
            assert_same(a.grad, b.grad)


@pytest.mark.parametrize("expression", [
    "m.pow(m.tensor([2, -2, 3, 0, 1, -1, -1]), m.tensor([-1, -2, -3, -1, -5, -2, -3]))",
    "m.tensor([[True, False], [True, True]]).all(1, keepdim=True)",
    "m.tensor([[0, 1], [0, 0]]).any((0, 1))",
    "m.tensor([True, False]).sign()", "m.square(m.tensor([True, False]))",
    "m.tensor([True, False]).prod(0, dtype=m.bool)",
    "m.tensor([1, 2, 3]).masked_fill(m.tensor([True, False, True]), 10.7)",
    "m.cumsum(m.tensor([1, 2, 3], dtype=m.int32), 0)",
    "m.norm(m.tensor([[3., 0.], [4., 1.]]), 0)", "m.norm(m.tensor([3., -4.]), float('inf'))",
    "m.norm(m.tensor([3., -4.]), -1)", "m.norm(m.tensor([[3., 0.], [4., 1.]]), 'fro')",
    "m.tensor([1., 2.]).where(m.tensor([True, False]), m.tensor([5., 6.]))",
])
def test_opinfo_value_fixes_match_torch(expression):
    assert_same(eval(expression, {"m": cnnlab}), eval(expression, {"m": torch}))


def test_repeated_dims_are_refused_like_torch():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        torch.amax(torch.ones(2, 2), (0, 0))
    with pytest.raises(ValueError, match=r"amax: dim 0 appears multiple times in the list "
                                         r"of dims \[0, -2\]"):
        cnnlab.amax(cnnlab.ones(2, 2), (0, -2))

"""The torch-shaped Tensor: creation, dtypes, printing, indexing, shapes, in-place."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnnlab


def torch_repr(t):
    return repr(t).replace("torch.", "cnnlab.")


# ------------------------------------------------------------------ printing
PRINT_CASES = {
    "int-matrix": [[0, 1, 2], [3, 4, 5], [6, 7, 8]],
    "float-ints": [[4.0, 6.0], [10.0, 12.0]],
    "negative": [[1.0, -1.0]],
    "decimals": [[1.3820, -0.5599]],
    "scalar": 3.5,
    "tiny-and-one": [1e-5, 1.0],
    "huge": [1e9, 1.0],
    "bools": [True, False],
    "nan-inf": [float("nan"), float("inf"), -float("inf"), 1.5],
    "all-zero": [0.0, 0.0],
    "4d": np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4).tolist(),
    "long-row": list(range(40)),
    "long-float-row": (np.arange(30) / 7).tolist(),
    "summarised": np.arange(2000).reshape(40, 50).tolist(),
    "summarised-float": (np.arange(3000, dtype=np.float64) / 3).reshape(3, 10, 100).tolist(),
    "empty": [],
}


@pytest.mark.parametrize("data", PRINT_CASES.values(), ids=PRINT_CASES.keys())
def test_repr_matches_torch(data):
    assert repr(cnnlab.tensor(data)) == torch_repr(torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "uint8", "int8"])
def test_repr_shows_non_default_dtype(dtype):
    data = np.arange(6).reshape(2, 3).astype(dtype)
    assert repr(cnnlab.tensor(data)) == torch_repr(torch.tensor(data))


def test_repr_of_empty_2d_and_grad_suffixes():
    assert repr(cnnlab.zeros(0, 3)) == torch_repr(torch.zeros(0, 3))
    w = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    assert repr(w) == "tensor([1., 2.], requires_grad=True)"
    assert repr(w * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
                  elements=st.floats(-1e6, 1e6, allow_nan=False, width=32)))
def test_repr_matches_torch_on_random_floats(array):
    array = array.astype(np.float32)
    assert repr(cnnlab.tensor(array)) == torch_repr(torch.tensor(array))


# ------------------------------------------------------------------- creation
def test_default_dtypes_follow_pytorch():
    assert cnnlab.tensor([1, 2]).dtype == cnnlab.int64
    assert cnnlab.tensor([1.0, 2]).dtype == cnnlab.float32
    assert cnnlab.tensor([True]).dtype == cnnlab.bool
    assert cnnlab.tensor(np.zeros(2)).dtype == cnnlab.float64
    assert cnnlab.zeros(2, 3).dtype == cnnlab.float32
    assert cnnlab.arange(5).dtype == cnnlab.int64
    assert cnnlab.arange(16, dtype=cnnlab.float).dtype == cnnlab.float32
    assert cnnlab.full((2,), 3).dtype == cnnlab.int64
    assert cnnlab.float is cnnlab.float32 and cnnlab.long is cnnlab.int64


@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 10, 3), (0.0, 1.0, 0.25), (5, 0, -1)],
                         ids=str)
def test_arange_matches_torch(args):
    assert np.array_equal(cnnlab.arange(*args).numpy(), torch.arange(*args).numpy())
    assert cnnlab.arange(*args).dtype.name == str(torch.arange(*args).dtype).split(".")[1]


def test_shape_is_a_tuple_that_prints_like_torch_size():
    x = cnnlab.randn(8, 8)
    assert (1, 1) + x.shape == (1, 1, 8, 8)
    assert repr((1, 1) + x.shape) == "(1, 1, 8, 8)"
    y = cnnlab.zeros(1, 1, 8, 8)
    assert repr(y.shape[2:]) == "cnnlab.Size([8, 8])"
    assert str(x.shape) == "cnnlab.Size([8, 8])"
    assert x.size() == (8, 8) and x.size(0) == 8 and x.size()[1] == 8
    assert x.view((1, 1) + x.shape).shape == (1, 1, 8, 8)


def test_randn_is_reproducible_with_manual_seed():
    cnnlab.manual_seed(3)
    a = cnnlab.randn(3, 4)
    cnnlab.manual_seed(3)
    b = cnnlab.randn(3, 4)
    assert a.dtype == cnnlab.float32 and a.shape == (3, 4)
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), cnnlab.randn(3, 4).numpy())


def test_numpy_shares_memory_and_array_protocol():
    x = cnnlab.zeros(2, 2)
    x.numpy()[0, 0] = 5
    assert x[0, 0].item() == 5.0
    assert np.asarray(x).shape == (2, 2)
    assert np.array(x, dtype=np.float64).dtype == np.float64


# ------------------------------------------------------------------- indexing
def test_slice_assignment_like_the_seed():
    image = cnnlab.ones(6, 8)
    image[:, 2:6] = 0
    expected = torch.ones(6, 8)
    expected[:, 2:6] = 0
    assert np.array_equal(image.numpy(), expected.numpy())


def test_views_share_storage():
    x = cnnlab.zeros(3, 3)
    row = x[1]
    row[2] = 7
    assert x[1, 2].item() == 7
    assert x.view(9)[5].item() == 7


def test_iteration_and_len():
    k = cnnlab.arange(8).view(2, 2, 2)
    assert len(k) == 2
    assert [t.shape for t in k] == [(2, 2), (2, 2)]


@pytest.mark.parametrize("index", [(0,), (slice(1, 3),), (Ellipsis, 1), ([0, 2],),
                                   (slice(None), [1, 1, 0])], ids=str)
def test_getitem_matches_torch(index):
    data = np.arange(24.0).reshape(4, 6)
    assert np.array_equal(cnnlab.tensor(data)[index].numpy(), torch.tensor(data)[index].numpy())


def test_bool_mask_index():
    x = cnnlab.tensor([1.0, -2.0, 3.0])
    assert x[x > 0].tolist() == [1.0, 3.0]


# ----------------------------------------------------------------- arithmetic
PROMOTIONS = [
    (np.array([1, 2]), 2.5), (np.array([1, 2]), np.array([2, 2])),
    (np.array([1.0, 2.0], dtype=np.float64), np.float32(1.0)),
    (np.array([1, 2], dtype=np.int32), 1),
    (np.array([1.0], dtype=np.float16), 1.0),
    (np.array([1, 2]), np.array([1.5, 2.5], dtype=np.float32)),
    (np.array([True, False]), 3),
]


@pytest.mark.parametrize("a,b", PROMOTIONS, ids=[str(i) for i in range(len(PROMOTIONS))])
@pytest.mark.parametrize("op", ["add", "mul", "sub", "truediv"])
def test_type_promotion_matches_torch(a, b, op):
    import operator
    if op == "sub" and (a.dtype == bool):
        return
    function = getattr(operator, op)
    ours = function(cnnlab.tensor(a), cnnlab.tensor(b) if isinstance(b, np.ndarray) else b)
    theirs = function(torch.tensor(a), torch.tensor(b) if isinstance(b, np.ndarray) else b)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_broadcasting_and_reflected_ops():
    a = cnnlab.arange(6.0).view(2, 3)
    b = cnnlab.tensor([1.0, 10.0, 100.0])
    np.testing.assert_array_equal((a * b).numpy(), np.arange(6.0).reshape(2, 3) * [1, 10, 100])
    np.testing.assert_array_equal((1 - a).numpy(), 1 - np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal((2 ** cnnlab.tensor([1.0, 3.0])).numpy(), [2.0, 8.0])
    np.testing.assert_array_equal((np.ones(3) + b).numpy(), [2, 11, 101])


def test_reductions_match_torch(rng):
    data = rng.standard_normal((3, 4, 5))
    x, t = cnnlab.tensor(data), torch.tensor(data)
    np.testing.assert_allclose(x.sum().item(), t.sum().item())
    np.testing.assert_allclose(x.sum(1).numpy(), t.sum(1).numpy())
    np.testing.assert_allclose(x.mean((0, 2), keepdim=True).numpy(), t.mean((0, 2), keepdim=True).numpy())
    assert x.max().item() == t.max().item()
    values, indices = x.max(dim=2)
    expected = t.max(dim=2)
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    np.testing.assert_allclose(x.std().item(), t.std().item())
    assert cnnlab.tensor([[1, 2], [3, 4]]).sum().item() == 10
    assert cnnlab.tensor([[1, 2], [3, 4]]).sum().dtype == cnnlab.int64


def test_mean_of_integers_is_an_error_like_torch():
    with pytest.raises(TypeError, match=r"mean: input dtype must be floating point.*\.float\(\)"):
        cnnlab.tensor([1, 2]).mean()


def test_stack_and_cat_match_torch(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for dim in (0, 1, 2, -1):
        np.testing.assert_array_equal(cnnlab.stack([cnnlab.tensor(a), cnnlab.tensor(b)], dim=dim).numpy(),
                                      torch.stack([torch.tensor(a), torch.tensor(b)], dim=dim).numpy())
    np.testing.assert_array_equal(cnnlab.cat((cnnlab.tensor(a), cnnlab.tensor(b)), dim=1).numpy(),
                                  torch.cat((torch.tensor(a), torch.tensor(b)), dim=1).numpy())


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"view: shape \[5\] is invalid for a tensor of shape \[2, 3\]"):
        cnnlab.zeros(2, 3).view(5)
    with pytest.raises(ValueError, match=r"reshape: shape \[5\] is invalid for a tensor of shape \[2, 3\]"):
        cnnlab.zeros(2, 3).reshape(5)
    with pytest.raises(ValueError, match=r"stack: expects each tensor to be equal size"):
        cnnlab.stack([cnnlab.zeros(2), cnnlab.zeros(3)])
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \[2, 4\]"):
        cnnlab.cat([cnnlab.zeros(3, 4), cnnlab.zeros(2, 4)], dim=1)
    with pytest.raises(ValueError, match=r"item: only one-element tensors"):
        cnnlab.zeros(2).item()
    with pytest.raises(IndexError, match=r"sum: dim 3 is out of range"):
        cnnlab.zeros(2, 2).sum(3)


# ------------------------------------------------------------------- in place
def test_inplace_updates_through_data_are_not_recorded():
    w = cnnlab.tensor([[1.0, 2.0]], requires_grad=True)
    grad = cnnlab.tensor([[0.5, 0.5]])
    w.data -= 0.1 * grad
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), [[0.95, 1.95]])


def test_inplace_on_leaf_requiring_grad_is_an_error():
    w = cnnlab.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w += 1
    with cnnlab.no_grad():
        w += 1
    assert w.item() == 2.0


def test_inplace_cast_rules():
    x = cnnlab.tensor([1, 2])
    with pytest.raises(TypeError, match="can't be cast"):
        x += 0.5
    y = cnnlab.tensor([1.0, 2.0])
    y += cnnlab.tensor([1, 1])
    assert y.tolist() == [2.0, 3.0]


def test_fill_and_zero():
    g = cnnlab.ones(2, 2)
    g.fill_(0)
    assert g.sum().item() == 0
    g.fill_(3)
    assert g.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    g.zero_()
    assert g.sum().item() == 0


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "bool"])
@pytest.mark.parametrize("data", [0.9, [0.1, 0.9], [[0.1, 2], [3, 0.7]], [True, 0.5]],
                         ids=["scalar", "list", "mixed", "bool-float"])
def test_python_floats_keep_full_precision_in_the_dtype_asked_for(data, dtype):
    """Python floats were built as float32 first: tensor(0.9, dtype=float64) gave
    0.8999999761581421 where PyTorch gives 0.9."""
    ours = cnnlab.tensor(data, dtype=getattr(cnnlab, dtype))
    theirs = torch.tensor(data, dtype=getattr(torch, dtype))
    assert ours.tolist() == theirs.tolist()
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]


_LAYOUTS = {   # a tensor made by view ops, the same way in both libraries
    "contiguous": lambda lib: lib.arange(24.).reshape(2, 3, 4),
    "t": lambda lib: lib.arange(12.).reshape(3, 4).t(),
    "permute": lambda lib: lib.arange(24.).reshape(2, 3, 4).permute(2, 0, 1),
    "sliced columns": lambda lib: lib.arange(24.).reshape(4, 6)[:, 1:4],
    "sliced rows": lambda lib: lib.arange(24.).reshape(6, 4)[1:5],
    "stepped": lambda lib: lib.arange(24.).reshape(4, 6)[:, ::2],
    "expanded": lambda lib: lib.arange(3.).reshape(3, 1).expand(3, 4),
    "transposed block": lambda lib: lib.arange(24.).reshape(2, 3, 4).transpose(0, 1),
    "unsqueezed t": lambda lib: lib.arange(12.).reshape(3, 4).t().unsqueeze(1),
    "advanced index": lambda lib: lib.arange(60.).reshape(3, 4, 5)[:, :, [0, 3]],
}
_SHAPES = [(-1,), (2, -1), (-1, 2), (1, -1, 1), (3, -1), (4, -1), (12, -1)]


@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_view_raises_exactly_where_pytorch_does(layout):
    """``view`` shares memory where PyTorch's does and raises where PyTorch's does (a
    RuntimeError for a layout that would need a copy, an error for a size that does
    not fit), never copying silently."""
    import torch
    for shape in _SHAPES:
        theirs_base, ours_base = _LAYOUTS[layout](torch), _LAYOUTS[layout](cnnlab)
        try:
            theirs = theirs_base.view(*shape)
        except RuntimeError as error:
            if "invalid" in str(error):
                with pytest.raises(ValueError, match="view: shape .* is invalid"):
                    ours_base.view(*shape)
            else:
                with pytest.raises(RuntimeError, match="without copying"):
                    ours_base.view(*shape)
            continue
        ours = ours_base.view(*shape)
        assert tuple(ours.shape) == tuple(theirs.shape), shape
        assert np.shares_memory(ours.numpy(), ours_base.numpy()), shape


def test_indexing_with_a_zero_dimensional_integer_tensor_gives_a_zero_dimensional_tensor():
    import torch
    for index in (2, -1):
        ours = cnnlab.arange(5.)[cnnlab.tensor(index)]
        theirs = torch.arange(5.)[torch.tensor(index)]
        assert tuple(ours.shape) == tuple(theirs.shape) == ()
        assert ours.item() == theirs.item()
    ours = cnnlab.arange(12.).reshape(3, 4)[cnnlab.tensor(1), [0, 2]]
    theirs = torch.arange(12.).reshape(3, 4)[torch.tensor(1), [0, 2]]
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.tolist() == theirs.tolist()

"""In-place operations through views, against PyTorch (float64, 1e-12).

Each program is written once against a library namespace (``cnnlab`` or ``torch``): it
builds a non-leaf tensor from the leaves ``a`` (4,), ``b`` (4,) and ``m`` (3, 4), takes
views of it (slices, ints, ``view``/``reshape``, ``t``/``transpose``/``permute``,
``unsqueeze``/``squeeze``, ``narrow``, ``select``, ``expand``, views of views), changes a
view in place (``+=``, ``mul_``, ``zero_``, ``fill_``, ``copy_``, ``clamp_``, ``relu``
with ``inplace=True``, item assignment) and returns tensors to compare: the base, the
changed view and views taken *before* the change, which must show the new values.
The loss weights every returned tensor, so the leaves' gradients check that the
gradient flows through the write (``CopySlices``) and around it. The refusals are in
:mod:`test_inplace_view_errors`.
"""

import numpy as np
import pytest
import torch

import cnnlab

TOL = 1e-12
LIBS = {"cnnlab": cnnlab, "torch": torch}
A = np.array([0.5, -1.5, 2.0, -0.25])
B = np.array([1.25, 0.75, -2.0, 3.0])
M = np.arange(12.0).reshape(3, 4) / 7 - 0.8


def _functional(L):
    return cnnlab.functional if L is cnnlab else torch.nn.functional


def _leaves(L):
    return [L.tensor(value, dtype=L.float64, requires_grad=True) for value in (A, B, M)]


def _numpy(tensor):
    return np.array(tensor.detach().numpy() if isinstance(tensor, torch.Tensor)
                    else tensor.detach().array)


def _run(L, program):
    """Values of the program's outputs and the leaves' gradients of a weighted sum."""
    a, b, m = _leaves(L)
    outputs = program(L, a, b, m)
    rng = np.random.default_rng(0)
    loss = 0
    for out in outputs:
        weight = L.tensor(rng.standard_normal(tuple(out.shape)), dtype=L.float64)
        if out.requires_grad:
            loss = loss + (out * weight).sum()
    if not isinstance(loss, int):
        loss.backward()
    grads = [None if leaf.grad is None else _numpy(leaf.grad) for leaf in (a, b, m)]
    return [_numpy(out) for out in outputs], grads


def _slice_add(L, a, b, m):
    x = a * 1
    v = x[1:3]
    w = x[2:]  # taken before: must see the change
    v += 10
    return x, v, w


def _slice_add_tensor(L, a, b, m):
    x = a * 2
    v, w = x[1:3], x[2:]
    v += b[:2] * b[1:3]
    return x, v, w * w


def _mul(L, a, b, m):
    x = a.sin()
    v = x[::2]
    v.mul_(b[1:3])
    return x, v.sin()


def _zero(L, a, b, m):
    x = a * b
    x[1:3].zero_()
    return (x,)


def _fill(L, a, b, m):
    x = a * b
    v = x[1:]
    v.fill_(2.5)
    return x, v


def _copy(L, a, b, m):
    x = a * a
    w = x[:2]
    x[2:].copy_(b[:2] * 3)
    return x, w


def _clamp(L, a, b, m):
    x = a * 3
    x[:3].clamp_(-2.0, 2.0)
    return (x,)


def _relu_inplace(L, a, b, m):
    x = (m * 2).sin()
    v = x[1]
    _functional(L).relu(v, inplace=True)
    return x, v


def _sub_div(L, a, b, m):
    x = m * 1
    v = x[:, 1:3]
    v.sub_(b[:2], alpha=0.5)
    v.div_(b[2:].abs() + 1)
    v.add_(a[:2], alpha=2.0)
    return x, v, x[0]


def _int_index(L, a, b, m):
    x = a * 1
    v = x[1]
    v += b[0]
    return x, v


def _row_col(L, a, b, m):
    x = m * b
    col = x[:, 1]
    row = x[1]
    col.mul_(a[:3])
    return x, col, row


def _strided_2d(L, a, b, m):
    x = m.sin()
    x[1:, ::2] *= b[1:3]
    return (x,)


def _transpose(L, a, b, m):
    x = m * 1
    v = x.t()
    v[1:3] += a[:3]
    return x, v


def _transpose_dims(L, a, b, m):
    x = (m * 1).reshape(3, 2, 2)
    v = x.transpose(0, 2)
    v.mul_(b[:3])
    return x, v


def _permute(L, a, b, m):
    x = (m * 1).reshape(3, 2, 2)
    v = x.permute(2, 0, 1)
    v[0].mul_(3)
    return x, v


def _mT(L, a, b, m):
    x = m * 1
    x.mT[0] += a[:3]
    return (x,)


def _view(L, a, b, m):
    x = m * 1
    v = x.view(12)
    v[3:7] *= a
    return x, v


def _reshape_view(L, a, b, m):
    x = m * 1
    v = x.reshape(2, 6)
    v[1].zero_()
    return x, v


def _reshape_copy(L, a, b, m):
    # reshape of a transposed tensor copies: the base must NOT change
    x = m * 1
    v = x.t().reshape(12)
    v.mul_(3)
    return x, v


def _flatten_unflatten(L, a, b, m):
    x = (m * 1).reshape(3, 2, 2)
    x.flatten(1)[1] += b
    x.unflatten(0, (1, 3))[0, 2, 1] *= 2
    return (x,)


def _unsqueeze_squeeze(L, a, b, m):
    x = a * 1
    u = x.unsqueeze(0)
    u[0, 1:] += b[1:]
    s = (m[:1] * 1).squeeze(0)
    s.mul_(a)
    return x, u, s


def _narrow_select(L, a, b, m):
    x = m * 1
    n = x.narrow(1, 1, 2)
    n += 1
    s = x.select(0, 2)
    s.mul_(b)
    return x, n, s


def _expand_same(L, a, b, m):
    x = a * 1
    e = x.expand(4)  # nothing repeated: a plain view
    e += b
    return x, e


def _expand_after(L, a, b, m):
    x = a[None] * 1
    e = x.expand(3, 4)  # taken before the change: sees it
    x[0, 1:3] += b[:2]
    return x, e


def _chain(L, a, b, m):
    x = m * 1
    v = x[1:]
    w = v[:, ::2]
    u = w.t()
    u[0].mul_(b[:2])
    return x, v, w, u


def _chain_slice_of_int(L, a, b, m):
    x = a * b
    v = x[1:]
    w = v[1:][0]
    w.mul_(5)
    return x, v, w


def _two_views(L, a, b, m):
    x = m * 1
    top, right = x[:2], x[:, 2:]
    top += 1
    right.mul_(a[2:])
    top.mul_(b)
    return x, top, right


def _base_then_view(L, a, b, m):
    x = a * 1
    v = x[1:3]
    x.mul_(b)  # the base changes: the view sees it and its gradient goes through it
    return x, v * 3


def _base_setitem_then_view(L, a, b, m):
    x = m * 1
    col = x[:, 0]
    x[1] = b
    return x, col.exp()


def _setitem_on_view(L, a, b, m):
    x = m * 1
    v = x[0]
    v[1:3] = b[:2]
    w = x[:, 1:]
    w[1, 1] = a[0]
    return x, v, w


def _setitem_augmented(L, a, b, m):
    x = m * 1
    x[1:3] += m[:2] * b
    x[0, 1:] -= a[1:]
    return (x,)


def _plain_base(L, a, b, m):
    x = L.zeros(4, dtype=L.float64)
    w = x[2:]
    v = x[:2]
    v += b[:2]  # the plain base now requires grad, and so do its views
    return x, w, v


def _plain_base_2d(L, a, b, m):
    x = L.zeros(3, 4, dtype=L.float64)
    x.t()[1].copy_(a[:3])
    return (x,)


def _no_grad_write(L, a, b, m):
    x = a * 1
    v = x[1:3]
    with L.no_grad():
        v += 10  # not recorded: the values change, the graph does not
    return x, v


def _retain_grad(L, a, b, m):
    x = a * 1
    x.retain_grad()
    v = x[1:3]
    v.mul_(b[:2])
    x.sum().backward(retain_graph=True)
    return x, x.grad * 1


def _grad_of_view_values(L, a, b, m):
    x = m * 1
    rows = x[0], x[2]  # two views, then a change through a third
    x[:, 1].mul_(b[:3])
    return rows[0] * rows[1], x


def _iterate_no_grad(L, a, b, m):
    x = m * 1
    with L.no_grad():
        for row in x:
            row *= 2
    return (x,)


def _split_no_grad(L, a, b, m):
    x = a * 1
    with L.no_grad():
        first, second = x.split(2)
        second += 5
        x.chunk(2)[0].mul_(3)
        x.unbind()[1].zero_()
    return (x,)


def _detach_follows(L, a, b, m):
    x = a * 1
    d, alias = x.detach(), x.data
    x[1:3] *= b[:2]
    x.mul_(b)
    return x, d, alias


def _detached_write(L, a, b, m):
    x = m * 1
    x.detach()[1:, 2].zero_()  # not recorded: the values change, the graph does not
    x.data[0] += 1
    return (x,)


PROGRAMS = {f.__name__[1:]: f for f in (
    _slice_add, _slice_add_tensor, _mul, _zero, _fill, _copy, _clamp, _relu_inplace,
    _sub_div, _int_index, _row_col, _strided_2d, _transpose, _transpose_dims, _permute,
    _mT, _view, _reshape_view, _reshape_copy, _flatten_unflatten, _unsqueeze_squeeze,
    _narrow_select, _expand_same, _expand_after, _chain, _chain_slice_of_int, _two_views,
    _base_then_view, _base_setitem_then_view, _setitem_on_view, _setitem_augmented,
    _plain_base, _plain_base_2d, _no_grad_write, _retain_grad, _grad_of_view_values,
    _iterate_no_grad, _split_no_grad, _detach_follows, _detached_write)}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_values_and_gradients_match_pytorch(name):
    ours_values, ours_grads = _run(cnnlab, PROGRAMS[name])
    their_values, their_grads = _run(torch, PROGRAMS[name])
    assert len(ours_values) == len(their_values)
    for i, (ours, theirs) in enumerate(zip(ours_values, their_values)):
        assert ours.shape == theirs.shape, f"output {i}"
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL, err_msg=f"output {i}")
    for leaf, ours, theirs in zip("abm", ours_grads, their_grads):
        assert (ours is None) == (theirs is None), f"grad of {leaf}"
        if theirs is not None:
            np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL,
                                       err_msg=f"grad of {leaf}")


def test_base_grad_fn_is_copy_slices_and_view_follows():
    a = cnnlab.tensor(A, requires_grad=True)
    x = a * 1
    v = x[1:3]
    before = x.grad_fn
    v += 1
    assert x.grad_fn is not before and "CopySlices" in repr(x.grad_fn)
    assert not x.is_leaf and v.requires_grad


def test_plain_tensors_share_memory():
    x = cnnlab.zeros(3, 4)
    x.t()[1] += 1
    x[2].fill_(5)
    x.view(12)[0] = 7
    r = x[1, 2]
    r += 3  # a 0-d view
    expected = np.zeros((3, 4))
    expected[:, 1] = 1
    expected[2] = 5
    expected[0, 0] = 7
    expected[1, 2] += 3
    np.testing.assert_array_equal(x.array, expected)


def test_flip_is_a_copy():
    x = cnnlab.zeros(4)
    y = x.flip(0)
    y += 1
    np.testing.assert_array_equal(x.array, np.zeros(4))


@pytest.mark.parametrize("make", ["transpose", "slice-step", "contiguous-already"])
def test_contiguous_copies_only_what_is_not_row_major(make):
    """``x.t().contiguous()`` is a copy in PyTorch: changing it in place must leave
    ``x`` alone (it used to be the same view, so ``+=`` wrote through to ``x``); an
    already row-major tensor is returned as it is, sharing memory, in both."""
    results = []
    for t in (cnnlab, torch):
        leaf = t.arange(12.0, dtype=t.float64).reshape(3, 4).requires_grad_()
        x = leaf * 1
        view = {"transpose": lambda: x.t(), "slice-step": lambda: x[:, ::2],
                "contiguous-already": lambda: x[1:]}[make]()
        y = view.contiguous()
        y += 100
        (y * y).sum().backward()
        results.append((x.detach().numpy().copy(), y.detach().numpy().copy(),
                        leaf.grad.numpy().copy(), y.is_contiguous()))
    for mine, theirs in zip(*results):
        np.testing.assert_array_equal(mine, theirs)

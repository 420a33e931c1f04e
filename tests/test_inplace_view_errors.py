"""In-place operations on views that PyTorch refuses, refused by cnnlab too.

A view of a leaf that requires grad, views made under ``no_grad``, the outputs of
``unbind``/``split``/``chunk`` (and iteration, which unbinds), ``expand``ed views whose
elements share memory, views used after their base changed when PyTorch forbids it, and
in-place results of another shape. Each program runs in PyTorch first (the oracle must
refuse) and then in cnnlab. cnnlab refuses one thing PyTorch allows: a recorded in-place
change of a ``detach()``/``.data`` alias (it would not follow PyTorch's values).
"""

import pytest
import torch

import cnnlab
from test_inplace_views import A, B, _leaves

def test_in_place_cannot_change_the_shape():
    for L in (torch, cnnlab):
        x = L.tensor(A, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            x += L.ones(2, 4, dtype=L.float64)
        with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
            x[1:3].add_(L.ones(2, 2, dtype=L.float64))


def test_recorded_in_place_on_a_detached_alias_raises():
    # PyTorch writes the value into `x` and leaves x's graph alone; cnnlab refuses
    # rather than diverge
    a, b = cnnlab.tensor(A, requires_grad=True), cnnlab.tensor(B, requires_grad=True)
    x = a * 1
    for alias in (x.detach(), x.data, x[1:].detach()[1:]):
        with pytest.raises(RuntimeError, match="shares memory with another through detach"):
            alias += b[:alias.shape[0]]


def _leaf_view(L, a, b, m):
    a[1:3] += 1


def _leaf_view_t(L, a, b, m):
    m.t().mul_(2)


def _leaf_view_int(L, a, b, m):
    a[0].zero_()


def _leaf_view_reshape(L, a, b, m):
    m.view(12).fill_(1.0)


def _leaf_view_expand(L, a, b, m):
    a.expand(3, 4).add_(1)


def _no_grad_view_grad_op(L, a, b, m):
    x = a * 1
    with L.no_grad():
        v = x[1:3]
    v += b[:2]


def _no_grad_view_plain_op(L, a, b, m):
    x = a * 1
    with L.no_grad():
        v = x[1:3]
    v += 1


def _no_grad_view_of_leaf(L, a, b, m):
    with L.no_grad():
        v = a[1:3]
    v.mul_(2)


def _no_grad_view_plain_base(L, a, b, m):
    x = L.zeros(4, dtype=L.float64)
    with L.no_grad():
        v = x[1:3]
    v += b[:2]


def _unbind_output(L, a, b, m):
    x = m * 1
    x.unbind()[0].add_(1)


def _split_output(L, a, b, m):
    x = a * 1
    x.split(2)[1].mul_(b[:2])


def _chunk_output(L, a, b, m):
    x = m * 1
    x.chunk(3, dim=1)[0].zero_()


def _iterate_rows(L, a, b, m):
    x = m * 1
    for row in x:
        row += 1


def _unbind_view_of_view(L, a, b, m):
    x = L.zeros(2, 2, dtype=L.float64)
    x.unbind()[0][:1].add_(b[:1])


def _expand_overlap(L, a, b, m):
    x = a[None] * 1
    x.expand(3, 4).add_(b)


def _expand_overlap_plain(L, a, b, m):
    x = L.zeros(1, 4, dtype=L.float64)
    x.expand(3, 4).add_(1)


def _stale_unbind_view(L, a, b, m):
    x = m * 1
    row = x.unbind()[0]
    x.mul_(2)  # PyTorch refuses to use `row` after this; cnnlab when backward reaches it
    (row * 1).sum().backward()


def _stale_no_grad_view(L, a, b, m):
    x = m * 1
    with L.no_grad():
        row = x[1]
    x[0] += b  # PyTorch refuses to use `row` after this; cnnlab when backward reaches it
    (row * 1).sum().backward()


def _stale_no_grad_view_plain_base(L, a, b, m):
    x = L.zeros(4, dtype=L.float64)
    with L.no_grad():
        v = x[:2]
    x[2:] = b[:2]
    (v * a[:2]).sum().backward()


ERRORS = {
    _leaf_view: "a view of a leaf Variable that requires grad",
    _leaf_view_t: "a view of a leaf Variable that requires grad",
    _leaf_view_int: "a view of a leaf Variable that requires grad",
    _leaf_view_reshape: "a view of a leaf Variable that requires grad",
    _leaf_view_expand: "a view of a leaf Variable that requires grad",
    _no_grad_view_grad_op: "created in no_grad mode",
    _no_grad_view_plain_op: "created in no_grad mode",
    _no_grad_view_of_leaf: "created in no_grad mode",
    _no_grad_view_plain_base: "created in no_grad mode",
    _unbind_output: "returns multiple views",
    _split_output: "returns multiple views",
    _chunk_output: "returns multiple views",
    _iterate_rows: "returns multiple views",
    _unbind_view_of_view: "returns multiple views",
    _expand_overlap: "more than one element of the written-to tensor",
    _expand_overlap_plain: "more than one element of the written-to tensor",
    _stale_unbind_view: "its base or another view of its base has been modified",
    _stale_no_grad_view: "created in no_grad mode and its base",
    _stale_no_grad_view_plain_base: "created in no_grad mode and its base",
}


@pytest.mark.parametrize("program", list(ERRORS), ids=lambda f: f.__name__[1:])
def test_refused_like_pytorch(program):
    for L in (torch, cnnlab):  # PyTorch first: the oracle must refuse too
        with pytest.raises(RuntimeError, match=ERRORS[program]):
            program(L, *_leaves(L))

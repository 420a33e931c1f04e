"""The tape autograd: gradients of elementwise, reduction and shape ops against PyTorch."""

import contextlib

import numpy as np
import pytest
import torch

import cnnlab


def both(array, requires_grad=True):
    return (cnnlab.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def check_grads(function, *arrays, rtol=1e-8, torch_function=None):
    """Run ``function`` on cnnlab and torch float64 leaves; compare outputs and grads."""
    ours = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(cnnlab, *ours)
    expected = (torch_function or function)(torch, *theirs)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=1e-12)
    weights = np.random.default_rng(1).standard_normal(expected.shape)
    (out * cnnlab.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=rtol, atol=1e-12)


R = np.random.default_rng(0)
A = R.standard_normal((3, 4))
B = R.standard_normal((4,))
P = R.uniform(0.5, 2.0, (3, 4))

CASES = {
    "add-broadcast": (lambda m, a, b: a + b, A, B),
    "sub-scalar": (lambda m, a: 3 - a * 2, A),
    "mul-broadcast": (lambda m, a, b: a * b, A, B),
    "div": (lambda m, a, b: a / b, A, P),
    "rdiv": (lambda m, a: 1.5 / a, P),
    "pow-scalar": (lambda m, a: a ** 3, A),
    "pow-tensor": (lambda m, a, b: a ** b, P, A),
    "rpow": (lambda m, a: 2 ** a, A),
    "neg-abs": (lambda m, a: -abs(a), A),
    "exp-log-sqrt": (lambda m, a: m.log(a) + m.exp(a) + m.sqrt(a), P),
    "relu-sigmoid-tanh": (lambda m, a: m.relu(a) + m.sigmoid(a) * m.tanh(a), A),
    "clamp": (lambda m, a: m.clamp(a, -0.5, 0.5), A),
    "matmul": (lambda m, a, b: a @ b, A, R.standard_normal((4, 2))),
    "matmul-vector": (lambda m, a, b: a @ b, A, B),
    "vector-matmul": (lambda m, a, b: a @ b, B, R.standard_normal((4, 3))),
    "batched-matmul": (lambda m, a, b: a @ b, R.standard_normal((2, 3, 4)), R.standard_normal((4, 5))),
    "sum-dim": (lambda m, a: a.sum(1), A),
    "sum-keepdim": (lambda m, a: a.sum((0, 1), keepdim=True), A),
    "mean": (lambda m, a: a.mean(0), A),
    "var-std": (lambda m, a: a.var(1) + a.std(), A),
    "max-dim": (lambda m, a: a.max(dim=1)[0], A),
    "max-all": (lambda m, a: a.max(), A),
    "amax-ties": (lambda m, a: a.amax(1), np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])),
    "max-all-ties": (lambda m, a: a.max(), np.array([[1.0, 3.0, 3.0], [2.0, 3.0, 0.0]])),
    "maximum-ties": (lambda m, a, b: m.maximum(a, b), np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])),
    "view-transpose": (lambda m, a: a.view(2, 6).transpose(0, 1) * 2, A),
    "permute": (lambda m, a: a.permute(2, 0, 1), R.standard_normal((2, 3, 4))),
    "flatten-unsqueeze": (lambda m, a: a.flatten().unsqueeze(0), A),
    "squeeze": (lambda m, a: a.squeeze(1), R.standard_normal((3, 1, 2))),
    "expand": (lambda m, a: a.expand(3, 4) * 1.0, R.standard_normal((1, 4))),
    "repeat": (lambda m, a: a.repeat(2, 3), R.standard_normal((2, 3))),
    "flip": (lambda m, a: a.flip(1), A),
    "index-slice": (lambda m, a: a[1:, ::2], A),
    "index-fancy-dupes": (lambda m, a: a[[0, 0, 2]], A),
    "stack-cat": (lambda m, a, b: m.cat([m.stack([a, b], 1), a.unsqueeze(1)], 1), A, A * 2),
    "softmax": (lambda m, a: m.softmax(a, 1), A),
    "log_softmax": (lambda m, a: m.log_softmax(a, 0), A),
    "where": (lambda m, a, b: m.where(a > 0, a, b), A, A * 3),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_gradients_match_torch(case):
    function, *arrays = case
    check_grads(function, *arrays)


def test_gradients_accumulate_and_tensor_used_twice():
    x = cnnlab.tensor([2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * 2 + 3, 2 * 3 + 3])


def test_backward_of_non_scalar_needs_gradient_like_torch():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(cnnlab.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_second_backward_without_retain_graph_fails():
    x = cnnlab.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_and_detach():
    x = cnnlab.tensor([1.0], requires_grad=True)
    with cnnlab.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert not x.detach().requires_grad
    assert cnnlab.is_grad_enabled()

    @cnnlab.no_grad()
    def double(t):
        return t * 2
    assert not double(x).requires_grad


def test_deep_graph_does_not_hit_recursion_limit():
    x = cnnlab.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y + 1e-4
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_setitem_records_like_copy_slices():
    """The seed's corr2d writes out[i, j] = (X * K).sum() into a zeros tensor."""
    w = cnnlab.tensor([[0.5, -1.0]], requires_grad=True)
    tw = torch.tensor([[0.5, -1.0]], requires_grad=True)
    data = np.arange(12.0).reshape(3, 4)
    outs = []
    for module, weight in ((cnnlab, w), (torch, tw)):
        x = module.tensor(data)
        out = module.zeros(3, 3, dtype=module.float64)
        for i in range(3):
            for j in range(3):
                out[i, j] = (x[i:i + 1, j:j + 2] * weight).sum()
        loss = ((out - 1) ** 2).sum()
        loss.backward()
        outs.append(loss.item())
    assert outs[0] == pytest.approx(outs[1])
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_inplace_on_non_leaf_is_recorded():
    x, tx = both(np.array([1.0, 2.0, 3.0]))
    results = []
    for t in (x, tx):
        y = t * 2
        y += t
        y[0] = 0.0
        (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_only_float_tensors_require_grad():
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype"):
        cnnlab.tensor([1, 2], requires_grad=True)


def test_retain_grad_on_intermediate():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 36.0])


def test_finite_differences_on_a_composite():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3))

    def f(values):
        t = cnnlab.tensor(values, requires_grad=True)
        out = (cnnlab.tanh(t @ t.T) * cnnlab.sigmoid(t).sum()).sum()
        return out, t

    out, t = f(a)
    out.backward()
    eps = 1e-6
    numeric = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = (f(plus)[0].item() - f(minus)[0].item()) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------- a leaf's first gradient: stolen or copied


def test_a_private_gradient_becomes_the_leaf_grad_without_a_copy():
    """Nothing else holds the array a backward made: it becomes x.grad (PyTorch steals
    such buffers too); the id recorded (not the array) shows it is the same object."""
    from cnnlab.autograd import record
    x = cnnlab.tensor(np.ones(4), requires_grad=True)
    made = []

    def backward(g):
        array = g * 3.0
        made.append(id(array))
        return (array,)
    record("Triple", x.array * 3, (x,), backward).sum().backward()
    assert id(x.grad.array) == made[0]
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3, 3, 3])


def test_shared_gradients_are_copied_not_aliased():
    """Add sends one array to both leaves; the caller's gradient; a view's gradient:
    each leaf's .grad must be its own array (changing one changes nothing else)."""
    a = cnnlab.tensor(np.ones(3), requires_grad=True)
    b = cnnlab.tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad.array += 5
    np.testing.assert_array_equal(b.grad.numpy(), [1, 1, 1])
    x = cnnlab.tensor(np.ones(3), requires_grad=True)
    g = np.full(3, 2.0)
    x.backward(cnnlab.from_numpy(g))
    g += 1
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
    w = cnnlab.tensor(np.ones((2, 3)), requires_grad=True)
    y = w.reshape(6)
    y.retain_grad()
    (y * 2).sum().backward()
    y.grad.array += 1
    np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 2.0))


def test_a_hook_keeping_the_gradient_keeps_its_own_copy():
    kept = []
    x = cnnlab.tensor(np.ones(3), requires_grad=True)
    x.register_hook(lambda grad: kept.append(grad.array))
    (x * 2).sum().backward()
    x.grad.array += 10
    np.testing.assert_array_equal(kept[0], [2, 2, 2])


def test_the_graph_does_not_keep_intermediate_tensors_alive():
    """A node keeps only what its backward needs: after ``h2 = relu(h)`` nothing but
    the caller holds ``h`` (relu's backward needs its output, not its input), so the
    activation is freed as soon as the caller lets go; with the inputs kept (the ONNX
    export's mode) it stays."""
    import gc
    import weakref
    from cnnlab.autograd import keeping_inputs
    x = cnnlab.tensor(np.ones(5), requires_grad=True)
    for keep in (False, True):
        with keeping_inputs() if keep else contextlib.nullcontext():
            h = x * 2
            out = cnnlab.relu(h)
        handle = weakref.ref(h)
        del h
        gc.collect()
        assert (handle() is not None) == keep
        assert (out.grad_fn.inputs is not None) == keep
        out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 4.0))


def test_a_private_reshaped_gradient_is_taken_and_a_shared_one_copied():
    """A reshape of a fresh array (batch norm's dx) is taken as it is; a reshape of an
    array someone else still holds is copied."""
    from cnnlab.autograd import record
    x = cnnlab.tensor(np.ones((2, 3)), requires_grad=True)
    made, held = [], []

    def private(g):
        array = np.full(6, 2.0).reshape(2, 3)
        made.append(id(array))
        return (array,)
    record("Private", x.array * 2, (x,), private).sum().backward()
    assert id(x.grad.array) == made[0]
    y = cnnlab.tensor(np.ones((2, 3)), requires_grad=True)

    def shared(g):
        whole = np.full(6, 3.0)
        held.append(whole)
        return (whole.reshape(2, 3),)
    record("Shared", y.array * 3, (y,), shared).sum().backward()
    y.grad.array += 1
    np.testing.assert_array_equal(held[0], np.full(6, 3.0))


def test_grad_fn_names_and_next_functions_match_torch():
    """Walking the graph as PyTorch users do: ``name()``, ``next_functions`` down to
    ``AccumulateGrad`` (whose ``variable`` is the leaf), None for inputs without
    gradient."""
    def walk(node, depth=0):
        if node is None:
            return [(depth, None)]
        rows = [(depth, node.name())]
        for child, index in node.next_functions:
            assert index == 0
            rows += walk(child, depth + 1)
        return rows
    graphs = []
    leaves = []
    for t in (cnnlab, torch):
        a = t.tensor([1.0, 2.0], requires_grad=True)
        b = t.tensor([3.0, 4.0])
        y = ((a * b + 1).exp() * a).sum()
        graphs.append(walk(y.grad_fn))
        leaves.append(y.grad_fn.next_functions[0][0].next_functions[1][0].variable is a)
    assert graphs[0] == graphs[1]
    assert leaves == [True, True]
    assert repr(cnnlab.tensor([1.0], requires_grad=True).mul(2).grad_fn) == \
        "<MulBackward0 object>"

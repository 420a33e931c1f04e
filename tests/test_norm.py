"""Batch, layer and group normalisation against PyTorch (float64, values and gradients)."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F
from cnnlab import nn

TOL = dict(rtol=1e-8, atol=1e-8)


def pair(shape, seed=0, scale=2.0, shift=0.5):
    data = np.random.default_rng(seed).normal(shift, scale, size=shape)
    ours = cnnlab.tensor(data, dtype=cnnlab.float64, requires_grad=True)
    theirs = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    return ours, theirs


def close(ours, theirs, **tol):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy() if hasattr(ours, "detach")
                                          else ours),
                               theirs.detach().numpy(), **(tol or TOL))


def copy_module(ours, theirs):
    """Give ``theirs`` (torch) the float64 parameters of ``ours``, randomised first."""
    rng = np.random.default_rng(7)
    theirs.double()
    ours.double()
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            values = rng.normal(1.0, 0.5, size=tuple(p.shape))
            p.data = cnnlab.tensor(values, dtype=cnnlab.float64)
            tp.copy_(torch.tensor(values))


def backward_both(ours_out, theirs_out, seed=3):
    dy = np.random.default_rng(seed).normal(size=tuple(ours_out.shape))
    ours_out.backward(cnnlab.tensor(dy, dtype=cnnlab.float64))
    theirs_out.backward(torch.tensor(dy))


def train_steps_match(ours, theirs, shape, grad_seed):
    """Same weights, same repr and state-dict keys, then three training steps whose
    outputs and input gradients agree, and the parameters' accumulated gradients."""
    copy_module(ours, theirs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(3):
        x, tx = pair(shape, seed=step, shift=step)
        y, ty = ours(x), theirs(tx)
        close(y, ty)
        backward_both(y, ty, seed=grad_seed + step)
        close(x.grad, tx.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


SHAPES = {"2d-input": (6, 3), "3d-input": (4, 3, 5), "4d-input": (3, 3, 4, 5),
          "5d-input": (2, 3, 2, 3, 4)}
LAYERS = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("options", [dict(), dict(momentum=None), dict(affine=False),
                                     dict(track_running_stats=False), dict(momentum=0.3,
                                                                           eps=1e-3),
                                     dict(bias=False)],
                         ids=["default", "cumulative", "no-affine", "no-tracking",
                              "momentum-eps", "no-bias"])
def test_batch_norm_module_matches_torch_over_steps(shape, options):
    name = LAYERS[len(shape)]
    ours, theirs = getattr(nn, name)(3, **options), getattr(torch.nn, name)(3, **options)
    train_steps_match(ours, theirs, shape, grad_seed=10)
    for (bname, b), (tname, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
        assert bname == tname
        np.testing.assert_allclose(b.numpy(), tb.numpy(), **TOL)
        assert b.numpy().dtype == tb.numpy().dtype
    # Evaluation mode: the running statistics (if tracked) normalise, gradients follow.
    ours.eval(), theirs.eval()
    x, tx = pair(shape, seed=5)
    y, ty = ours(x), theirs(tx)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


def test_batch_norm_num_batches_tracked_and_state_dict_values():
    ours, theirs = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    for step in range(4):
        x, tx = pair((2, 4, 3, 3), seed=step)
        ours(x.float()), theirs(tx.float())
    state, torch_state = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(torch_state)
    assert state["num_batches_tracked"].item() == 4 == torch_state["num_batches_tracked"].item()
    assert state["num_batches_tracked"].dtype == cnnlab.int64
    np.testing.assert_allclose(state["running_var"].numpy(),
                               torch_state["running_var"].numpy(), rtol=1e-5)
    # Buffers follow .double() but the counter stays int64.
    ours.double()
    assert ours.running_mean.dtype == cnnlab.float64
    assert ours.num_batches_tracked.dtype == cnnlab.int64


def test_batch_norm_float32_matches_torch():
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    data = np.random.default_rng(0).normal(size=(4, 3, 5, 5)).astype(np.float32)
    y = ours(cnnlab.tensor(data))
    assert y.dtype == cnnlab.float32
    np.testing.assert_allclose(y.detach().numpy(), theirs(torch.tensor(data)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_matches_torch(training):
    x, tx = pair((4, 3, 2, 5), seed=1)
    stats = np.random.default_rng(2).uniform(0.5, 2.0, size=(2, 3))
    mean, var = cnnlab.tensor(stats[0]), cnnlab.tensor(stats[1])
    tmean, tvar = torch.tensor(stats[0]), torch.tensor(stats[1])
    w, tw = pair((3,), seed=3)
    b, tb = pair((3,), seed=4)
    y = F.batch_norm(x, mean, var, w, b, training=training, momentum=0.2, eps=1e-4)
    ty = torch.nn.functional.batch_norm(tx, tmean, tvar, tw, tb, training=training,
                                        momentum=0.2, eps=1e-4)
    close(y, ty)
    close(mean, tmean), close(var, tvar)
    backward_both(y, ty)
    for ours_t, theirs_t in ((x, tx), (w, tw), (b, tb)):
        close(ours_t.grad, theirs_t.grad)


def test_batch_norm_gradient_through_twice_used_input():
    # x reaches the loss through batch norm and directly: both contributions count.
    x, tx = pair((5, 2, 3), seed=4)
    y = (F.batch_norm(x, None, None, training=True) * x).sum()
    ty = (torch.nn.functional.batch_norm(tx, None, None, training=True) * tx).sum()
    y.backward(), ty.backward()
    close(x.grad, tx.grad)


def test_batch_norm_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        nn.BatchNorm1d(3)(cnnlab.randn(1, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(cnnlab.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(4,\)"):
        F.batch_norm(cnnlab.randn(2, 3), None, None, cnnlab.ones(4), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(cnnlab.randn(2, 3), None, None, training=False)
    with pytest.raises(TypeError, match="momentum must be a number or None"):
        nn.BatchNorm2d(3, momentum="fast")
    with pytest.raises(TypeError, match="floating"):
        F.batch_norm(cnnlab.tensor([[1, 2], [3, 4]]), None, None, training=True)


def test_batch_norm_eval_without_tracking_uses_batch_statistics():
    ours, theirs = nn.BatchNorm1d(3, track_running_stats=False).eval(), \
        torch.nn.BatchNorm1d(3, track_running_stats=False).eval()
    x, tx = pair((6, 3), seed=9)
    close(ours.double()(x), theirs.double()(tx))
    assert list(ours.state_dict()) == ["weight", "bias"]


# ------------------------------------------------------------------ layer norm


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)),
                                              ((3, 2, 5), (3, 2, 5)), ((7,), [7])],
                         ids=["last", "last-two", "all", "1d-list"])
@pytest.mark.parametrize("options", [dict(), dict(elementwise_affine=False),
                                     dict(bias=False), dict(eps=1e-2)],
                         ids=["affine", "plain", "no-bias", "eps"])
def test_layer_norm_matches_torch(shape, normalized, options):
    ours, theirs = nn.LayerNorm(normalized, **options), torch.nn.LayerNorm(normalized,
                                                                           **options)
    assert repr(ours) == repr(theirs)
    copy_module(ours, theirs)
    x, tx = pair(shape, seed=2)
    y, ty = ours(x), theirs(tx)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"layer_norm: the input's trailing dimensions must "
                                         r"be normalized_shape \(4,\), got input shape "
                                         r"\(2, 5\)"):
        F.layer_norm(cnnlab.randn(2, 5), 4)
    with pytest.raises(ValueError, match="normalized_shape must be a positive int"):
        F.layer_norm(cnnlab.randn(2, 5), ())


# ------------------------------------------------------------------ group norm


@pytest.mark.parametrize("shape,groups", [((2, 6, 4, 3), 3), ((3, 4, 5), 1), ((2, 4, 3), 4),
                                          ((2, 6), 2), ((1, 4, 2, 2, 3), 2)],
                         ids=["4d-3groups", "3d-one-group", "instance-like", "2d", "5d"])
@pytest.mark.parametrize("options", [dict(), dict(affine=False), dict(bias=False)],
                         ids=["affine", "plain", "no-bias"])
def test_group_norm_matches_torch(shape, groups, options):
    channels = shape[1]
    ours = nn.GroupNorm(groups, channels, **options)
    theirs = torch.nn.GroupNorm(groups, channels, **options)
    assert repr(ours) == repr(theirs)
    copy_module(ours, theirs)
    x, tx = pair(shape, seed=6)
    y, ty = ours(x), theirs(tx)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by "
                                         r"num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="num_groups must be a positive int dividing the 6"):
        F.group_norm(cnnlab.randn(2, 6, 3), 4)


# --------------------------------------------------------------------- buffers


def test_register_buffer_persistence_and_assignment():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("total", cnnlab.zeros(2))
            self.register_buffer("scratch", cnnlab.ones(3), persistent=False)
            self.register_buffer("empty", None)

    class TorchCounter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("total", torch.zeros(2))
            self.register_buffer("scratch", torch.ones(3), persistent=False)
            self.register_buffer("empty", None)

    ours, theirs = nn.Sequential(Counter()), torch.nn.Sequential(TorchCounter())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0.total"]
    # Assigning a tensor to a buffer's name replaces the buffer, it stays registered.
    ours[0].total = cnnlab.tensor([1.0, 2.0])
    assert ours.state_dict()["0.total"].tolist() == [1.0, 2.0]
    assert [n for n, _ in ours.named_buffers(recurse=False)] == []
    with pytest.raises(KeyError, match="already exists"):
        ours.register_buffer("training", cnnlab.zeros(1))
    with pytest.raises(TypeError, match="a Tensor or None"):
        ours.register_buffer("bad", [1, 2])
    with pytest.raises(KeyError, match="contain no '.'"):
        ours.register_buffer("a.b", cnnlab.zeros(1))


# --------------------------------------------------------------- instance norm

INSTANCE = {"1d": ("InstanceNorm1d", (3, 4, 5)), "1d-unbatched": ("InstanceNorm1d", (4, 6)),
            "2d": ("InstanceNorm2d", (2, 4, 3, 5)), "3d": ("InstanceNorm3d", (2, 4, 2, 2, 3))}


@pytest.mark.parametrize("case", INSTANCE.values(), ids=INSTANCE.keys())
@pytest.mark.parametrize("options", [dict(), dict(affine=True),
                                     dict(affine=True, track_running_stats=True),
                                     dict(track_running_stats=True, momentum=None)],
                         ids=["plain", "affine", "affine-tracking", "tracking-none-momentum"])
def test_instance_norm_matches_torch_over_steps(case, options):
    name, shape = case
    ours, theirs = getattr(nn, name)(4, **options), getattr(torch.nn, name)(4, **options)
    train_steps_match(ours, theirs, shape, grad_seed=0)
    for (bname, b), (_, tb) in zip(ours.named_buffers(), theirs.named_buffers()):
        np.testing.assert_allclose(b.numpy(), tb.numpy(), **TOL)
    ours.eval(), theirs.eval()
    x, tx = pair(shape, seed=7)
    y, ty = ours(x), theirs(tx)
    close(y, ty)
    backward_both(y, ty)
    close(x.grad, tx.grad)


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3D or 4D input \(got 2D"):
        nn.InstanceNorm2d(3)(cnnlab.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per instance"):
        F.instance_norm(cnnlab.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"match num_features \(3\), but got: 4"):
        nn.InstanceNorm1d(3, affine=True)(cnnlab.randn(2, 4, 5))


# ------------------------------------------------------------- parameter dtypes

_NORMS = {   # p(): a fresh parameter of ones (running statistics are updated in place)
    "batch_norm train": (lambda lib, x, p: lib.nn.functional.batch_norm(
        x, p() * 0, p(), p(), p(), training=True), (2, 4, 3, 3)),
    "batch_norm eval": (lambda lib, x, p: lib.nn.functional.batch_norm(x, p() * 0, p()),
                        (2, 4, 3)),
    "batch_norm weight only": (lambda lib, x, p: lib.nn.functional.batch_norm(
        x, None, None, p(), training=True), (2, 4, 3)),
    "instance_norm": (lambda lib, x, p: lib.nn.functional.instance_norm(
        x, weight=p(), bias=p()), (2, 4, 3)),
    "group_norm": (lambda lib, x, p: lib.nn.functional.group_norm(x, 2, p(), p()),
                   (2, 4, 3)),
    "layer_norm": (lambda lib, x, p: lib.nn.functional.layer_norm(x, (4, 3), None, p()),
                   (2, 4, 3)),
}


@pytest.mark.parametrize("norm", sorted(_NORMS))
@pytest.mark.parametrize("input_dtype,parameter_dtype", [
    ("float32", "float32"), ("float32", "float64"), ("float64", "float32"),
    ("float16", "float32"), ("float16", "float16"), ("float16", "float64"),
    ("float32", "float16")])
def test_parameter_dtypes_follow_pytorch(norm, input_dtype, parameter_dtype):
    """PyTorch's "mixed dtype" rule: the parameters (and batch norm's running
    statistics) share the input's dtype, or are float32 for a float16 input. Where
    PyTorch raises, cnnlab raises a TypeError naming the function; where it computes,
    cnnlab gives the same dtype and values."""
    call, shape = _NORMS[norm]
    data = np.random.default_rng(0).normal(size=shape)
    features = shape[1] if norm != "layer_norm" else (4, 3)
    results = {}
    for lib in (torch, cnnlab):
        x = lib.tensor(data, dtype=getattr(lib, input_dtype))
        def p():
            return lib.ones(features, dtype=getattr(lib, parameter_dtype))
        try:
            results[lib.__name__] = call(lib, x, p)
        except RuntimeError as error:   # PyTorch's "mixed dtype (CPU)"
            results[lib.__name__] = error
        except TypeError as error:
            assert lib is cnnlab and norm.split()[0] in str(error), error
            results[lib.__name__] = error
    theirs, ours = results["torch"], results["cnnlab"]
    assert isinstance(theirs, Exception) == isinstance(ours, Exception), (theirs, ours)
    if not isinstance(theirs, Exception):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.numpy().astype(np.float64),
                                   theirs.numpy().astype(np.float64), rtol=1e-3, atol=1e-3)

"""Differential fuzzing of every functional op against PyTorch (float64).

Hypothesis draws random configurations (:mod:`fuzz_ops`) of conv2d, conv_transpose2d,
max/avg/Lp/adaptive pooling, max_unpool2d, pad, unfold and fold, and compares
cnnlab with PyTorch: output values (1e-12 relative), indices (exactly) and every
input's gradient (1e-8 relative) for the same random output gradient.

``--examples N`` (tests/conftest.py) sets the examples per op: 25 by default (a few
hundred in all, well under a minute); the long run is::

    python -m pytest tests/test_fuzz.py -p no:cacheprovider --examples 1000 -n 2

(11 ops x 1000 = 11,000 examples). Disagreements found by it live on below as named
regression tests.
"""

import numpy as np
import pytest
import torch  # noqa: F401  (fail, never skip, without the oracle)
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings

import cnnlab
import cnnlab.functional as F
from fuzz_ops import OPS, check


@pytest.fixture
def examples(request):
    return request.config.getoption("--examples")


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # PyTorch's note
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_torch(name, examples):
    op = OPS[name]

    @settings(max_examples=examples, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(config=op.configs())
    def fuzz(config):
        check(op, config)

    fuzz()


def test_every_functional_op_is_fuzzed():
    assert set(OPS) == {"conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "lp_pool2d",
                        "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_unpool2d", "pad",
                        "unfold", "fold"}


# ------------------------------------------------ disagreements found by fuzzing


def _circular_reference_grad(x_shape, pad, grad):
    """Gradient of circular padding of the last axis, by the index each output copies."""
    size = x_shape[-1]
    before, after = pad
    kept = np.arange(max(-before, 0), size - max(-after, 0))     # the cropped input
    out_len = size + before + after
    source = kept[(np.arange(out_len) - max(before, 0)) % kept.size]
    result = np.zeros(x_shape)
    for j, i in enumerate(source):
        result[..., i] += grad[..., j]
    return result


def test_circular_pad_that_wraps_a_cropped_input_twice_sums_every_copy():
    """Found by the fuzzer: F.pad(x, (-1, 2), 'circular') on width 2 keeps [b] and wraps
    it into [b, b, b]. Both libraries agree on that forward; PyTorch's backward returns
    only two of the three copies' gradients (11 instead of 111 below). cnnlab sums all
    three, as the forward requires; the fuzzer compares circular padding within one
    wrap of the cropped input, where PyTorch is self-consistent."""
    x = cnnlab.tensor([[10.0, 20.0], [30.0, 40.0]], requires_grad=True)
    out = F.pad(x, (-1, 2), mode="circular")
    assert out.detach().numpy().tolist() == [[20.0] * 3, [40.0] * 3]
    grad = np.array([[1.0, 10.0, 100.0], [1e3, 1e4, 1e5]])
    out.backward(grad)
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 111.0], [0.0, 111000.0]])
    np.testing.assert_array_equal(x.grad.numpy(), _circular_reference_grad((2, 2), (-1, 2), grad))
    t = torch.tensor([[10.0, 20.0], [30.0, 40.0]], requires_grad=True)
    t_out = TF.pad(t, (-1, 2), mode="circular")
    assert t_out.detach().numpy().tolist() == out.detach().numpy().tolist()
    t_out.backward(torch.tensor(grad))
    assert t.grad.numpy().tolist() == [[0.0, 11.0], [0.0, 11000.0]]  # PyTorch drops a copy


@pytest.mark.parametrize("pad", [(-1, 3), (2, -1), (-2, 4), (3, 3), (0, 5)])
def test_circular_pad_gradient_matches_the_copy_map(pad):
    """The reference above, checked against PyTorch where PyTorch wraps at most once, and
    against cnnlab everywhere."""
    x = np.arange(1.0, 5.0).reshape(1, 4)
    grad_out = 10.0 ** np.arange(4 + sum(pad)).reshape(1, -1)
    tensor = cnnlab.tensor(x, requires_grad=True)
    F.pad(tensor, pad, mode="circular").backward(grad_out)
    expected = _circular_reference_grad(x.shape, pad, grad_out)
    np.testing.assert_array_equal(tensor.grad.numpy(), expected)
    kept = 4 + min(pad[0], 0) + min(pad[1], 0)
    if max(pad) <= kept:
        t = torch.tensor(x, requires_grad=True)
        TF.pad(t, pad, mode="circular").backward(torch.tensor(grad_out))
        np.testing.assert_array_equal(t.grad.numpy(), expected)

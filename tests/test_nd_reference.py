"""The naive N-D references (tests/reference_nd.py) against PyTorch, so they cannot rot."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from reference_nd import conv_nd_reference, conv_transpose_nd_reference, pool_nd_reference

RNG = np.random.default_rng(150)


@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_conv_reference_matches_torch(spatial):
    x = RNG.standard_normal((2, 4) + (5, 4, 3)[:spatial])
    w = RNG.standard_normal((2, 2) + (2,) * spatial)
    b = RNG.standard_normal(2)
    stride, dilation = (2, 1, 1)[:spatial], (1, 2, 1)[:spatial]
    conv = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[spatial]
    expected = conv(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride, 1, dilation,
                    groups=2).numpy()
    got = conv_nd_reference(x, w, b, stride, ((1, 1),) * spatial, dilation, groups=2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_conv_transpose_reference_matches_torch(spatial):
    x = RNG.standard_normal((2, 4) + (3, 2, 3)[:spatial])
    w = RNG.standard_normal((4, 3) + (2,) * spatial)
    stride, extra = (2, 3, 1)[:spatial], (1, 0, 0)[:spatial]
    conv = {1: TF.conv_transpose1d, 2: TF.conv_transpose2d, 3: TF.conv_transpose3d}[spatial]
    expected = conv(torch.tensor(x), torch.tensor(w), None, stride, 1, extra, groups=2).numpy()
    got = conv_transpose_nd_reference(x, w, None, stride, ((1, 1),) * spatial, extra, groups=2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spatial", [1, 3])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_reference_matches_torch(spatial, ceil_mode):
    x = RNG.standard_normal((2, 2) + (7, 6, 5)[:spatial])
    kernel, stride = (3, 2, 2)[:spatial], (2, 2, 1)[:spatial]
    pads = ((1, 1), (1, 1), (0, 0))[:spatial]
    padding = tuple(lo for lo, _ in pads)
    max_pool = {1: TF.max_pool1d, 3: TF.max_pool3d}[spatial]
    avg_pool = {1: TF.avg_pool1d, 3: TF.avg_pool3d}[spatial]
    maxima = pool_nd_reference(x, kernel, stride, pads, (1,) * spatial,
                               lambda values, count: max(values), ceil_mode)
    np.testing.assert_array_equal(maxima, max_pool(torch.tensor(x), kernel, stride, padding,
                                                    ceil_mode=ceil_mode).numpy())
    means = pool_nd_reference(x, kernel, stride, pads, (1,) * spatial,
                              lambda values, count: sum(values) / count, ceil_mode)
    np.testing.assert_allclose(means, avg_pool(torch.tensor(x), kernel, stride, padding,
                                               ceil_mode=ceil_mode).numpy(), rtol=1e-12)

"""Argument forms PyTorch accepts (issue 13): one-element tuples, ``stride=()`` for
pools, and the transposed convolution's shape with ``padding='same'``."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab.functional as F
from cnnlab import shapes

RNG = np.random.default_rng(13)


def test_one_element_tuples_repeat_in_conv_like_torch():
    x = RNG.standard_normal((1, 2, 7, 7))
    w = RNG.standard_normal((3, 2, 3, 3))
    got = F.conv2d(x, w, stride=(2,), padding=(1,), dilation=(1,)).numpy()
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w), stride=(2,), padding=(1,),
                         dilation=(1,)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    wt = RNG.standard_normal((2, 3, 3, 3))
    got = F.conv_transpose2d(x, wt, stride=(2,), padding=(1,), output_padding=(1,)).numpy()
    expected = TF.conv_transpose2d(torch.tensor(x), torch.tensor(wt), stride=(2,), padding=(1,),
                                   output_padding=(1,)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pools_take_one_element_tuples_and_empty_stride_like_torch(pool):
    x = RNG.standard_normal((1, 2, 7, 7))
    got = getattr(F, pool)(x, (3,), stride=(), padding=(1,)).numpy()
    expected = getattr(TF, pool)(torch.tensor(x), (3,), stride=(), padding=(1,)).numpy()
    assert got.shape == expected.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_lp_pool_and_unpool_take_empty_stride():
    x = RNG.standard_normal((1, 2, 6, 6))
    np.testing.assert_array_equal(F.lp_pool2d(x, 2, 3, stride=()).numpy(),
                                  F.lp_pool2d(x, 2, 3).numpy())
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(F.max_unpool2d(values, indices, 2, stride=()).numpy(),
                                  F.max_unpool2d(values, indices, 2).numpy())


def test_int_tuple_forms_and_errors():
    assert shapes.int_tuple(3, 1, "stride", "f") == (3,)
    assert shapes.int_tuple((4,), 3, "stride", "f") == (4, 4, 4)
    assert shapes.int_tuple([1, 2, 3], 3, "stride", "f") == (1, 2, 3)
    assert shapes.int_pair((5,), "kernel_size", "f") == (5, 5)
    with pytest.raises(TypeError, match=r"conv3d: stride must be an int or a tuple of 3 ints "
                                        r"\(depth, height, width\), got \(1, 2\)"):
        shapes.int_tuple((1, 2), 3, "stride", "conv3d")
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair of ints "
                                        r"\(height, width\), got \(\)"):
        shapes.int_pair((), "stride", "conv2d")
    with pytest.raises(ValueError, match=r"conv1d: dilation must be >= 1, got \(0,\)"):
        shapes.int_tuple((0,), 1, "dilation", "conv1d")


def test_padding_pairs_in_any_dimension():
    assert shapes.padding_pairs((2,), "f", ndim=3) == ((2, 2),) * 3
    assert shapes.padding_pairs((1, 2, 3), "f", ndim=3) == ((1, 1), (2, 2), (3, 3))
    assert shapes.padding_pairs(((1, 0),), "f", ndim=1) == ((1, 0),)
    assert shapes.padding_pairs("same", "f", input_size=(5,), kernel_size=(4,)) == ((1, 2),)
    with pytest.raises(TypeError, match=r"conv1d: padding must be an int, \(pad_length\), "
                                        r"\(\(lo, hi\)\), 'valid' or 'same', got \(1, 2\)"):
        shapes.padding_pairs((1, 2), "conv1d", ndim=1)


def test_conv_transpose2d_output_shape_same():
    """Issue 13: 'same' used to die with TypeError; it is ``in * stride``, as the op gives."""
    for size, kernel, stride, dilation in [((4, 5), 3, 2, 1), ((3, 3), 1, 3, 1),
                                           ((5, 2), (4, 2), (1, 3), (2, 1))]:
        shape = shapes.conv_transpose2d_output_shape(size, kernel, stride, "same",
                                                     dilation=dilation)
        kernel = shapes.int_pair(kernel, "k", "t")
        out = F.conv_transpose2d(np.ones((1, 1) + size), np.ones((1, 1) + kernel), stride=stride,
                                 padding="same", dilation=dilation)
        stride = shapes.int_pair(stride, "s", "t")
        assert shape == tuple(out.shape[2:]) == (size[0] * stride[0], size[1] * stride[1])
    with pytest.raises(ValueError, match=r"conv_transpose2d_output_shape: padding='same' chooses "
                                         r"the output padding itself; output_padding must be 0, "
                                         r"got \(1, 1\)"):
        shapes.conv_transpose2d_output_shape((4, 4), 3, 2, "same", output_padding=1)

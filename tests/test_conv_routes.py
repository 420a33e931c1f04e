"""The convolution routes, one named function each, chosen in one table
(cnnlab.kernels.conv.choose_route): which route each shape takes, and every fast route
against the general im2col route on the same geometry, in 1, 2 and 3 dimensions."""

import numpy as np
import pytest

from cnnlab.kernels import conv as conv_kernels
from cnnlab.kernels import channels_last, winograd

RNG = np.random.default_rng(7)

CASES = {  # name: (x shape, weight shape, stride, padding, groups, expected route)
    "small-1d": ((1, 2, 9), (3, 2, 3), (1,), ((1, 1),), 1, "small"),
    "depthwise-2d": ((2, 16, 40, 40), (16, 1, 3, 3), (1, 1), ((1, 1),) * 2, 16, "depthwise"),
    "depthwise-3d": ((2, 8, 12, 12, 12), (8, 1, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3, 8,
                     "depthwise"),
    "pointwise-1d": ((4, 64, 300), (32, 64, 1), (1,), ((0, 0),), 1, "pointwise"),
    "pointwise-3d": ((2, 32, 8, 10, 12), (16, 32, 1, 1, 1), (1, 1, 1), ((0, 0),) * 3, 1,
                     "pointwise"),
    "winograd-2d": ((1, 128, 12, 12), (128, 128, 3, 3), (1, 1), ((1, 1),) * 2, 1, "winograd"),
    "channels-last-2d": ((2, 32, 6, 6), (16, 32, 3, 3), (1, 1), ((1, 1),) * 2, 1,
                         "channels_last"),
    "channels-last-3d-strided": ((2, 16, 6, 7, 6), (8, 16, 3, 3, 3), (2, 2, 2),
                                 ((1, 1), (0, 2), (1, 0)), 1, "channels_last"),
    "im2col-1d": ((4, 16, 200), (8, 16, 5), (2,), ((2, 2),), 1, "im2col"),
    "im2col-3d-wide": ((2, 8, 10, 12, 9), (4, 8, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3, 1,
                       "im2col"),
    "winograd-shape-but-3d": ((1, 128, 10, 10, 10), (128, 128, 3, 3, 3), (1, 1, 1),
                              ((1, 1),) * 3, 1, "im2col"),
}


@pytest.mark.parametrize("name", CASES)
def test_route_choice_and_agreement_with_im2col(name):
    x_shape, w_shape, stride, padding, groups, expected = CASES[name]
    x = RNG.standard_normal(x_shape)
    w = RNG.standard_normal(w_shape)
    b = RNG.standard_normal(w_shape[0])
    dilation = (1,) * len(stride)
    geometry = conv_kernels.conv_geometry(x.shape, w.shape, stride, padding, dilation, groups,
                                          "zeros")
    route, geometry = conv_kernels.choose_route(geometry, w.shape[0], x.dtype, x, w)
    assert route == expected
    got, _ = conv_kernels.FORWARD[route](x, w, b, geometry, False)
    general, _ = conv_kernels.forward_im2col(x, w, b, geometry._replace(wide=False), False)
    np.testing.assert_allclose(got, general, rtol=1e-10, atol=1e-10)


def test_every_route_has_a_reason_and_a_function():
    names = [name for name, _, reason in conv_kernels.ROUTES if reason]
    assert names == ["depthwise", "pointwise", "channels_last", "winograd", "im2col"]
    assert set(conv_kernels.FORWARD) == set(names) | {"small"}
    assert winograd.MIN_CHANNELS == 128


def test_small_maps_skip_winograd_and_the_wide_layout():
    """A 3x3 map at 512 channels: Winograd would compute 16 * 9 products where im2col
    computes 9 * 9, and the wide layout 5 columns a row for 3 outputs; short rows take
    the channels-last columns instead. 12x12 maps: Winograd (16 * 49 against 9 * 144)."""
    x = np.ones((2, 512, 3, 3), np.float32)
    w = np.ones((512, 512, 3, 3), np.float32)
    geometry = conv_kernels.conv_geometry(x.shape, w.shape, (1, 1), ((1, 1),) * 2, (1, 1), 1,
                                          "zeros")
    assert not winograd.applies(geometry, 512, x.dtype)
    route, chosen = conv_kernels.choose_route(geometry, 512, x.dtype, x, w)
    assert (route, chosen.wide) == ("channels_last", False)
    x = np.ones((2, 128, 12, 12), np.float32)
    w = np.ones((128, 128, 3, 3), np.float32)
    geometry = geometry._replace(input_shape=x.shape, out_shape=(12, 12))
    assert conv_kernels.choose_route(geometry, 128, x.dtype, x, w)[0] == "winograd"


GRAD_CASES = {  # name: (x shape, weight shape, stride, padding, dilation, groups, route)
    "1d": ((2, 4, 11), (4, 4, 3), (1,), ((1, 1),), (1,), 1, "forward"),
    "2d-same": ((2, 6, 9, 8), (4, 3, 3, 3), (1, 1), ((1, 1),) * 2, (1, 1), 2, "forward"),
    "2d-per-side-dilated": ((1, 3, 12, 10), (3, 3, 3, 2), (1, 1), ((4, 0), (0, 2)), (2, 3), 1,
                            "forward"),
    "2d-valid-5x5": ((2, 2, 10, 10), (2, 2, 5, 5), (1, 1), ((0, 0),) * 2, (1, 1), 1,
                     "forward"),
    "3d": ((1, 2, 5, 6, 4), (2, 2, 3, 3, 2), (1, 1, 1), ((1, 1), (0, 2), (1, 0)), (1, 1, 1), 1,
           "forward"),
    "2d-wide-128": ((2, 128, 8, 8), (128, 128, 3, 3), (1, 1), ((1, 1),) * 2, (1, 1), 1,
                    "forward"),
    "2d-more-outputs-than-inputs": ((2, 3, 9, 9), (8, 3, 3, 3), (1, 1), ((1, 1),) * 2, (1, 1),
                                    1, "col2im"),
    "2d-stride-2": ((2, 3, 9, 9), (4, 3, 3, 3), (2, 2), ((1, 1),) * 2, (1, 1), 1, "col2im"),
    "2d-stride-2-short-rows": ((2, 32, 9, 8), (40, 32, 3, 3), (2, 2), ((1, 1),) * 2, (1, 1),
                               1, "channels_last"),
    "2d-stride-2-rows-of-12": ((2, 16, 24, 23), (32, 16, 3, 3), (2, 2), ((1, 1),) * 2,
                               (1, 1), 1, "channels_last"),
    "2d-stride-2-rows-of-17": ((1, 16, 8, 34), (32, 16, 3, 3), (2, 2), ((1, 1),) * 2,
                               (1, 1), 1, "col2im"),
    "3d-stride-2-dilated-short-rows": ((2, 16, 7, 6, 9), (8, 16, 3, 2, 3), (2, 1, 2),
                                       ((1, 0), (0, 1), (2, 2)), (2, 1, 1), 1,
                                       "channels_last"),
    "2d-padding-beyond-the-kernel": ((2, 3, 6, 6), (4, 3, 3, 3), (1, 1), ((3, 3),) * 2,
                                     (1, 1), 1, "col2im"),
}


@pytest.mark.parametrize("name", GRAD_CASES)
def test_input_gradient_routes_agree(name, monkeypatch):
    """The input gradient as a forward convolution of dy (stride 1) against the general
    W.T @ dY then col2im, on the same geometry; float64."""
    x_shape, w_shape, stride, padding, dilation, groups, expected = GRAD_CASES[name]
    x = RNG.standard_normal(x_shape)
    w = RNG.standard_normal(w_shape)
    y, cache = conv_kernels.conv_forward(x, w, None, stride, padding, dilation, groups)
    assert conv_kernels.input_grad_route(cache.geometry, w.shape[0]) == expected
    dy = RNG.standard_normal(y.shape)
    got = conv_kernels.conv_backward(dy, cache, True, False, False)[0]
    monkeypatch.setattr(conv_kernels, "input_grad_route", lambda geometry, out_channels: "col2im")
    general = conv_kernels.conv_backward(dy, cache, True, False, False)[0]
    assert got.shape == x.shape
    np.testing.assert_allclose(got, general, rtol=1e-10, atol=1e-10)


def test_reflect_padding_takes_the_general_input_gradient():
    x = RNG.standard_normal((1, 3, 6, 6))
    w = RNG.standard_normal((3, 3, 3, 3))
    _, cache = conv_kernels.conv_forward(x, w, None, (1, 1), ((1, 1),) * 2, (1, 1), 1,
                                         "reflect")
    assert conv_kernels.input_grad_route(cache.geometry, 3) == "col2im"


def test_columns_above_the_keep_limit_are_rebuilt_with_the_same_gradient(monkeypatch):
    x = RNG.standard_normal((4, 8, 40, 40))   # beyond the small path, which always keeps
    w = RNG.standard_normal((8, 8, 3, 3))
    _, kept = conv_kernels.conv_forward(x, w, None, (2, 2), ((1, 1),) * 2, (1, 1), 1)
    assert kept.cols is not None
    monkeypatch.setattr(conv_kernels, "KEEP_COLS_BYTES", kept.cols.array.nbytes - 1)
    y, rebuilt = conv_kernels.conv_forward(x, w, None, (2, 2), ((1, 1),) * 2, (1, 1), 1)
    assert rebuilt.cols is None
    dy = RNG.standard_normal(y.shape)
    np.testing.assert_array_equal(conv_kernels.conv_backward(dy, rebuilt)[1],
                                  conv_kernels.conv_backward(dy, kept)[1])


@pytest.mark.parametrize("keep", [True, False], ids=["kept-columns", "rebuilt-columns"])
@pytest.mark.parametrize("stride", [1, 2])
def test_channels_last_gradients_match_the_general_route(stride, keep, monkeypatch):
    """Forward, weight and input gradients through the channels-last columns (kept by
    the forward, or rebuilt by the backward) against the (K, N*L) route, float64."""
    x = RNG.standard_normal((4, 32, 9, 8))   # beyond the small path
    w = RNG.standard_normal((10, 32, 3, 3))
    b = RNG.standard_normal(10)
    args = ((stride, stride), ((1, 1), (2, 0)), (1, 1), 1)
    if not keep:
        monkeypatch.setattr(conv_kernels, "KEEP_COLS_BYTES", 0)
    y, cache = conv_kernels.conv_forward(x, w, b, *args)
    assert cache.route == "channels_last" and (cache.cols is not None) == keep
    dy = RNG.standard_normal(y.shape)
    got = conv_kernels.conv_backward(dy, cache)
    monkeypatch.setattr(channels_last, "applies", lambda *arguments: False)
    expected_y, general = conv_kernels.conv_forward(x, w, b, *args)
    assert general.route == "im2col"
    np.testing.assert_allclose(y, expected_y, rtol=1e-10, atol=1e-10)
    for mine, expected in zip(got, conv_kernels.conv_backward(dy, general)):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-10)

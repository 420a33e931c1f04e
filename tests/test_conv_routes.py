"""The convolution routes, one named function each, chosen in one table
(cnnlab.kernels.conv.choose_route): which route each shape takes, and every fast route
against the general im2col route on the same geometry, in 1, 2 and 3 dimensions."""

import numpy as np
import pytest

from cnnlab.kernels import conv as conv_kernels
from cnnlab.kernels import winograd

RNG = np.random.default_rng(7)

CASES = {  # name: (x shape, weight shape, stride, padding, groups, expected route)
    "small-1d": ((1, 2, 9), (3, 2, 3), (1,), ((1, 1),), 1, "small"),
    "depthwise-2d": ((2, 16, 40, 40), (16, 1, 3, 3), (1, 1), ((1, 1),) * 2, 16, "depthwise"),
    "depthwise-3d": ((2, 8, 12, 12, 12), (8, 1, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3, 8,
                     "depthwise"),
    "pointwise-1d": ((4, 64, 300), (32, 64, 1), (1,), ((0, 0),), 1, "pointwise"),
    "pointwise-3d": ((2, 32, 8, 10, 12), (16, 32, 1, 1, 1), (1, 1, 1), ((0, 0),) * 3, 1,
                     "pointwise"),
    "winograd-2d": ((1, 128, 8, 8), (128, 128, 3, 3), (1, 1), ((1, 1),) * 2, 1, "winograd"),
    "im2col-1d": ((4, 16, 200), (8, 16, 5), (2,), ((2, 2),), 1, "im2col"),
    "im2col-3d-wide": ((2, 8, 10, 12, 9), (4, 8, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3, 1,
                       "im2col"),
    "winograd-shape-but-3d": ((1, 128, 6, 6, 6), (128, 128, 3, 3, 3), (1, 1, 1),
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
    assert names == ["depthwise", "pointwise", "winograd", "im2col"]
    assert set(conv_kernels.FORWARD) == set(names) | {"small"}
    assert winograd.MIN_CHANNELS == 128

"""Receptive-field arithmetic against PyTorch: which input pixels a unit's gradient reaches.

The reference pushes a unit's gradient back through the same chain of windows in
PyTorch (all-ones kernels, so every tap passes gradient) and reads off the input
pixels it reaches: their extent is the receptive field, its centre moves by the jump
from one unit to the next, and the first unit's centre is the start.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnnlab.nn as cnn
from cnnlab.receptive import (MODELS, Layer, describe_axis, layers_from_module, parse_layer,
                              parse_layers, receptive_fields)


def torch_chain(layers, input_size):
    """The input (requiring grad) and the output of ``layers`` in PyTorch, float64."""
    x = torch.zeros((1, 1) + tuple(input_size), dtype=torch.float64, requires_grad=True)
    y = x
    for layer in layers:
        (top, bottom), (left, right) = layer.padding
        y = TF.pad(y, (left, right, top, bottom))
        weight = torch.ones((1, 1) + layer.kernel_size, dtype=torch.float64)
        y = TF.conv2d(y, weight, stride=layer.stride, dilation=layer.dilation)
    return x, y


def reached(layers, input_size, unit):
    """Rows and columns of the input pixels that output ``unit`` depends on."""
    x, y = torch_chain(layers, input_size)
    y[0, 0][unit].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    return rows, cols


layer_strategy = st.builds(
    lambda kind, k, s, p, d: Layer(kind, (k[0], k[1]), (s[0], s[1]), ((p[0], p[1]), (p[2], p[3])),
                                   (d[0], d[1])),
    st.sampled_from(["conv", "pool"]),
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.tuples(*[st.integers(0, 2)] * 4),
    st.tuples(st.integers(1, 2), st.integers(1, 2)))


@settings(max_examples=50, deadline=None)
@given(st.lists(layer_strategy, min_size=1, max_size=3))
def test_fields_match_pytorch_gradients(layers):
    input_size = (48, 40)
    try:
        fields = receptive_fields(layers, input_size)
    except ValueError:
        assume(False)
    last = fields[-1]
    x, y = torch_chain(layers, input_size)
    assert tuple(y.shape[2:]) == last.output_size
    middle = (last.output_size[0] // 2, last.output_size[1] // 2)
    (top, bottom), (left, right) = last.span(middle)
    assume(top >= 0 and left >= 0 and bottom < input_size[0] and right < input_size[1])
    rows, cols = reached(layers, input_size, middle)
    assert (rows.min(), rows.max()) == (top, bottom)
    assert (cols.min(), cols.max()) == (left, right)
    assert (bottom - top + 1, right - left + 1) == last.size
    assert ((top + bottom) / 2, (left + right) / 2) == (
        last.start[0] + middle[0] * last.jump[0], last.start[1] + middle[1] * last.jump[1])


@pytest.mark.parametrize("spec, unit", [
    ("conv3,conv3", (0, 0)),
    ("conv5p2,pool2,conv5,pool2", (2, 3)),
    ("conv3s2,conv3d2", (1, 1)),
    ("conv3x5p1x2,maxpool2x3s1x2", (3, 2)),
], ids=["two-3x3", "lenet", "stride-then-dilation", "rectangular"])
def test_neighbouring_units_are_a_jump_apart(spec, unit):
    layers = parse_layers(spec)
    fields = receptive_fields(layers, (28, 28))
    last = fields[-1]
    for axis in range(2):
        step = [0, 0]
        step[axis] = 1
        nxt = (unit[0] + step[0], unit[1] + step[1])
        rows_a, cols_a = reached(layers, (28, 28), unit)
        rows_b, cols_b = reached(layers, (28, 28), nxt)
        extremes_a = (rows_a.min(), cols_a.min())
        extremes_b = (rows_b.min(), cols_b.min())
        assert extremes_b[axis] - extremes_a[axis] == last.jump[axis]


def test_chapter_example_sees_all_nine_inputs():
    fields = receptive_fields(parse_layers("conv2,conv2"), input_size=(3, 3))
    assert [f.size for f in fields] == [(1, 1), (2, 2), (3, 3)]
    assert fields[-1].output_size == (1, 1)
    assert fields[-1].span() == ((0, 2), (0, 2))


def test_lenet_numbers():
    fields = receptive_fields(parse_layers("lenet"), MODELS["lenet"][1])
    assert [f.output_size for f in fields] == [(28, 28), (28, 28), (14, 14), (10, 10), (5, 5)]
    assert [f.size[0] for f in fields] == [1, 5, 6, 14, 16]
    assert [f.jump[0] for f in fields] == [1, 1, 2, 2, 4]
    assert [f.start[0] for f in fields] == [0, 0, 0.5, 4.5, 5.5]
    assert fields[-1].span() == ((-2, 13), (-2, 13))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_output_sizes_match_pytorch(name):
    spec, input_size = MODELS[name]
    layers = parse_layers(name)
    assert layers == parse_layers(spec)
    with torch.no_grad():
        _, y = torch_chain(layers, input_size)
    assert tuple(y.shape[2:]) == receptive_fields(layers, input_size)[-1].output_size


@pytest.mark.parametrize("text, expected", [
    ("conv3", Layer("conv", (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), name="conv3")),
    ("pool2", Layer("pool", (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), name="pool2")),
    ("maxpool3s2p1", Layer("maxpool", (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1),
                           name="maxpool3s2p1")),
    ("Conv3x5s1x2p0x1d2", Layer("conv", (3, 5), (1, 2), ((0, 0), (1, 1)), (2, 2),
                                name="conv3x5s1x2p0x1d2")),
    ("avgpool2s1", Layer("avgpool", (2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1),
                         name="avgpool2s1")),
])
def test_parse_layer(text, expected):
    assert parse_layer(text) == expected


@pytest.mark.parametrize("text, message", [
    ("pol2", "cannot read layer 'pol2'"),
    ("conv", "cannot read layer 'conv'"),
    ("conv3q2", "cannot read layer"),
    ("conv3s2s1", "sets 's' twice"),
    ("conv0", "kernel size must be >= 1"),
    ("conv3s0", "stride must be >= 1"),
    ("conv3d0", "dilation must be >= 1"),
])
def test_parse_layer_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_layer(text)


def test_parse_layers_errors_and_empty_output():
    with pytest.raises(ValueError, match="no layers"):
        parse_layers(" , ")
    with pytest.raises(ValueError, match=r"larger than the padded input .* = -1"):
        receptive_fields(parse_layers("conv3,conv3"), input_size=(3, 3))


def test_without_input_size_there_are_no_output_sizes():
    fields = receptive_fields(parse_layers("conv3,pool2"))
    assert [f.output_size for f in fields] == [None, None, None]
    assert fields[-1].size == (4, 4)


def lenet_layers(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid())


@pytest.mark.parametrize("nn", [cnn, torch.nn], ids=["cnnlab", "torch"])
def test_layers_from_module_reads_lenet(nn):
    layers = layers_from_module(lenet_layers(nn))
    expected = parse_layers("lenet")
    geometry = [(layer.kernel_size, layer.stride, layer.padding, layer.dilation)
                for layer in layers]
    assert geometry == [(layer.kernel_size, layer.stride, layer.padding, layer.dilation)
                        for layer in expected]
    assert [layer.kind for layer in layers] == ["conv", "pool", "conv", "pool"]
    sizes = [f.size for f in receptive_fields(layers, (28, 28))]
    assert sizes == [f.size for f in receptive_fields(expected, (28, 28))]


def test_layers_from_module_rejects_string_padding():
    with pytest.raises(ValueError, match="string padding 'same'"):
        layers_from_module(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding="same")))


def test_describe_axis():
    assert describe_axis((5, 5)) == "5"
    assert describe_axis((5, 3)) == "5x3"
    assert describe_axis((0.5, 0.5)) == "0.5"
    assert describe_axis((2.0, 4.5)) == "2x4.5"

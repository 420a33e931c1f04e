"""cnnlab.summary: shapes, parameter counts, mult-adds and receptive fields per layer."""

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn
from cnnlab.models import lenet5
from cnnlab.receptive import parse_layers, receptive_fields


def torch_lenet():
    n = torch.nn
    return n.Sequential(n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2), n.Conv2d(6, 16, 5),
                        n.ReLU(), n.MaxPool2d(2), n.Flatten(), n.Linear(400, 120), n.ReLU(),
                        n.Linear(120, 84), n.ReLU(), n.Linear(84, 10))


def test_lenet_summary_matches_torch_shapes_and_counts():
    s = cnnlab.summary(lenet5(), (1, 28, 28))
    x = torch.zeros(1, 1, 28, 28)
    expected_shapes = []
    for layer in torch_lenet():
        x = layer(x)
        expected_shapes.append(tuple(x.shape))
    assert [row.output_shape for row in s.rows] == expected_shapes
    assert s.total_params == sum(p.numel() for p in torch_lenet().parameters())
    assert [row.params for row in s.rows] == [sum(p.numel() for p in layer.parameters())
                                              for layer in torch_lenet()]


def test_mult_adds_follow_the_definition():
    s = cnnlab.summary(lenet5(), (4, 1, 28, 28))
    conv1, conv2, fc1 = s.rows[0], s.rows[3], s.rows[7]
    assert conv1.mult_adds == 4 * 6 * 28 * 28 * (1 * 5 * 5)
    assert conv2.mult_adds == 4 * 16 * 10 * 10 * (6 * 5 * 5)
    assert fc1.mult_adds == 4 * 120 * 400
    assert s.rows[1].mult_adds == 0 and s.rows[2].mult_adds == 0
    grouped = cnnlab.summary(nn.Sequential(nn.Conv2d(4, 8, 3, groups=2)), (4, 6, 6))
    assert grouped.rows[0].mult_adds == 8 * 4 * 4 * (2 * 3 * 3)


def test_receptive_fields_agree_with_the_layer_chain():
    s = cnnlab.summary(lenet5(), (1, 28, 28))
    fields = receptive_fields(parse_layers("lenet"), (28, 28))
    window_rows = [row for row in s.rows if row.kind in ("Conv2d", "MaxPool2d")]
    assert [(r.field.size, r.field.jump, r.field.start) for r in window_rows] == \
        [(f.size, f.jump, f.start) for f in fields[1:]]
    assert s.rows[1].field == s.rows[0].field  # ReLU keeps the field
    assert all(row.field is None for row in s.rows[6:])


def test_table_text_and_custom_module():
    class TwoBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.pool = nn.AvgPool2d(2)

        def forward(self, x):
            return self.pool(self.conv(x))

    s = cnnlab.summary(TwoBranch(), (3, 8, 8))
    text = str(s)
    assert "conv (Conv2d)" in text and "[1, 4, 4, 4]" in text
    assert "Total params: 112" in text
    assert s.rows[1].field.size == (4, 4) and s.rows[1].field.jump == (2, 2)


def test_summary_restores_mode_and_rejects_bad_shapes():
    model = lenet5()
    model.train()
    cnnlab.summary(model, (1, 28, 28))
    assert model.training
    with pytest.raises(ValueError, match=r"summary: input_shape must be \(C, H, W\) or \(N, C, H, W\)"):
        cnnlab.summary(model, (28, 28))
    with pytest.raises(ValueError, match="conv2d"):
        cnnlab.summary(model, (1, 2, 2))
    assert np.isfinite(cnnlab.summary(model, (2, 1, 28, 28)).total_mult_adds)

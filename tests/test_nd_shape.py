"""Output sizes for 1-D and 3-D: cnnlab.conv_output_shape and its 1-D/3-D forms, and
``cnnlab shape`` with 1 or 3 sizes, against PyTorch's layers."""

import pytest
import torch
import torch.nn.functional as TF

import cnnlab
from cnnlab.cli import main

CASES = [  # (input size, kernel, stride, padding, dilation)
    ((100,), (5,), (2,), (1,), (1,)),
    ((16000,), (80,), (16,), (0,), (1,)),
    ((9,), (3,), (1,), (2,), (3,)),
    ((16, 112, 112), (3, 7, 7), (1, 2, 2), (1, 3, 3), (1, 1, 1)),
    ((5, 6, 7), (2, 3, 2), (2, 1, 3), (0, 1, 1), (2, 1, 1)),
]


def _torch_conv(size, kernel, stride, padding, dilation):
    conv = TF.conv1d if len(size) == 1 else TF.conv3d
    x = torch.zeros((1, 1) + size)
    return tuple(conv(x, torch.zeros((1, 1) + kernel), None, stride, padding,
                      dilation).shape[2:])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_output_shape_helpers_match_torch(case):
    size, kernel, stride, padding, dilation = case
    expected = _torch_conv(*case)
    helper = cnnlab.conv1d_output_shape if len(size) == 1 else cnnlab.conv3d_output_shape
    assert helper((2, 3) + size, kernel, stride, padding, dilation) == expected
    assert cnnlab.conv_output_shape(size, kernel, stride, padding, dilation,
                                    spatial=len(size)) == expected
    pool = TF.max_pool1d if len(size) == 1 else TF.max_pool3d
    if all(p <= k // 2 for p, k in zip(padding, kernel)):
        assert cnnlab.pool_output_shape(size, kernel, stride, padding, dilation, True,
                                        spatial=len(size)) == tuple(
            pool(torch.zeros((1, 1) + size), kernel, stride, padding, dilation, True).shape[2:])
    transposed = TF.conv_transpose1d if len(size) == 1 else TF.conv_transpose3d
    small = tuple(min(n, 6) for n in size)
    assert cnnlab.conv_transpose_output_shape(small, kernel, stride, padding, 0, dilation,
                                              spatial=len(size)) == tuple(
        transposed(torch.zeros((1, 1) + small), torch.zeros((1, 1) + kernel), None, stride,
                   padding, 0, 1, dilation).shape[2:])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_cli_shape_in_1d_and_3d(capsys, case):
    size, kernel, stride, padding, dilation = case
    argv = ["shape", "--input", "x".join(map(str, size)), "--kernel", ",".join(map(str, kernel)),
            "--stride", ",".join(map(str, stride)), "--padding", ",".join(map(str, padding)),
            "--dilation", ",".join(map(str, dilation)), "-q"]
    if len(size) == 1:
        argv += ["--dims", "1"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "output: " + "x".join(map(str, _torch_conv(*case))) + "\n"


def test_cli_shape_3d_formula_and_errors(capsys):
    assert main(["shape", "--input", "4x8x8", "--kernel", "3", "--pool", "--stride", "2",
                 "--padding", "1"]) == 0
    out = capsys.readouterr().out
    assert "pool3d, input 4x8x8" in out and "out_depth  = floor(" in out
    assert "output: 2x4x4" in out
    assert main(["shape", "--input", "8x8x8", "--kernel", "2,2"]) == 2
    assert ("argument --kernel: expected 1 or 3 numbers for a 3-D input, got 2: 2x2"
            in capsys.readouterr().err)
    assert main(["shape", "--input", "4", "--dims", "1", "--kernel", "5"]) == 2
    assert "conv1d: kernel size (5,) with dilation (1,) spans 5 along the length" in \
        capsys.readouterr().err

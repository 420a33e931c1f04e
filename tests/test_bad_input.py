"""Bad input gets a clear error everywhere: functional ops, modules, optimisers, CLI.

Each case of :data:`CASES` is a call, the exception type it must raise
(``ValueError`` or ``TypeError``) and a regex the message must match; the regexes
name the function, the parameter and the value received. :func:`test_no_raw_errors`
checks every case again for what must never escape: a raw NumPy message, an
``IndexError``, ``AssertionError``, ``ZeroDivisionError``, ``KeyError``,
``MemoryError``. :func:`test_garbage_sweep` feeds every parameter of every public
function a list of wrong values and holds whatever is raised to the same rules.
The CLI cases check for one ``error: ...`` line on stderr and exit status 2.
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch  # noqa: F401  (the oracle of the project: fail, never skip, without it)

import cnnlab
import cnnlab.functional as F
from cnnlab import nn, optim
from cnnlab.cli import main

CNNLAB_SOURCE = Path(cnnlab.__file__).resolve().parent

f32 = np.float32
X = np.zeros((1, 2, 5, 5), f32)          # input, 2 channels
W = np.zeros((3, 2, 3, 3), f32)          # conv2d weight, 3 output channels
WT = np.zeros((2, 3, 3, 3), f32)         # conv_transpose2d weight, 3 output channels
P = np.zeros((1, 4, 4), f32)             # unbatched pooling input
IDX = np.zeros((1, 2, 2), np.int64)      # max_unpool2d indices
LOGITS = np.zeros((2, 3), f32)


def _params():
    return list(nn.Linear(2, 2).parameters())


def _case(id, call, error, pattern):
    return pytest.param(call, error, pattern, id=id)


CASES = [
    # ------------------------------------------------------------------ conv2d
    _case("conv2d-input-str", lambda: F.conv2d("abc", W), TypeError,
          r"^conv2d: input must be a Tensor, array or number, got str \(.*'abc'"),
    _case("conv2d-input-None", lambda: F.conv2d(None, W), TypeError,
          r"^conv2d: input must be a Tensor, array or number, got NoneType \(.*None"),
    _case("conv2d-weight-None", lambda: F.conv2d(X, None), TypeError,
          r"^conv2d: weight must be a Tensor, array or number, got NoneType"),
    _case("conv2d-input-2d", lambda: F.conv2d(np.zeros((5, 5), f32), W), ValueError,
          r"^conv2d: input must be 3-D \(C, H, W\) or 4-D \(N, C, H, W\), got shape \(5, 5\)"),
    _case("conv2d-input-5d", lambda: F.conv2d(np.zeros((1, 1, 2, 5, 5), f32), W), ValueError,
          r"^conv2d: input must be 3-D .* got shape \(1, 1, 2, 5, 5\)"),
    _case("conv2d-input-scalar", lambda: F.conv2d(3.0, W), ValueError,
          r"^conv2d: input must be 3-D .* got shape \(\)"),
    _case("conv2d-weight-3d", lambda: F.conv2d(X, np.zeros((3, 2, 3), f32)), ValueError,
          r"^conv2d: weight must be 4-D, got shape \(3, 2, 3\)"),
    _case("conv2d-weight-empty", lambda: F.conv2d(X, np.zeros((0, 2, 3, 3), f32)), ValueError,
          r"^conv2d: weight must have no empty dimension, got shape \(0, 2, 3, 3\)"),
    _case("conv2d-channels", lambda: F.conv2d(np.zeros((1, 4, 5, 5), f32), W), ValueError,
          r"^conv2d: input has 4 channels, but weight of shape \(3, 2, 3, 3\) with groups=1 "
          r"expects weight.shape\[1\] \* groups = 2 \* 1 = 2 channels"),
    _case("conv2d-groups-out-channels",
          lambda: F.conv2d(np.zeros((1, 4, 5, 5), f32), W, groups=2), ValueError,
          r"^conv2d: out_channels \(weight.shape\[0\] = 3\) must be divisible by groups = 2"),
    _case("conv2d-groups-zero", lambda: F.conv2d(X, W, groups=0), ValueError,
          r"^conv2d: groups must be >= 1, got 0"),
    _case("conv2d-groups-float", lambda: F.conv2d(X, W, groups=1.0), TypeError,
          r"^conv2d: groups must be an int >= 1, got 1.0"),
    _case("conv2d-groups-bool", lambda: F.conv2d(X, W, groups=True), TypeError,
          r"^conv2d: groups must be an int >= 1, got True"),
    _case("conv2d-bias-shape", lambda: F.conv2d(X, W, bias=np.zeros(2, f32)), ValueError,
          r"^conv2d: bias must have shape \(3,\) \(one value per output channel\), got shape "
          r"\(2,\)"),
    _case("conv2d-bias-str", lambda: F.conv2d(X, W, bias="b"), TypeError,
          r"^conv2d: bias must be a Tensor, array or number, got str \(.*'b'"),
    _case("conv2d-bias-dtype", lambda: F.conv2d(X, W, bias=np.zeros(3)), TypeError,
          r"^conv2d: input dtype cnnlab.float32 and bias dtype cnnlab.float64 differ"),
    _case("conv2d-stride-zero", lambda: F.conv2d(X, W, stride=0), ValueError,
          r"^conv2d: stride must be >= 1, got 0"),
    _case("conv2d-stride-negative", lambda: F.conv2d(X, W, stride=(1, -2)), ValueError,
          r"^conv2d: stride must be >= 1, got \(1, -2\)"),
    _case("conv2d-stride-float", lambda: F.conv2d(X, W, stride=1.5), TypeError,
          r"^conv2d: stride must be an int or a pair of ints \(height, width\), got 1.5"),
    _case("conv2d-stride-bool", lambda: F.conv2d(X, W, stride=True), TypeError,
          r"^conv2d: stride must be an int or a pair of ints .*, got True"),
    _case("conv2d-stride-None", lambda: F.conv2d(X, W, stride=None), TypeError,
          r"^conv2d: stride must be an int or a pair of ints .*, got None"),
    _case("conv2d-stride-str", lambda: F.conv2d(X, W, stride="2"), TypeError,
          r"^conv2d: stride must be an int or a pair of ints .*, got '2'"),
    _case("conv2d-stride-triple", lambda: F.conv2d(X, W, stride=(1, 1, 1)), TypeError,
          r"^conv2d: stride must be an int or a pair of ints .*, got \(1, 1, 1\)"),
    _case("conv2d-padding-negative", lambda: F.conv2d(X, W, padding=-1), ValueError,
          r"^conv2d: padding must be non-negative, got -1"),
    _case("conv2d-padding-per-side-negative",
          lambda: F.conv2d(X, W, padding=((0, -1), (0, 0))), ValueError,
          r"^conv2d: padding must be non-negative, got \(\(0, -1\), \(0, 0\)\)"),
    _case("conv2d-padding-float", lambda: F.conv2d(X, W, padding=0.5), TypeError,
          r"^conv2d: padding must be an int, \(pad_h, pad_w\), \(\(top, bottom\), \(left, "
          r"right\)\), 'valid' or 'same', got 0.5"),
    _case("conv2d-padding-triple", lambda: F.conv2d(X, W, padding=(1, 1, 1)), TypeError,
          r"^conv2d: padding must be an int, .* got \(1, 1, 1\)"),
    _case("conv2d-padding-unknown-string", lambda: F.conv2d(X, W, padding="full"), ValueError,
          r"^conv2d: padding string must be 'valid' or 'same', got 'full'"),
    _case("conv2d-dilation-zero", lambda: F.conv2d(X, W, dilation=0), ValueError,
          r"^conv2d: dilation must be >= 1, got 0"),
    _case("conv2d-dilation-str", lambda: F.conv2d(X, W, dilation="2"), TypeError,
          r"^conv2d: dilation must be an int or a pair of ints .*, got '2'"),
    _case("conv2d-kernel-too-large", lambda: F.conv2d(X, np.zeros((3, 2, 7, 7), f32)),
          ValueError,
          r"^conv2d: kernel size \(7, 7\) with dilation \(1, 1\) spans 7 along the height, "
          r"larger than the padded input 5 \+ 0 \+ 0 = 5; the output would be empty: out_height"
          r" = floor\(\(in \+ pad_lo \+ pad_hi - dilation\*\(kernel-1\) - 1\) / stride\) \+ 1 ="
          r" floor\(\(5 \+ 0 \+ 0 - 1\*\(7-1\) - 1\) / 1\) \+ 1 = -1"),
    _case("conv2d-dilated-kernel-too-large", lambda: F.conv2d(X, W, dilation=(1, 3)),
          ValueError,
          r"^conv2d: kernel size \(3, 3\) with dilation \(1, 3\) spans 7 along the width, "
          r"larger than the padded input 5 \+ 0 \+ 0 = 5"),
    _case("conv2d-padding-mode", lambda: F.conv2d(X, W, padding_mode="zero"), ValueError,
          r"^conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', "
          r"'circular'\), got 'zero'"),
    _case("conv2d-dtype-float64-weight", lambda: F.conv2d(X, W.astype(np.float64)), TypeError,
          r"^conv2d: input dtype cnnlab.float32 and weight dtype cnnlab.float64 differ"),
    _case("conv2d-dtype-int-weight", lambda: F.conv2d(X, W.astype(np.int64)), TypeError,
          r"^conv2d: input dtype cnnlab.float32 and weight dtype cnnlab.int64 differ"),
    # -------------------------------------------------------- conv_transpose2d
    _case("conv_transpose2d-channels", lambda: F.conv_transpose2d(X, np.zeros((4, 3, 3, 3), f32)),
          ValueError,
          r"^conv_transpose2d: input has 2 channels, but weight of shape \(4, 3, 3, 3\) expects "
          r"weight.shape\[0\] = 4"),
    _case("conv_transpose2d-groups", lambda: F.conv_transpose2d(
        np.zeros((1, 3, 5, 5), f32), np.zeros((3, 1, 3, 3), f32), groups=2), ValueError,
        r"^conv_transpose2d: in_channels \(3\) must be divisible by groups = 2"),
    _case("conv_transpose2d-output-padding-too-large",
          lambda: F.conv_transpose2d(X, WT, stride=2, output_padding=2), ValueError,
          r"^conv_transpose2d: output_padding must be smaller than either stride or dilation, "
          r"got output_padding \(2, 2\), stride \(2, 2\), dilation \(1, 1\)"),
    _case("conv_transpose2d-output-padding-negative",
          lambda: F.conv_transpose2d(X, WT, output_padding=-1), ValueError,
          r"^conv_transpose2d: output_padding must be >= 0, got -1"),
    _case("conv_transpose2d-output-padding-float",
          lambda: F.conv_transpose2d(X, WT, stride=2, output_padding=0.5), TypeError,
          r"^conv_transpose2d: output_padding must be an int or a pair of ints .*, got 0.5"),
    _case("conv_transpose2d-empty-output", lambda: F.conv_transpose2d(X, WT, padding=5),
          ValueError,
          r"^conv_transpose2d: the output height would be -3: out = \(in - 1\)\*stride - pad_lo"
          r" - pad_hi \+ dilation\*\(kernel-1\) \+ output_padding \+ 1 = \(5 - 1\)\*1 - 5 - 5 \+ "
          r"1\*\(3-1\) \+ 0 \+ 1 = -3"),
    _case("conv_transpose2d-same-with-output-padding",
          lambda: F.conv_transpose2d(X, WT, stride=2, padding="same", output_padding=1),
          ValueError,
          r"^conv_transpose2d: padding='same' chooses the output padding itself; output_padding "
          r"must be 0, got \(1, 1\)"),
    _case("conv_transpose2d-dtype", lambda: F.conv_transpose2d(X, WT.astype(np.float16)),
          TypeError,
          r"^conv_transpose2d: input dtype cnnlab.float32 and weight dtype cnnlab.float16 "
          r"differ"),
    _case("conv_transpose2d-bias-shape",
          lambda: F.conv_transpose2d(X, WT, bias=np.zeros(2, f32)), ValueError,
          r"^conv_transpose2d: bias must have shape \(3,\) .*got shape \(2,\)"),
    _case("ConvTranspose2d-output_size-unreachable",
          lambda: nn.ConvTranspose2d(2, 3, 3, stride=2)(X, output_size=(20, 20)), ValueError,
          r"^ConvTranspose2d: output_size \(20, 20\) is not reachable: the output height must "
          r"be between 11 and 12"),
    _case("ConvTranspose2d-output_size-int",
          lambda: nn.ConvTranspose2d(2, 3, 3, stride=2)(X, output_size=11), TypeError,
          r"^ConvTranspose2d: output_size must be \(height, width\) .*, got 11$"),
    _case("ConvTranspose2d-output_size-floats",
          lambda: nn.ConvTranspose2d(2, 3, 3, stride=2)(X, output_size=(11.0, 11.0)), TypeError,
          r"^ConvTranspose2d: output_size must be .*, got \(11.0, 11.0\)"),
    _case("ConvTranspose2d-output_size-length",
          lambda: nn.ConvTranspose2d(2, 3, 3, stride=2)(X, output_size=(11,)), TypeError,
          r"^ConvTranspose2d: output_size must be .*, got \(11,\)"),
    _case("ConvTranspose2d-output_size-same",
          lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding="same")(X, output_size=(11, 11)),
          ValueError,
          r"^ConvTranspose2d: with padding='same' the output size is input size \* stride = "
          r"\(10, 10\); output_size \(11, 11\) is not reachable"),
    # ----------------------------------------------------------- unfold / fold
    _case("unfold-kernel-zero", lambda: F.unfold(X, 0), ValueError,
          r"^unfold: kernel_size must be >= 1, got 0"),
    _case("unfold-kernel-too-large", lambda: F.unfold(X, 6), ValueError,
          r"^unfold: kernel size \(6, 6\) with dilation \(1, 1\) spans 6 along the height"),
    _case("unfold-input-2d", lambda: F.unfold(np.zeros((5, 5)), 2), ValueError,
          r"^unfold: input must be 3-D \(C, H, W\) or 4-D \(N, C, H, W\), got shape \(5, 5\)"),
    _case("unfold-stride-float", lambda: F.unfold(X, 2, stride=1.0), TypeError,
          r"^unfold: stride must be an int or a pair of ints .*, got 1.0"),
    _case("fold-output_size-None", lambda: F.fold(np.zeros((1, 4, 4)), None, 2), TypeError,
          r"^fold: output_size must be an int or a pair of ints .*, got None"),
    _case("fold-rows", lambda: F.fold(np.zeros((1, 5, 4)), (3, 3), 2), ValueError,
          r"^fold: input.shape\[-2\] = 5 must be divisible by the product of kernel_size "
          r"\(2, 2\) = 4"),
    _case("fold-blocks", lambda: F.fold(np.zeros((1, 4, 5)), (3, 3), 2), ValueError,
          r"^fold: input.shape\[-1\] = 5 must equal the number of sliding blocks 2 \* 2 = 4 "
          r"for output_size \(3, 3\)"),
    _case("fold-input-4d", lambda: F.fold(np.zeros((1, 1, 4, 4)), (3, 3), 2), ValueError,
          r"^fold: input must be 2-D \(C \* kh \* kw, L\) or 3-D \(N, C \* kh \* kw, L\), got "
          r"shape \(1, 1, 4, 4\)"),
    # ----------------------------------------------------------------- pooling
    _case("max_pool2d-kernel-zero", lambda: F.max_pool2d(P, 0), ValueError,
          r"^max_pool2d: kernel_size must be >= 1, got 0"),
    _case("max_pool2d-kernel-None", lambda: F.max_pool2d(P, None), TypeError,
          r"^max_pool2d: kernel_size must be an int or a pair of ints .*, got None"),
    _case("max_pool2d-kernel-str", lambda: F.max_pool2d(P, "2"), TypeError,
          r"^max_pool2d: kernel_size must be an int or a pair of ints .*, got '2'"),
    _case("max_pool2d-kernel-bool", lambda: F.max_pool2d(P, True), TypeError,
          r"^max_pool2d: kernel_size must be an int or a pair of ints .*, got True"),
    _case("max_pool2d-kernel-triple", lambda: F.max_pool2d(P, (2, 2, 2)), TypeError,
          r"^max_pool2d: kernel_size must be an int or a pair of ints .*, got \(2, 2, 2\)"),
    _case("max_pool2d-stride-negative", lambda: F.max_pool2d(P, 2, stride=-1), ValueError,
          r"^max_pool2d: stride must be >= 1, got -1"),
    _case("max_pool2d-padding-leaves-empty-window", lambda: F.max_pool2d(P, 2, padding=2),
          ValueError,
          r"^max_pool2d: padding \(2, 2\) along the height leaves window 0 \(of 4\) with no "
          r"input element"),
    _case("max_pool2d-huge-padding", lambda: F.max_pool2d(P, 2, padding=10**13), ValueError,
          r"^max_pool2d: padding \(10000000000000, 10000000000000\) along the height leaves "
          r"window 0"),
    _case("max_pool2d-kernel-too-large", lambda: F.max_pool2d(P, 5), ValueError,
          r"^max_pool2d: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 along the height, "
          r"larger than the padded input 4 \+ 0 \+ 0 = 4"),
    _case("max_pool2d-dilation-zero", lambda: F.max_pool2d(P, 2, dilation=0), ValueError,
          r"^max_pool2d: dilation must be >= 1, got 0"),
    _case("max_pool2d-ceil_mode-str", lambda: F.max_pool2d(P, 2, ceil_mode="yes"), TypeError,
          r"^max_pool2d: ceil_mode must be True or False, got 'yes'"),
    _case("max_pool2d-input-bool", lambda: F.max_pool2d(P.astype(bool), 2), TypeError,
          r"^max_pool2d: input dtype cnnlab.bool is not supported"),
    _case("max_pool2d-input-complex", lambda: F.max_pool2d(P.astype(complex), 2), TypeError,
          r"^max_pool2d: input must be a Tensor, array or number, got ndarray \(.*complex128"),
    _case("avg_pool2d-divisor-zero", lambda: F.avg_pool2d(P, 2, divisor_override=0), ValueError,
          r"^avg_pool2d: divisor_override must be a non-zero int or None, got 0"),
    _case("avg_pool2d-count_include_pad-None",
          lambda: F.avg_pool2d(P, 2, count_include_pad=None), TypeError,
          r"^avg_pool2d: count_include_pad must be True or False, got None"),
    _case("avg_pool2d-padding-string", lambda: F.avg_pool2d(P, 2, padding="full"), ValueError,
          r"^avg_pool2d: padding string must be 'valid' or 'same', got 'full'"),
    _case("lp_pool2d-norm-zero", lambda: F.lp_pool2d(P, 0, 2), ValueError,
          r"^lp_pool2d: norm_type must be a number > 0 \(inf for the maximum\), got 0"),
    _case("lp_pool2d-norm-None", lambda: F.lp_pool2d(P, None, 2), ValueError,
          r"^lp_pool2d: norm_type must be a number > 0 .*, got None"),
    _case("lp_pool2d-kernel-float", lambda: F.lp_pool2d(P, 2, 2.0), TypeError,
          r"^lp_pool2d: kernel_size must be an int or a pair of ints .*, got 2.0"),
    _case("adaptive_avg_pool2d-negative", lambda: F.adaptive_avg_pool2d(P, (-1, 2)), ValueError,
          r"^adaptive_avg_pool2d: output_size must be >= 0, got \(-1, 2\)"),
    _case("adaptive_avg_pool2d-str", lambda: F.adaptive_avg_pool2d(P, "2"), TypeError,
          r"^adaptive_avg_pool2d: output_size must be an int or a pair \(height, width\) of "
          r"ints or None, got '2'"),
    _case("adaptive_max_pool2d-triple", lambda: F.adaptive_max_pool2d(P, (1, 1, 1)), TypeError,
          r"^adaptive_max_pool2d: output_size must be an int or a pair .*, got \(1, 1, 1\)"),
    _case("adaptive_max_pool2d-empty-input",
          lambda: F.adaptive_max_pool2d(np.zeros((1, 0, 4)), 2), ValueError,
          r"^adaptive_max_pool2d: input must have a non-zero height and width, got shape "
          r"\(1, 1, 0, 4\)"),
    # ------------------------------------------------------------ max_unpool2d
    _case("max_unpool2d-index-too-large",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), np.full((1, 2, 2), 16), 2), ValueError,
          r"^max_unpool2d: found an invalid max index 16: indices must lie in \[0, 16\) for an "
          r"output plane of size 4x4"),
    _case("max_unpool2d-index-negative",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), np.full((1, 2, 2), -3), 2), ValueError,
          r"^max_unpool2d: found an invalid max index -3: indices must lie in \[0, 16\)"),
    _case("max_unpool2d-output_size-too-small-for-indices",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), np.full((1, 2, 2), 15), 2,
                                 output_size=(3, 3)), ValueError,
          r"^max_unpool2d: found an invalid max index 15: indices must lie in \[0, 9\) for an "
          r"output plane of size 3x3"),
    _case("max_unpool2d-indices-float", lambda: F.max_unpool2d(np.ones((1, 2, 2)), IDX * 1.0, 2),
          TypeError,
          r"^max_unpool2d: indices must have an integer dtype \(int64 as returned by "
          r"max_pool2d\), got cnnlab.float64"),
    _case("max_unpool2d-indices-shape",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), np.zeros((1, 2, 3), np.int64), 2),
          ValueError,
          r"^max_unpool2d: indices shape \(1, 1, 2, 3\) must match the input shape "
          r"\(1, 1, 2, 2\)"),
    _case("max_unpool2d-indices-None", lambda: F.max_unpool2d(np.ones((1, 2, 2)), None, 2),
          TypeError, r"^max_unpool2d: indices must be a Tensor, array or number, got NoneType"),
    _case("max_unpool2d-output_size-str",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), IDX, 2, output_size="44"), TypeError,
          r"^max_unpool2d: output_size must be \(height, width\) or the full output shape "
          r"\(3 ints\), got '44'"),
    _case("max_unpool2d-output_size-zero",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), IDX, 2, output_size=(0, 4)), ValueError,
          r"^max_unpool2d: output_size must be >= 1, got \(0, 4\)"),
    _case("max_unpool2d-padding-same",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), IDX, 2, padding="same"), TypeError,
          r"^max_unpool2d: padding must be an int, .* got 'same'"),
    _case("max_unpool2d-stride-zero",
          lambda: F.max_unpool2d(np.ones((1, 2, 2)), IDX, 2, stride=0), ValueError,
          r"^max_unpool2d: stride must be >= 1, got 0"),
    # --------------------------------------------------------------------- pad
    _case("pad-odd-length", lambda: F.pad(X, (1, 2, 3)), ValueError,
          r"^pad: pad must hold \(before, after\) pairs, so its length must be divisible by 2, "
          r"got 3 values \(1, 2, 3\)"),
    _case("pad-too-many-dims", lambda: F.pad(np.zeros((2, 3)), (1, 1, 1, 1, 1, 1)), ValueError,
          r"^pad: pad \(1, 1, 1, 1, 1, 1\) pads 3 dimensions, but the input has only 2"),
    _case("pad-mode-unknown", lambda: F.pad(X, (1, 1), mode="reflection"), ValueError,
          r"^pad: mode must be one of \('constant', 'reflect', 'replicate', 'circular'\), "
          r"got 'reflection'"),
    _case("pad-float", lambda: F.pad(X, (1.5, 1)), TypeError,
          r"^pad: pad must be a tuple of ints .*, got \(1.5, 1\)"),
    _case("pad-None", lambda: F.pad(X, None), TypeError,
          r"^pad: pad must be a tuple of ints .*, got None"),
    _case("pad-value-str", lambda: F.pad(X, (1, 1), value="a"), TypeError,
          r"^pad: value must be a real number or None, got 'a'"),
    _case("pad-value-list", lambda: F.pad(X, (1, 1), value=[1, 2]), TypeError,
          r"^pad: value must be a real number or None, got \[1, 2\]"),
    _case("pad-value-with-reflect", lambda: F.pad(X, (1, 1), mode="reflect", value=1),
          ValueError, r"^pad: mode 'reflect' does not take a value \(got value=1\)"),
    _case("pad-reflect-rank", lambda: F.pad(np.zeros(5), (1, 1, 1, 1), mode="reflect"),
          ValueError,
          r"^pad: pad \(1, 1, 1, 1\) pads 2 dimensions, but the input has only 1"),
    _case("pad-reflect-wrong-rank", lambda: F.pad(np.zeros((1, 1, 1, 5)), (1, 1), "reflect"),
          ValueError,
          r"^pad: mode 'reflect' pads the last 1, 2 or 3 dimensions .* got a pad of length 2 "
          r"and a 4-D input"),
    _case("pad-crop-below-zero", lambda: F.pad(np.zeros((2, 3)), (-2, -2)), ValueError,
          r"^pad: padding \(-2, -2\) of dimension 1 \(size 3\) gives a negative size: "
          r"3 \+ -2 \+ -2 = -1"),
    # ---------------------------------------------------- correlate / convolve
    _case("correlate2d-mode", lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), mode="x"),
          ValueError, r"^correlate2d: mode must be one of \('full', 'same', 'valid'\), got 'x'"),
    _case("correlate2d-boundary-list",
          lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), boundary=["fill"]), ValueError,
          r"^correlate2d: boundary must be 'fill', 'wrap' or 'symm' .*, got \['fill'\]"),
    _case("correlate2d-fillvalue-str",
          lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), fillvalue="a"), TypeError,
          r"^correlate2d: fillvalue must be a real number, got 'a'"),
    _case("correlate2d-fillvalue-None",
          lambda: F.correlate2d(np.ones((3, 3)), np.ones((2, 2)), fillvalue=None), TypeError,
          r"^correlate2d: fillvalue must be a real number, got None"),
    _case("convolve2d-in1-3d", lambda: F.convolve2d(np.ones((1, 3, 3)), np.ones((2, 2))),
          ValueError, r"^convolve2d: in1 must be a 2-D array \(height, width\), got shape "
                      r"\(1, 3, 3\)"),
    _case("convolve2d-valid-kernel-too-large",
          lambda: F.convolve2d(np.ones((2, 2)), np.ones((3, 3)), mode="valid"), ValueError,
          r"^convolve2d: in mode 'valid' the kernel in2 \(3, 3\) must fit inside in1 \(2, 2\)"),
    # ------------------------------------------------ linear, activations, loss
    _case("linear-weight-3d", lambda: F.linear(np.zeros((2, 3)), np.zeros((1, 4, 3))),
          ValueError, r"^linear: weight must be 2-D \(out_features, in_features\), got shape "
                      r"\(1, 4, 3\)"),
    _case("linear-in-features", lambda: F.linear(np.zeros((2, 5)), np.zeros((4, 3))),
          ValueError, r"^linear: input's last dimension must equal in_features = 3, got input "
                      r"shape \(2, 5\)"),
    _case("linear-bias-shape",
          lambda: F.linear(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(3)), ValueError,
          r"^linear: bias must have shape \(4,\), got \(3,\)"),
    _case("linear-dtype", lambda: F.linear(np.zeros((2, 3)), np.zeros((4, 3), f32)), TypeError,
          r"^linear: input dtype cnnlab.float64 and weight dtype cnnlab.float32 differ"),
    _case("dropout-p-str", lambda: F.dropout(np.zeros(3), "a"), TypeError,
          r"^dropout: p must be a probability in \[0, 1\], got 'a'"),
    _case("dropout-p-range", lambda: F.dropout(np.zeros(3), 1.5), ValueError,
          r"^dropout: p must be a probability in \[0, 1\], got 1.5"),
    _case("softmax-dim-str", lambda: F.softmax(np.zeros(3), "a"), TypeError,
          r"^softmax: dim must be an int, got 'a'"),
    _case("cross_entropy-reduction", lambda: F.cross_entropy(LOGITS, [0, 1], reduction="avg"),
          ValueError,
          r"^cross_entropy: reduction must be one of \('mean', 'sum', 'none'\), got 'avg'"),
    _case("cross_entropy-target-out-of-range", lambda: F.cross_entropy(LOGITS, [0, 5]),
          ValueError, r"^cross_entropy: target 5 is out of bounds for 3 classes \(allowed: 0..2 "
                      r"or ignore_index=-100\)"),
    _case("cross_entropy-target-shape", lambda: F.cross_entropy(LOGITS, [0, 1, 2]), ValueError,
          r"^cross_entropy: target shape \(3,\) does not match input shape \(2, 3\)"),
    _case("cross_entropy-label_smoothing-str",
          lambda: F.cross_entropy(LOGITS, [0, 1], label_smoothing="a"), TypeError,
          r"^cross_entropy: label_smoothing must be a number in \[0, 1\], got 'a'"),
    _case("cross_entropy-label_smoothing-range",
          lambda: F.cross_entropy(LOGITS, [0, 1], label_smoothing=1.5), ValueError,
          r"^cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"),
    _case("cross_entropy-weight-shape",
          lambda: F.cross_entropy(LOGITS, [0, 1], weight=[1.0]), ValueError,
          r"^cross_entropy: weight must have shape \(3,\) \(one value per class\), got shape "
          r"\(1,\)"),
    _case("cross_entropy-probability-weight-shape",
          lambda: F.cross_entropy(LOGITS, np.full((2, 3), 1 / 3, f32), weight=[1.0, 2.0]),
          ValueError, r"^cross_entropy: weight must have shape \(3,\)"),
    _case("nll_loss-target-float", lambda: F.nll_loss(LOGITS, [0.0, 1.0]), TypeError,
          r"^nll_loss: target must hold integer class indices, got cnnlab.float32"),
    _case("nll_loss-weight-shape", lambda: F.nll_loss(LOGITS, [0, 1], weight=np.ones(4)),
          ValueError, r"^nll_loss: weight must have shape \(3,\) .*got shape \(4,\)"),
    _case("nll_loss-ignore_index-float", lambda: F.nll_loss(LOGITS, [0, 1], ignore_index=1.5),
          TypeError, r"^nll_loss: ignore_index must be an int, got 1.5"),
    _case("mse_loss-shapes", lambda: F.mse_loss(np.zeros((2, 3)), np.zeros(4)), ValueError,
          r"^mse_loss: input shape \(2, 3\) and target shape \(4,\) cannot be broadcast "
          r"together"),
    _case("mse_loss-reduction", lambda: F.mse_loss(np.zeros(2), np.zeros(2), reduction=None),
          ValueError, r"^mse_loss: reduction must be one of .*, got None"),
    # ----------------------------------------------------------------- modules
    _case("Conv2d-in_channels-float", lambda: nn.Conv2d(2.0, 4, 3), TypeError,
          r"^Conv2d: in_channels must be a positive int, got 2.0"),
    _case("Conv2d-in_channels-zero", lambda: nn.Conv2d(0, 4, 3), ValueError,
          r"^Conv2d: in_channels must be a positive int, got 0"),
    _case("Conv2d-out_channels-None", lambda: nn.Conv2d(2, None, 3), TypeError,
          r"^Conv2d: out_channels must be a positive int, got None"),
    _case("Conv2d-groups-str", lambda: nn.Conv2d(2, 4, 3, groups="2"), TypeError,
          r"^Conv2d: groups must be a positive int, got '2'"),
    _case("Conv2d-groups-divisibility", lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
          r"^Conv2d: in_channels \(3\) and out_channels \(4\) must both be divisible by groups "
          r"\(2\)"),
    _case("Conv2d-kernel-zero", lambda: nn.Conv2d(2, 4, 0), ValueError,
          r"^Conv2d: kernel_size must be >= 1, got 0"),
    _case("Conv2d-padding_mode", lambda: nn.Conv2d(2, 4, 3, padding_mode="mirror"), ValueError,
          r"^Conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', "
          r"'circular'\), got 'mirror'"),
    _case("Conv2d-padding-string", lambda: nn.Conv2d(2, 4, 3, padding="SAME"), ValueError,
          r"^Conv2d: padding string must be 'valid' or 'same', got 'SAME'"),
    _case("Conv2d-forward-channels", lambda: nn.Conv2d(3, 4, 3)(X), ValueError,
          r"^conv2d: input has 2 channels, but weight of shape \(4, 3, 3, 3\)"),
    _case("Conv2d-forward-dtype", lambda: nn.Conv2d(2, 4, 3)(X.astype(np.float64)), TypeError,
          r"^conv2d: input dtype cnnlab.float64 and weight dtype cnnlab.float32 differ"),
    _case("ConvTranspose2d-padding_mode",
          lambda: nn.ConvTranspose2d(2, 4, 3, padding_mode="reflect"), ValueError,
          r"^ConvTranspose2d: only padding_mode='zeros' is supported, got 'reflect'"),
    _case("Linear-float", lambda: nn.Linear(2.5, 3), TypeError,
          r"^Linear: in_features must be a non-negative int, got 2.5"),
    _case("Linear-negative", lambda: nn.Linear(2, -3), ValueError,
          r"^Linear: out_features must be a non-negative int, got -3"),
    _case("Linear-forward-shape", lambda: nn.Linear(4, 3)(np.zeros((2, 5), f32)), ValueError,
          r"^linear: input's last dimension must equal in_features = 4, got input shape "
          r"\(2, 5\)"),
    _case("Dropout-p", lambda: nn.Dropout(p=-0.1), ValueError,
          r"^Dropout: p must be a probability in \[0, 1\], got -0.1"),
    _case("MaxPool2d-kernel-zero", lambda: nn.MaxPool2d(0), ValueError,
          r"^MaxPool2d: kernel_size must be >= 1, got 0"),
    _case("MaxPool2d-ceil_mode", lambda: nn.MaxPool2d(2, ceil_mode="no"), TypeError,
          r"^MaxPool2d: ceil_mode must be True or False, got 'no'"),
    _case("MaxPool2d-padding-negative", lambda: nn.MaxPool2d(2, padding=-1), ValueError,
          r"^MaxPool2d: padding must be non-negative, got -1"),
    _case("AvgPool2d-divisor", lambda: nn.AvgPool2d(2, divisor_override=0), ValueError,
          r"^AvgPool2d: divisor_override must be a non-zero int or None, got 0"),
    _case("LPPool2d-norm", lambda: nn.LPPool2d(-1, 2), ValueError,
          r"^LPPool2d: norm_type must be a number > 0 .*, got -1"),
    _case("AdaptiveAvgPool2d-negative", lambda: nn.AdaptiveAvgPool2d(-2), ValueError,
          r"^AdaptiveAvgPool2d: output_size must be >= 0, got -2"),
    _case("AdaptiveMaxPool2d-str", lambda: nn.AdaptiveMaxPool2d("7"), TypeError,
          r"^AdaptiveMaxPool2d: output_size must be an int or a pair .*, got '7'"),
    _case("MaxUnpool2d-padding-same", lambda: nn.MaxUnpool2d(2, padding="same"), TypeError,
          r"^MaxUnpool2d: padding must be an int, .* got 'same'"),
    # -------------------------------------------------------------- optimisers
    _case("SGD-lr-negative", lambda: optim.SGD(_params(), lr=-1), ValueError,
          r"^SGD: lr must be a number in \[0.0, inf\), got -1"),
    _case("SGD-lr-str", lambda: optim.SGD(_params(), lr="0.1"), TypeError,
          r"^SGD: lr must be a number in \[0.0, inf\), got '0.1'"),
    _case("SGD-lr-nan", lambda: optim.SGD(_params(), lr=math.nan), ValueError,
          r"^SGD: lr must be a number in \[0.0, inf\), got nan"),
    _case("SGD-momentum-negative", lambda: optim.SGD(_params(), lr=0.1, momentum=-0.5),
          ValueError, r"^SGD: momentum must be a number in \[0.0, inf\), got -0.5"),
    _case("SGD-dampening-str", lambda: optim.SGD(_params(), lr=0.1, dampening="x"), TypeError,
          r"^SGD: dampening must be a number in \[0.0, inf\), got 'x'"),
    _case("SGD-nesterov-str", lambda: optim.SGD(_params(), lr=0.1, momentum=0.9, nesterov="y"),
          TypeError, r"^SGD: nesterov must be True or False, got 'y'"),
    _case("SGD-nesterov-without-momentum", lambda: optim.SGD(_params(), lr=0.1, nesterov=True),
          ValueError, r"^SGD: Nesterov momentum requires a momentum > 0 and zero dampening"),
    _case("SGD-params-None", lambda: optim.SGD(None, lr=0.1), TypeError,
          r"^SGD: params must be an iterable of Tensors or dicts \(e.g. model.parameters\(\)\), "
          r"got NoneType"),
    _case("SGD-params-module", lambda: optim.SGD(nn.Linear(2, 2), lr=0.1), TypeError,
          r"^SGD: params must be an iterable of Tensors or dicts .*, got Linear"),
    _case("SGD-params-tensor", lambda: optim.SGD(cnnlab.zeros(3, requires_grad=True), lr=0.1),
          TypeError, r"^SGD: params must be an iterable of Tensors or dicts .*got a single "
                     r"Tensor"),
    _case("SGD-params-empty", lambda: optim.SGD([], lr=0.1), ValueError,
          r"^SGD: got an empty parameter list"),
    _case("SGD-params-arrays", lambda: optim.SGD([np.zeros(3)], lr=0.1), TypeError,
          r"^SGD: params must be Tensors, got ndarray"),
    _case("SGD-params-no-grad", lambda: optim.SGD([cnnlab.zeros(3)], lr=0.1), ValueError,
          r"^SGD: can't optimize a tensor that does not require grad"),
    _case("SGD-group-without-params", lambda: optim.SGD([{"lr": 0.1}], lr=0.1), TypeError,
          r"^SGD: a parameter group must be a dict with a 'params' key, got \{'lr': 0.1\}"),
    _case("Adam-betas-scalar", lambda: optim.Adam(_params(), betas=0.9), ValueError,
          r"^Adam: betas must be a pair of numbers in \[0, 1\), got 0.9"),
    _case("Adam-beta-one", lambda: optim.Adam(_params(), betas=(0.9, 1.0)), ValueError,
          r"^Adam: betas\[1\] must be a number in \[0.0, 1.0\), got 1.0"),
    _case("Adam-eps-negative", lambda: optim.Adam(_params(), eps=-1e-8), ValueError,
          r"^Adam: eps must be a number in \[0.0, inf\), got -1e-08"),
    _case("Adam-amsgrad-str", lambda: optim.Adam(_params(), amsgrad="yes"), TypeError,
          r"^Adam: amsgrad must be True or False, got 'yes'"),
    # ------------------------------------------------ shapes, chapter, tensors
    _case("conv2d_output_shape-input_size-str", lambda: cnnlab.conv2d_output_shape("ab", 3),
          TypeError,
          r"^conv2d_output_shape: input_size must be an int or a shape ending in \(height, "
          r"width\), got 'ab'"),
    _case("pool2d_output_shape-input_size-None", lambda: cnnlab.pool2d_output_shape(None, 3),
          TypeError, r"^pool2d_output_shape: input_size must be an int or a shape .*, got None"),
    _case("conv2d_output_shape-kernel-too-large", lambda: cnnlab.conv2d_output_shape(4, 5),
          ValueError,
          r"^conv2d_output_shape: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 along the "
          r"height"),
    _case("pool2d-mode", lambda: cnnlab.pool2d(np.ones((3, 3)), 2, mode="sum"), ValueError,
          r"^pool2d: mode must be 'max' or 'avg', got 'sum'"),
    _case("pool2d-pool_size-zero", lambda: cnnlab.pool2d(np.ones((3, 3)), 0), ValueError,
          r"^pool2d: pool_size must be >= 1, got 0"),
    _case("corr2d-X-3d", lambda: cnnlab.corr2d(np.ones((2, 3, 3)), np.ones((2, 2))), ValueError,
          r"^corr2d: X must be 2-D \(height, width\), got shape \(2, 3, 3\)"),
    _case("corr2d-K-too-large", lambda: cnnlab.corr2d(np.ones((2, 2)), np.ones((3, 1))),
          ValueError, r"^corr2d: kernel size \(3, 1\) with dilation \(1, 1\) spans 3 along the "
                      r"height, larger than the padded input 2"),
    _case("corr2d_multi_in-channels",
          lambda: cnnlab.corr2d_multi_in(np.ones((2, 3, 3)), np.ones((3, 2, 2))), ValueError,
          r"^corr2d_multi_in: X has 2 input channels but K has 3"),
    _case("zeros-negative", lambda: cnnlab.zeros(-1), TypeError,
          r"^zeros: size must be non-negative ints, got \(-1,\)"),
    _case("add-broadcast", lambda: cnnlab.zeros(4) + cnnlab.zeros(3), ValueError,
          r"^add: shapes \(4,\), \(3,\) cannot be broadcast together"),
    _case("mul-broadcast", lambda: cnnlab.ones(2, 3) * np.ones((4, 1)), ValueError,
          r"^mul: shapes \(2, 3\), \(4, 1\) cannot be broadcast together"),
    _case("reshape-size", lambda: cnnlab.zeros(4).reshape(5), ValueError,
          r"^reshape: shape \[5\] is invalid for a tensor of shape \[4\] \(4 elements\)"),
]


@pytest.mark.parametrize("call,error,pattern", CASES)
def test_bad_input_is_a_clear_error(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_the_table_is_large_enough():
    assert len(CASES) >= 60


def _check_clean(excinfo, function_names):
    """The error is cnnlab's own: ValueError or TypeError (exactly), raised inside
    cnnlab, with a message that starts by naming the function."""
    error = excinfo.value
    assert type(error) in (ValueError, TypeError), f"{type(error).__name__}: {error}"
    message = str(error)
    prefix = re.match(r"^([A-Za-z_][\w.]*): \S", message)
    assert prefix, f"message does not start with 'function: ': {message!r}"
    if function_names is not None:
        assert prefix.group(1) in function_names, message
    innermost = Path(str(excinfo.traceback[-1].path)).resolve()
    assert CNNLAB_SOURCE in innermost.parents, f"raised in {innermost}: {message!r}"


@pytest.mark.parametrize("call,error,pattern", CASES)
def test_no_raw_errors(call, error, pattern):
    """No case escapes as a raw NumPy error, IndexError, AssertionError,
    ZeroDivisionError, KeyError or MemoryError."""
    with pytest.raises(Exception) as excinfo:
        call()
    _check_clean(excinfo, None)


# ------------------------------------------------------------ garbage sweep

GARBAGE = [None, "x", 1.5, True, -1, 0, (1, 2, 3), [], object(), math.nan, ((1, 2), "a"),
           np.zeros((2, 2))]

# (names allowed in the message, function, keyword arguments that work)
SIGNATURES = [
    (("conv2d",), F.conv2d, dict(input=X, weight=W, bias=np.zeros(3, f32), stride=1, padding=1,
                                  dilation=1, groups=1, padding_mode="zeros")),
    (("conv_transpose2d",), F.conv_transpose2d,
     dict(input=X, weight=WT, bias=None, stride=2, padding=1, output_padding=1, groups=1,
          dilation=1)),
    (("unfold",), F.unfold, dict(input=X, kernel_size=2, dilation=1, padding=1, stride=1)),
    (("fold",), F.fold, dict(input=np.zeros((1, 8, 25)), output_size=4, kernel_size=2,
                             dilation=1, padding=1, stride=1)),
    (("max_pool2d",), F.max_pool2d, dict(input=P, kernel_size=2, stride=1, padding=1,
                                         dilation=1, ceil_mode=False, return_indices=False)),
    (("avg_pool2d",), F.avg_pool2d, dict(input=P, kernel_size=2, stride=1, padding=1,
                                         ceil_mode=False, count_include_pad=True,
                                         divisor_override=None, dilation=1)),
    (("lp_pool2d",), F.lp_pool2d, dict(input=P, norm_type=2, kernel_size=2, stride=1,
                                       ceil_mode=False, padding=0, dilation=1)),
    (("adaptive_avg_pool2d",), F.adaptive_avg_pool2d, dict(input=P, output_size=3)),
    (("adaptive_max_pool2d",), F.adaptive_max_pool2d, dict(input=P, output_size=3,
                                                           return_indices=False)),
    (("max_unpool2d",), F.max_unpool2d, dict(input=np.ones((1, 2, 2)), indices=IDX,
                                             kernel_size=2, stride=2, padding=0,
                                             output_size=(4, 4))),
    (("pad",), F.pad, dict(input=X, pad=(1, 1), mode="constant", value=0)),
    (("correlate2d",), F.correlate2d, dict(in1=np.ones((3, 3)), in2=np.ones((2, 2)),
                                           mode="same", boundary="fill", fillvalue=0)),
    (("linear",), F.linear, dict(input=np.zeros((2, 3), f32), weight=np.zeros((4, 3), f32),
                                 bias=np.zeros(4, f32))),
    (("cross_entropy",), F.cross_entropy, dict(input=LOGITS, target=[0, 1], weight=None,
                                               ignore_index=-100, reduction="mean",
                                               label_smoothing=0.0)),
    (("nll_loss",), F.nll_loss, dict(input=LOGITS, target=[0, 1], weight=None,
                                     ignore_index=-100, reduction="mean")),
    (("mse_loss",), F.mse_loss, dict(input=LOGITS, target=LOGITS, reduction="mean")),
    (("dropout",), F.dropout, dict(input=LOGITS, p=0.5, training=True)),
    (("Conv2d", "conv2d"), nn.Conv2d, dict(in_channels=2, out_channels=4, kernel_size=3,
                                           stride=1, padding=1, dilation=1, groups=2,
                                           padding_mode="zeros")),
    (("ConvTranspose2d",), nn.ConvTranspose2d, dict(in_channels=2, out_channels=4,
                                                    kernel_size=3, stride=1, padding=1,
                                                    output_padding=0, groups=2, dilation=1)),
    (("Linear",), nn.Linear, dict(in_features=3, out_features=2)),
    (("MaxPool2d",), nn.MaxPool2d, dict(kernel_size=2, stride=1, padding=1, dilation=1,
                                        return_indices=False, ceil_mode=False)),
    (("AvgPool2d",), nn.AvgPool2d, dict(kernel_size=2, stride=1, padding=1, ceil_mode=False,
                                        count_include_pad=True, divisor_override=None)),
    (("SGD",), optim.SGD, dict(params=_params(), lr=0.1, momentum=0.9, dampening=0,
                               weight_decay=0, nesterov=False, maximize=False)),
    (("Adam",), optim.Adam, dict(params=_params(), lr=0.1, betas=(0.9, 0.99), eps=1e-8,
                                 weight_decay=0, amsgrad=False, maximize=False)),
    (("pool2d",), cnnlab.pool2d, dict(X=np.ones((3, 3)), pool_size=2, mode="max")),
    (("conv2d_output_shape",), cnnlab.conv2d_output_shape,
     dict(input_size=(8, 8), kernel_size=3, stride=1, padding=1, dilation=1)),
    (("pool2d_output_shape",), cnnlab.pool2d_output_shape,
     dict(input_size=(8, 8), kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=False)),
]


def _sweep_cases():
    for names, function, kwargs in SIGNATURES:
        for parameter in kwargs:
            yield pytest.param(names, function, kwargs, parameter,
                               id=f"{function.__name__}-{parameter}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0) of an empty class axis
@pytest.mark.parametrize("names,function,kwargs,parameter", list(_sweep_cases()))
def test_garbage_sweep(names, function, kwargs, parameter):
    """Every wrong value either works (some are valid) or raises a clean error."""
    function(**kwargs)  # the base call works
    for value in GARBAGE:
        arguments = dict(kwargs, **{parameter: value})
        try:
            function(**arguments)
        except Exception:
            with pytest.raises(Exception) as excinfo:
                function(**arguments)
            _check_clean(excinfo, names)


# ----------------------------------------------------------------------- CLI

CLI_CASES = [
    (["shape", "--input", "8", "--kernel", "9"],
     r"^error: conv2d: kernel size \(9, 9\) with dilation \(1, 1\) spans 9 along the height"),
    (["shape", "--input", "0x8", "--kernel", "3"],
     r"^error: argument --input: sizes must be >= 1, got '0x8'"),
    (["shape", "--input", "8", "--kernel", "3", "--stride", "0"],
     r"^error: argument --stride: must be >= 1, got '0'"),
    (["shape", "--input", "8", "--kernel", "3", "--padding", "-1"],
     r"^error: argument --padding: expected 'same', 'valid', .* got '-1'"),
    (["shape", "--input", "8", "--kernel", "3", "--padding", "1.5"],
     r"^error: argument --padding: .* got '1.5'"),
    (["shape", "--input", "8", "--kernel", "3", "--padding", "5", "--pool"],
     r"^error: pool2d: padding \(5, 5\) along the height leaves window 0"),
    (["shape", "--input", "8", "--kernel", "2", "--padding", "99999999999999", "--pool"],
     r"^error: pool2d: padding \(99999999999999, 99999999999999\) along the height leaves "
     r"window 0"),
    (["shape", "--input", "8", "--kernel", "3", "--ceil-mode"],
     r"^error: --ceil-mode applies to pooling only"),
    (["shape", "--kernel", "3"], r"^error: the following arguments are required: --input"),
    (["shape", "--input", "8", "--kernel", "abc"],
     r"^error: argument --kernel: expected one integer or two as H,W .* got 'abc'"),
    (["receptive-field", "--model", "resnet"], r"^error: argument --model: invalid choice"),
    (["pool", "--input", "1,2;3,4", "--kernel", "3"],
     r"^error: .*pool.*: kernel size \(3, 3\) with dilation \(1, 1\) spans 3 along the height"),
    (["pool", "--input", "1,2;3,4", "--kernel", "2", "--padding", "9999999999999"],
     r"^error: .*pool.*: padding \(9999999999999, 9999999999999\) along the height leaves "
     r"window 0"),
    (["pool", "--input", "1,2;3"], r"^error: argument --input: expected numbers .* got '1,2;3'"),
    (["corr2d", "--input", "1,2;3,4", "--kernel", "1,2,3;4,5,6;7,8,9"],
     r"^error: corr2d: kernel size \(3, 3\)"),
    (["corr2d", "--input", "nan,1"], r"^error: argument --input: numbers must be finite"),
    (["animate", "conv", "--input", "2x2", "--kernel", "5"],
     r"^error: animate conv: kernel size \(5, 5\)"),
    (["edges", "--image", "/nonexistent/picture.png"],
     r"^error: cannot read image '/nonexistent/picture.png'"),
    (["channels", "--seed", "-1"], r"^error: argument --seed: seeds must be >= 0, got '-1'"),
    (["learn-kernel", "--lr", "nan"], r"^error: argument --lr: expected a positive number"),
    (["no-such-command"], r"^error: argument COMMAND: invalid choice: 'no-such-command'"),
]


def _run_cli(argv, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out.gif" if argv[0] == "animate" else tmp_path)]
    takes_out = argv[0] in ("pool", "corr2d", "edges", "channels", "learn-kernel", "animate")
    status = main(argv + (out if takes_out else []))
    captured = capsys.readouterr()
    return status, captured.err


@pytest.mark.parametrize("argv,pattern", CLI_CASES, ids=lambda v: None)
def test_cli_bad_input_is_one_line(argv, pattern, tmp_path, capsys):
    status, err = _run_cli(argv, tmp_path, capsys)
    assert status == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert re.search(pattern, err), err


# Values the CLI cannot represent or allocate: each a one-line error with status 2.
CLI_KNOWN_BAD = [
    pytest.param(["edges", "--scale", "2000000"], id="edges-scale-too-large-memory-error"),
    pytest.param(["corr2d", "--input", "1,2;3,4", "--kernel", "1e40"],
                 id="matrix-overflows-float32-to-inf"),
    pytest.param(["corr2d", "--input", "1,2;3,4", "--kernel", "99999999999999999999999"],
                 id="matrix-overflows-int64"),
    pytest.param(["summary", "--input", "1x99999999x99999999"],
                 id="summary-input-too-large-memory-error"),
]


@pytest.mark.parametrize("argv", CLI_KNOWN_BAD)
def test_cli_rejects_values_it_cannot_represent(argv, tmp_path, capsys):
    try:
        status, err = _run_cli(argv, tmp_path, capsys)
    except MemoryError:
        pytest.fail("MemoryError escaped the CLI")
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1, err

"""Sections "Multiple input channels", "Multiple output channels" and "1x1 convolution";
``cnnlab channels``."""

from __future__ import annotations

import numpy as np

import cnnlab
from cnnlab import nn, viz
from cnnlab.chapter import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1

from . import _common as common
from .edges import choose_seed

SEED_X = np.array([[[0, 1, 2], [3, 4, 5], [6, 7, 8]],
                   [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
SEED_K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])


def multiple_inputs(report) -> None:
    report.heading("Multiple input channels")
    report.say("With several input channels the kernel has one 2-D slice per channel: each "
               "channel is cross-correlated with its own slice and the results are added, "
               "giving one output channel.")
    X, K = cnnlab.tensor(SEED_X), cnnlab.tensor(SEED_K)
    report.code("X = cnnlab.tensor([[[0, 1, 2], [3, 4, 5], [6, 7, 8]],\n"
                "...                   [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])")
    report.code("K = cnnlab.tensor([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])")
    partials = [corr2d(X[c], K[c]) for c in range(2)]
    report.code("corr2d(X[0], K[0])", partials[0])
    report.code("corr2d(X[1], K[1])", partials[1])
    Y = corr2d_multi_in(X, K)
    report.code("corr2d_multi_in(X, K)", Y)
    rows = [viz.equation([viz.number_grid(SEED_X[c], f"X[{c}]"), "⋆",
                          viz.number_grid(SEED_K[c], f"K[{c}]"), "=",
                          viz.number_grid(partials[c].numpy(), f"corr2d(X[{c}], K[{c}])")])
            for c in range(2)]
    rows.append(viz.equation([viz.number_grid(partials[0].numpy(), "channel 0"), "+",
                              viz.number_grid(partials[1].numpy(), "channel 1"), "=",
                              viz.number_grid(Y.numpy(), "corr2d_multi_in(X, K)")]))
    report.save(viz.stack(rows, title="Two input channels, summed into one output"),
                "multi-in.png")


def multiple_outputs(report) -> None:
    report.heading("Multiple output channels")
    report.say("For several output channels, stack one multi-input kernel per output "
               "channel: K gets shape (c_o, c_i, k_h, k_w), and output channel o is "
               "corr2d_multi_in(X, K[o]).")
    X, K = cnnlab.tensor(SEED_X), cnnlab.tensor(SEED_K)
    K = cnnlab.stack([K, K + 1, K + 2])
    report.code("K = cnnlab.stack([K, K + 1, K + 2])")
    report.code("K.shape", K.shape)
    Y = corr2d_multi_in_out(X, K)
    report.code("corr2d_multi_in_out(X, K)", Y)
    rows = [viz.equation([viz.number_grid(K.numpy()[o, 0], f"K[{o}, 0]"),
                          viz.number_grid(K.numpy()[o, 1], f"K[{o}, 1]"), "→",
                          viz.number_grid(Y.numpy()[o], f"output channel {o}")])
            for o in range(K.shape[0])]
    report.save(viz.stack(rows, title="Three output channels: one kernel stack each "
                                      "(X as above)"), "multi-out.png")


def one_by_one(report) -> None:
    report.heading("1x1 convolution")
    report.say("A 1x1 kernel sees one pixel at a time, so it only mixes channels: at every "
               "position, output channel o is a weighted sum of the input channels. Taking "
               "pixels as samples and channels as features, that is a fully connected layer, "
               "the same at every position.")
    X = cnnlab.randn(3, 3, 3)
    K = cnnlab.randn(2, 3, 1, 1)
    report.code("X = cnnlab.randn(3, 3, 3)")
    report.code("K = cnnlab.randn(2, 3, 1, 1)")
    Y1 = corr2d_multi_in_out_1x1(X, K)
    Y2 = corr2d_multi_in_out(X, K)
    linear = nn.Linear(3, 2, bias=False)
    linear.weight.data = K.view(2, 3)
    with cnnlab.no_grad():
        Y3 = linear(X.permute(1, 2, 0)).permute(2, 0, 1)
    report.code("Y1 = corr2d_multi_in_out_1x1(X, K)      # K.view(2, 3) @ X.view(3, 9)")
    report.code("Y2 = corr2d_multi_in_out(X, K)          # the convolution")
    report.code("linear = nn.Linear(3, 2, bias=False); linear.weight.data = K.view(2, 3)")
    report.code("Y3 = linear(X.permute(1, 2, 0)).permute(2, 0, 1)   # pixels as samples")
    report.code("(Y1 - Y2).abs().max()", (Y1 - Y2).abs().max())
    report.code("(Y3 - Y2).abs().max()", (Y3 - Y2).abs().max())
    report.say("The differences are zero or float32 rounding: three ways to compute one "
               "thing.")
    column = viz.stack([viz.signed_grid(X.numpy()[c], f"X[{c}]") for c in range(3)], gap=6)
    outputs = viz.stack([viz.signed_grid(Y2.numpy()[o], f"Y[{o}]") for o in range(2)], gap=6)
    weights = viz.signed_grid(K.numpy().reshape(2, 3), "K as (c_o, c_i)")
    report.save(viz.stack([viz.equation([column, "⋆", weights, "=", outputs])],
                          title="1x1 convolution: a fully connected layer over channels"),
                "1x1-conv.png")


def run(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet, common.output_directory(args.out))
    multiple_inputs(report)
    multiple_outputs(report)
    choose_seed(args.seed, report)
    one_by_one(report)
    report.list_files()
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "channels", help="multiple input and output channels, and 1x1 convolution",
        description=common.description(
            "The chapter's multi-channel cross-correlations (corr2d_multi_in, "
            "corr2d_multi_in_out) and the 1x1 convolution, checked numerically against a "
            "matrix product and a fully connected layer.", ["cnnlab channels --seed 0"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--seed", type=common.seed, metavar="N",
                        help="seed of the random 1x1 example (default: a fresh seed, printed)")
    common.add_common(parser)
    parser.set_defaults(run=run)

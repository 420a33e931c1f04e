"""Section "Pooling"; ``cnnlab pool``."""

from __future__ import annotations

import numpy as np

import cnnlab
from cnnlab import nn, shapes, viz
from cnnlab.chapter import pool2d

from . import _common as common
from .animate import pool_animation
from .correlation import SEED_X

SEED_LAYERS = [
    ("nn.MaxPool2d(3)", dict(kernel_size=3)),
    ("nn.MaxPool2d(3, padding=1, stride=2)", dict(kernel_size=3, padding=1, stride=2)),
    ("nn.MaxPool2d((2, 4), padding=(1, 2), stride=(2, 3))",
     dict(kernel_size=(2, 4), padding=(1, 2), stride=(2, 3))),
]


def substituted(input_size, kernel_size, stride, padding, dilation=(1, 1),
                ceil_mode=False) -> str:
    """``out_height = floor((4 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = 2`` and the width's."""
    lines = []
    for axis, n, k, s, p, d in zip(shapes.AXES, input_size, kernel_size, stride, padding,
                                   dilation):
        head, _, numbers, result = shapes.formula(axis, n, k, s, p, d, ceil_mode).split(" = ")
        lines.append(f"{head.ljust(len('out_height'))} = {numbers} = {result}")
    return "\n".join(lines)


def _pool_picture(X: np.ndarray, size=(2, 2)):
    rows = []
    window = [(a, b) for a in range(size[0]) for b in range(size[1])]
    for mode in ("max", "avg"):
        Y = pool2d(cnnlab.tensor(X), size, mode).numpy()
        rows.append(viz.equation([viz.number_grid(X, "X", shade=window),
                                  f"{mode} {size[0]}x{size[1]} →",
                                  viz.number_grid(Y, f"pool2d(X, {size}, '{mode}')",
                                                  shade=[(0, 0)])]))
    return viz.stack(rows, title="Pooling: the maximum or the mean of each window")


def pooling(report) -> None:
    report.heading("Pooling")
    report.say("A pooling layer slides a window like a convolution but has no kernel: it "
               "outputs the maximum (max pooling) or the mean (average pooling) of each "
               "window. It makes the output less sensitive to exact positions.")
    X = cnnlab.tensor(SEED_X)
    report.code("X = cnnlab.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])")
    report.code("pool2d(X, (2, 2))", pool2d(X, (2, 2)))
    report.code("pool2d(X, (2, 2), 'avg')", pool2d(X, (2, 2), "avg"))
    report.save(_pool_picture(SEED_X), "pool.png")

    report.say("Pooling takes padding and a stride too, with the same output-size rule; "
               "nn.MaxPool2d's stride defaults to the window size.")
    X = cnnlab.arange(16, dtype=cnnlab.float).view((1, 1, 4, 4))
    report.code("X = cnnlab.arange(16, dtype=cnnlab.float).view((1, 1, 4, 4))")
    report.code("X", X)
    report.code("pool2d(X.view(-1, 4), (2, 2))", pool2d(X.view(-1, 4), (2, 2)))
    for code, options in SEED_LAYERS:
        layer = nn.MaxPool2d(**options)
        report.code(f"{code}(X)", layer(X))
        kernel = shapes.int_pair(options["kernel_size"], "kernel_size", "pool")
        stride = shapes.int_pair(options.get("stride", kernel), "stride", "pool")
        padding = shapes.padding_pairs(options.get("padding", 0), "pool")
        report.say(substituted((4, 4), kernel, stride, padding))
    pool_animation(report, (4, 4), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1),
                   values=np.arange(16).reshape(4, 4), name="pool.gif", formula=False)

    report.say("With several channels, pooling works on each channel separately: as many "
               "output channels as input channels (a convolution sums over them instead).")
    X = cnnlab.cat((X, X + 1), dim=1)
    report.code("X = cnnlab.cat((X, X + 1), dim=1)")
    report.code("X", X)
    report.code("nn.MaxPool2d(3, padding=1, stride=2)(X)",
                nn.MaxPool2d(3, padding=1, stride=2)(X))


def run(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet, common.output_directory(args.out))
    if args.kernel is None:
        given = [flag for flag, changed in (
            ("--input", args.input is not None), ("--stride", args.stride is not None),
            ("--padding", args.padding != (0, 0)), ("--dilation", args.dilation != (1, 1)),
            ("--mode", args.mode != "max"), ("--ceil-mode", args.ceil_mode)) if changed]
        if given:
            raise common.CliError(f"{', '.join(given)}: only with --kernel (the window size)")
        pooling(report)
        report.list_files()
        return 0
    values = np.arange(16).reshape(4, 4) if args.input is None else args.input
    stride = args.stride or args.kernel
    function = f"{args.mode}_pool2d"
    with common.user_errors():
        padding = shapes.padding_pairs(args.padding, function, input_size=values.shape,
                                       kernel_size=args.kernel, stride=stride,
                                       dilation=args.dilation)
    animation = pool_animation(report, values.shape, args.kernel, stride, padding,
                               args.dilation, args.mode, args.ceil_mode, values=values,
                               name="pool.gif")
    height, width = values.shape
    report.code(f"X = cnnlab.tensor({values.tolist()})")
    report.code(f"F.{function}(X.view(1, {height}, {width}), "
                f"kernel_size={common.describe(args.kernel)}, stride={common.describe(stride)}, "
                f"padding={common.describe(args.padding)})",
                cnnlab.tensor(animation.output.astype(np.float32)[None]))
    report.list_files()
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "pool", help="max and average pooling, with padding and stride",
        description=common.description(
            "Without --kernel: the chapter's pooling examples (pool2d, nn.MaxPool2d with "
            "padding and stride, several channels). With --kernel: pool the given input "
            "(default 0..15 as 4x4) and animate the window.",
            ["cnnlab pool", "cnnlab pool --kernel 3 --padding 1 --stride 2",
             "cnnlab pool --input '1,2,3;4,5,6;7,8,9' --kernel 2 --stride 1 --mode avg"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--input", type=common.matrix, metavar="MATRIX",
                        help="values to pool, rows separated by ';' (default: 0..15 as 4x4)")
    parser.add_argument("--kernel", type=common.pair(1), metavar="K", help="window size: 2 or 2,4")
    parser.add_argument("--stride", type=common.pair(1), metavar="S",
                        help="stride (default: the window size)")
    parser.add_argument("--padding", type=common.padding, default=(0, 0), metavar="P",
                        help="padding on each side: 1, 1,2 or 'same' (default: 0)")
    parser.add_argument("--dilation", type=common.pair(1), default=(1, 1), metavar="D",
                        help="spacing between window taps: 1 (the default) is none")
    parser.add_argument("--mode", choices=("max", "avg"), default="max",
                        help="maximum (the default) or mean of each window")
    parser.add_argument("--ceil-mode", action="store_true", help="round the output size up")
    common.add_common(parser)
    parser.set_defaults(run=run)

"""``cnnlab animate``: a GIF of the window sliding over the padded input.

Frame 0 shows the padded input and an empty output; each next frame moves the window
to the next output cell and fills that cell in, so a GIF has one frame per output
cell plus one. The numbers in the cells are computed by the library
(:func:`cnnlab.functional.conv2d`, :func:`~cnnlab.functional.max_pool2d`,
:func:`~cnnlab.functional.avg_pool2d`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import cnnlab
import cnnlab.functional as F
from cnnlab import shapes, viz

from . import _common as common
from .shape import formula_lines

MAX_OUTPUT_CELLS = 400


def _drawn_padding(input_size, out, kernel_size, stride, padding, dilation) -> tuple:
    """The layer's padding, grown at the bottom/right if a ``ceil_mode`` window hangs
    past it (those cells are drawn as padding; pooling ignores them)."""
    drawn = []
    for n, o, k, s, (lo, hi), d in zip(input_size, out, kernel_size, stride, padding, dilation):
        needed = (o - 1) * s + d * (k - 1) + 1
        drawn.append((lo, max(hi, needed - n - lo)))
    return tuple(drawn)


def _title(operation, input_size, kernel_size, stride, padding, dilation, out) -> str:
    pads = padding if any(lo != hi for lo, hi in padding) else tuple(lo for lo, _ in padding)
    parts = [f"{operation}: input {input_size[0]}x{input_size[1]}",
             f"kernel {common.describe(kernel_size)}", f"padding {common.describe(pads)}",
             f"stride {common.describe(stride)}"]
    if dilation != (1, 1):
        parts.append(f"dilation {common.describe(dilation)}")
    return ", ".join(parts) + f" -> {out[0]}x{out[1]}"


def _check_frames(out) -> None:
    if out[0] * out[1] > MAX_OUTPUT_CELLS:
        raise common.CliError(
            f"the output has {out[0]}x{out[1]} = {out[0] * out[1]} cells, so the animation "
            f"would have {out[0] * out[1] + 1} frames; use a smaller input or a larger "
            f"stride (at most {MAX_OUTPUT_CELLS} output cells)")


def _save(report, animation, name, duration):
    report.save_with(lambda path: animation.save_gif(path, duration), name)
    report.say(f"{name}: {animation.frame_count} frames, the padded input and then one per "
               f"output cell as the window slides.")


def conv_animation(report, input_size, kernel_size, stride, padding, dilation, seed=0,
                   name="animate-conv.gif", duration=700, formula=True):
    """Animate a convolution of random small integers (inputs 0..3, weights 0..2);
    print the output-size formula first unless ``formula`` is False."""
    function = "animate conv"
    with common.user_errors():
        out = shapes.window_output_shape(function, input_size, kernel_size, stride, padding,
                                         dilation)
    _check_frames(out)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, input_size).astype(np.float32)
    w = rng.integers(0, 3, kernel_size).astype(np.float32)
    y = F.conv2d(cnnlab.tensor(x[None, None]), cnnlab.tensor(w[None, None]), stride=stride,
                 padding=padding, dilation=dilation)
    animation = viz.WindowAnimation(
        x, y.numpy()[0, 0], kernel_size, stride, padding, dilation, kernel=w, pad_text="0",
        operation="sum(window * kernel)",
        title=_title("conv2d", input_size, kernel_size, stride, padding, dilation, out))
    if formula:
        report.show("\n".join(formula_lines(input_size, kernel_size, stride, padding,
                                            dilation)))
    _save(report, animation, name, duration)
    return animation


def pool_animation(report, input_size, kernel_size, stride, padding, dilation, mode="max",
                   ceil_mode=False, seed=0, name="animate-pool.gif", duration=700, values=None,
                   formula=True):
    """Animate max or average pooling of random integers 0..9 (or of ``values``);
    print the output-size formula first unless ``formula`` is False."""
    function = "animate pool"
    with common.user_errors():
        out = shapes.window_output_shape(function, input_size, kernel_size, stride, padding,
                                         dilation, ceil_mode)
        shapes.check_windows_hold_input(function, input_size, out, kernel_size, stride,
                                        padding, dilation)
    _check_frames(out)
    if values is None:
        values = np.random.default_rng(seed).integers(0, 10, input_size)
    x = cnnlab.tensor(np.asarray(values, dtype=np.float32)[None])
    if mode == "max":
        y = F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)
        pad_text, operation = "-∞", "max(window)"
    elif mode == "avg":
        y = F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode, dilation=dilation)
        pad_text, operation = "0", "mean(window)"
    else:
        raise common.CliError(f"--mode must be 'max' or 'avg', got {mode!r}")
    drawn = _drawn_padding(input_size, out, kernel_size, stride, padding, dilation)
    animation = viz.WindowAnimation(
        x.numpy()[0], y.numpy()[0], kernel_size, stride, drawn, dilation, pad_text=pad_text,
        operation=operation,
        title=_title(f"{mode}_pool2d", input_size, kernel_size, stride, padding, dilation, out))
    if formula:
        report.show("\n".join(formula_lines(input_size, kernel_size, stride, padding,
                                            dilation, ceil_mode)))
    _save(report, animation, name, duration)
    return animation


def run(args) -> int:
    viz.check_available()
    out = Path(args.out or f"{common.DEFAULT_OUT}/animate-{args.operation}.gif")
    if out.suffix.lower() != ".gif":
        raise common.CliError(f"--out must name a .gif file, got '{args.out}'")
    report = common.Report(args.quiet, common.output_directory(out.parent))
    pool = args.operation == "pool"
    stride = args.stride or (args.kernel if pool else (1, 1))
    if args.ceil_mode and not pool:
        raise common.CliError("--ceil-mode applies to pooling only")
    function = f"animate {args.operation}"
    with common.user_errors():
        padding = shapes.padding_pairs(args.padding, function, input_size=args.input,
                                       kernel_size=args.kernel, stride=stride,
                                       dilation=args.dilation)
    if pool:
        pool_animation(report, args.input, args.kernel, stride, padding, args.dilation,
                       args.mode, args.ceil_mode, args.seed, out.name, args.duration)
    else:
        conv_animation(report, args.input, args.kernel, stride, padding, args.dilation,
                       args.seed, out.name, args.duration)
    report.list_files()
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "animate", help="animated GIF of a convolution or pooling window sliding",
        description=common.description(
            "Draw the window sliding over the padded input, filling in each output cell as it "
            "is computed (after Dumoulin & Visin, 'A guide to convolution arithmetic'). Small "
            "inputs show their values: random integers from --seed. The GIF has one frame per "
            "output cell, plus the empty start.",
            ["cnnlab animate conv --input 5x5 --kernel 3 --padding 1 --stride 2 --out conv.gif",
             "cnnlab animate conv --input 7x7 --kernel 3 --dilation 2",
             "cnnlab animate pool --input 4x4 --kernel 3 --padding 1 --stride 2"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("operation", choices=("conv", "pool"), help="what slides")
    parser.add_argument("--input", type=common.size, default=(5, 5), metavar="HxW",
                        help="input height and width (default: 5x5)")
    parser.add_argument("--kernel", type=common.pair(1), default=(3, 3), metavar="K",
                        help="kernel size: 3 or 3,2 (default: 3)")
    parser.add_argument("--padding", type=common.padding, default=(0, 0), metavar="P",
                        help="padding on each side: 1, 1,0, 'same' or 'valid' (default: 0)")
    parser.add_argument("--stride", type=common.pair(1), metavar="S",
                        help="stride (default: 1 for conv, the kernel size for pool)")
    parser.add_argument("--dilation", type=common.pair(1), default=(1, 1), metavar="D",
                        help="spacing between kernel taps: 1 (the default) is none")
    parser.add_argument("--mode", choices=("max", "avg"), default="max",
                        help="pooling: maximum (the default) or mean of the window")
    parser.add_argument("--ceil-mode", action="store_true", help="pooling: round the size up")
    parser.add_argument("--seed", type=common.seed, default=0, metavar="N",
                        help="seed of the random input values and conv weights (default: 0)")
    parser.add_argument("--duration", type=common.positive_int, default=700, metavar="MS",
                        help="milliseconds per frame (default: 700)")
    parser.add_argument("--out", metavar="FILE.gif",
                        help="where to write the GIF (default: cnnlab-out/animate-<operation>.gif)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the numbers and the file written, no explanations")
    parser.set_defaults(run=run)

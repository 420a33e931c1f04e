"""Section "Padding and stride"; ``cnnlab shape``, the output-size calculator.

Every number comes from :func:`cnnlab.shapes.output_size` (through
:func:`cnnlab.shapes.formula`), the one rule the kernels use too; 1-D, 2-D and 3-D
sizes alike.
"""

from __future__ import annotations

import argparse
import re

import cnnlab
from cnnlab import nn, shapes

from . import _common as common

SEED_CASES = [
    ("nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, padding=1)",
     dict(kernel_size=3, padding=1, stride=1)),
    ("nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2)",
     dict(kernel_size=3, padding=1, stride=2)),
    ("nn.Conv2d(1, 1, kernel_size=(5, 5), padding=(0, 1), stride=(3, 4))",
     dict(kernel_size=(5, 5), padding=(0, 1), stride=(3, 4))),
]


def formula_lines(input_size, kernel_size, stride, padding, dilation, ceil_mode=False) -> list:
    """The output-size formula per axis, then the numbers substituted, then the result."""
    lines = []
    for axis, n, k, s, p, d in zip(shapes.axis_names(len(input_size)), input_size, kernel_size,
                                   stride, padding, dilation):
        head, *steps = shapes.formula(axis, n, k, s, p, d, ceil_mode).split(" = ")
        head = head.ljust(len("out_height"))
        lines.append(f"{head} = {steps[0]}")
        lines.extend(f"{' ' * len(head)} = {step}" for step in steps[1:])
    return lines


def chapter_form(input_size, kernel_size, stride, padding, dilation, ceil_mode=False):
    """The chapter's ``floor((n - k + 2p + s) / s)`` with the numbers, or None when it
    does not apply (dilation, per-side padding, ceil_mode)."""
    if ceil_mode or any(d != 1 for d in dilation) or any(lo != hi for lo, hi in padding):
        return None
    parts = []
    for n, k, s, (p, _) in zip(input_size, kernel_size, stride, padding):
        parts.append(f"floor(({n} - {k} + 2*{p} + {s}) / {s}) = {(n - k + 2 * p + s) // s}")
    return "the chapter's form floor((n - k + 2p + s) / s):\n" + "\n".join(
        f"  {axis}: {part}" for axis, part in zip(shapes.axis_names(len(parts)), parts))


def _size_text(size) -> str:
    return "x".join(str(n) for n in size)


def _describe(value) -> str:
    """``(3, 3)`` -> ``'3'``; ``(3, 4)`` -> ``'(3, 4)'``; ``'same'`` -> ``"'same'"``."""
    if isinstance(value, str):
        return repr(value)
    value = tuple(value)
    return str(value[0]) if len(set(value)) == 1 else str(value)


def same_padding_line(input_size, kernel_size, stride, dilation) -> str:
    pairs = shapes.padding_pairs("same", "shape", input_size=input_size,
                                 kernel_size=kernel_size, stride=stride, dilation=dilation)
    out = tuple(shapes.output_size(n, k, s, p, d)
                for n, k, s, p, d in zip(input_size, kernel_size, stride, pairs, dilation))
    symmetric = all(lo == hi for lo, hi in pairs)
    written = _describe(tuple(lo for lo, _ in pairs)) if symmetric else str(pairs)
    if all(s == 1 for s in stride):
        line = f"padding that keeps the size {_size_text(out)} ('same'): padding={written}"
    else:
        line = (f"padding 'same' gives ceil(in / stride) = {_size_text(out)}: "
                f"padding={written} (PyTorch allows 'same' only with stride 1; cnnlab with "
                "any stride)")
    if not symmetric:
        sides = ("((top, bottom), (left, right)), the odd pixel at the bottom/right"
                 if len(pairs) == 2 else "(lo, hi) per axis, the odd element on the high side")
        line += f"; per side {sides}"
    return line


def padding_and_stride(report, animation: bool = True) -> None:
    report.heading("Padding and stride")
    report.say("Padding adds rows and columns of zeros around the input; the stride is how "
               "far the window moves each step. Both change the output size, by one rule "
               "per axis (PyTorch's Conv2d 'Shape' section, cnnlab.shapes.output_size):")
    for code, options in SEED_CASES:
        layer = nn.Conv2d(1, 1, **options)
        X = cnnlab.randn(8, 8)
        X = X.view((1, 1) + X.shape)
        with cnnlab.no_grad():
            Y = layer(X)
        report.show()
        report.code(f"conv2d = {code}")
        report.code("conv2d(X.view((1, 1) + X.shape)).shape[2:]    # X = cnnlab.randn(8, 8)",
                    Y.shape[2:])
        pads = shapes.padding_pairs(options["padding"], "shape")
        arguments = ((8, 8), shapes.int_pair(options["kernel_size"], "kernel_size", "shape"),
                     shapes.int_pair(options["stride"], "stride", "shape"), pads, (1, 1))
        report.show("\n".join(formula_lines(*arguments)))
        form = chapter_form(*arguments)
        if form:
            report.say(form)
    report.say("With padding p = (k - 1) / 2 on each side and stride 1 the size is kept; "
               "stride s divides it by s (rounding down).")
    if animation:
        from . import animate

        animate.conv_animation(report, (8, 8), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1),
                               seed=0, name="padding-stride.gif", formula=False)


def _sizes(what: str, minimum: int):
    """An argument type: 1 to 3 integers separated by ``x`` or ``,`` (``'8'``, ``'6x8'``,
    ``'16x8x8'``), each >= ``minimum``; the messages of :mod:`cnnlab.cli._common`'s."""
    expected = {"input": "a size HxW (e.g. 8x8) or one number for a square",
                "padding": "'same', 'valid', one integer or two as H,W (e.g. 1 or 0,1), "
                           "each >= 0"}.get(what, "one integer or two as H,W (e.g. 3 or 3,4)")

    def parse(text: str):
        if what == "padding" and text.strip().lower() in ("same", "valid"):
            return text.strip().lower()
        parts = [part.strip() for part in re.split("[x,]", text.strip())]
        if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        values = tuple(int(p) for p in parts)
        if min(values) < minimum:
            if what == "input":
                raise argparse.ArgumentTypeError(f"sizes must be >= {minimum}, got {text!r}")
            if what == "padding":
                raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text!r}")
        return values

    parse.__name__ = what
    return parse


def _spread(value, spatial: int, option: str):
    """One int per axis: a single number repeated, else exactly ``spatial`` of them."""
    if value is None or isinstance(value, str):
        return value
    if len(value) == 1:
        return value * spatial
    if len(value) != spatial:
        raise common.CliError(f"argument {option}: expected 1 or {spatial} numbers for a "
                              f"{spatial}-D input, got {len(value)}: {_size_text(value)}")
    return value


def run(args) -> int:
    report = common.Report(args.quiet)
    spatial = args.dims or (len(args.input) if len(args.input) > 1 else 2)
    function = f"pool{spatial}d" if args.pool else f"conv{spatial}d"
    size = _spread(args.input, spatial, "--input")
    kernel = _spread(args.kernel, spatial, "--kernel")
    stride = _spread(args.stride, spatial, "--stride") or (kernel if args.pool
                                                           else (1,) * spatial)
    dilation = _spread(args.dilation, spatial, "--dilation")
    padding = _spread(args.padding, spatial, "--padding")
    if args.ceil_mode and not args.pool:
        raise common.CliError("--ceil-mode applies to pooling only (add --pool); "
                              "convolutions always round down")
    with common.user_errors():
        pads = shapes.padding_pairs(padding, function, input_size=size,
                                    kernel_size=kernel, stride=stride, dilation=dilation)
        out = shapes.window_output_shape(function, size, kernel, stride, pads, dilation,
                                         args.ceil_mode)
        if args.pool:
            shapes.check_windows_hold_input(function, size, out, kernel, stride, pads,
                                            dilation)
    report.say(f"{function}, input {_size_text(size)}: kernel_size "
               f"{_describe(kernel)}, stride {_describe(stride)}, padding "
               f"{_describe(padding)}, dilation {_describe(dilation)}"
               + (", ceil_mode" if args.ceil_mode else ""))
    if not args.quiet:
        report.show("\n".join(formula_lines(size, kernel, stride, pads, dilation,
                                            args.ceil_mode)))
    report.show(f"output: {_size_text(out)}")
    form = chapter_form(size, kernel, stride, pads, dilation, args.ceil_mode)
    if form:
        report.say(form)
    report.say(same_padding_line(size, kernel, stride, dilation))
    if args.pool and any(max(p) > k // 2 for p, k in zip(pads, kernel)):
        report.say("note: PyTorch's pooling layers require padding <= kernel_size / 2; "
                   "cnnlab accepts more as long as every window overlaps the input")
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "shape", help="output size of a convolution or pooling, with the formula",
        description=common.description(
            "Compute the output size of a convolution (or, with --pool, a pooling) layer and "
            "show the formula with the numbers substituted, per axis, and the 'same' padding. "
            "1-D, 2-D and 3-D: the number of sizes given to --input says which (one number "
            "is a square; --dims 1 or 3 makes it a length or a cube).",
            ["cnnlab shape --input 8x8 --kernel 5x5 --padding 0,1 --stride 3,4",
             "cnnlab shape --input 4x4 --kernel 3 --padding 1 --stride 2 --pool",
             "cnnlab shape --input 224 --kernel 11 --stride 4 --padding 1",
             "cnnlab shape --input 16000 --dims 1 --kernel 80 --stride 16",
             "cnnlab shape --input 16x112x112 --kernel 3x7x7 --stride 1,2,2 --padding 1,3,3"],
            extra="  out = floor((in + pad_lo + pad_hi - dilation*(kernel-1) - 1) / stride) + 1"),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--input", type=_sizes("input", 1), required=True, metavar="HxW",
                        help="input size: L, HxW or DxHxW (e.g. 8x8, or 8 for a square)")
    parser.add_argument("--kernel", type=_sizes("kernel", 1), required=True, metavar="K",
                        help="kernel size: 5, 5x5 or 3,5 (one number per axis, or one for all)")
    parser.add_argument("--padding", type=_sizes("padding", 0), default=(0,), metavar="P",
                        help="padding on each side: 1, 0,1 (height, width), 'same' or 'valid' "
                             "(default: 0)")
    parser.add_argument("--stride", type=_sizes("stride", 1), metavar="S",
                        help="stride: 2 or 3,4 (default: 1, or the kernel size with --pool)")
    parser.add_argument("--dilation", type=_sizes("dilation", 1), default=(1,), metavar="D",
                        help="spacing between kernel taps: 1 (the default) is none")
    parser.add_argument("--dims", type=int, choices=(1, 2, 3),
                        help="number of spatial axes when --input is one number (default 2)")
    parser.add_argument("--pool", action="store_true",
                        help="a pooling layer: stride defaults to the kernel, every window "
                             "must overlap the input")
    parser.add_argument("--ceil-mode", action="store_true",
                        help="round up (pooling only), keeping a last window that starts "
                             "inside the input")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)

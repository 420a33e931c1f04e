"""Section "Padding and stride"; ``cnnlab shape``, the output-size calculator.

Every number comes from :func:`cnnlab.shapes.output_size` (through
:func:`cnnlab.shapes.formula`), the one rule the kernels use too.
"""

from __future__ import annotations

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
    for axis, n, k, s, p, d in zip(shapes.AXES, input_size, kernel_size, stride, padding,
                                   dilation):
        head, *steps = shapes.formula(axis, n, k, s, p, d, ceil_mode).split(" = ")
        head = head.ljust(len("out_height"))
        lines.append(f"{head} = {steps[0]}")
        lines.extend(f"{' ' * len(head)} = {step}" for step in steps[1:])
    return lines


def chapter_form(input_size, kernel_size, stride, padding, dilation, ceil_mode=False):
    """The chapter's ``floor((n - k + 2p + s) / s)`` with the numbers, or None when it
    does not apply (dilation, per-side padding, ceil_mode)."""
    if ceil_mode or dilation != (1, 1) or any(lo != hi for lo, hi in padding):
        return None
    parts = []
    for n, k, s, (p, _) in zip(input_size, kernel_size, stride, padding):
        parts.append(f"floor(({n} - {k} + 2*{p} + {s}) / {s}) = {(n - k + 2 * p + s) // s}")
    return "the chapter's form floor((n - k + 2p + s) / s):\n" + "\n".join(
        f"  {axis}: {part}" for axis, part in zip(shapes.AXES, parts))


def same_padding_line(input_size, kernel_size, stride, dilation) -> str:
    pairs = shapes.padding_pairs("same", "shape", input_size=input_size,
                                 kernel_size=kernel_size, stride=stride, dilation=dilation)
    out = tuple(shapes.output_size(n, k, s, p, d)
                for n, k, s, p, d in zip(input_size, kernel_size, stride, pairs, dilation))
    symmetric = all(lo == hi for lo, hi in pairs)
    written = common.describe(tuple(lo for lo, _ in pairs)) if symmetric else str(pairs)
    if stride == (1, 1):
        line = f"padding that keeps the size {out[0]}x{out[1]} ('same'): padding={written}"
    else:
        line = (f"padding 'same' gives ceil(in / stride) = {out[0]}x{out[1]}: padding={written} "
                f"(PyTorch allows 'same' only with stride 1; cnnlab with any stride)")
    if not symmetric:
        line += "; per side ((top, bottom), (left, right)), the odd pixel at the bottom/right"
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


def run(args) -> int:
    report = common.Report(args.quiet)
    function = "pool2d" if args.pool else "conv2d"
    kernel = args.kernel
    stride = args.stride or (kernel if args.pool else (1, 1))
    dilation = args.dilation
    if args.ceil_mode and not args.pool:
        raise common.CliError("--ceil-mode applies to pooling only (add --pool); "
                              "convolutions always round down")
    with common.user_errors():
        pads = shapes.padding_pairs(args.padding, function, input_size=args.input,
                                    kernel_size=kernel, stride=stride, dilation=dilation)
        out = shapes.window_output_shape(function, args.input, kernel, stride, pads, dilation,
                                         args.ceil_mode)
        if args.pool:
            shapes.check_windows_hold_input(function, args.input, out, kernel, stride, pads,
                                            dilation)
    report.say(f"{function}, input {args.input[0]}x{args.input[1]}: kernel_size "
               f"{common.describe(kernel)}, stride {common.describe(stride)}, padding "
               f"{common.describe(args.padding)}, dilation {common.describe(dilation)}"
               + (", ceil_mode" if args.ceil_mode else ""))
    if not args.quiet:
        report.show("\n".join(formula_lines(args.input, kernel, stride, pads, dilation,
                                            args.ceil_mode)))
    report.show(f"output: {out[0]}x{out[1]}")
    form = chapter_form(args.input, kernel, stride, pads, dilation, args.ceil_mode)
    if form:
        report.say(form)
    report.say(same_padding_line(args.input, kernel, stride, dilation))
    if args.pool and any(max(p) > k // 2 for p, k in zip(pads, kernel)):
        report.say("note: PyTorch's pooling layers require padding <= kernel_size / 2; "
                   "cnnlab accepts more as long as every window overlaps the input")
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "shape", help="output size of a convolution or pooling, with the formula",
        description=common.description(
            "Compute the output size of a convolution (or, with --pool, a pooling) layer and "
            "show the formula with the numbers substituted, per axis, and the 'same' padding.",
            ["cnnlab shape --input 8x8 --kernel 5x5 --padding 0,1 --stride 3,4",
             "cnnlab shape --input 4x4 --kernel 3 --padding 1 --stride 2 --pool",
             "cnnlab shape --input 224 --kernel 11 --stride 4 --padding 1"],
            extra="  out = floor((in + pad_lo + pad_hi - dilation*(kernel-1) - 1) / stride) + 1"),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--input", type=common.size, required=True, metavar="HxW",
                        help="input height and width (e.g. 8x8, or 8)")
    parser.add_argument("--kernel", type=common.pair(1), required=True, metavar="K",
                        help="kernel size: 5, 5x5 or 3,5")
    parser.add_argument("--padding", type=common.padding, default=(0, 0), metavar="P",
                        help="padding on each side: 1, 0,1 (height, width), 'same' or 'valid' "
                             "(default: 0)")
    parser.add_argument("--stride", type=common.pair(1), metavar="S",
                        help="stride: 2 or 3,4 (default: 1, or the kernel size with --pool)")
    parser.add_argument("--dilation", type=common.pair(1), default=(1, 1), metavar="D",
                        help="spacing between kernel taps: 1 (the default) is none")
    parser.add_argument("--pool", action="store_true",
                        help="a pooling layer: stride defaults to the kernel, every window "
                             "must overlap the input")
    parser.add_argument("--ceil-mode", action="store_true",
                        help="round up (pooling only), keeping a last window that starts "
                             "inside the input")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)

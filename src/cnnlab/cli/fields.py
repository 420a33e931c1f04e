"""Section "Feature maps and receptive fields"; ``cnnlab receptive-field``."""

from __future__ import annotations

import cnnlab
from cnnlab import receptive, viz
from cnnlab.chapter import corr2d
from cnnlab.models import INPUT_SHAPES, MODELS

from . import _common as common
from .correlation import SEED_K, SEED_X

HEADER = ("layer", "kernel", "stride", "padding", "dilation", "output", "field", "jump",
          "start", "first unit sees")


def _padding_text(padding) -> str:
    if all(lo == hi for lo, hi in padding):
        return receptive.describe_axis(tuple(lo for lo, _ in padding))
    return str(padding)


def _span_text(field) -> str:
    (top, bottom), (left, right) = field.span()
    rows, cols = f"{top}..{bottom}", f"{left}..{right}"
    return rows if rows == cols else f"{rows} x {cols}"


def table_rows(fields) -> list:
    """One row of :data:`HEADER` per field (the input's first)."""
    rows = []
    for field in fields:
        output = "" if field.output_size is None else "x".join(map(str, field.output_size))
        layer = field.layer
        settings = ["", "", "", ""] if layer is None else [
            receptive.describe_axis(layer.kernel_size), receptive.describe_axis(layer.stride),
            _padding_text(layer.padding), receptive.describe_axis(layer.dilation)]
        rows.append([field.name, *settings, output, receptive.describe_axis(field.size),
                     receptive.describe_axis(field.jump), receptive.describe_axis(field.start),
                     _span_text(field)])
    return rows


def print_fields(report, fields) -> None:
    report.table(HEADER, table_rows(fields))
    last = fields[-1]
    plural = "" if last.jump == (1, 1) else "s"
    report.say(f"Each unit of the last layer sees {last.size[0]}x{last.size[1]} input pixels "
               f"(its receptive field); neighbouring units' patches are "
               f"{receptive.describe_axis(last.jump)} input pixel{plural} "
               f"apart (the jump, or "
               f"effective stride). 'start' is the centre of the first unit's patch, in input "
               f"pixels; negative coordinates lie in the padding.")


def feature_maps(report) -> None:
    report.heading("Feature maps and receptive fields")
    report.say("A layer's output is a feature map: a representation of the input at one "
               "level. The receptive field of an element is every input element that can "
               "affect it. Correlating the 2x2 output Y with another 2x2 kernel gives a "
               "single z, which sees all of Y and all 9 elements of X.")
    X, K = cnnlab.tensor(SEED_X), cnnlab.tensor(SEED_K)
    Y = corr2d(X, K)
    z = corr2d(Y, K)
    report.code("Y = corr2d(X, K)")
    report.code("z = corr2d(Y, K)")
    report.code("z", z)
    print_fields(report, receptive.receptive_fields(receptive.parse_layers("conv2,conv2"),
                                                    input_size=SEED_X.shape))
    every = [(r, c) for r in range(3) for c in range(3)]
    rows = [
        viz.equation([viz.number_grid(SEED_X, "X", shade=[(0, 0), (0, 1), (1, 0), (1, 1)]),
                      "→", viz.number_grid(Y.numpy(), "Y", shade=[(0, 0)]),
                      viz.text_image("Y[0, 0] sees 4 elements of X")]),
        viz.equation([viz.number_grid(SEED_X, "X", shade=every), "→",
                      viz.number_grid(Y.numpy(), "Y", shade=[(0, 0), (0, 1), (1, 0), (1, 1)]),
                      "→", viz.number_grid(z.numpy(), "z", shade=[(0, 0)]),
                      viz.text_image("z sees all of Y and all 9 elements of X")]),
    ]
    report.save(viz.stack(rows, title="Receptive fields grow with depth"), "receptive-field.png")


def run(args) -> int:
    report = common.Report(args.quiet)
    if (args.layers is None) == (args.model is None):
        raise common.CliError("give either a layer chain (e.g. 'conv3,conv3') or --model, "
                              "not both")
    input_size = args.input
    if args.model is not None:
        # the registry's model itself (cnnlab.models), not a description of it
        model = MODELS[args.model]()
        input_size = input_size or INPUT_SHAPES[args.model][1:]
        with common.user_errors():
            layers = receptive.layers_from_module(model)
            fields = receptive.receptive_fields(layers, input_size)
        report.say(f"{args.model}: cnnlab.models.{MODELS[args.model].__name__}(), its "
                   f"{len(layers)} convolution and pooling layers on a "
                   f"{input_size[0]}x{input_size[1]} input")
    else:
        with common.user_errors():
            fields = receptive.receptive_fields(receptive.parse_layers(args.layers),
                                                input_size)
    print_fields(report, fields)
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "receptive-field", help="receptive field, jump and start of each layer",
        description=common.description(
            "Receptive-field arithmetic for a chain of convolutions and poolings: per layer "
            "the receptive field size (input pixels one unit sees), the jump (distance "
            "between neighbouring units' fields, in input pixels) and the start (centre of "
            "the first unit's field).\n\n"
            "Layers: conv|pool|maxpool|avgpool, the kernel (5 or 3x5), then optional "
            "s<stride>, p<padding>, d<dilation>; pooling strides default to the kernel.",
            ["cnnlab receptive-field conv3,conv3",
             "cnnlab receptive-field conv5p2,pool2,conv5,pool2 --input 28x28",
             "cnnlab receptive-field --model lenet"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("layers", nargs="?", metavar="LAYERS",
                        help="comma-separated layers, e.g. 'conv5p2,pool2,conv5,pool2'")
    parser.add_argument("--model", choices=tuple(MODELS),
                        help="a model of cnnlab.models instead of LAYERS (with its usual "
                             "input size)")
    parser.add_argument("--input", type=common.size, metavar="HxW",
                        help="input size, to show each layer's output size")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)


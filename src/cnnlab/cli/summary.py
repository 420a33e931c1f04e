"""``cnnlab summary``: a model's layers with output shapes, parameters, multiply-adds and
receptive fields (:func:`cnnlab.summary`)."""

from __future__ import annotations

import argparse
import re

import cnnlab
from cnnlab.models import INPUT_SHAPES, MODELS

from . import _common as common
from .train import one_line


def input_shape(text: str) -> tuple:
    """``'1x28x28'`` (C x H x W), ``'28x28'`` (one channel) or ``'8x1x28x28'`` (a batch)."""
    parts = [part.strip() for part in re.split("[x,]", text.strip())]
    if not 2 <= len(parts) <= 4 or not all(re.fullmatch(r"\d+", part) for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected CxHxW (e.g. 1x28x28), HxW or NxCxHxW, got {text!r}")
    values = tuple(int(part) for part in parts)
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return (1,) + values if len(values) == 2 else values


def model_name(text: str) -> str:
    """A model of the registry, or an ONNX file (``*.onnx``)."""
    if text in MODELS or text.endswith(".onnx"):
        return text
    names = ", ".join(repr(name) for name in MODELS)
    raise argparse.ArgumentTypeError(f"invalid choice: '{text}' (choose from {names}, or a "
                                     "file.onnx)")


def run(args) -> int:
    report = common.Report(args.quiet)
    shape = args.input or INPUT_SHAPES.get(args.model, (1, 28, 28))
    if args.model.endswith(".onnx"):
        from .export import onnx_summary
        shape = shape if len(shape) == 4 else (1,) + shape
        report.say(f"{args.model}: an ONNX graph run by cnnlab (cnnlab.onnx.load) on an input "
                   f"{'x'.join(map(str, shape))}")
        report.show("\n".join(onnx_summary(args.model, shape)))
        return 0
    channels = shape[-3]
    model = MODELS[args.model](in_channels=channels)
    try:
        table = cnnlab.summary(model, shape)
    except (ValueError, TypeError) as error:
        raise common.CliError(f"{args.model} does not accept an input of shape "
                              f"{'x'.join(map(str, shape))}: {one_line(error)}") from None
    report.say(f"{args.model}: cnnlab.models.{MODELS[args.model].__name__}(in_channels="
               f"{channels}) on an input {'x'.join(map(str, shape))}")
    report.show(table.table())
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "summary", help="a model's layers: output shapes, parameters, mult-adds, receptive fields",
        description=common.description(
            "Print cnnlab.summary(model, input_shape): per layer, in execution order, the "
            "output shape, the number of parameters, the multiply-adds and the receptive "
            "field (size, jump, start).",
            ["cnnlab summary", "cnnlab summary --model lenet --input 1x28x28",
             "cnnlab summary --input 64x1x28x28"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--model", type=model_name, default="lenet",
                        help=f"the model: {', '.join(MODELS)} (default: lenet, LeNet-5), or an "
                             "ONNX file (model.onnx)")
    parser.add_argument("--input", type=input_shape, metavar="CxHxW",
                        help="input shape: channels x height x width, or HxW, or a batch "
                             "NxCxHxW (default: the model's usual input: 1x28x28 for lenet, "
                             "1x224x224 for alexnet and vgg11)")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)

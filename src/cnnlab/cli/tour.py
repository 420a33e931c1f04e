"""``cnnlab tour``: the chapter, section by section, with its numbers and pictures."""

from __future__ import annotations

import secrets

import cnnlab
from cnnlab import viz

from . import _common as common
from .channels import multiple_inputs, multiple_outputs, one_by_one
from .correlation import correlation_vs_convolution, cross_correlation
from .edges import conv2d_layer, edge_detection, learning_section
from .fields import feature_maps
from .pooling import pooling
from .shape import padding_and_stride

SECTIONS = [
    ("Cross-correlation", cross_correlation),
    ("The Conv2D layer", conv2d_layer),
    ("Edge detection", edge_detection),
    ("Learning the kernel", None),  # needs the seed: see run()
    ("Cross-correlation vs convolution", correlation_vs_convolution),
    ("Feature maps and receptive fields", feature_maps),
    ("Padding and stride", padding_and_stride),
    ("Multiple input channels", multiple_inputs),
    ("Multiple output channels", multiple_outputs),
    ("1x1 convolution", one_by_one),
    ("Pooling", pooling),
]

NEXT = [("cnnlab explore", "a trained LeNet-5 at work on your digit, in the browser"),
        ("cnnlab train", "train LeNet-5 on MNIST yourself, then 'cnnlab predict' your digits")]
"""The commands the tour ends with."""


def run(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet, common.output_directory(args.out), numbered=True)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    report.say("A tour of the chapter on convolutional networks (Dive into Deep Learning), "
               "run with cnnlab: the chapter's code, its printed numbers, and pictures in "
               f"'{args.out}'.")
    report.show(f"seed: {seed}" + ("" if args.seed is not None else
                                   f" (pass --seed {seed} to repeat this run)"))
    cnnlab.manual_seed(seed)
    for _, section in SECTIONS:
        if section is None:
            learning_section(report, seed)
        else:
            section(report)
    report.list_files()
    report.say("\n".join(["", "What next:"] + [f"  {command:<16}{what}" for command, what in NEXT]))
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "tour", help="walk through the chapter: its numbers, explained, and pictures",
        description=common.description(
            "Walk through the chapter on convolutional networks section by section: print "
            "the numbers it prints (as PyTorch prints them), explain each in a sentence or "
            "two, and draw pictures into --out. No network; a few seconds.",
            ["cnnlab tour", "cnnlab tour --out /tmp/pictures --seed 0 --quiet"],
            extra="sections:\n" + "\n".join(f"  {i + 1:2}. {name}"
                                             for i, (name, _) in enumerate(SECTIONS))),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--seed", type=common.seed, metavar="N",
                        help="seed for the random parts (default: a fresh seed, printed)")
    common.add_common(parser)
    parser.set_defaults(run=run)

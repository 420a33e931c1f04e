"""cnnlab's command line: the chapter's tour, one command per section, and calculators.

``cnnlab <command> --help`` describes each command. Commands that draw need Pillow and
Matplotlib (``pip install "cnnlab[viz]"``); ``shape``, ``receptive-field`` and ``summary``
only print. ``train``, ``predict`` and ``features`` train LeNet-5 on MNIST and look inside it.
Bad input gives one ``error: ...`` line on stderr and exit status 2.

The CLI calls the library; the library never imports the CLI.
"""

from __future__ import annotations

import argparse
import os
import sys

import cnnlab

from . import _common as common
from . import animate, channels, correlation, edges, fields, pooling, shape, tour
from . import explore, features, predict, summary, train
from . import run_torch
from . import export
from ..viz import VizUnavailable

COMMANDS = [tour, correlation, edges, shape, fields, animate, pooling, channels,
            summary, train, predict, features, explore, run_torch, export]


def build_parser() -> argparse.ArgumentParser:
    parser = common.Parser(
        prog="cnnlab",
        description="Convolutional networks from first principles, in NumPy. Start with "
                    "'cnnlab tour'; each command has --help.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cnnlab {cnnlab.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                     parser_class=common.Parser)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise common.unknown_options(extra, getattr(args, "command", None))
        if args.command is None:
            parser.print_help()
            return 0
        return args.run(args)
    except SystemExit as exit:  # --help and --version
        return exit.code if isinstance(exit.code, int) else 0
    except (common.CliError, VizUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:
        detail = str(error) or "an array was too large"
        print(f"error: not enough memory: {detail} (use smaller sizes)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cnnlab tour | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


__all__ = ["main", "build_parser"]

"""``cnnlab run-torch SCRIPT.py [args]``: run a PyTorch script on cnnlab, unmodified.

The script runs in this process as ``__main__`` (as ``python SCRIPT.py args`` would)
with :func:`cnnlab.torch_compat.install` in effect: ``import torch``,
``from torch import nn``, ``from torch.nn import functional as F``,
``torch.utils.data``, ``torch.optim.lr_scheduler`` and ``from d2l import torch as d2l``
give cnnlab. Anything cnnlab lacks fails with an error naming the torch name.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

from cnnlab import torch_compat

from . import _common as common


def run(args) -> int:
    script = args.script
    if not os.path.isfile(script):
        raise common.CliError(f"run-torch: no such script: {script!r}")
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script] + list(args.script_args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    torch_compat.install()
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        torch_compat.uninstall()
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "run-torch", help="run a PyTorch script unmodified on cnnlab (import torch -> cnnlab)",
        description=common.description(
            "Run SCRIPT.py with 'import torch', 'from torch import nn', 'torch.nn.functional', "
            "'torch.utils.data', 'torch.optim' and 'from d2l import torch as d2l' resolved to "
            "cnnlab, for this run only. Arguments after the script are passed to it.",
            ["cnnlab run-torch lenet.py", "cnnlab run-torch train.py --epochs 2"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("script", metavar="SCRIPT.py", help="the Python script to run")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="arguments for the script")
    parser.set_defaults(run=run)

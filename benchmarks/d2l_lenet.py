#!/usr/bin/env python
"""The D2L book's LeNet section, run unmodified: ``cnnlab run-torch`` against PyTorch.

Usage::

    python benchmarks/d2l_lenet.py                  # the book's 10 epochs, both libraries
    python benchmarks/d2l_lenet.py --epochs 2       # shorter
    python benchmarks/d2l_lenet.py --only cnnlab    # one library

The script is the PyTorch cells of ``chapter_convolutional-neural-networks/lenet`` from
tests/data/d2l_cells.json (d2l-en 23d7a5ae), joined in order and unchanged but for
``max_epochs=10`` (``--epochs``), after a few lines defining the book's ``tab`` and
timing ``trainer.fit``. It trains on real
Fashion-MNIST (the IDX files cnnlab.data finds: Debian's ``dataset-fashion-mnist``,
``$CNNLAB_DATA/fashion-mnist``, or a download).

* cnnlab: ``cnnlab run-torch book_lenet.py`` in a fresh process.
* PyTorch: the same file in a fresh process with real ``torch`` and ``d2l`` being
  cnnlab's d2l helpers on a PyTorch backend (tests/d2l_book.py), as the real ``d2l``
  package needs torchvision. Both use the same number of threads (``--threads``).

Each run prints its epochs (train loss, validation loss and accuracy); the summary gives
the wall time of ``trainer.fit`` in each library, their ratio and the final validation
accuracy (the book reports about 0.8 after 10 epochs). Run it on an idle machine: other
processes distort the times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELLS = ROOT / "tests" / "data" / "d2l_cells.json"
SECTION = "chapter_convolutional-neural-networks/lenet"

TIMING = """
import time as _time, sys as _sys
_fit = d2l.Trainer.fit
def _timed_fit(self, model, data):
    start = _time.perf_counter()
    _fit(self, model, data)
    _sys.stderr.write(f"BENCH fit_s {_time.perf_counter() - start:.3f}\\n")
    acc = model.board.data["val_acc"][-1].y
    _sys.stderr.write(f"BENCH val_acc {acc:.4f}\\n")
d2l.Trainer.fit = _timed_fit
"""

# the book's notebooks get ``tab`` from d2lbook; its multi-framework cells ask it
TAB = """
class tab:
    @staticmethod
    def selected(*names):
        return "pytorch" in names
"""

TORCH_PRELUDE = f"""
import sys, types
sys.path.insert(0, {str(ROOT / 'tests')!r})
import d2l_book
_package = types.ModuleType("d2l")
_package.torch = d2l_book.oracle_d2l()
sys.modules["d2l"], sys.modules["d2l.torch"] = _package, _package.torch
"""


def book_script(epochs: int) -> str:
    sections = json.loads(CELLS.read_text())["sections"]
    cells = next(s for s in sections if s["section"] == SECTION)["cells"]
    code = [TAB]
    for cell in cells:
        text = cell["code"].replace("max_epochs=10", f"max_epochs={epochs}")
        code.append(text)
        if cell["code"].startswith("from d2l import torch as d2l"):
            code.append(TIMING)
    return "\n\n".join(code) + "\n"


def run(library: str, script: Path, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    if library == "cnnlab":
        command = [sys.executable, "-m", "cnnlab", "run-torch", str(script)]
    else:
        torch_script = script.with_name("book_lenet_torch.py")
        torch_script.write_text(TORCH_PRELUDE + f"import torch\ntorch.set_num_threads({threads})\n"
                                + script.read_text())
        command = [sys.executable, str(torch_script)]
    print(f"== {library}: {' '.join(command)}", flush=True)
    done = subprocess.run(command, env=env, cwd=script.parent, stderr=subprocess.PIPE, text=True)
    results = {}
    for line in done.stderr.splitlines():
        if line.startswith("BENCH "):
            _, key, value = line.split()
            results[key] = float(value)
        else:
            print(line.split("\r")[-1], file=sys.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{library} run failed with exit status {done.returncode}")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=("cnnlab", "torch"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "book_lenet.py"
        script.write_text(book_script(args.epochs))
        libraries = [args.only] if args.only else ["cnnlab", "torch"]
        results = {library: run(library, script, args.threads) for library in libraries}
    for library, result in results.items():
        print(f"{library:7s} fit {result['fit_s']:8.1f} s   val_acc {result['val_acc']:.4f}")
    if len(results) == 2:
        print(f"cnnlab / PyTorch: {results['cnnlab']['fit_s'] / results['torch']['fit_s']:.2f} "
              f"({args.epochs} epochs, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

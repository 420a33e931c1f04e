#!/usr/bin/env python
"""Where a training step of the book's networks spends its time in cnnlab (cProfile).

Usage::

    python benchmarks/profile_step.py resnet18            # batch 128, 96 px
    python benchmarks/profile_step.py lenet --batch 128   # the book's LeNet, 28 px
    python benchmarks/profile_step.py densenet --top 30 --sort cumulative

One untimed warm-up step (first-call costs, scratch buffers), then ``--steps`` steps
under :mod:`cProfile` (cross-entropy, SGD, as ``cases_book.py``). Printed: the wall and
CPU seconds of the profiled steps, then the ``--top`` functions by own time
(``tottime``) and by cumulative time, each with its share of the total.

``--timer cpu`` (the default) clocks the process's CPU time: on a machine shared with
other work, wall time would also count the time this process waited for a core. It
runs single-threaded unless ``--threads`` says otherwise: OpenBLAS's idle threads spin
for about 0.1 s after each product, and with more threads that CPU time landed on
whatever function ran next (measured: 89% of a LeNet step "in" ``conv_backward``).
``--timer wall`` clocks ``perf_counter`` with the default threads; then cnnlab's worker
pool shows as ``lock.acquire`` (the main thread waiting for the workers).
NumPy's ufuncs (``np.matmul``, ``np.add``, ...) are not functions to cProfile: their
time is the own time of the Python function that called them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from book_models import BUILDERS, cnnlab_library, random_batch  # noqa: E402

IMAGE = {"lenet": 28, "resnet18": 96, "densenet": 96}


def _short(filename: str) -> str:
    """A source path from its package folder on (``cnnlab/kernels/conv.py``)."""
    for marker in ("/cnnlab/", "/numpy/", "/site-packages/", "/lib/python"):
        if marker in filename:
            return filename[filename.index(marker) + 1:]
    return filename


def table(stats: pstats.Stats, sort: str, top: int, total: float) -> list:
    """The ``top`` rows of ``stats`` by ``sort`` ('tottime' or 'cumulative') as text."""
    key = 2 if sort == "tottime" else 3
    rows = sorted(stats.stats.items(), key=lambda item: item[1][key], reverse=True)[:top]
    lines = [f"{'own s':>8} {'own %':>6} {'cum s':>8} {'cum %':>6} {'calls':>8}  function"]
    for (filename, line, name), (_, calls, own, cumulative, _) in rows:
        where = f"{_short(filename)}:{line}({name})" if line else name
        lines.append(f"{own:8.3f} {100 * own / total:6.1f} {cumulative:8.3f} "
                     f"{100 * cumulative / total:6.1f} {calls:8d}  {where}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=sorted(BUILDERS))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--image", type=int, help="image size (default: the book's)")
    parser.add_argument("--steps", type=int, default=1, help="profiled steps (default 1)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=("tottime", "cumulative", "both"), default="both")
    parser.add_argument("--threads", type=int,
                        help="cnnlab's and the BLAS's threads (default with --timer cpu: 1)")
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                        help="what cProfile clocks: process CPU time (default) or wall time")
    arguments = parser.parse_args(argv)
    if min(arguments.batch, arguments.steps, arguments.top) < 1:
        parser.error("--batch, --steps and --top must be >= 1")
    threads = arguments.threads or (1 if arguments.timer == "cpu" else None)
    if threads:
        from _timing import set_blas_threads

        set_blas_threads(threads)
        cnnlab.set_num_threads(threads)
    image = arguments.image or IMAGE[arguments.model]
    cnnlab.manual_seed(0)
    model = BUILDERS[arguments.model](cnnlab_library())
    images, labels = random_batch(arguments.batch, image)
    images, labels = cnnlab.from_numpy(images), cnnlab.from_numpy(labels)
    optimizer = cnnlab.optim.SGD(model.parameters(), lr=0.1)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()

    step()  # warm-up: first calls, scratch buffers
    profiler = cProfile.Profile(time.process_time if arguments.timer == "cpu"
                                else time.perf_counter)
    wall, cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    for _ in range(arguments.steps):
        step()
    profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt
    print(f"cnnlab {arguments.model}: {arguments.steps} step(s), batch {arguments.batch}, "
          f"{image} px; {wall:.2f} s wall, {cpu:.2f} s CPU (all threads), "
          f"{total:.2f} s profiled ({arguments.timer} time, with cProfile's overhead); "
          f"threads: cnnlab {cnnlab.get_num_threads()}, BLAS {threads or 'default'}; "
          f"load average {os.getloadavg()[0]:.2f}")
    for sort in (("tottime", "cumulative") if arguments.sort == "both" else (arguments.sort,)):
        print(f"\nby {'own time' if sort == 'tottime' else 'cumulative time'}:")
        print("\n".join(table(stats, sort, arguments.top, total)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

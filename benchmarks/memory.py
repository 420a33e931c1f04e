#!/usr/bin/env python
"""Peak memory of the book's ResNet-18 training step, cnnlab against PyTorch.

Usage::

    python benchmarks/memory.py [--batch 128] [--image 96] [--steps 2] [--threads N]

Each library runs in its own fresh process (``--library``, the child mode), which
imports only that library, builds the network, the batch and the optimizer, and
then takes ``--steps`` training steps. Reported per library:

- ``rise_mib``: the process's peak resident memory during the steps (Linux's
  ``VmHWM``, reset just before the first step by writing 5 to
  ``/proc/self/clear_refs``) minus its resident memory then: what the steps needed
  on top of the model and the data (activations kept for the backward, gradients,
  scratch, buffers kept for later steps, code loaded on first use). Both libraries
  are measured the same way, so this is the figure to compare. (Not ``ru_maxrss``:
  Linux carries it over ``exec`` from the parent, here run.py's hundreds of MiB.)
- ``tracemalloc_mib`` (cnnlab only): the peak of NumPy's allocations during the last
  step above what was allocated before it (tracemalloc sees NumPy's buffers, not
  PyTorch's allocator).

``run.py`` calls :func:`peak_memory` after its tables when the ResNet-18 step case ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MIB = 2 ** 20
LIBRARIES = ("cnnlab", "torch")


def _status_bytes(field: str) -> int:
    """A memory line of /proc/self/status (Linux), e.g. ``VmRSS`` or ``VmHWM``, in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise OSError(f"/proc/self/status has no {field} line")


def _reset_peak() -> bool:
    """Set the peak resident memory to the current one (Linux >= 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def measure(library: str, batch: int, image: int, steps: int) -> dict:
    """Build the book's ResNet-18 in ``library``, take ``steps`` steps, report memory."""
    from book_models import book_resnet18, cnnlab_library, random_batch, torch_library

    if library == "cnnlab":
        import cnnlab
        import cnnlab.functional as F

        lib, wrap, cross_entropy = cnnlab_library(), cnnlab.from_numpy, F.cross_entropy
        sgd = cnnlab.optim.SGD
    elif library == "torch":
        import torch

        lib, wrap = torch_library(), torch.from_numpy
        cross_entropy, sgd = torch.nn.functional.cross_entropy, torch.optim.SGD
    else:
        raise ValueError(f"measure: library must be one of {LIBRARIES}, got {library!r}")
    model = book_resnet18(lib)
    images, labels = random_batch(batch, image)
    images, labels = wrap(images), wrap(labels)
    optimizer = sgd(model.parameters(), lr=0.1)

    def step():
        optimizer.zero_grad()
        loss = cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    reset = _reset_peak()
    before = _status_bytes("VmRSS")
    started = time.perf_counter()
    traced = None
    for index in range(steps):
        if library == "cnnlab" and index == steps - 1:
            tracemalloc.start()
            held = tracemalloc.get_traced_memory()[0]
            step()
            traced = tracemalloc.get_traced_memory()[1] - held
            tracemalloc.stop()
        else:
            step()
    seconds = time.perf_counter() - started
    peak = _status_bytes("VmHWM")
    report = {"library": library, "batch": batch, "image": image, "steps": steps,
              "before_mib": before / MIB, "peak_mib": peak / MIB,
              "rise_mib": max(0, peak - before) / MIB, "peak_reset": reset,
              "seconds": seconds}
    if traced is not None:
        report["tracemalloc_mib"] = traced / MIB
        from cnnlab.kernels import window

        report["scratch_budget_mib"] = window.CONFIG.scratch_bytes / MIB
    return report


def peak_memory(batch: int, image: int, steps: int = 2, threads: int | None = None,
                timeout_s: float = 900) -> dict:
    """Run :func:`measure` for each library in a fresh process; {library: report}.

    A library whose process fails gets ``{"error": "..."}``.
    """
    reports = {}
    for library in LIBRARIES:
        command = [sys.executable, os.path.abspath(__file__), "--library", library,
                   "--batch", str(batch), "--image", str(image), "--steps", str(steps)]
        if threads:
            command += ["--threads", str(threads)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            reports[library] = {"error": f"timed out after {timeout_s:.0f} s"}
            continue
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            reports[library] = {"error": f"exit status {done.returncode}: {tail}"}
            continue
        reports[library] = json.loads(lines[-1])
    return reports


def format_report(reports: dict) -> list:
    """The printed lines of :func:`peak_memory`'s result."""
    some = next((r for r in reports.values() if "error" not in r), None)
    title = ("peak memory of the book's ResNet-18 training step"
             + (f" (batch {some['batch']}, {some['image']} px, {some['steps']} steps, "
                "each library in its own process)" if some else ""))
    lines = [title]
    for library in LIBRARIES:
        report = reports.get(library, {"error": "not run"})
        if "error" in report:
            lines.append(f"  {library:<7} error: {report['error']}")
            continue
        line = (f"  {library:<7} +{report['rise_mib']:.0f} MiB resident during the steps "
                f"(peak {report['peak_mib']:.0f} MiB, {report['before_mib']:.0f} MiB before"
                + ("" if report.get("peak_reset") else "; peak not reset, includes imports")
                + ")")
        if "tracemalloc_mib" in report:
            line += (f"; NumPy allocations peak +{report['tracemalloc_mib']:.0f} MiB in a "
                     f"step (tracemalloc); scratch budget {report['scratch_budget_mib']:.0f} MiB")
        lines.append(line)
    if all("error" not in reports.get(name, {"error": 1}) for name in LIBRARIES):
        torch_rise = reports["torch"]["rise_mib"]
        if torch_rise > 0:
            lines.append(f"  ratio cnnlab / PyTorch (resident rise): "
                         f"{reports['cnnlab']['rise_mib'] / torch_rise:.2f}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", choices=LIBRARIES,
                        help="child mode: measure this library here and print JSON")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--image", type=int, default=96)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, help="threads of the BLAS (and PyTorch)")
    arguments = parser.parse_args(argv)
    if min(arguments.batch, arguments.image, arguments.steps) < 1:
        parser.error("--batch, --image and --steps must be >= 1")
    if arguments.library is None:
        for line in format_report(peak_memory(arguments.batch, arguments.image,
                                              arguments.steps, arguments.threads)):
            print(line)
        return 0
    if arguments.threads:
        from _timing import set_blas_threads

        set_blas_threads(arguments.threads)
        if arguments.library == "cnnlab":
            import cnnlab

            cnnlab.set_num_threads(arguments.threads)
        else:
            import torch

            torch.set_num_threads(arguments.threads)
    print(json.dumps(measure(arguments.library, arguments.batch, arguments.image,
                             arguments.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

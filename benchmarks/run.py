#!/usr/bin/env python
"""cnnlab against PyTorch: convolutions, pooling, tiny ops and the book's networks.

Usage::

    python benchmarks/run.py [--quick] [--json FILE] [--only SUITE_OR_GROUP,...]
                             [--filter SUBSTRING] [--repeat N] [--epoch] [--no-memory]

Every case is first run once in each library and the results compared (rtol 1e-3,
float32; a mismatch is flagged in the ``check`` column and makes the exit status 1),
then timed interleaved in this process (see ``_timing.py``). The table gives the
median time per call of each library, the median of the paired ratios cnnlab / PyTorch
(below 1: cnnlab is faster) and the peak extra memory of one cnnlab call (tracemalloc).
The last table groups the ratios and compares their medians with the project's targets.
Convolution cases also show the GFLOP/s each library achieved, next to the header's
measured sgemm rate (a large float32 ``np.matmul``): the distance to the hardware.
When the ResNet-18 training step ran, its peak memory in each library (``memory.py``,
one fresh process each) is printed last.

The cases are in ``cases_core.py`` (suite ``core``) and ``cases_book.py`` (suite
``book``); ``_suite.py`` holds the modes, the groups with their targets and the check.

Threads: both libraries use the same number, printed in the header. By default PyTorch
is given as many as OpenBLAS (NumPy's BLAS) uses, which is one per core unless
``OPENBLAS_NUM_THREADS`` says otherwise (PyTorch's default is one per core too);
``--threads N`` sets both.

Idle gap: after a matrix product OpenBLAS's threads keep spinning for about 2^28
cycles (~0.1 s). Spinning on one of two cores, they made PyTorch's next convolution
2-3x slower than alone after a 30 ms gap (measured here). Making them sleep at once
(``OPENBLAS_THREAD_TIMEOUT=4``) would slow cnnlab instead, whose back-to-back
products rely on warm threads. So every sample waits 0.25 s first: each library runs
as it would alone, with its default thread settings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import cnnlab  # noqa: E402
from _suite import (GROUPS, MODES, RTOL, SUITES, Case, Pair, Result,  # noqa: E402,F401
                    Settings, Skip, compare_results)
from _timing import (MIB, compare, freeze_imports, idle, machine, peak_extra_bytes,  # noqa: E402
                     set_blas_threads, time_sample)
from cases_book import book_cases, first_call_samples  # noqa: E402
from cases_core import CONVS, core_cases, seed_corr2d, twin_lenets  # noqa: E402,F401
from memory import format_report, peak_memory  # noqa: E402


def all_cases(with_epoch: bool) -> list:
    """Every case, the core suite's first."""
    return core_cases(with_epoch) + book_cases()


# ------------------------------------------------------------------- running


def measure_sgemm(size: int, repeats: int = 3, gap_s: float = 0.25) -> dict:
    """GFLOP/s of a (size x size) @ (size x size) float32 product, best of ``repeats``,
    in NumPy (the BLAS cnnlab's convolutions end in) and in PyTorch."""
    generator = np.random.default_rng(0)
    a = generator.standard_normal((size, size), dtype=np.float32)
    b = generator.standard_normal((size, size), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    flops = 2 * size ** 3
    rates = {}
    for name, call in (("numpy", lambda: np.matmul(a, b)), ("torch", lambda: ta @ tb)):
        call()
        best = math.inf
        for _ in range(repeats):
            idle(gap_s)
            best = min(best, time_sample(call))
        rates[name] = flops / best / 1e9
    return {"size": size, "numpy_gflops": rates["numpy"], "torch_gflops": rates["torch"]}


def _time_first_calls(pair: Pair, settings: Settings, samples: int, result: Result) -> None:
    """A first-call case: each sample is a new shape; the ratio is cnnlab's first call
    over its own steady time (PyTorch's first call is in the torch column)."""
    cnnlab_call, torch_call = pair.first_call(samples)  # a shape of its own, for the check
    ok, result.max_error = compare_results(cnnlab_call(), torch_call())
    if not ok:
        result.status = "mismatch"
    times = first_call_samples(pair, samples, settings.gap_s, idle, time_sample)
    result.cnnlab_samples_s, result.torch_samples_s = times["cnnlab_first"], times["torch_first"]
    result.cnnlab_s = statistics.median(times["cnnlab_first"])
    result.torch_s = statistics.median(times["torch_first"])
    result.ratio = statistics.median(
        f / s for f, s in zip(times["cnnlab_first"], times["cnnlab_steady"]))
    torch_ratio = statistics.median(
        f / s for f, s in zip(times["torch_first"], times["torch_steady"]))
    steady = {name: format_time(statistics.median(times[f"{name}_steady"]))
              for name in ("cnnlab", "torch")}
    result.message = (f"ratio = first/steady; steady {steady['cnnlab']}, torch "
                      f"{steady['torch']} (torch first/steady {format_ratio(torch_ratio)})")


def run_case(case: Case, settings: Settings, samples: int) -> Result:
    result = Result(case.name, case.shape(settings), case.groups, suite=case.suite)
    # What earlier cases left (caches, lazily imported modules) out of the collector's
    # view: the collection before each sample then sees only this case's objects.
    freeze_imports()
    try:
        pair = case.build(settings)
        if pair.first_call is not None:
            _time_first_calls(pair, settings, samples, result)
            return result
        # Correctness first: speed never changes results.
        got, want = pair.cnnlab_call(), pair.torch_call()
        check = pair.check or compare_results
        ok, result.max_error = check(got, want)
        del got, want
        if not ok:
            result.status = "mismatch"
        if pair.timed:
            case_samples = samples if pair.samples is None else min(samples, pair.samples)
            timing = compare(pair.cnnlab_call, pair.torch_call, samples=case_samples,
                             warmup=settings.warmup if pair.warmup is None else pair.warmup,
                             gap_s=settings.gap_s, min_sample_s=settings.min_sample_s,
                             torch_samples=(None if pair.torch_samples is None
                                            else min(case_samples, pair.torch_samples)))
            result.cnnlab_samples_s, result.torch_samples_s = timing.cnnlab_s, timing.torch_s
            result.calls_per_sample = (timing.cnnlab_number, timing.torch_number)
            if pair.memory:
                result.peak_mib = peak_extra_bytes(pair.cnnlab_call) / MIB
        else:
            # Too long to repeat: the check's run was the warm-up, now one sample each.
            for call, samples_s in ((pair.cnnlab_call, result.cnnlab_samples_s),
                                    (pair.torch_call, result.torch_samples_s)):
                idle(settings.gap_s)
                samples_s.append(time_sample(call))
        result.cnnlab_s = statistics.median(result.cnnlab_samples_s)
        result.torch_s = statistics.median(result.torch_samples_s)
        result.ratio = statistics.median(
            c / t for c, t in zip(result.cnnlab_samples_s, result.torch_samples_s))
        if pair.flops:
            result.cnnlab_gflops = pair.flops / result.cnnlab_s / 1e9
            result.torch_gflops = pair.flops / result.torch_s / 1e9
    except Skip as skip:
        result.status, result.message = "skipped", str(skip)
    except Exception as error:  # one broken case must not stop the suite
        result.status, result.message = "error", f"{type(error).__name__}: {error}"
    return result


def select_cases(cases, only: str = "", substring: str = "") -> list:
    """The cases in the ``only`` suites or groups (comma-separated; all when empty)
    whose name contains ``substring`` (case-insensitive)."""
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    return [case for case in cases
            if (not wanted or case.suite in wanted or wanted & set(case.groups))
            and substring.lower() in case.name.lower()]


def group_summary(results) -> list:
    summary = []
    for group in GROUPS:
        members = [r for r in results if group.key in r.groups and r.ratio is not None]
        median = statistics.median(r.ratio for r in members) if members else None
        met = None if group.target is None or median is None else median <= group.target
        summary.append({"key": group.key, "title": group.title, "target": group.target,
                        "cases": [r.name for r in members], "median_ratio": median,
                        "met": met})
    return summary


# ------------------------------------------------------------------ printing


def format_time(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_ratio(ratio) -> str:
    """Two decimals; two significant digits below 0.1 (a vectorised op vs a Python loop)."""
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def _check_text(result: Result) -> str:
    error = "" if result.max_error is None else f" ({result.max_error:.0e})"
    if result.status in ("ok", "mismatch"):
        note = f"; {result.message}" if result.message else ""
        return ("ok" if result.status == "ok" else "MISMATCH") + error + note
    return result.status


def _gflops_text(result: Result) -> str:
    if result.cnnlab_gflops is None:
        return "-"
    return f"{result.cnnlab_gflops:.0f}/{result.torch_gflops:.0f}"


ROW = "{:<30} {:<32} {:>10} {:>10} {:>6} {:>9} {:>8}  {}"


def print_header(info: dict, settings: Settings, samples: int, sgemm: dict) -> None:
    blas = info["blas"]
    print("cnnlab benchmarks: cnnlab vs PyTorch, float32, same process, interleaved")
    print(f"CPU: {info['cpu']} ({info['cpu_count']} logical cores); load average "
          f"{' '.join(f'{x:.2f}' for x in info['load_average'] or ())}")
    print(f"Python {info['python']}; NumPy {blas['numpy']} with {blas.get('name')} "
          f"{blas.get('version') or ''} (core {blas.get('core')}; threads: {blas.get('threads')})")
    print(f"PyTorch {info['torch']}, torch.get_num_threads() = {info['torch_threads']}; "
          f"cnnlab.get_num_threads() = {cnnlab.get_num_threads()}")
    load = info["load_average"]
    if load and load[0] > 0.5:
        print(f"note: load average {load[0]:.2f} before starting: other processes are using "
              "the CPU, timings (threaded ones most) will be noisy")
    print(f"sgemm ({sgemm['size']}^3 float32, best of 3): NumPy {sgemm['numpy_gflops']:.0f} "
          f"GFLOP/s, PyTorch {sgemm['torch_gflops']:.0f} GFLOP/s: the rate a convolution "
          "reaches at best")
    print(f"mode {settings.mode}: {samples} samples after {settings.warmup} warm-up "
          f"(whole networks: {settings.network_samples} after 1), "
          f"{settings.gap_s * 1000:.0f} ms idle before each sample; ratio = median of paired "
          "cnnlab/torch samples; GF/s = GFLOP/s of cnnlab/torch (convolutions); mem = peak "
          "extra MiB of one cnnlab call (tracemalloc)")
    print()
    print(ROW.format("case", "shape (N x C x H x W -> Cout)", "cnnlab", "torch", "ratio",
                     "GF/s c/t", "mem MiB", "check"))
    print("-" * 128, flush=True)


def print_result(result: Result) -> None:
    if result.status in ("error", "skipped"):
        print(ROW.format(result.name, result.shape, "-", "-", "-", "-", "-",
                         f"{result.status}: {result.message}"), flush=True)
        return
    print(ROW.format(result.name, result.shape, format_time(result.cnnlab_s),
                     format_time(result.torch_s), format_ratio(result.ratio),
                     _gflops_text(result),
                     "-" if result.peak_mib is None else f"{result.peak_mib:.1f}",
                     _check_text(result)), flush=True)


def print_groups(summary) -> None:
    print()
    print("{:<54} {:>5} {:>8} {:>7}  {}".format("group (cnnlab / PyTorch)", "cases", "median",
                                                 "target", "status"))
    print("-" * 88)
    for group in summary:
        median = group["median_ratio"]
        target = "-" if group["target"] is None else f"<= {group['target']:g}"
        status = {True: "met", False: "NOT MET", None: "info" if median is not None else "n/a"}
        print("{:<54} {:>5} {:>8} {:>7}  {}".format(
            group["title"], len(group["cases"]), "-" if median is None else format_ratio(median),
            target, status[group["met"]]))


# ---------------------------------------------------------------------- main


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples and a quarter of the batch (networks: 32 images)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny batches and two samples, to test the suite itself")
    parser.add_argument("--json", metavar="FILE", help="write all results to FILE as JSON")
    parser.add_argument("--only", metavar="NAMES", default="",
                        help="run only these suites (core, book) or groups, comma-separated "
                             "(e.g. --only book, --only conv_bwd,batchnorm)")
    parser.add_argument("--filter", metavar="SUBSTRING", default="",
                        help="run only the cases whose name contains SUBSTRING")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory report of the ResNet-18 step (two "
                             "processes, each taking two steps)")
    parser.add_argument("--repeat", metavar="N", type=int,
                        help="timed samples per library and case (default: 7, quick: 5)")
    parser.add_argument("--epoch", action="store_true",
                        help="also time a whole MNIST training epoch (slow; needs the data)")
    parser.add_argument("--threads", metavar="N", type=int,
                        help="threads of OpenBLAS, cnnlab's pool and PyTorch (default: "
                             "PyTorch gets as many as OpenBLAS uses, one per core unless "
                             "OPENBLAS_NUM_THREADS says otherwise)")
    arguments = parser.parse_args(argv)
    for name in ("repeat", "threads"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1, got {value}")
    if arguments.quick and arguments.smoke:
        parser.error("--quick and --smoke are exclusive")
    known = set(SUITES) | {group.key for group in GROUPS}
    unknown = [name for name in arguments.only.split(",") if name.strip()
               and name.strip() not in known]
    if unknown:
        parser.error(f"--only {','.join(unknown)}: not a suite or group; choose from "
                     f"{', '.join(SUITES)} or {', '.join(group.key for group in GROUPS)}")
    return arguments


def _json_safe(value):
    """``value`` with tuples as lists and non-finite floats (a NaN error) as None."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def set_threads(count=None) -> None:
    """Give both libraries ``count`` threads (OpenBLAS, cnnlab's own pool, PyTorch), or
    PyTorch as many as OpenBLAS uses."""
    if count is not None:
        if not set_blas_threads(count):
            print("warning: could not set the OpenBLAS thread count; set "
                  "OPENBLAS_NUM_THREADS instead", file=sys.stderr)
        cnnlab.set_num_threads(count)
        torch.set_num_threads(count)
        return
    blas_threads = machine()["blas"].get("threads")
    if blas_threads and blas_threads != torch.get_num_threads():
        torch.set_num_threads(blas_threads)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    settings = MODES["smoke" if arguments.smoke else "quick" if arguments.quick else "full"]
    samples = arguments.repeat or settings.samples
    set_threads(arguments.threads)
    freeze_imports()
    info = machine()
    cases = select_cases(all_cases(arguments.epoch), arguments.only, arguments.filter)
    if not cases:
        print(f"no case name contains {arguments.filter!r}"
              + (f" among --only {arguments.only}" if arguments.only else ""), file=sys.stderr)
        return 2
    sgemm = measure_sgemm(settings.sgemm_size, gap_s=settings.gap_s)
    print_header(info, settings, samples, sgemm)
    started = time.perf_counter()
    results = []
    for case in cases:
        results.append(run_case(case, settings, samples))
        print_result(results[-1])
    summary = group_summary(results)
    print_groups(summary)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{len(results)} cases in {time.perf_counter() - started:.0f} s; load average "
          f"at the end {load:.2f}")
    memory = None
    if not arguments.no_memory and any("resnet_step" in r.groups and r.status == "ok"
                                       for r in results):
        print()
        if os.path.exists("/proc/self/status"):
            memory = peak_memory(settings.network_batch, settings.book_image,
                                 threads=info["blas"].get("threads"))
            print("\n".join(format_report(memory)))
        else:  # memory.py reads the peak from Linux's /proc
            print("peak memory of the ResNet-18 step: skipped (needs Linux's /proc)")
    if arguments.json:
        report = _json_safe({"machine": info, "mode": settings.mode, "samples": samples,
                             "warmup": settings.warmup, "gap_s": settings.gap_s, "rtol": RTOL,
                             "sgemm": sgemm, "cases": [vars(r) for r in results],
                             "groups": summary, "memory": memory})
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=1, allow_nan=False)
            file.write("\n")
    failed = [r.name for r in results if r.status in ("mismatch", "error")]
    if memory and any("error" in report for report in memory.values()):
        failed.append("peak memory report")
    if failed:
        print(f"cases that failed their check or raised: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

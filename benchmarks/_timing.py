"""Timing, memory and machine-description helpers for ``benchmarks/run.py``.

Timing rules (the reasons are in ``benchmarks/README.md``):

- cnnlab and PyTorch are timed in the same process, **interleaved**: warm-up calls of
  each, then cnnlab sample, torch sample, cnnlab sample, ... so that a slow phase of the
  machine (another process, a frequency change) hits both libraries alike.
- Before every sample the process sleeps ``gap`` seconds and collects garbage: OpenBLAS
  worker threads keep spinning for a while after a call and would slow down whatever
  runs next. The garbage collector is off while a sample runs (as in ``timeit``).
- A sample is ``number`` back-to-back calls divided by ``number``; ``number`` is chosen
  from the fastest warm-up call so that a sample lasts at least ``min_sample_s`` (tiny
  ops take microseconds, below what one ``perf_counter`` pair measures well).
- Reported: the median time of each library and the median of the paired ratios
  ``cnnlab_i / torch_i``.
"""

from __future__ import annotations

import ctypes
import gc
import glob
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field

MIB = 2 ** 20


@dataclass
class Timing:
    """Per-sample seconds of both libraries (index ``i`` of each list forms a pair)."""

    cnnlab_s: list = field(default_factory=list)
    torch_s: list = field(default_factory=list)
    cnnlab_number: int = 1
    torch_number: int = 1

    @property
    def cnnlab_median_s(self) -> float:
        return statistics.median(self.cnnlab_s)

    @property
    def torch_median_s(self) -> float:
        return statistics.median(self.torch_s)

    @property
    def ratios(self) -> list:
        """``cnnlab_i / torch_i`` for each pair of samples taken one after the other."""
        return [c / t for c, t in zip(self.cnnlab_s, self.torch_s)]

    @property
    def ratio(self) -> float:
        """Median of the paired ratios (cnnlab / PyTorch); < 1 means cnnlab is faster."""
        return statistics.median(self.ratios)


def freeze_imports() -> None:
    """Move every object alive now (the imported modules) out of the garbage collector's
    view, so the collection before each sample takes microseconds instead of ~0.1 s."""
    gc.collect()
    gc.freeze()


def idle(gap_s: float) -> None:
    """Let BLAS threads go back to sleep and clear garbage before the next sample."""
    gc.collect()
    if gap_s > 0:
        time.sleep(gap_s)


def time_sample(function, number: int = 1) -> float:
    """Seconds per call of ``number`` back-to-back calls, garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            function()
        return (time.perf_counter() - start) / number
    finally:
        if enabled:
            gc.enable()


def calls_per_sample(seconds_per_call: float, min_sample_s: float) -> int:
    """How many calls make a sample of at least ``min_sample_s`` (1 for slow calls)."""
    if seconds_per_call <= 0:
        return 1000
    return max(1, min(100_000, math.ceil(min_sample_s / seconds_per_call)))


def compare(cnnlab_call, torch_call, *, samples: int, warmup: int = 1, gap_s: float = 0.03,
            min_sample_s: float = 0.0, torch_samples: int | None = None) -> Timing:
    """Time two calls interleaved: warm-up, then cnnlab, torch, cnnlab, torch, ...

    Parameters
    ----------
    cnnlab_call, torch_call : callable with no arguments
    samples : int
        Samples of ``cnnlab_call``.
    warmup : int
        Warm-up rounds of each before the first sample (at least one): one call in the
        first round, then as many calls as a sample will make. They are not samples;
        the fastest of them sizes the samples.
    gap_s : float
        Idle seconds before every sample.
    min_sample_s : float
        Shortest sample: fast calls are repeated within one sample until it lasts this long.
    torch_samples : int, optional
        Samples of ``torch_call`` when it should be sampled less often (a slow reference);
        the first ``torch_samples`` cnnlab samples are then paired with them.
    """
    torch_samples = samples if torch_samples is None else torch_samples
    if samples < 1 or torch_samples < 1:
        raise ValueError(f"compare: samples must be >= 1, got {samples} and {torch_samples}")
    timing = Timing()
    # A sample's length in calls comes from the fastest warm-up call: the first call
    # after an idle gap can be 100x slower (cold caches, sleeping threads), and sizing
    # from it alone made tiny-op samples a few calls long, mostly cold.
    fastest = {"cnnlab": math.inf, "torch": math.inf}
    for _ in range(max(1, warmup)):
        for name, call in (("cnnlab", cnnlab_call), ("torch", torch_call)):
            idle(gap_s)
            number = 1 if math.isinf(fastest[name]) else calls_per_sample(fastest[name],
                                                                          min_sample_s)
            fastest[name] = min(fastest[name], time_sample(call, number))
    timing.cnnlab_number = calls_per_sample(fastest["cnnlab"], min_sample_s)
    timing.torch_number = calls_per_sample(fastest["torch"], min_sample_s)
    for i in range(max(samples, torch_samples)):
        if i < samples:
            idle(gap_s)
            timing.cnnlab_s.append(time_sample(cnnlab_call, timing.cnnlab_number))
        if i < torch_samples:
            idle(gap_s)
            timing.torch_s.append(time_sample(torch_call, timing.torch_number))
    return timing


def peak_extra_bytes(function) -> int:
    """Peak memory allocated during one ``function()`` call, above what was held before.

    Measured with :mod:`tracemalloc`, which sees NumPy's array buffers (NumPy reports
    them to it) and Python objects; it does not see PyTorch's allocator, so this is
    meaningful for cnnlab only. The call's result is dropped after the measurement, so
    it counts while it is alive.
    """
    idle(0)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = function()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        if started:
            tracemalloc.stop()
    return max(0, peak - before)


# ------------------------------------------------------------------ the machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _openblas_library():
    """NumPy's bundled OpenBLAS as a ctypes library, or None."""
    import numpy

    folder = os.path.dirname(os.path.dirname(numpy.__file__))
    for path in sorted(glob.glob(os.path.join(folder, "numpy.libs", "*openblas*"))):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _openblas_call(library, suffixes, restype):
    if library is None:
        return None
    for name in suffixes:
        for prefix in ("scipy_openblas_", "openblas_"):
            function = getattr(library, prefix + name, None)
            if function is not None:
                function.restype = restype
                return function()
    return None


def set_blas_threads(count: int) -> bool:
    """Set the number of OpenBLAS threads NumPy uses; False when that is not possible."""
    library = _openblas_library()
    for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                 "openblas_set_num_threads"):
        function = getattr(library, name, None) if library is not None else None
        if function is not None:
            function.argtypes = [ctypes.c_int]
            function.restype = None
            function(count)
            return True
    return False


def numpy_blas() -> dict:
    """NumPy's BLAS: name, version, configuration and its current thread count."""
    import numpy

    info = {"numpy": numpy.__version__}
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info.update(name=blas.get("name"), version=blas.get("version"),
                    config=blas.get("openblas configuration"))
    except Exception as error:  # numpy < 1.25 has no mode="dicts"
        info["name"] = f"unknown ({type(error).__name__})"
    library = _openblas_library()
    info["threads"] = _openblas_call(library, ("get_num_threads64_", "get_num_threads"),
                                     ctypes.c_int)
    corename = _openblas_call(library, ("get_corename64_", "get_corename"), ctypes.c_char_p)
    info["core"] = corename.decode() if corename else None
    return info


def machine() -> dict:
    """Everything the header prints: CPU, Python, NumPy/BLAS and PyTorch threads, load."""
    import torch

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "blas": numpy_blas(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average": load,
    }

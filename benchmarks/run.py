#!/usr/bin/env python
"""cnnlab against PyTorch: convolution, pooling, tiny-op latency and LeNet training.

Usage::

    python benchmarks/run.py [--quick] [--json FILE] [--filter SUBSTRING] [--repeat N]
                             [--epoch]

Every case is first run once in each library and the results compared (rtol 1e-3,
float32; a mismatch is flagged in the ``check`` column and makes the exit status 1),
then timed interleaved in this process (see ``_timing.py``). The table gives the
median time per call of each library, the median of the paired ratios cnnlab / PyTorch
(below 1: cnnlab is faster) and the peak extra memory of one cnnlab call (tracemalloc).
The last table groups the ratios and compares their medians with the project's targets.

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
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from _timing import (MIB, compare, freeze_imports, idle, machine, peak_extra_bytes,  # noqa: E402
                     set_blas_threads, time_sample)

RTOL = 1e-3
"""Relative tolerance of the correctness check (float32)."""
ATOL_SCALE = 1e-4
"""Absolute tolerance of the check, as a fraction of the largest |PyTorch value|: entries
near zero are sums of many products whose float32 rounding is relative to the terms."""


# ------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Settings:
    """How much work each mode does; ``batch_divisor`` shrinks the batch of big cases."""

    mode: str
    samples: int
    warmup: int
    gap_s: float
    min_sample_s: float
    batch_divisor: int
    spatial_divisor: int
    big_corr_size: int
    seed_loop_samples: int
    lenet_batch: int
    epoch_fraction: float

    def batch(self, n: int) -> int:
        return max(1, n // self.batch_divisor)

    def spatial(self, size: int) -> int:
        """Image sizes of 56 and more, divided by ``spatial_divisor`` (smoke mode only)."""
        return size // self.spatial_divisor if size >= 56 else size


MODES = {
    "full": Settings("full", samples=7, warmup=2, gap_s=0.25, min_sample_s=0.02,
                     batch_divisor=1, spatial_divisor=1, big_corr_size=224,
                     seed_loop_samples=2, lenet_batch=64, epoch_fraction=1.0),
    "quick": Settings("quick", samples=5, warmup=1, gap_s=0.25, min_sample_s=0.01,
                      batch_divisor=4, spatial_divisor=1, big_corr_size=224,
                      seed_loop_samples=1, lenet_batch=64, epoch_fraction=0.1),
    # For the test suite: every case runs, on tiny batches and images, with two samples.
    "smoke": Settings("smoke", samples=2, warmup=1, gap_s=0.002, min_sample_s=0.0,
                      batch_divisor=64, spatial_divisor=4, big_corr_size=24,
                      seed_loop_samples=1, lenet_batch=8, epoch_fraction=0.01),
}


# -------------------------------------------------------------------- groups


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    target: float | None  # the largest acceptable median ratio; None: for information


GROUPS = (
    Group("conv3x3_fwd", "3x3 conv forward (64-256 channels)", 1.1),
    Group("conv1x1_fwd", "1x1 conv forward", 0.8),
    Group("conv_fwd_bwd", "conv forward+backward (dense cases)", 1.5),
    Group("depthwise_fwd_bwd", "depthwise conv forward+backward", 2.0),
    Group("pool_fwd", "max/avg pool forward", 0.5),
    Group("pool_fwd_bwd", "max/avg pool forward+backward", 1.5),
    Group("lenet_step", "LeNet training step, batch 64", 1.0),
    Group("tiny", "tiny-op call latency", 1.0),
    Group("conv_fwd_other", "other conv forward (LeNet, stem, depthwise, dilated)", None),
    Group("seed_loop", "corr2d vs the seed's Python loop", None),
    Group("epoch", "MNIST training epoch", None),
)


# --------------------------------------------------------------------- cases


@dataclass
class Pair:
    """The two calls of a case; each returns the arrays the check compares."""

    cnnlab_call: object
    torch_call: object
    torch_samples: int | None = None  # fewer samples for a slow reference
    timed: bool = True  # False: one sample each, no warm-up (a whole epoch)
    check: object = None  # custom check: (cnnlab results, torch results) -> (ok, error)


@dataclass
class Case:
    name: str
    shape: object  # Settings -> the shape label, with the sizes that mode uses
    groups: tuple
    build: object  # Settings -> Pair


@dataclass
class Result:
    name: str
    shape: str
    groups: tuple
    status: str = "ok"  # ok | mismatch | error | skipped
    message: str = ""
    max_error: float | None = None
    cnnlab_s: float | None = None
    torch_s: float | None = None
    ratio: float | None = None
    peak_mib: float | None = None
    cnnlab_samples_s: list = field(default_factory=list)
    torch_samples_s: list = field(default_factory=list)
    calls_per_sample: tuple = (1, 1)


def _rng():
    return np.random.default_rng(0)


def _as_numpy(value) -> np.ndarray:
    """A float64 copy of a cnnlab/torch tensor or array (copied: parameters change later)."""
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().astype(np.float64)
    if isinstance(value, cnnlab.Tensor):
        return np.array(value.array, dtype=np.float64)
    return np.array(value, dtype=np.float64)


def compare_results(got, want) -> tuple:
    """(ok, largest error relative to the largest |want|) over paired arrays.

    The error is None when the number or the shapes of the arrays differ.
    """
    got, want = [_as_numpy(g) for g in got], [_as_numpy(w) for w in want]
    if len(got) != len(want):
        return False, None
    ok, worst = True, 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return False, None
        scale = float(np.abs(w).max()) if w.size else 0.0
        error = float(np.abs(g - w).max()) if w.size else 0.0
        worst = max(worst, error / scale if scale else error)
        ok = ok and bool(np.allclose(g, w, rtol=RTOL, atol=ATOL_SCALE * scale))
    return ok, worst


def _leaves(arrays, requires_grad):
    """The same arrays as cnnlab and torch tensors (sharing memory, as inputs)."""
    cnn = [cnnlab.from_numpy(a).requires_grad_(requires_grad) for a in arrays]
    tch = [torch.from_numpy(a).requires_grad_(requires_grad) for a in arrays]
    return cnn, tch


# conv: (label, N, Cin, H, W, Cout, kernel, stride, padding, dilation, groups)
CONVS = (
    ("lenet-conv1", 256, 1, 28, 28, 6, 5, 1, 2, 1, 1),
    ("lenet-conv2", 256, 6, 14, 14, 16, 5, 1, 0, 1, 1),
    ("resnet3x3-64", 8, 64, 56, 56, 64, 3, 1, 1, 1, 1),
    ("resnet3x3-128", 8, 128, 28, 28, 128, 3, 1, 1, 1, 1),
    ("resnet3x3-256", 8, 256, 14, 14, 256, 3, 1, 1, 1, 1),
    ("stem7x7", 4, 3, 224, 224, 64, 7, 2, 3, 1, 1),
    ("1x1-256to64", 8, 256, 56, 56, 64, 1, 1, 0, 1, 1),
    ("depthwise3x3-32", 8, 32, 112, 112, 32, 3, 1, 1, 1, 32),
    ("dilated3x3-d2", 8, 64, 56, 56, 64, 3, 1, 2, 2, 1),
)


def _conv_groups(label, groups, backward):
    if backward:
        return ("depthwise_fwd_bwd",) if groups > 1 else ("conv_fwd_bwd",)
    if label.startswith("resnet3x3"):
        return ("conv3x3_fwd",)
    if label.startswith("1x1"):
        return ("conv1x1_fwd",)
    return ("conv_fwd_other",)


def _conv_case(spec, backward):
    label, n, cin, h, w, cout, k, stride, pad, dilation, groups = spec
    kwargs = dict(stride=stride, padding=pad, dilation=dilation, groups=groups)

    def build(settings):
        rng = _rng()
        fan_in = cin // groups * k * k
        x = rng.standard_normal((settings.batch(n), cin, settings.spatial(h),
                                 settings.spatial(w)), dtype=np.float32)
        weight = (rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
                  / np.float32(math.sqrt(fan_in)))
        bias = rng.standard_normal(cout, dtype=np.float32)
        (cx, cw, cb), (tx, tw, tb) = _leaves((x, weight, bias), backward)
        if not backward:
            return Pair(lambda: (F.conv2d(cx, cw, cb, **kwargs),),
                        lambda: (TF.conv2d(tx, tw, tb, **kwargs),))
        with torch.no_grad():
            out_shape = TF.conv2d(tx, tw, tb, **kwargs).shape
        grad = rng.standard_normal(tuple(out_shape), dtype=np.float32)
        torch_grad = torch.from_numpy(grad)

        def cnnlab_call():
            cx.grad = cw.grad = cb.grad = None
            out = F.conv2d(cx, cw, cb, **kwargs)
            out.backward(grad)
            return out.detach(), cx.grad, cw.grad, cb.grad

        def torch_call():
            tx.grad = tw.grad = tb.grad = None
            out = TF.conv2d(tx, tw, tb, **kwargs)
            out.backward(torch_grad)
            return out.detach(), tx.grad, tw.grad, tb.grad
        return Pair(cnnlab_call, torch_call)

    parts = [f"k{k}"] + [f"{name}{value}" for name, value, default in
                         (("s", stride, 1), ("p", pad, 0), ("d", dilation, 1), ("g", groups, 1))
                         if value != default]
    suffix = "fwd+bwd" if backward else "fwd"

    def shape(settings):
        return (f"{settings.batch(n)}x{cin}x{settings.spatial(h)}x{settings.spatial(w)}"
                f"->{cout} {' '.join(parts)}")
    return Case(f"conv {label} {suffix}", shape, _conv_groups(label, groups, backward), build)


POOLS = (("max", 2, 2, 0), ("max", 3, 2, 1), ("avg", 2, 2, 0), ("avg", 3, 2, 1))
POOL_INPUT = (8, 64, 112, 112)


def _pool_case(spec, backward):
    kind, k, stride, pad = spec
    cnnlab_pool = {"max": F.max_pool2d, "avg": F.avg_pool2d}[kind]
    torch_pool = {"max": TF.max_pool2d, "avg": TF.avg_pool2d}[kind]

    def build(settings):
        rng = _rng()
        n, c, h, w = POOL_INPUT
        x = rng.standard_normal((settings.batch(n), c, settings.spatial(h),
                                 settings.spatial(w)), dtype=np.float32)
        (cx,), (tx,) = _leaves((x,), backward)
        if not backward:
            return Pair(lambda: (cnnlab_pool(cx, k, stride, pad),),
                        lambda: (torch_pool(tx, k, stride, pad),))
        with torch.no_grad():
            out_shape = torch_pool(tx, k, stride, pad).shape
        grad = rng.standard_normal(tuple(out_shape), dtype=np.float32)
        torch_grad = torch.from_numpy(grad)

        def cnnlab_call():
            cx.grad = None
            out = cnnlab_pool(cx, k, stride, pad)
            out.backward(grad)
            return out.detach(), cx.grad

        def torch_call():
            tx.grad = None
            out = torch_pool(tx, k, stride, pad)
            out.backward(torch_grad)
            return out.detach(), tx.grad
        return Pair(cnnlab_call, torch_call)

    suffix = "fwd+bwd" if backward else "fwd"

    def shape(settings):
        n, c, h, w = POOL_INPUT
        return (f"{settings.batch(n)}x{c}x{settings.spatial(h)}x{settings.spatial(w)} "
                f"k{k} s{stride}" + (f" p{pad}" if pad else ""))
    group = "pool_fwd_bwd" if backward else "pool_fwd"
    return Case(f"pool {kind} k{k}s{stride}{'p' + str(pad) if pad else ''} {suffix}", shape,
                (group,), build)


def seed_corr2d(X, kernel):
    """The seed notebook's ``corr2d``, verbatim (/work/shared/seed/000_be809b75e199121d.txt)."""
    h, w = kernel.shape
    out = torch.zeros(X.size()[0] - h + 1, X.size()[1] - w + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (X[i: i + h, j: j + w] * kernel).sum()
    return out


def _chapter_image():
    """The seed's 6x8 edge-detection image (middle four columns black) and kernel [1, -1]."""
    image = np.ones((6, 8), dtype=np.float32)
    image[:, 2:6] = 0
    return image, np.array([[1.0, -1.0]], dtype=np.float32)


def _tiny_corr2d(settings):
    image, kernel = _chapter_image()
    (c_image, c_kernel), (t_image, t_kernel) = _leaves((image, kernel), False)
    t_image4, t_kernel4 = t_image[None, None], t_kernel[None, None]
    return Pair(lambda: (cnnlab.corr2d(c_image, c_kernel),),
                lambda: (TF.conv2d(t_image4, t_kernel4)[0, 0],))


def _tiny_conv2d(settings):
    image, kernel = _chapter_image()
    (c_image, c_kernel), (t_image, t_kernel) = _leaves(
        (image.reshape(1, 1, 6, 8), kernel.reshape(1, 1, 1, 2)), False)
    return Pair(lambda: (F.conv2d(c_image, c_kernel),),
                lambda: (TF.conv2d(t_image, t_kernel),))


def _big_corr2d(settings):
    size = settings.big_corr_size
    rng = _rng()
    (c_x, c_k), (t_x, t_k) = _leaves((rng.standard_normal((size, size), dtype=np.float32),
                                      rng.standard_normal((3, 3), dtype=np.float32)), False)
    return Pair(lambda: (cnnlab.corr2d(c_x, c_k),), lambda: (seed_corr2d(t_x, t_k),),
                torch_samples=settings.seed_loop_samples)


def lenet(nn):
    """LeNet-5 as in the chapter (ReLU, max pooling), from ``torch.nn`` or ``cnnlab.nn``."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def twin_lenets(lr=0.01, momentum=0.9):
    """A torch LeNet and a cnnlab LeNet with the same weights, each with its SGD."""
    torch.manual_seed(0)
    torch_model = lenet(torch.nn)
    cnnlab_model = lenet(cnnlab.nn)
    torch_params = list(torch_model.parameters())
    cnnlab_params = list(cnnlab_model.parameters())
    for c, t in zip(cnnlab_params, torch_params, strict=True):
        c.array[...] = t.detach().numpy()
    return ((cnnlab_model, cnnlab.optim.SGD(cnnlab_params, lr=lr, momentum=momentum)),
            (torch_model, torch.optim.SGD(torch_params, lr=lr, momentum=momentum)))


def _train_step(model, optimizer, cross_entropy, images, labels):
    optimizer.zero_grad()
    loss = cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def _lenet_step(settings):
    rng = _rng()
    batch = settings.lenet_batch
    images = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    (c_model, c_opt), (t_model, t_opt) = twin_lenets()
    c_images, t_images = cnnlab.from_numpy(images), torch.from_numpy(images)
    c_labels, t_labels = cnnlab.from_numpy(labels), torch.from_numpy(labels)

    # A call is STEPS consecutive steps, as in training: after the idle gap that
    # precedes every sample, a single step would mostly time how fast each library's
    # threads wake up (PyTorch's took 2-8x longer than a warm step here). Each call
    # returns the loss and the updated parameters: from the same weights they must agree.
    def cnnlab_call():
        for _ in range(STEPS):
            loss = _train_step(c_model, c_opt, F.cross_entropy, c_images, c_labels)
        return (loss.detach(), *c_model.parameters())

    def torch_call():
        for _ in range(STEPS):
            loss = _train_step(t_model, t_opt, TF.cross_entropy, t_images, t_labels)
        return (loss.detach(), *t_model.parameters())
    return Pair(cnnlab_call, torch_call)


STEPS = 10
"""LeNet training steps per timed call."""


def _epoch_size(settings, total=60000):
    return max(64, int(total * settings.epoch_fraction))


class Skip(Exception):
    """A case that cannot run here (missing data); its message is printed."""


def _mnist_epoch(settings):
    try:
        from cnnlab.data import MNIST, MNIST_NORMALIZE
        dataset = MNIST(train=True, download=False)
    except Exception as error:  # ImportError, DatasetNotFoundError, a corrupt file
        raise Skip(f"MNIST not available ({type(error).__name__}: {error})") from None
    count = _epoch_size(settings, len(dataset.labels))
    mean, std = MNIST_NORMALIZE
    images = ((dataset.images[:count].astype(np.float32) / 255 - mean) / std)[:, None]
    labels = dataset.labels[:count]
    order = _rng().permutation(count)
    batches = [order[i: i + 64] for i in range(0, count, 64)]
    (c_model, c_opt), (t_model, t_opt) = twin_lenets()

    def epoch(model, optimizer, cross_entropy, wrap):
        losses = [_train_step(model, optimizer, cross_entropy, wrap(images[index]),
                              wrap(labels[index])).item() for index in batches]
        return (np.array(statistics.mean(losses)),)

    def check(got, want):
        # Losses drift apart over hundreds of float32 steps: compare the epoch's mean loss.
        got, want = float(got[0]), float(want[0])
        return abs(got - want) <= 0.1 * abs(want), abs(got - want) / abs(want)

    return Pair(lambda: epoch(c_model, c_opt, F.cross_entropy, cnnlab.from_numpy),
                lambda: epoch(t_model, t_opt, TF.cross_entropy, torch.from_numpy),
                timed=False, check=check)


def all_cases(with_epoch: bool) -> list:
    cases = []
    for backward in (False, True):
        cases += [_conv_case(spec, backward) for spec in CONVS]
    for backward in (False, True):
        cases += [_pool_case(spec, backward) for spec in POOLS]
    cases += [
        Case("tiny corr2d 6x8", lambda s: "6x8 * 1x2 (torch: F.conv2d)", ("tiny",),
             _tiny_corr2d),
        Case("tiny conv2d 1x1x6x8", lambda s: "1x1x6x8 * 1x1x1x2", ("tiny",), _tiny_conv2d),
        Case("corr2d vs seed loop",
             lambda s: f"{s.big_corr_size}x{s.big_corr_size} * 3x3 (torch: seed loop)",
             ("seed_loop",), _big_corr2d),
        Case("lenet train step", lambda s: f"{STEPS} steps, batch {s.lenet_batch}, SGD m0.9",
             ("lenet_step",), _lenet_step),
    ]
    if with_epoch:
        cases.append(Case("mnist epoch", lambda s: f"{_epoch_size(s)} images, batch 64",
                          ("epoch",), _mnist_epoch))
    return cases


# ------------------------------------------------------------------- running


def run_case(case: Case, settings: Settings, samples: int) -> Result:
    result = Result(case.name, case.shape(settings), case.groups)
    try:
        pair = case.build(settings)
        # Correctness first: speed never changes results.
        got, want = pair.cnnlab_call(), pair.torch_call()
        check = pair.check or compare_results
        ok, result.max_error = check(got, want)
        del got, want
        if not ok:
            result.status = "mismatch"
        if pair.timed:
            timing = compare(pair.cnnlab_call, pair.torch_call, samples=samples,
                             warmup=settings.warmup, gap_s=settings.gap_s,
                             min_sample_s=settings.min_sample_s,
                             torch_samples=(None if pair.torch_samples is None
                                            else min(samples, pair.torch_samples)))
            result.cnnlab_samples_s, result.torch_samples_s = timing.cnnlab_s, timing.torch_s
            result.calls_per_sample = (timing.cnnlab_number, timing.torch_number)
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
    except Skip as skip:
        result.status, result.message = "skipped", str(skip)
    except Exception as error:  # one broken case must not stop the suite
        result.status, result.message = "error", f"{type(error).__name__}: {error}"
    return result


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
        return ("ok" if result.status == "ok" else "MISMATCH") + error
    return result.status


ROW = "{:<30} {:<32} {:>10} {:>10} {:>6} {:>8}  {}"


def print_header(info: dict, settings: Settings, samples: int) -> None:
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
    print(f"mode {settings.mode}: {samples} samples after {settings.warmup} warm-up, "
          f"{settings.gap_s * 1000:.0f} ms idle before each sample; ratio = median of paired "
          "cnnlab/torch samples; mem = peak extra MiB of one cnnlab call (tracemalloc)")
    print()
    print(ROW.format("case", "shape (N x C x H x W -> Cout)", "cnnlab", "torch", "ratio",
                     "mem MiB", "check"))
    print("-" * 118, flush=True)


def print_result(result: Result) -> None:
    if result.status in ("error", "skipped"):
        print(ROW.format(result.name, result.shape, "-", "-", "-", "-",
                         f"{result.status}: {result.message}"), flush=True)
        return
    print(ROW.format(result.name, result.shape, format_time(result.cnnlab_s),
                     format_time(result.torch_s), format_ratio(result.ratio),
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
                        help="fewer samples and a quarter of the batch (about a minute)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny batches and two samples, to test the suite itself")
    parser.add_argument("--json", metavar="FILE", help="write all results to FILE as JSON")
    parser.add_argument("--filter", metavar="SUBSTRING", default="",
                        help="run only the cases whose name contains SUBSTRING")
    parser.add_argument("--repeat", metavar="N", type=int,
                        help="timed samples per library and case (default: 7, quick: 5)")
    parser.add_argument("--epoch", action="store_true",
                        help="also time a whole MNIST training epoch (slow; needs the data)")
    parser.add_argument("--threads", metavar="N", type=int,
                        help="threads of both OpenBLAS and PyTorch (default: PyTorch gets "
                             "as many as OpenBLAS uses, one per core unless "
                             "OPENBLAS_NUM_THREADS says otherwise)")
    arguments = parser.parse_args(argv)
    for name in ("repeat", "threads"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1, got {value}")
    if arguments.quick and arguments.smoke:
        parser.error("--quick and --smoke are exclusive")
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
    """Give both libraries ``count`` threads, or PyTorch as many as OpenBLAS uses."""
    if count is not None:
        if not set_blas_threads(count):
            print("warning: could not set the OpenBLAS thread count; set "
                  "OPENBLAS_NUM_THREADS instead", file=sys.stderr)
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
    cases = [case for case in all_cases(arguments.epoch)
             if arguments.filter.lower() in case.name.lower()]
    if not cases:
        print(f"no case name contains {arguments.filter!r}", file=sys.stderr)
        return 2
    print_header(info, settings, samples)
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
    if arguments.json:
        report = _json_safe({"machine": info, "mode": settings.mode, "samples": samples,
                  "warmup": settings.warmup, "gap_s": settings.gap_s, "rtol": RTOL,
                  "cases": [vars(r) for r in results], "groups": summary})
        with open(arguments.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=1, allow_nan=False)
            file.write("\n")
    failed = [r.name for r in results if r.status in ("mismatch", "error")]
    if failed:
        print(f"cases that failed their check or raised: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

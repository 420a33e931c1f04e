"""What every benchmark case shares: modes, groups and their targets, cases, results, checks.

The cases themselves live in ``cases_core.py`` (convolutions, pooling, tiny ops,
LeNet-5) and ``cases_book.py`` (the D2L book's networks and their parts); ``run.py``
runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

import cnnlab

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
    book_image: int = 96          # ResNet-18 and DenseNet input size (the book's)
    network_batch: int = 128      # their batch in the training steps and eval forwards
    network_samples: int = 3      # samples of a whole-network case (seconds per call)
    sgemm_size: int = 2048        # the matrix product that measures the machine

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
                      seed_loop_samples=1, lenet_batch=64, epoch_fraction=0.1,
                      network_batch=32, network_samples=2),
    # For the test suite: every case runs, on tiny batches and images, with two samples.
    # The book's networks get 4 images of 48 pixels: with fewer values per channel their
    # last batch norms (2x2 or 1x1 maps) amplify float32 rounding into the gradients.
    "smoke": Settings("smoke", samples=2, warmup=1, gap_s=0.002, min_sample_s=0.0,
                      batch_divisor=64, spatial_divisor=4, big_corr_size=24,
                      seed_loop_samples=1, lenet_batch=8, epoch_fraction=0.01,
                      book_image=48, network_batch=4, network_samples=2, sgemm_size=256),
}


# -------------------------------------------------------------------- groups


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    target: float | None  # the largest acceptable median ratio; None: for information


# Targets: issue 16's table where it gives one (it supersedes the earlier pool
# forward+backward 1.5, LeNet 1.0 and tiny-op 1.0), the earlier issues' otherwise.
GROUPS = (
    Group("conv3x3_fwd", "3x3 conv forward (64-256 channels)", 1.1),
    Group("conv1x1_fwd", "1x1 conv forward", 0.8),
    Group("conv_fwd_bwd", "conv forward+backward (dense cases)", 1.5),
    Group("depthwise_fwd_bwd", "depthwise conv forward+backward", 2.0),
    Group("pool_fwd", "max/avg pool forward", 0.5),
    Group("pool_fwd_bwd", "max/avg pool forward+backward", 1.0),
    Group("lenet_step", "LeNet training step, both variants (batch 64, 128)", 1.2),
    Group("tiny", "tiny-op call latency", 1.5),
    Group("conv_bwd", "conv2d backward alone, ResNet-18 96-px shapes", 1.2),
    Group("conv_bwd_dx", "  of which input gradient dX", None),
    Group("conv_bwd_dw", "  of which weight gradient dW", None),
    Group("resnet_step", "ResNet-18 training step (96 px, batch 128)", 1.3),
    Group("batchnorm", "batch norm forward+backward", 1.2),
    Group("first_call", "first call of a new conv shape (x its steady time)", 3.0),
    Group("densenet_step", "DenseNet training step (96 px, batch 128)", None),
    Group("eval_fwd", "book networks, eval forward (batch 128)", None),
    Group("conv_fwd_other", "other conv forward (LeNet, stem, depthwise, dilated)", None),
    Group("seed_loop", "corr2d vs the seed's Python loop", None),
    Group("epoch", "MNIST training epoch", None),
)

SUITES = ("core", "book")
"""``--only`` names: each case belongs to one suite (and to one or more groups)."""


# --------------------------------------------------------------------- cases


@dataclass
class Pair:
    """The two calls of a case; each returns the arrays the check compares."""

    cnnlab_call: object
    torch_call: object
    torch_samples: int | None = None  # fewer samples for a slow reference
    timed: bool = True  # False: one sample each, no warm-up (a whole epoch)
    check: object = None  # custom check: (cnnlab results, torch results) -> (ok, error)
    samples: int | None = None  # at most this many samples (seconds-long calls)
    warmup: int | None = None  # warm-up rounds instead of the mode's
    memory: bool = True  # measure the peak extra memory of one more cnnlab call
    flops: float | None = None  # floating-point operations per call (convolutions)
    first_call: object = None  # (cnnlab, torch) factories: see cases_book.first_call_pair


@dataclass
class Case:
    name: str
    shape: object  # Settings -> the shape label, with the sizes that mode uses
    groups: tuple
    build: object  # Settings -> Pair
    suite: str = "core"


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
    cnnlab_gflops: float | None = None
    torch_gflops: float | None = None
    suite: str = "core"


class Skip(Exception):
    """A case that cannot run here (missing data); its message is printed."""


def rng():
    return np.random.default_rng(0)


def as_numpy(value) -> np.ndarray:
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
    got, want = [as_numpy(g) for g in got], [as_numpy(w) for w in want]
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


def leaves(arrays, requires_grad):
    """The same arrays as cnnlab and torch tensors (sharing memory, as inputs)."""
    requires = (requires_grad,) * len(arrays) if isinstance(requires_grad, bool) \
        else requires_grad
    cnn = [cnnlab.from_numpy(a).requires_grad_(r) for a, r in zip(arrays, requires)]
    tch = [torch.from_numpy(a).requires_grad_(r) for a, r in zip(arrays, requires)]
    return cnn, tch


def conv_flops(n, cin, out_size, cout, kernel, groups=1) -> int:
    """Multiply-adds x 2 of one convolution pass (forward, or dX, or dW alone)."""
    return 2 * n * cout * out_size[0] * out_size[1] * (cin // groups) * kernel * kernel


def train_step(model, optimizer, cross_entropy, images, labels):
    optimizer.zero_grad()
    loss = cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss

#!/usr/bin/env python
"""Train LeNet-5 on MNIST in cnnlab and in PyTorch, the same way, and compare the time.

Usage::

    python benchmarks/train_lenet.py                 # 200 steps, batch 64
    python benchmarks/train_lenet.py --epoch         # a whole epoch: 938 steps
    python benchmarks/train_lenet.py --steps 300 --block 25 --threads 1

Both libraries start from the same weights (cnnlab's initialisation, copied into
PyTorch), see the same batches in the same order (one shuffled order of the training
set, normalised with MNIST's mean and standard deviation) and take the same steps:
cross-entropy, SGD with lr 0.05 and momentum 0.9. Timed per step: zero_grad, forward,
loss, backward and the update; preparing the batch (shared by both) is not timed.

The steps run in blocks of ``--block``, interleaved in this one process: a block in one
library, the same block in the other, the next block starting with the other library
(so that a slow phase of the machine hits both alike), with garbage collection and a
short sleep before each block (OpenBLAS threads spin for a while after a call). The
summary prints each library's total time, the ratio cnnlab / PyTorch of the totals
and the median of the per-block ratios (below 1: cnnlab is faster), and both models'
test accuracy after training. The two runs drift apart by float32 rounding over
hundreds of steps, so the accuracies agree closely but not exactly.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402
from _timing import idle, machine, set_blas_threads  # noqa: E402

import cnnlab  # noqa: E402
import cnnlab.functional as F  # noqa: E402
from cnnlab import optim  # noqa: E402
from cnnlab.data import MNIST, MNIST_NORMALIZE, DatasetNotFoundError  # noqa: E402
from cnnlab.models import lenet5  # noqa: E402

LR, MOMENTUM = 0.05, 0.9
GAP_S = 0.25  # OpenBLAS threads spin ~0.1 s after a product (see run.py)


def torch_lenet():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))


def normalised(images: np.ndarray) -> np.ndarray:
    """uint8 (B, 28, 28) -> float32 (B, 1, 28, 28), as cnnlab.data.to_tensor computes it."""
    mean, std = (np.float32(v) for v in MNIST_NORMALIZE)
    batch = images[:, None].astype(np.float32) / np.float32(255)
    return (batch - mean) / std


def cnnlab_step(model, optimizer, inputs, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(cnnlab.from_numpy(inputs)), cnnlab.from_numpy(labels))
    loss.backward()
    optimizer.step()
    return loss.item()


def torch_step(model, optimizer, inputs, labels):
    optimizer.zero_grad()
    loss = TF.cross_entropy(model(torch.from_numpy(inputs)), torch.from_numpy(labels))
    loss.backward()
    optimizer.step()
    return loss.item()


def accuracy(predict, images, labels, batch_size=1000) -> float:
    correct = 0
    for start in range(0, len(labels), batch_size):
        logits = predict(normalised(images[start:start + batch_size]))
        correct += int((logits.argmax(axis=1) == labels[start:start + batch_size]).sum())
    return correct / len(labels)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    what.add_argument("--epoch", action="store_true", help="a whole epoch (938 steps)")
    parser.add_argument("--block", type=int, default=50,
                        help="steps per interleaved block (default 50)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int,
                        help="threads of both libraries (default: as many as OpenBLAS uses)")
    parser.add_argument("--limit-test", type=int, default=10000,
                        help="test images for the accuracies (default: all 10,000)")
    args = parser.parse_args(argv)
    if min(args.steps, args.block, args.batch_size, args.limit_test) < 1:
        parser.error("--steps, --block, --batch-size and --limit-test must be >= 1")

    try:
        train, test = MNIST(train=True, download=False), MNIST(train=False, download=False)
    except DatasetNotFoundError as error:
        print(f"skipped: {' '.join(str(error).split())}")
        return 0
    blas_threads = machine()["blas"].get("threads")
    threads = args.threads or blas_threads or os.cpu_count()
    set_blas_threads(threads)
    torch.set_num_threads(threads)

    order = np.random.default_rng(args.seed).permutation(len(train.labels))
    steps = math.ceil(len(order) / args.batch_size) if args.epoch else args.steps
    batches = [order[(k * args.batch_size) % len(order):][:args.batch_size]
               for k in range(steps)]

    cnnlab.manual_seed(args.seed)
    c_model = lenet5()
    t_model = torch_lenet()
    with torch.no_grad():
        for param, value in zip(t_model.parameters(), c_model.state_dict().values()):
            param.copy_(torch.from_numpy(value.numpy()))
    c_optimizer = optim.SGD(c_model.parameters(), lr=LR, momentum=MOMENTUM)
    t_optimizer = torch.optim.SGD(t_model.parameters(), lr=LR, momentum=MOMENTUM)

    info = machine()
    print(f"LeNet-5 training on MNIST: {steps} steps of batch {args.batch_size}, SGD lr {LR} "
          f"momentum {MOMENTUM}, blocks of {args.block} steps interleaved")
    print(f"cpu: {info['cpu']} ({info['cpu_count']} cores); threads: {threads} each "
          f"(torch {torch.get_num_threads()}); torch {info['torch']}; "
          f"load average {info['load_average']}")

    times = {"cnnlab": [], "torch": []}
    losses = {"cnnlab": [], "torch": []}
    runners = {"cnnlab": (c_model, c_optimizer, cnnlab_step),
               "torch": (t_model, t_optimizer, torch_step)}
    for block, start in enumerate(range(0, steps, args.block)):
        block_batches = batches[start:start + args.block]
        prepared = [(normalised(train.images[b]), train.labels[b].astype(np.int64))
                    for b in block_batches]
        names = ["cnnlab", "torch"] if block % 2 == 0 else ["torch", "cnnlab"]
        for name in names:
            model, optimizer, step = runners[name]
            idle(GAP_S)
            began = time.perf_counter()
            block_losses = [step(model, optimizer, inputs, labels) for inputs, labels in prepared]
            times[name].append(time.perf_counter() - began)
            losses[name].extend(block_losses)
        done = start + len(block_batches)
        print(f"  steps {done:4}/{steps}: cnnlab {times['cnnlab'][-1]:6.2f} s, torch "
              f"{times['torch'][-1]:6.2f} s, ratio {times['cnnlab'][-1] / times['torch'][-1]:.2f}",
              flush=True)

    test_images, test_labels = test.images[:args.limit_test], test.labels[:args.limit_test]
    with cnnlab.no_grad():
        c_accuracy = accuracy(lambda x: c_model(cnnlab.from_numpy(x)).numpy(), test_images,
                              test_labels)
    with torch.no_grad():
        t_accuracy = accuracy(lambda x: t_model(torch.from_numpy(x)).numpy(), test_images,
                              test_labels)
    total = {name: sum(values) for name, values in times.items()}
    ratios = [c / t for c, t in zip(times["cnnlab"], times["torch"])]
    tail = max(1, steps // 10)
    print()
    print(f"cnnlab: {total['cnnlab']:.2f} s ({1000 * total['cnnlab'] / steps:.1f} ms/step), "
          f"mean loss of the last {tail} steps {np.mean(losses['cnnlab'][-tail:]):.4f}, "
          f"test accuracy {c_accuracy:.4f}")
    print(f"torch:  {total['torch']:.2f} s ({1000 * total['torch'] / steps:.1f} ms/step), "
          f"mean loss of the last {tail} steps {np.mean(losses['torch'][-tail:]):.4f}, "
          f"test accuracy {t_accuracy:.4f}")
    print(f"time ratio cnnlab / PyTorch: {total['cnnlab'] / total['torch']:.2f} (totals), "
          f"{statistics.median(ratios):.2f} (median of {len(ratios)} blocks)")
    print(f"test images: {len(test_labels):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

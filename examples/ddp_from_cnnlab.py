"""Outgrowing one process: a model defined with cnnlab's torch-shaped API, trained under
PyTorch DistributedDataParallel, its weights going there and back as safetensors.

cnnlab trains on one CPU. When a model or a data set outgrows that, the same model code
runs on an existing distributed engine: here PyTorch's DistributedDataParallel (DDP)
with two CPU processes talking through the gloo backend (two machines, or GPUs with
nccl, are a change of launch command, not of code). The steps:

1. The architecture is written once, as a function of the ``nn`` module it is given
   (``cnnlab.nn`` or ``torch.nn``): the names, arguments and parameter names match.
2. cnnlab initialises the weights and writes them with ``cnnlab.save_weights``.
3. Each DDP process builds the torch twin and loads that file with
   ``safetensors.torch.load_file``, so every process starts from identical weights.
   Each takes its share of every batch; DDP averages the gradients, so a step on two
   processes equals a step on one process with the whole batch.
4. Rank 0 writes the trained weights; cnnlab loads them back with ``cnnlab.load_weights``.

Run (MNIST is found offline or downloaded by cnnlab.data)::

    python examples/ddp_from_cnnlab.py --samples 512 --batch-size 64 --steps 4 --check

``--check`` also runs the same steps in one process and prints the largest difference
between the two sets of weights.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

import cnnlab
from cnnlab.data import MNIST, to_tensor


def lenet(nn):
    """LeNet-5, written once for ``cnnlab.nn`` and ``torch.nn`` alike."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def mnist_subset(samples: int):
    """The first ``samples`` training images, normalised, as float32 (N, 1, 28, 28) and
    int64 labels (N,)."""
    train = MNIST(train=True)
    return to_tensor(train.images[:samples]).numpy(), train.labels[:samples].copy()


def batches(images, labels, batch_size: int, steps: int):
    """``steps`` consecutive batches (wrapping around the subset)."""
    for step in range(steps):
        index = np.arange(step * batch_size, (step + 1) * batch_size) % len(labels)
        yield images[index], labels[index]


def train_torch(model, images, labels, batch_size, steps, lr, rank=0, world_size=1):
    """SGD steps; with ``world_size`` > 1 each rank takes its slice of every batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    share = batch_size // world_size
    for x, y in batches(images, labels, batch_size, steps):
        mine = slice(rank * share, (rank + 1) * share)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[mine])),
                                                 torch.from_numpy(y[mine]))
        optimizer.zero_grad()
        loss.backward()  # DDP averages the gradients over the ranks here
        optimizer.step()


def worker(rank, world_size, port, start, finish, images, labels, batch_size, steps, lr):
    """One DDP process (started by torch.multiprocessing.spawn)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)
    try:
        model = lenet(torch.nn)
        model.load_state_dict(safetensors.torch.load_file(start))
        train_torch(DistributedDataParallel(model), images, labels, batch_size, steps, lr,
                    rank, world_size)
        if rank == 0:
            safetensors.torch.save_file(model.state_dict(), finish)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accuracy(model, images, labels) -> float:
    with cnnlab.no_grad():
        predictions = model(cnnlab.tensor(images)).argmax(1).numpy()
    return float((predictions == labels).mean())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=512, help="MNIST training images used")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (even)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", default="runs/ddp", help="folder for the weight files")
    parser.add_argument("--check", action="store_true",
                        help="also train in one process and compare the weights")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch_size % args.processes:
        parser.error("--batch-size must be a multiple of --processes")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, finish = out / "start.safetensors", out / "ddp.safetensors"

    cnnlab.manual_seed(0)
    model = lenet(cnnlab.nn)
    cnnlab.save_weights(model, start)
    images, labels = mnist_subset(args.samples)
    print(f"cnnlab: LeNet initialised, weights in {start}; accuracy on the subset "
          f"{accuracy(model, images, labels):.3f}")

    mp.spawn(worker, nprocs=args.processes, join=True,
             args=(args.processes, free_port(), str(start), str(finish), images, labels,
                   args.batch_size, args.steps, args.lr))
    trained = lenet(cnnlab.nn)
    trained.load_state_dict(cnnlab.load_weights(finish))
    print(f"DDP ({args.processes} processes, gloo): {args.steps} steps of batch "
          f"{args.batch_size}; weights back in cnnlab from {finish}; accuracy "
          f"{accuracy(trained, images, labels):.3f}")

    if args.check:
        single = lenet(torch.nn)
        single.load_state_dict(safetensors.torch.load_file(start))
        train_torch(single, images, labels, args.batch_size, args.steps, args.lr)
        ddp_state = safetensors.torch.load_file(finish)
        difference = max(float((single.state_dict()[k] - ddp_state[k]).abs().max())
                         for k in ddp_state)
        print(f"one process, same steps: largest weight difference {difference:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""examples/ddp_from_cnnlab.py: two gloo processes under DistributedDataParallel start
from cnnlab's weights, match the same steps in one process, and their weights come back
into cnnlab."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

import cnnlab

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ddp_from_cnnlab.py"


def load_example():
    spec = importlib.util.spec_from_file_location("ddp_from_cnnlab", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ddp_on_two_processes_matches_one_process_and_comes_back(tmp_path):
    samples, batch, steps, lr = 64, 32, 2, 0.05
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--samples", str(samples), "--batch-size", str(batch),
         "--steps", str(steps), "--lr", str(lr), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DDP (2 processes, gloo): 2 steps of batch 32; weights back in cnnlab" in done.stdout

    example = load_example()
    start = safetensors.torch.load_file(tmp_path / "start.safetensors")
    ddp = safetensors.torch.load_file(tmp_path / "ddp.safetensors")
    # the starting weights are cnnlab's initialisation with seed 0
    cnnlab.manual_seed(0)
    initial = example.lenet(cnnlab.nn).state_dict()
    for key, value in initial.items():
        assert start[key].numpy().tobytes() == value.numpy().tobytes(), key
    # the same steps in one process, on the whole batches
    single = example.lenet(torch.nn)
    single.load_state_dict(start)
    images, labels = example.mnist_subset(samples)
    example.train_torch(single, images, labels, batch, steps, lr)
    moved = False
    for key, value in single.state_dict().items():
        np.testing.assert_allclose(ddp[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)
        moved |= not np.array_equal(ddp[key].numpy(), start[key].numpy())
    assert moved  # training changed the weights
    # back in cnnlab: the same function as the trained PyTorch model
    ours = example.lenet(cnnlab.nn)
    ours.load_state_dict(cnnlab.load_weights(tmp_path / "ddp.safetensors"))
    with torch.no_grad():
        expected = single(torch.from_numpy(images[:8])).numpy()
    np.testing.assert_allclose(ours(cnnlab.tensor(images[:8])).detach().numpy(), expected,
                               rtol=1e-4, atol=1e-5)

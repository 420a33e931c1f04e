"""Shared test setup. PyTorch is the oracle: without it these tests fail, never skip."""

import os

# One BLAS thread per test process: `pytest -n 2` already keeps both cores busy, and
# OpenBLAS threads spinning against each other make small matrix products 5-30x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: F401  (ImportError here fails the run, as it must)

import cnnlab

torch.set_num_threads(1)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed():
    cnnlab.manual_seed(0)
    torch.manual_seed(0)


def pytest_addoption(parser):
    """``--examples N``: hypothesis examples per op in tests/test_fuzz.py (default 25)."""
    parser.addoption("--examples", type=int, default=25, metavar="N",
                     help="examples per op for the differential fuzzer tests/test_fuzz.py "
                          "(default 25; 1000 runs 11,000 examples)")

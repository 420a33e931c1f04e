"""Shared test setup. PyTorch is the oracle: without it these tests fail, never skip."""

import numpy as np
import pytest
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

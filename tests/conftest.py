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

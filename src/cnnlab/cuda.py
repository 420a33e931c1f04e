"""``cnnlab.cuda``: PyTorch's ``torch.cuda`` queries, answered for a CPU-only library.

There is never a GPU: :func:`device_count` is 0 and :func:`is_available` is False,
so code such as the D2L book's ``try_gpu()`` falls back to the CPU. Seeding calls
are accepted and do nothing (there is no GPU generator to seed).
"""

from __future__ import annotations


def device_count() -> int:
    """The number of GPUs cnnlab can use: always 0."""
    return 0


def is_available() -> bool:
    """Whether a GPU can be used: always False."""
    return False


def manual_seed(seed) -> None:
    """Accepted for PyTorch compatibility; there is no GPU generator to seed."""


def manual_seed_all(seed) -> None:
    """Accepted for PyTorch compatibility; there is no GPU generator to seed."""


def synchronize(device=None) -> None:
    """Accepted for PyTorch compatibility; CPU work is already synchronous."""


def empty_cache() -> None:
    """Accepted for PyTorch compatibility; there is no GPU memory to free."""


def current_device() -> int:
    raise RuntimeError("cnnlab.cuda.current_device: no GPU: cnnlab computes with NumPy "
                       "on the CPU only")

"""The kernels' two settings, in one small object: :data:`CONFIG`.

- ``scratch_bytes``: the scratch memory one kernel may use beyond its inputs and
  outputs (convolutions split the batch, pooling its planes, to stay within it);
  set with :func:`cnnlab.set_scratch_budget`.
- ``threads``: the threads for NumPy's single-core elementwise work
  (:mod:`cnnlab.kernels.parallel`); set with :func:`cnnlab.set_num_threads`. Its
  default follows the standard variables ``OMP_NUM_THREADS``, then
  ``OPENBLAS_NUM_THREADS`` (as PyTorch's does), else the number of CPUs; they are read
  once, here, and nowhere else.

Kernels read ``CONFIG`` when they run; nothing else is global.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _default_threads() -> int:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    return max(1, os.cpu_count() or 1)


@dataclass
class KernelConfig:
    """See the module docstring."""

    scratch_bytes: int = 256 * 2**20
    threads: int = 1


CONFIG = KernelConfig(threads=_default_threads())

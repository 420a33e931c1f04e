"""``Generator``: a random number generator object, as ``torch.Generator``.

cnnlab's functions draw from one global NumPy generator (:func:`cnnlab.manual_seed`).
A :class:`Generator` is a separate stream with its own seed, for the places PyTorch
takes ``generator=``: :func:`cnnlab.utils.data.random_split`, the samplers and
``DataLoader(shuffle=True)``. The numbers differ from PyTorch's (different
algorithms); the reproducibility rules are the same: one seed, one sequence.
"""

from __future__ import annotations

import numbers

import numpy as np


class Generator:
    """A seeded random stream (NumPy's PCG64 underneath).

    Parameters
    ----------
    device : str, default 'cpu'
        Only ``'cpu'`` exists in cnnlab.

    Examples
    --------
    >>> from cnnlab import Generator
    >>> a = Generator().manual_seed(42).numpy_generator.permutation(5)
    >>> b = Generator().manual_seed(42).numpy_generator.permutation(5)
    >>> a.tolist() == b.tolist()
    True
    """

    def __init__(self, device="cpu"):
        if str(device).split(":")[0] != "cpu":
            raise ValueError(f"Generator: cnnlab runs on the CPU only, got device={device!r}")
        self.device = "cpu"
        self._seed = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.numpy_generator = np.random.default_rng(self._seed)

    def manual_seed(self, seed) -> "Generator":
        """Restart the stream from ``seed`` (an int); returns ``self``, as PyTorch."""
        if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {seed!r}")
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF)
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """The stream's state (a JSON-serialisable dict, not PyTorch's byte tensor)."""
        return self.numpy_generator.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self.numpy_generator.bit_generator.state = state
        return self

    def __repr__(self) -> str:
        return f"<cnnlab.Generator object, seed {self._seed}>"

"""Samplers: which indices a :class:`~cnnlab.utils.data.DataLoader` reads, in which order.

As ``torch.utils.data``: ``SequentialSampler``, ``RandomSampler``,
``SubsetRandomSampler`` and ``BatchSampler``. Random orders come from the sampler's
``generator`` (a :class:`cnnlab.Generator`) or, without one, from a stream seeded afresh
from cnnlab's global generator at each pass, so ``cnnlab.manual_seed`` fixes every
epoch's order (PyTorch's rule).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..generator import Generator


def _positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) \
            or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _pass_generator(generator, owner):
    """The NumPy generator for one pass: ``generator``'s stream, or a new stream seeded
    from cnnlab's global generator."""
    if generator is None:
        from ...creation import _rng

        return np.random.default_rng(int(_rng().integers(0, 2 ** 63)))
    if not isinstance(generator, Generator):
        raise TypeError(f"{owner}: generator must be a cnnlab.Generator or None, got "
                        f"{type(generator).__name__}")
    return generator.numpy_generator


class Sampler:
    """Base class: an iterable of dataset indices (define ``__iter__``, and ``__len__``)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices, new at every pass.

    Parameters
    ----------
    data_source : map-style dataset
    replacement : bool, default False
        Draw ``num_samples`` indices with replacement instead of a permutation.
    num_samples : int, optional
        How many indices per pass; default ``len(data_source)``.
    generator : Generator, optional
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be True or False, got "
                            f"{replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else _positive_int(
            num_samples, "num_samples", "RandomSampler")
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        rng = _pass_generator(self.generator, "RandomSampler")
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        # Whole permutations, as many as num_samples needs, cut to length.
        rounds = -(-self.num_samples // n) if n else 0
        order = [rng.permutation(n) for _ in range(rounds)]
        indices = np.concatenate(order) if order else np.zeros(0, np.int64)
        return iter(indices[:self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new at every pass."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        rng = _pass_generator(self.generator, "SubsetRandomSampler")
        return iter([self.indices[i] for i in rng.permutation(len(self.indices)).tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    Examples
    --------
    >>> from cnnlab.utils.data import BatchSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise TypeError(f"BatchSampler: drop_last must be True or False, got "
                            f"{drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

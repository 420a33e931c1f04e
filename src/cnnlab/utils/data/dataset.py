"""Datasets as in ``torch.utils.data``: ``Dataset``, ``IterableDataset``, ``TensorDataset``,
``ConcatDataset``, ``Subset`` and ``random_split``.

A map-style dataset is anything with ``__getitem__(index)`` and ``__len__``; the
datasets of :mod:`cnnlab.data` (``MNIST``, ``FashionMNIST``, ``ArrayDataset``) are
map-style too, and :func:`random_split` of one of them gives :class:`cnnlab.data.Subset`
objects, which :class:`cnnlab.data.DataLoader` also batches.
"""

from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

from ...tensor import Tensor
from ..generator import Generator


class Dataset:
    """Base class of map-style datasets: define ``__getitem__`` and ``__len__``.

    ``a + b`` concatenates two datasets (:class:`ConcatDataset`).
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets read as a stream: define ``__iter__``.

    A :class:`~cnnlab.utils.data.DataLoader` batches the stream in order; it cannot be
    shuffled or indexed.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        raise TypeError("IterableDataset: concatenation with + is not supported "
                        "(use itertools.chain)")


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of each tensor: ``(x[i], y[i], ...)``.

    Parameters
    ----------
    *tensors : Tensor
        All with the same first dimension.

    Examples
    --------
    >>> import cnnlab
    >>> from cnnlab.utils.data import TensorDataset
    >>> data = TensorDataset(cnnlab.arange(6).view(3, 2), cnnlab.tensor([0, 1, 0]))
    >>> len(data), data[1]
    (3, (tensor([2, 3]), tensor(1)))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        for position, tensor in enumerate(tensors):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"TensorDataset: argument {position} must be a Tensor, got "
                                f"{type(tensor).__name__}")
            if tensor.ndim == 0:
                raise ValueError(f"TensorDataset: argument {position} is 0-d; every tensor "
                                 "needs a first (sample) dimension")
        sizes = [tensor.shape[0] for tensor in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first "
                             f"dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(tensor[index] for tensor in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for dataset in self.datasets:
            if isinstance(dataset, IterableDataset):
                raise TypeError("ConcatDataset: does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} is out of range for "
                                 f"{len(self)} samples")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} is out of range for "
                             f"{len(self)} samples")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (any map-style dataset).

    Parameters
    ----------
    dataset : map-style dataset
    indices : sequence of int
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(lengths, total):
    """``lengths`` as counts: fractions summing to 1 become floor(f * total), the
    remainder added one by one from the first subset on (PyTorch's rule)."""
    values = list(lengths)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions "
                             f"summing to 1, got {lengths!r}")
    fractions = math.isclose(sum(values), 1) and sum(values) <= 1
    if fractions:
        counts = [int(math.floor(total * v)) for v in values]
        for i in range(total - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    if not all(isinstance(v, numbers.Integral) or float(v).is_integer() for v in values):
        raise ValueError(f"random_split: lengths must be ints, or fractions summing to 1, "
                         f"got {lengths!r}")
    counts = [int(v) for v in values]
    if sum(counts) != total:
        raise ValueError(f"random_split: sum of input lengths ({sum(counts)}) does not equal "
                         f"the length of the input dataset ({total})")
    return counts


def permutation(n: int, generator=None) -> np.ndarray:
    """A random order of ``range(n)`` from ``generator`` (a :class:`Generator`), or from
    cnnlab's global generator (:func:`cnnlab.manual_seed`) when it is None."""
    if generator is None:
        from ...creation import _rng

        return _rng().permutation(n)
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a cnnlab.Generator or None, got "
                        f"{type(generator).__name__}")
    return generator.numpy_generator.permutation(n)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    Parameters
    ----------
    dataset : map-style dataset
    lengths : sequence of int, or of fractions summing to 1
        Fractions give ``floor(fraction * len)`` samples each, the remaining samples
        going one each to the first subsets (as PyTorch).
    generator : Generator, optional
        The random stream; cnnlab's global one (``cnnlab.manual_seed``) by default.

    Returns
    -------
    list of Subset
        :class:`cnnlab.data.Subset` for a :class:`cnnlab.data.ArrayDataset` (so
        ``cnnlab.data.DataLoader`` accepts them), else :class:`Subset`.

    Examples
    --------
    >>> import cnnlab
    >>> from cnnlab.utils.data import random_split
    >>> parts = random_split(range(10), [0.5, 0.3, 0.2],
    ...                      generator=cnnlab.Generator().manual_seed(0))
    >>> [len(p) for p in parts], sorted(i for p in parts for i in p.indices) == list(range(10))
    ([5, 3, 2], True)
    """
    total = len(dataset)
    counts = _split_lengths(lengths, total)
    order = permutation(total, generator).tolist()
    from ...data.loader import ArrayDataset, Subset as ArraySubset

    subsets, start = [], 0
    for count in counts:
        indices = order[start:start + count]
        start += count
        if isinstance(dataset, ArrayDataset):
            subsets.append(ArraySubset(dataset, np.asarray(indices, dtype=np.intp)))
        else:
            subsets.append(Subset(dataset, indices))
    return subsets

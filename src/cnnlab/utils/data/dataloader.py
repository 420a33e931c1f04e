"""``DataLoader`` and ``default_collate``, as in ``torch.utils.data``.

The loader asks its sampler for indices, groups them into batches (``BatchSampler``),
reads the samples from the dataset and merges them with ``collate_fn``. Everything runs
in the calling process: ``num_workers`` is accepted for compatibility and changes
nothing (NumPy already uses the cores inside each operation).
"""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from ...shapes import check_flag
from ...tensor import Tensor
from .dataset import IterableDataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def default_collate(batch):
    """Merge a sequence of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and NumPy arrays are stacked along a new first axis; Python floats become a
    float64 tensor, ints an int64 one (bools a bool one); strings stay a list; dicts,
    named tuples, tuples and lists are collated field by field (a tuple gives a list).

    Examples
    --------
    >>> import cnnlab
    >>> from cnnlab.utils.data import default_collate
    >>> default_collate([(cnnlab.tensor([1., 2.]), 0), (cnnlab.tensor([3., 4.]), 1)])
    [tensor([[1., 2.],
            [3., 4.]]), tensor([0, 1])]
    """
    from ...creation import from_numpy, tensor
    from ...ops import stack

    if not batch:
        raise ValueError("default_collate: got an empty batch")
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if isinstance(first, np.ndarray) and first.dtype.kind not in "USO":
        return from_numpy(np.ascontiguousarray(np.stack(batch)))
    if isinstance(first, np.generic) and first.dtype.kind not in "USO":
        return from_numpy(np.asarray(batch, dtype=first.dtype))
    if isinstance(first, float):
        return tensor(batch, dtype="float64")
    if isinstance(first, numbers.Integral):
        return tensor(batch)
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, collections.abc.Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in first}
        try:
            return type(first)(collated)
        except TypeError:   # a mapping type that cannot be built from a dict
            return collated
    if _is_namedtuple(first):
        return type(first)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(first, collections.abc.Sequence):
        if any(len(sample) != len(first) for sample in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        # Each field as the tuple zip gives (strings stay that tuple, as in PyTorch).
        return [default_collate(field) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(first)}")


def default_convert(data):
    """One sample without batching (``batch_size=None``): NumPy arrays become tensors,
    containers are converted element by element, anything else is kept."""
    from ...creation import from_numpy

    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return from_numpy(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "USO":
        return from_numpy(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if _is_namedtuple(data):
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, tuple):
        return [default_convert(value) for value in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(value) for value in data]
    return data


class DataLoader:
    """Batches of a dataset, as ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    dataset : map-style dataset (``__getitem__``, ``__len__``) or IterableDataset
    batch_size : int or None, default 1
        ``None`` yields single samples (converted, not collated).
    shuffle : bool, default False
        A new random order at every pass (a :class:`RandomSampler`).
    sampler, batch_sampler : iterable of indices / of index lists, optional
        Instead of ``shuffle`` (and, for ``batch_sampler``, of ``batch_size`` and
        ``drop_last``), as in PyTorch.
    num_workers : int, default 0
        Accepted for compatibility; samples are always read in this process.
    collate_fn : callable, default :func:`default_collate`
    drop_last : bool, default False
        Drop a last batch smaller than ``batch_size``.
    generator : cnnlab.Generator, optional
        The stream that shuffles; without one each pass draws a seed from cnnlab's
        global generator (so ``cnnlab.manual_seed`` makes the orders reproducible).
    pin_memory, timeout, worker_init_fn, prefetch_factor, persistent_workers, ... :
        Accepted and ignored (no worker processes, no devices).

    Notes
    -----
    ``len(loader)`` is ``ceil(N / batch_size)``, or ``floor`` with ``drop_last``.
    A :class:`TensorDataset` is read one batch at a time by indexing its tensors with
    the batch's indices (one gather per tensor instead of one per sample; same result).

    Examples
    --------
    >>> import cnnlab
    >>> from cnnlab.utils.data import DataLoader, TensorDataset
    >>> data = TensorDataset(cnnlab.arange(10.).view(5, 2), cnnlab.arange(5))
    >>> [y.tolist() for _, y in DataLoader(data, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got "
                             f"{num_workers!r}")
        shuffle = False if shuffle is None else check_flag(shuffle, "shuffle", "DataLoader")
        drop_last = check_flag(drop_last, "drop_last", "DataLoader")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, numbers.Integral) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got "
                             f"{batch_size!r}")
        iterable = isinstance(dataset, IterableDataset)
        if iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, "
                             "sampler and batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                             "batch_size, shuffle, sampler, and drop_last")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got "
                            f"{type(collate_fn).__name__}")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.drop_last = drop_last
        self.generator = generator
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterable = iterable
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        elif iterable:
            sampler = None
        else:
            if sampler is None:
                sampler = (RandomSampler(dataset, generator=generator) if shuffle
                           else SequentialSampler(dataset))
            if batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_convert if batch_size is None and batch_sampler is None
            else default_collate)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)   # TypeError, as PyTorch, for a stream without a length
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if self._iterable:
            yield from self._iterate_stream()
            return
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self.batch_sampler:
            yield self._fetch(indices)

    def _fetch(self, indices):
        dataset = self.dataset
        if type(dataset) is TensorDataset and self.collate_fn is default_collate:
            # default_collate of per-sample rows equals indexing with all rows at once.
            rows = np.asarray(indices, dtype=np.int64)
            return [tensor[rows] for tensor in dataset.tensors]
        getitems = getattr(dataset, "__getitems__", None)
        samples = getitems(list(indices)) if getitems else [dataset[i] for i in indices]
        return self.collate_fn(samples)

    def _iterate_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

"""``cnnlab.utils.data``: datasets, samplers and the batch loader of ``torch.utils.data``.

Map-style datasets (``__getitem__`` and ``__len__``; :class:`TensorDataset`, and the
image datasets of :mod:`cnnlab.data`) and streams (:class:`IterableDataset`) are read in
batches by :class:`DataLoader`, which merges samples with :func:`default_collate`.
:mod:`cnnlab.data` keeps its own image loader (``uint8`` pixels normalised per batch);
this one is the general, PyTorch-shaped one.
"""

from .dataloader import DataLoader, default_collate, default_convert
from .dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                      random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "default_collate", "default_convert", "random_split"]

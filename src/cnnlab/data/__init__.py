"""Data: MNIST and Fashion-MNIST from their IDX files, and a batch iterator.

Datasets keep ``uint8`` images (N, 28, 28) and ``int64`` labels (N,) as NumPy arrays;
the :class:`DataLoader` turns each batch into a normalised ``float32`` Tensor
(B, 1, 28, 28) with :func:`to_tensor`. See :mod:`cnnlab.data.mnist` for where the files
are looked for. A typical training set-up::

    from cnnlab.data import MNIST, DataLoader
    train = DataLoader(MNIST(train=True), batch_size=64, shuffle=True, seed=0)
    quick = DataLoader(MNIST(train=False).subset(1000), batch_size=256)
    for images, labels in train:   # (64, 1, 28, 28) float32, (64,) int64
        ...
"""

from .idx import read_idx, write_idx
from .loader import (FASHION_MNIST_NORMALIZE, MNIST_NORMALIZE, ArrayDataset, DataLoader, Subset,
                     to_tensor)
from .mnist import MNIST, DatasetNotFoundError, FashionMNIST

__all__ = ["MNIST", "FashionMNIST", "DatasetNotFoundError", "ArrayDataset", "Subset",
           "DataLoader", "to_tensor", "MNIST_NORMALIZE", "FASHION_MNIST_NORMALIZE",
           "read_idx", "write_idx"]

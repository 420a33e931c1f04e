"""Datasets held as arrays, and the batch iterator that turns them into Tensors.

A dataset here is anything with ``images`` (N, H, W) ``uint8`` and ``labels`` (N,)
``int64`` NumPy arrays: :class:`ArrayDataset`, :class:`Subset`, ``MNIST``,
``FashionMNIST``. Samples stay ``uint8`` in memory (47 MB for MNIST's training set);
the conversion to normalised ``float32`` (what torchvision's ``ToTensor`` then
``Normalize`` do) happens per batch, in :func:`to_tensor`, called by the
:class:`DataLoader`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..creation import as_tensor, from_numpy, randperm
from ..tensor import Tensor

MNIST_NORMALIZE = (0.1307, 0.3081)
"""Mean and standard deviation of MNIST's training pixels, scaled to [0, 1]."""
FASHION_MNIST_NORMALIZE = (0.2860, 0.3530)
"""Mean and standard deviation of Fashion-MNIST's training pixels, scaled to [0, 1]."""


class ArrayDataset:
    """Images and labels held as two NumPy arrays of the same length.

    Parameters
    ----------
    images : numpy.ndarray of uint8, shape (N, H, W)
    labels : numpy.ndarray of integers, shape (N,); stored as int64.

    Indexing gives ``(image, label)``: a (H, W) ``uint8`` array and an ``int`` for an
    integer index; arrays (n, H, W) and (n,) for a slice or an index array.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlab.data import ArrayDataset
    >>> data = ArrayDataset(np.zeros((5, 2, 2), np.uint8), np.arange(5))
    >>> len(data), data[3][1], len(data.subset(2))
    (5, 3, 2)
    """

    def __init__(self, images, labels):
        images = np.asarray(images)
        labels = np.asarray(labels)
        name = type(self).__name__
        if images.dtype != np.uint8 or images.ndim != 3:
            raise TypeError(f"{name}: images must be a uint8 array of shape (N, H, W), got "
                            f"{images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise TypeError(f"{name}: labels must be an integer array of shape (N,), got "
                            f"{labels.dtype} of shape {labels.shape}")
        if len(labels) != len(images):
            raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral):
            return self.images[index], int(self.labels[index])
        return self.images[index], self.labels[index]

    def subset(self, n: int) -> "Subset":
        """The first ``n`` samples (a view, no copy), for quick runs."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= len(self):
            raise ValueError(f"{type(self).__name__}.subset: n must be an int in "
                             f"[0, {len(self)}], got {n!r}")
        return Subset(self, slice(0, int(n)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(samples={len(self)}, image_size={self.images.shape[1:]})"


class Subset(ArrayDataset):
    """The samples of ``dataset`` at ``indices``.

    Parameters
    ----------
    dataset : ArrayDataset (or anything with ``images`` and ``labels`` arrays)
    indices : slice, range or sequence of int
        A slice or range gives views of the parent's arrays; a sequence copies.
    """

    def __init__(self, dataset, indices):
        if isinstance(indices, range):
            indices = slice(indices.start, indices.stop, indices.step)
        if not isinstance(indices, slice):
            indices = np.asarray(indices)
            if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
                raise TypeError(f"Subset: indices must be a slice, a range or a sequence of "
                                f"ints, got an array of {indices.dtype} of shape "
                                f"{indices.shape}")
            bad = (indices < -len(dataset)) | (indices >= len(dataset))
            if bad.any():
                raise ValueError(f"Subset: index {indices[bad][0]} is out of range for a "
                                 f"dataset of {len(dataset)} samples")
            indices = indices.astype(np.intp)
        self.dataset = dataset
        self.indices = indices
        super().__init__(dataset.images[indices], dataset.labels[indices])


def to_tensor(images, normalize=MNIST_NORMALIZE) -> Tensor:
    """Convert ``uint8`` images to a normalised ``float32`` Tensor with a channel axis.

    Computes ``(images / 255 - mean) / std`` in float32, as torchvision's ``ToTensor``
    followed by ``Normalize(mean, std)``.

    Parameters
    ----------
    images : numpy.ndarray of uint8, shape (B, H, W), or (B, C, H, W)
    normalize : (mean, std) or None
        ``None`` keeps the values in [0, 1].

    Returns
    -------
    Tensor of float32, shape (B, 1, H, W) (or (B, C, H, W))

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlab.data import to_tensor
    >>> to_tensor(np.array([[[0, 255]]], np.uint8), normalize=(0.5, 0.5))
    tensor([[[[-1.,  1.]]]])
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise TypeError(f"to_tensor: images must be a uint8 array of shape (B, H, W) or "
                        f"(B, C, H, W), got {images.dtype} of shape {images.shape}")
    if images.ndim == 3:
        images = images[:, None]
    batch = images.astype(np.float32) / np.float32(255)
    if normalize is not None:
        mean, std = _check_normalize("to_tensor", normalize)
        batch -= mean
        batch /= std
    return from_numpy(batch)


def _check_normalize(owner: str, normalize):
    ok = (isinstance(normalize, (tuple, list)) and len(normalize) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in normalize)
          and normalize[1] > 0)
    if not ok:
        raise ValueError(f"{owner}: normalize must be None or a pair (mean, std) of numbers "
                         f"with std > 0, got {normalize!r}")
    return np.float32(normalize[0]), np.float32(normalize[1])


class DataLoader:
    """Iterate over a dataset in batches of ``(images, labels)`` Tensors.

    Parameters
    ----------
    dataset : ArrayDataset, Subset, MNIST, FashionMNIST
        Anything with ``images`` (N, H, W) uint8 and ``labels`` (N,) arrays.
    batch_size : int, default 64
    shuffle : bool, default False
        Visit the samples in a new random order at every pass (epoch).
    seed : int or None, default None
        With ``shuffle``: an int gives the loader its own generator, so the sequence of
        epoch orders is reproducible and independent of cnnlab's global generator;
        ``None`` draws each order from cnnlab's global generator (``cnnlab.manual_seed``,
        saved by ``cnnlab.get_rng_state``).
    drop_last : bool, default False
        Drop the last batch when it is smaller than ``batch_size``.
    transform : callable or None, default None
        Applied to each batch after normalisation: called with the float32 NumPy array
        (B, 1, H, W), returns an array or Tensor of images (e.g. data augmentation).
    normalize : (mean, std) or None, default ``MNIST_NORMALIZE`` = (0.1307, 0.3081)
        Passed to :func:`to_tensor`; use ``FASHION_MNIST_NORMALIZE`` for Fashion-MNIST,
        ``None`` for pixels in [0, 1].

    Yields
    ------
    images : Tensor of float32, shape (B, 1, H, W)
    labels : Tensor of int64, shape (B,)

    Notes
    -----
    ``len(loader)`` is ``ceil(N / batch_size)``, or ``floor(N / batch_size)`` with
    ``drop_last``. For quick runs, pass ``dataset.subset(n)`` (the first ``n`` samples).

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlab.data import ArrayDataset, DataLoader
    >>> data = ArrayDataset(np.zeros((10, 28, 28), np.uint8), np.arange(10))
    >>> loader = DataLoader(data, batch_size=4, shuffle=True, seed=0)
    >>> [(tuple(x.shape), y.tolist()) for x, y in loader][-1]
    ((2, 1, 28, 28), [8, 1])
    """

    def __init__(self, dataset, batch_size=64, shuffle=False, seed=None, drop_last=False,
                 transform=None, normalize=MNIST_NORMALIZE):
        if not (isinstance(getattr(dataset, "images", None), np.ndarray)
                and isinstance(getattr(dataset, "labels", None), np.ndarray)):
            raise TypeError(f"DataLoader: dataset must have images and labels NumPy arrays "
                            f"(ArrayDataset, Subset, MNIST, ...), got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"DataLoader: seed must be None or a non-negative int, got "
                             f"{seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable or None, got "
                            f"{type(transform).__name__}")
        if normalize is not None:
            _check_normalize("DataLoader", normalize)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.normalize = normalize
        self._generator = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset.labels)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset.labels)
        order = None
        if self.shuffle:
            order = (randperm(n).numpy() if self._generator is None
                     else self._generator.permutation(n))
        for batch in range(len(self)):
            start = batch * self.batch_size
            index = slice(start, start + self.batch_size) if order is None \
                else order[start:start + self.batch_size]
            images = to_tensor(self.dataset.images[index], self.normalize)
            if self.transform is not None:
                images = as_tensor(self.transform(images.numpy()))
            labels = from_numpy(self.dataset.labels[index].astype(np.int64))
            yield images, labels

    def __repr__(self) -> str:
        return (f"DataLoader(samples={len(self.dataset.labels)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")

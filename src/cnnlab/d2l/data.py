"""``FashionMNIST``: the book's data module, on the IDX files :mod:`cnnlab.data` finds.

The book builds it from torchvision (``Resize(resize)`` then ``ToTensor()`` on PIL
images). Here the uint8 images stay in memory as NumPy arrays and each batch is
converted when the loader yields it: to float32 in [0, 1], shape (B, 1, H, W), resized
with antialiased bilinear interpolation and rounded to 8-bit levels first, as PIL's
bilinear resize of an 8-bit image does. Resizing per batch keeps memory small (all
60,000 images at 224 x 224 would take 12 GB as float32).
"""

from __future__ import annotations

import math

import numpy as np

from cnnlab.data import FashionMNIST as FashionMNISTFiles
from ._backend import F, torch
from .core import DataModule

TEXT_LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
               "sneaker", "bag", "ankle boot"]


def _pixels(images: np.ndarray, resize) -> "torch.Tensor":
    """uint8 (B, 28, 28) -> float32 (B, 1, H, W) in [0, 1], resized like PIL's bilinear."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
    if tuple(resize) != tuple(images.shape[1:]):
        x = F.interpolate(x, size=tuple(resize), mode="bilinear", antialias=True)
        x = x.round().clamp(0, 255)
    return x / 255


class ImageSet:
    """One split as a dataset: ``len`` and ``[i] -> (image (1, H, W) float32, label int)``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, resize):
        self.images, self.labels, self.resize = images, labels, tuple(resize)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        return _pixels(self.images[index:index + 1], self.resize)[0], int(self.labels[index])


class BatchLoader:
    """Batches ``(X, y)`` of an :class:`ImageSet` (``len`` = number of batches), in a new
    random order each pass when ``shuffle`` (drawn with ``torch.randperm``)."""

    def __init__(self, dataset: ImageSet, batch_size: int, shuffle: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"FashionMNIST: batch_size must be a positive int, got {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = torch.randperm(n).numpy() if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            rows = order[start:start + self.batch_size]
            X = _pixels(self.dataset.images[rows], self.dataset.resize)
            y = torch.from_numpy(self.dataset.labels[rows].astype(np.int64))
            yield X, y


class FashionMNIST(DataModule):
    """Fashion-MNIST for the book: ``FashionMNIST(batch_size=64, resize=(28, 28))``.

    ``train``/``val`` are the 60,000 training and 10,000 test images;
    ``get_dataloader(train)`` yields ``(X, y)``: X float32 (B, 1, *resize) in [0, 1],
    y int64 (B,). The files are found (or downloaded) by :class:`cnnlab.data.FashionMNIST`;
    ``root`` (the book's ``'../data'``) is not used for that.
    """

    def __init__(self, batch_size=64, resize=(28, 28)):
        super().__init__()
        self.save_hyperparameters()
        resize = (resize, resize) if isinstance(resize, int) else tuple(resize)
        train = FashionMNISTFiles(train=True)
        test = FashionMNISTFiles(train=False)
        self.train = ImageSet(train.images, train.labels, resize)
        self.val = ImageSet(test.images, test.labels, resize)

    def text_labels(self, indices):
        """The names of the classes ``indices``."""
        return [TEXT_LABELS[int(i)] for i in indices]

    def get_dataloader(self, train):
        data = self.train if train else self.val
        return BatchLoader(data, self.batch_size, shuffle=train)

    def visualize(self, batch, nrows=1, ncols=8, labels=()):
        X, y = batch
        if not labels:
            labels = self.text_labels(y)
        return show_images(X.squeeze(1), nrows, ncols, titles=labels)


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """A grid of images (tensors or arrays) with optional titles; returns the axes."""
    from .plotting import _pyplot

    pyplot = _pyplot()
    _, axes = pyplot.subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale))
    axes = np.asarray(axes).flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        ax.imshow(img.detach().numpy() if hasattr(img, "detach") else np.asarray(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    return axes

"""Ready-made models: LeNet-5, as in the "Dive into Deep Learning" book and PyTorch tutorials."""

from __future__ import annotations

from . import nn


def lenet5(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet-5 for 28x28 images, with ReLU and max pooling (the modern variant).

    conv5 pad2 -> ReLU -> maxpool2 -> conv5 -> ReLU -> maxpool2 -> flatten ->
    Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, num_classes).

    Examples
    --------
    >>> import cnnlab
    >>> from cnnlab.models import lenet5
    >>> model = lenet5()
    >>> sum(p.numel() for p in model.parameters())
    61706
    >>> model(cnnlab.zeros(2, 1, 28, 28)).shape
    cnnlab.Size([2, 10])
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )


MODELS = {"lenet": lenet5}
"""Models by the name the command line uses."""

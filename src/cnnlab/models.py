"""Ready-made models, as in the "Dive into Deep Learning" book: LeNet-5, AlexNet, VGG-11.

:data:`MODELS` is the one registry every command uses (``cnnlab summary --model``,
``cnnlab receptive-field --model``, the checkpoints of ``cnnlab train``, ``cnnlab
explore``); :data:`INPUT_SHAPES` gives each model's usual input (C, H, W).
"""

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


def alexnet(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """AlexNet as in "Dive into Deep Learning" (8.1): for 224x224 images, one channel.

    conv11 s4 p1 (96) -> maxpool3 s2 -> conv5 p2 (256) -> maxpool3 s2 -> 3 x conv3 p1
    (384, 384, 256) -> maxpool3 s2 -> flatten -> 2 x (Linear 4096, ReLU, Dropout 0.5)
    -> Linear(num_classes); ReLU after every convolution.

    The fully connected layers are lazy (``nn.LazyLinear``, as in the book): their
    weights are made at the first forward, so building the model is cheap.

    Examples
    --------
    >>> from cnnlab.models import alexnet
    >>> alexnet()[0]
    Conv2d(1, 96, kernel_size=(11, 11), stride=(4, 4), padding=(1, 1))
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(num_classes),
    )


def vgg11(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """VGG-11 as in "Dive into Deep Learning" (8.2): for 224x224 images, one channel.

    Five blocks of 3x3 convolutions (padding 1, ReLU) with (1, 2, 2, 2, 2) layers and
    (64, 128, 256, 512, 512) channels, each block ending in a 2x2 max pool; then
    2 x (Linear 4096, ReLU, Dropout 0.5) -> Linear(num_classes), lazy as in the book.
    """
    layers = []
    channels = in_channels
    for convolutions, out_channels in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)):
        for _ in range(convolutions):
            layers += [nn.Conv2d(channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(num_classes))


MODELS = {"lenet": lenet5, "alexnet": alexnet, "vgg11": vgg11}
"""Models by the name the command line uses: ``MODELS[name](num_classes=10,
in_channels=1)``."""

INPUT_SHAPES = {"lenet": (1, 28, 28), "alexnet": (1, 224, 224), "vgg11": (1, 224, 224)}
"""Each model's usual input, (channels, height, width)."""

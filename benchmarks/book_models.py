"""The D2L book's CNNs (LeNet, ResNet-18, DenseNet) as twins in cnnlab and in PyTorch.

Each builder takes a *library* (:func:`torch_library` or :func:`cnnlab_library`: its
``nn``, ``relu`` and ``cat``) and builds the same architecture from it, with eager
layers (the book's lazy ones infer the same input channels on the first call; eager
ones give the same compute without a warm-up call). :func:`twins` builds a model in
both libraries with the same parameters and buffers.

Architectures, as in the book (Dive into Deep Learning, 2nd edition, chapters 7.6,
8.6 and 8.7) on one-channel 10-class images (Fashion-MNIST; the book resizes them to
96 x 96 for ResNet and DenseNet):

- LeNet: two 5x5 convolution + sigmoid + 2x2 average-pool stages (6 and 16
  channels), then dense layers 400 -> 120 -> 84 -> 10 with sigmoids; 28 x 28 input.
- ResNet-18: a 7x7 stride-2 convolution to 64 channels, batch norm, ReLU, 3x3
  stride-2 max pool; four stages of two residual blocks (64, 128, 256, 512
  channels; the first block of stages 2-4 halves the size and projects the input
  with a strided 1x1 convolution); global average pool and a dense layer. A
  residual block is conv3x3-BN-ReLU-conv3x3-BN, plus the input, then ReLU.
- DenseNet: the same stem; four dense blocks of four BN-ReLU-conv3x3 units with
  growth rate 32 (each unit's output concatenated to its input), three transitions
  (BN-ReLU-conv1x1 halving the channels, 2x2 average pool); BN, ReLU, global
  average pool and a dense layer.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def torch_library():
    import torch

    return SimpleNamespace(name="torch", nn=torch.nn, relu=torch.relu, cat=torch.cat)


def cnnlab_library():
    import cnnlab
    import cnnlab.functional as F

    return SimpleNamespace(name="cnnlab", nn=cnnlab.nn, relu=F.relu, cat=cnnlab.cat)


def book_lenet(lib):
    """The book's LeNet (sigmoid, average pooling) for (N, 1, 28, 28) images."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def _stem(lib):
    """ResNet's and DenseNet's first stage: (N, 1, H, W) -> (N, 64, H/4, W/4)."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64),
        nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))


def _residual_class(lib):
    class Residual(lib.nn.Module):
        """conv3x3-BN-ReLU-conv3x3-BN plus the (projected) input, then ReLU."""

        def __init__(self, in_channels, channels, use_1x1conv=False, stride=1):
            super().__init__()
            nn = lib.nn
            self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, padding=1,
                                   stride=stride)
            self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
            self.conv3 = (nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride)
                          if use_1x1conv else None)
            self.bn1 = nn.BatchNorm2d(channels)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            y = lib.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            if self.conv3 is not None:
                x = self.conv3(x)
            return lib.relu(y + x)
    return Residual


RESNET18_STAGES = ((2, 64), (2, 128), (2, 256), (2, 512))
"""(residual blocks, channels) of ResNet-18's four stages."""


def book_resnet18(lib, num_classes=10):
    """The book's ResNet-18 for (N, 1, H, W) images (the book uses H = W = 96)."""
    nn = lib.nn
    residual = _residual_class(lib)
    stages = [_stem(lib)]
    in_channels = 64
    for index, (blocks, channels) in enumerate(RESNET18_STAGES):
        first_stage = index == 0
        stage = []
        for block in range(blocks):
            downsample = block == 0 and not first_stage
            stage.append(residual(in_channels, channels, use_1x1conv=downsample,
                                  stride=2 if downsample else 1))
            in_channels = channels
        stages.append(nn.Sequential(*stage))
    stages.append(nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                                nn.Linear(in_channels, num_classes)))
    return nn.Sequential(*stages)


def resnet18_conv_shapes(image=96):
    """The distinct convolutions of :func:`book_resnet18` on ``image`` x ``image`` input.

    Returns
    -------
    list of (label, in_channels, size, out_channels, kernel, stride, padding)
        ``size`` is the (square) input size of the convolution.
    """
    shapes = [("stem 7x7 s2", 1, image, 64, 7, 2, 3)]
    size = (image + 1) // 2  # after the stem; the max pool halves it again
    size = (size + 1) // 2
    in_channels = 64
    for index, (_, channels) in enumerate(RESNET18_STAGES):
        if index == 0:
            shapes.append((f"{channels} 3x3", channels, size, channels, 3, 1, 1))
            continue
        out_size = (size + 1) // 2
        shapes += [(f"{in_channels}->{channels} 3x3 s2", in_channels, size, channels, 3, 2, 1),
                   (f"{in_channels}->{channels} 1x1 s2", in_channels, size, channels, 1, 2, 0),
                   (f"{channels} 3x3", channels, out_size, channels, 3, 1, 1)]
        size, in_channels = out_size, channels
    return shapes


def _dense_classes(lib):
    nn = lib.nn

    def unit(in_channels, growth):
        return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                             nn.Conv2d(in_channels, growth, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        """Units whose outputs are concatenated to their inputs along the channels."""

        def __init__(self, units, in_channels, growth):
            super().__init__()
            self.net = nn.Sequential(*[unit(in_channels + i * growth, growth)
                                       for i in range(units)])

        def forward(self, x):
            for block in self.net:
                x = lib.cat((x, block(x)), dim=1)
            return x
    return DenseBlock


def book_densenet(lib, num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), num_classes=10):
    """The book's DenseNet for (N, 1, H, W) images (the book uses H = W = 96)."""
    nn = lib.nn
    dense_block = _dense_classes(lib)
    layers = [_stem(lib)]
    for index, units in enumerate(arch):
        layers.append(dense_block(units, num_channels, growth_rate))
        num_channels += units * growth_rate
        if index != len(arch) - 1:
            layers.append(nn.Sequential(
                nn.BatchNorm2d(num_channels), nn.ReLU(),
                nn.Conv2d(num_channels, num_channels // 2, kernel_size=1),
                nn.AvgPool2d(kernel_size=2, stride=2)))
            num_channels //= 2
    layers.append(nn.Sequential(nn.BatchNorm2d(num_channels), nn.ReLU(),
                                nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                                nn.Linear(num_channels, num_classes)))
    return nn.Sequential(*layers)


BUILDERS = {"lenet": book_lenet, "resnet18": book_resnet18, "densenet": book_densenet}


def exact_zero_gradients(kind: str, model) -> set:
    """Names of the parameters of ``BUILDERS[kind]``'s ``model`` whose gradient is zero
    in exact arithmetic (any computed value is rounding noise).

    Batch norm subtracts each channel's mean, so it does not see a per-channel shift of
    its input: the bias of a convolution followed by batch norm has a zero gradient
    (ResNet's stem and both convolutions of each residual block; in DenseNet every
    convolution, since every channel it produces reaches only batch norms, through
    ReLU, pooling and concatenation). DenseNet's stem BN weight is listed too: batch
    norm divides by its channel's deviation, so a scale reaches the next ones only
    through their ``eps`` (6e-6 of the largest gradient in float64), far below the
    float32 rounding of its sum. Measured in PyTorch float32 at batch 128: noise up to
    1.5e-3 of the largest gradient there, while real ones go down to 2e-3.
    """
    if kind == "lenet":
        return set()
    zero = {"0.0.bias"}
    for name, module in model.named_modules():
        if type(module).__name__ != "Conv2d":
            continue
        if kind == "densenet" or name.endswith((".conv1", ".conv2")):
            zero.add(f"{name}.bias")
    if kind == "densenet":
        zero.add("0.1.weight")
    return zero


def twins(kind: str):
    """``(cnnlab_model, torch_model)`` of ``BUILDERS[kind]`` with the same parameters and
    buffers (PyTorch's initialisation with seed 0, copied into cnnlab)."""
    import torch

    torch.manual_seed(0)
    torch_model = BUILDERS[kind](torch_library())
    cnnlab_model = BUILDERS[kind](cnnlab_library())
    copy_state(torch_model, cnnlab_model)
    return cnnlab_model, torch_model


def copy_state(torch_model, cnnlab_model) -> None:
    """Copy every parameter and buffer of ``torch_model`` into ``cnnlab_model`` by name."""
    sources = dict(torch_model.named_parameters()) | dict(torch_model.named_buffers())
    targets = dict(cnnlab_model.named_parameters()) | dict(cnnlab_model.named_buffers())
    if sources.keys() != targets.keys():
        raise ValueError("copy_state: the twins' parameter names differ: "
                         f"{sorted(sources.keys() ^ targets.keys())}")
    for name, target in targets.items():
        value = sources[name].detach().numpy()
        if target.array.shape != value.shape:
            raise ValueError(f"copy_state: {name} has shape {target.array.shape} in cnnlab, "
                             f"{value.shape} in torch")
        target.array[...] = value.astype(target.array.dtype, copy=False)


def random_batch(batch: int, image: int, seed: int = 0):
    """float32 images (batch, 1, image, image) and int64 labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, 1, image, image), dtype=np.float32),
            rng.integers(0, 10, batch))

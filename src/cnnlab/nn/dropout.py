"""Channel dropout layers ``Dropout1d/2d/3d``, as in ``torch.nn`` (element dropout,
``Dropout``, is in :mod:`cnnlab.nn.basic`)."""

from __future__ import annotations

from .. import functional as F
from ..functional.channel_dropout import check_probability
from .module import Module


class _DropoutNd(Module):
    spatial = 2

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return getattr(F, f"dropout{self.spatial}d")(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` input with probability ``p`` while training."""
    spatial = 1


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` input with probability ``p`` while training."""
    spatial = 2


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` input with probability ``p`` while training."""
    spatial = 3

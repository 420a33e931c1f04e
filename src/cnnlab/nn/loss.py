"""Loss modules: thin wrappers over :mod:`cnnlab.functional.loss`."""

from __future__ import annotations

from .. import functional as F
from ..ops import as_tensor
from .module import Module


def _weight_buffer(module, weight) -> None:
    """``weight`` as a buffer, as PyTorch's weighted losses keep it: it follows
    ``.to(dtype)`` and appears in ``state_dict()`` (None: no entry)."""
    module.register_buffer("weight", None if weight is None else as_tensor(weight))


class CrossEntropyLoss(Module):
    """Cross entropy of logits against class indices or probabilities."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        _weight_buffer(self, weight)
        self.ignore_index = ignore_index
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(Module):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        _weight_buffer(self, weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)

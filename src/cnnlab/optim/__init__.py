"""``cnnlab.optim``: optimisers with PyTorch's update rules, and learning-rate schedules.

``SGD`` and ``Adam`` (:mod:`cnnlab.optim.optimizers`); :mod:`cnnlab.optim.lr_scheduler`
holds PyTorch's schedules (``StepLR``, ``CosineAnnealingLR``, ``OneCycleLR``,
``ReduceLROnPlateau``, ``SequentialLR``, ...), as ``torch.optim.lr_scheduler``.
"""

from . import lr_scheduler  # noqa: F401
from .optimizers import SGD, Adam, Optimizer

__all__ = ["Adam", "Optimizer", "SGD", "lr_scheduler"]

"""The tensor library the D2L helpers run on: cnnlab.

Every module of this package takes ``torch``, ``nn`` and ``F`` from here and uses only
PyTorch's public API through them, so the same helpers can also run on PyTorch itself
(the tests load this package a second time with this module pointing at PyTorch, as the
oracle the book's cells are compared against).
"""

import cnnlab as torch
from cnnlab import nn
from cnnlab.nn import functional as F

__all__ = ["torch", "nn", "F"]

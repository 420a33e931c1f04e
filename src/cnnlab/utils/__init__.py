"""``cnnlab.utils``: PyTorch's ``torch.utils`` pieces that CNN code uses (``data``)."""

from . import data  # noqa: F401
from .generator import Generator  # noqa: F401

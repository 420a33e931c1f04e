"""``cnnlab.nn``: layers and models shaped like ``torch.nn``."""

import sys as _sys

from .. import functional
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .activation import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid,
                         Mish, PReLU, ReLU6, SiLU, Softmax2d, Softplus)
from .basic import Dropout, Flatten, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .basic import Unflatten
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .containers import ModuleDict, ParameterDict, ParameterList
from .dropout import Dropout1d, Dropout2d, Dropout3d
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d,
                   LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
                   LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear,
                   LazyModuleMixin, UninitializedBuffer, UninitializedParameter)
from .module import Identity, Module, ModuleList, Parameter, Sequential
from .norm import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d,
                   InstanceNorm2d, InstanceNorm3d, LayerNorm)
from .upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .pool import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                   AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d,
                   LPPool1d, LPPool2d, LPPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d,
                   MaxUnpool2d, MaxUnpool3d)

# ``import cnnlab.nn.functional as F`` works as with torch: it is cnnlab.functional.
_sys.modules[__name__ + ".functional"] = functional

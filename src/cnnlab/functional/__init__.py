"""``cnnlab.functional``: PyTorch's ``torch.nn.functional`` for CNNs, in NumPy.

Same names, argument order, defaults and output shapes as PyTorch; inputs batched
``(N, C, H, W)`` or unbatched ``(C, H, W)``; Tensors, NumPy arrays or nested lists in,
Tensors out. Every op is differentiable. Extensions beyond PyTorch (per-side and
'same' padding with any stride, dilation in every pool, exact integer convolution)
are marked in each docstring.
"""

from .activation import (dropout, flatten, linear, log_softmax, relu, relu_, sigmoid,  # noqa: F401
                         softmax, tanh)
from .interpolate import interpolate, upsample, upsample_bilinear, upsample_nearest
from .conv import PADDING_MODES, conv1d, conv2d, conv3d
from .conv_transpose import conv_transpose1d, conv_transpose2d, conv_transpose3d
from .channel_dropout import dropout1d, dropout2d, dropout3d
from .im2col import fold, unfold
from .loss import cross_entropy, mse_loss, nll_loss
from .nonlinear import (elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, logsigmoid,
                        mish, prelu, relu6, silu, softplus)
from .normalization import batch_norm, group_norm, instance_norm, layer_norm
from .padding import convolve2d, correlate2d, pad
from .pool import (avg_pool1d, avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d,
                   max_pool1d, max_pool2d, max_pool3d)
from .adaptive_pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,
                            adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
                            max_unpool1d, max_unpool2d, max_unpool3d)

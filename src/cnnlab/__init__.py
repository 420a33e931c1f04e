"""cnnlab: convolutional networks from first principles, in NumPy.

A small, readable library that computes what PyTorch computes for convolutional
networks (same names, arguments, defaults and shapes), with a tape autograd over NumPy.
``import cnnlab as torch`` runs the "Dive into Deep Learning" CNN chapter unchanged.
"""

from . import dtypes as _dtypes
from ._format import set_printoptions
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, empty, eye, from_numpy, full, full_like,
                       get_rng_state, linspace, manual_seed, ones, ones_like, rand,
                       rand_like, randint, randn, randn_like, randperm, set_rng_state,
                       tensor, zeros, zeros_like)
from .creation import empty_like, normal, randint_like  # noqa: E402
from .device import device  # noqa: E402
from . import cuda  # noqa: E402
from .dtypes import DType as dtype
from .tensor import Size, Tensor, _install_methods

_install_methods()

from .ops import (abs, add, all, allclose, amax, amin, any, argmax, argmin, cat,  # noqa: E402
                  chunk, clamp, clip, cos, cumsum, div, eq, equal, exp, flatten, flip,
                  ge, gt, isfinite, isnan, le, log, log_softmax, lt, masked_fill, matmul,
                  max, maximum, mean, min, minimum, mul, narrow, ne, neg, norm, numel,
                  permute, pow, relu, reshape, select, sigmoid, sign, sin, softmax, split,
                  sqrt, square, squeeze, stack, std, sub, sum, tanh, transpose, unbind,
                  unsqueeze, var, where)
from .ops import argsort, prod, sort, topk  # noqa: E402
from .ops import (bitwise_and, bitwise_not, bitwise_or, bitwise_xor, floor_divide,  # noqa: E402
                  logical_and, logical_not, logical_or, logical_xor, remainder)
from .ops import (bmm, ceil, clone, diag, dot, floor, gather, index_select,  # noqa: E402
                  isinf, logsumexp, masked_select, mm, nonzero, outer, repeat_interleave,
                  roll, round, rsqrt, t, trace, tril, triu)


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a cnnlab Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)

float16 = half = _dtypes.float16
float32 = float = _dtypes.float32
float64 = double = _dtypes.float64
uint8 = _dtypes.uint8
int8 = _dtypes.int8
int16 = short = _dtypes.int16
int32 = int = _dtypes.int32
int64 = long = _dtypes.int64
bool = _dtypes.bool_

__version__ = "0.1.0"

from . import functional, nn, optim, shapes  # noqa: E402
from .chapter import (corr2d, corr2d_multi_in, corr2d_multi_in_out,  # noqa: E402
                      corr2d_multi_in_out_1x1, pool2d)
from .shapes import (conv1d_output_shape, conv2d_output_shape,  # noqa: E402
                     conv3d_output_shape, conv_output_shape, conv_transpose2d_output_shape,
                     conv_transpose_output_shape, pool2d_output_shape, pool_output_shape)
from . import models  # noqa: E402
from . import utils  # noqa: E402
from .utils.generator import Generator  # noqa: E402
from .summary import summary  # noqa: E402
from .serialization import load, load_weights, save, save_weights  # noqa: E402
from .kernels.window import set_scratch_budget  # noqa: E402
from .kernels.parallel import get_num_threads, set_num_threads  # noqa: E402

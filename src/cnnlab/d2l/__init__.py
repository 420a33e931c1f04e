"""``cnnlab.d2l``: what ``from d2l import torch as d2l`` gives the book's CNN chapters.

"Dive into Deep Learning" (d2l.ai) keeps its helpers in a library, ``d2l.torch``. This
package provides the part its CNN chapters use, written here from the book's
description, on cnnlab: the training framework (:class:`Module`, :class:`Classifier`,
:class:`DataModule`, :class:`Trainer` with a progress bar and training curves saved as
a PNG, or shown inline in Jupyter), :class:`FashionMNIST`, :func:`init_cnn`,
:func:`corr2d`, the models saved in those chapters, and the book's tensor aliases
(``d2l.tensor``, ``d2l.reshape``, ``d2l.reduce_sum``, ``d2l.float32``, ...).

Under ``cnnlab run-torch`` (or :func:`cnnlab.torch_compat.install`), ``from d2l import
torch as d2l`` gives this package.

Examples
--------
>>> from cnnlab import d2l
>>> d2l.try_gpu()
device(type='cpu')
>>> d2l.reshape(d2l.arange(4), (2, 2))
tensor([[0, 1],
        [2, 3]])
"""

from ._backend import nn, torch
from .core import (Classifier, DataModule, Module, Trainer, cpu, gpu, num_gpus, try_all_gpus,
                   try_gpu)
from .data import FashionMNIST, show_images
from .hyper import HyperParameters, add_to_class
from .models import LeNet, ResNeXtBlock, Residual, corr2d, init_cnn
from .plotting import Accumulator, ProgressBoard, Timer, plot, set_figsize, use_svg_display

nn_Module = nn.Module

# The book's framework-neutral names for tensor functions (its config.ini aliases).
ones_like = torch.ones_like
ones = torch.ones
zeros_like = torch.zeros_like
zeros = torch.zeros
tensor = torch.tensor
arange = torch.arange
sin = torch.sin
cos = torch.cos
tanh = torch.tanh
linspace = torch.linspace
exp = torch.exp
log = torch.log
normal = torch.normal
rand = torch.rand
randn = torch.randn
matmul = torch.matmul
int32 = torch.int32
int64 = torch.int64
float32 = torch.float32
concat = torch.cat
stack = torch.stack
abs = torch.abs
eye = torch.eye
sigmoid = torch.sigmoid


def numpy(x, *args, **kwargs):
    return x.detach().numpy(*args, **kwargs)


def size(x, *args, **kwargs):
    return x.numel(*args, **kwargs)


def reshape(x, *args, **kwargs):
    return x.reshape(*args, **kwargs)


def to(x, *args, **kwargs):
    return x.to(*args, **kwargs)


def reduce_sum(x, *args, **kwargs):
    return x.sum(*args, **kwargs)


def reduce_mean(x, *args, **kwargs):
    return x.mean(*args, **kwargs)


def argmax(x, *args, **kwargs):
    return x.argmax(*args, **kwargs)


def astype(x, *args, **kwargs):
    return x.type(*args, **kwargs)


def transpose(x, *args, **kwargs):
    return x.t(*args, **kwargs)


def expand_dims(x, *args, **kwargs):
    return x.unsqueeze(*args, **kwargs)


def repeat(x, *args, **kwargs):
    return x.repeat(*args, **kwargs)

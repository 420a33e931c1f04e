"""Activations, ``linear``, ``flatten`` and ``dropout``: the non-convolutional pieces of a CNN."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import ops
from ..autograd import record
from ..ops import as_tensor, flatten, half_in_float32, sigmoid, tanh
from .nonlinear import in_place

__all__ = ["dropout", "flatten", "linear", "log_softmax", "relu", "relu_", "sigmoid", "softmax",
           "tanh"]


def relu(input, inplace=False):
    """``max(x, 0)``, as ``torch.nn.functional.relu``; the gradient passes where the
    output is not <= 0 (NaN included). ``inplace=True`` makes ``input`` itself take the
    result, as in PyTorch (recorded like ``x += y``)."""
    if inplace:
        return in_place(input, "relu", ops.relu)
    return ops.relu(input)


def relu_(input):
    """``relu(input, inplace=True)``."""
    return relu(input, inplace=True)


def _softmax_dim(input, dim, function):
    """``dim``, or PyTorch's deprecated implicit choice (with its warning) when None:
    dim 0 for 0-, 1- and 3-D input (unbatched), else dim 1 (the channels)."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {function} has been "
                  "deprecated. Change the call to include dim=X as an argument.",
                  UserWarning, stacklevel=3)
    return 0 if input.array.ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, as ``torch.nn.functional.softmax``.

    Parameters
    ----------
    input : array_like, any shape
    dim : int
        The dimension that sums to 1. Omitted: PyTorch's deprecated implicit choice
        (dim 0 for 0-, 1- and 3-D input, else 1), with its warning.
    dtype : cnnlab.dtype, optional
        Convert the input to this dtype first (e.g. float64 for precision).

    Returns
    -------
    Tensor, the input's shape
    """
    input = as_tensor(input, "softmax", "input")
    return ops.softmax(input, _softmax_dim(input, dim, "softmax"), dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x))`` along ``dim``, computed stably; arguments as :func:`softmax`."""
    input = as_tensor(input, "log_softmax", "input")
    return ops.log_softmax(input, _softmax_dim(input, dim, "log_softmax"), dtype=dtype)


@half_in_float32
def linear(input, weight, bias=None):
    """``input @ weight.T + bias``.

    Parameters
    ----------
    input : array_like, shape (*, in_features)
    weight : array_like, shape (out_features, in_features)
    bias : array_like, shape (out_features,), optional

    Returns
    -------
    Tensor, shape (*, out_features)

    Raises
    ------
    ValueError
        For a weight that is not 2-D, an input whose last dimension is not
        ``in_features``, or a bias of the wrong shape.
    TypeError
        For floating input and weight of different dtypes (as PyTorch). Beyond
        PyTorch: integer input (e.g. nested lists of ints) is promoted.
    """
    input, weight = as_tensor(input, "linear", "input"), as_tensor(weight, "linear", "weight")
    if weight.array.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), "
                         f"got shape {tuple(weight.array.shape)}")
    if input.array.ndim == 0 or input.array.shape[-1] != weight.array.shape[1]:
        raise ValueError(f"linear: input's last dimension must equal in_features = "
                         f"{weight.array.shape[1]}, got input shape {tuple(input.array.shape)}")
    floating = (input.array.dtype.kind == "f", weight.array.dtype.kind == "f")
    if all(floating) and input.array.dtype != weight.array.dtype:
        raise TypeError(f"linear: input dtype {input.dtype!r} and weight dtype {weight.dtype!r} "
                        f"differ; use the same floating dtype for both (e.g. "
                        f"input.to(weight.dtype))")
    if bias is not None:
        bias = as_tensor(bias, "linear", "bias")
        if bias.array.shape != (weight.array.shape[0],):
            raise ValueError(f"linear: bias must have shape ({weight.array.shape[0]},), "
                             f"got {tuple(bias.array.shape)}")
    if all(floating) and (bias is None or bias.array.dtype == weight.array.dtype):
        return _addmm(input, weight, bias)
    out = ops.matmul(input, ops.t(weight))   # type promotion as in matmul and add
    return out if bias is None else ops.add(out, bias)


def _addmm(input, weight, bias):
    """``input @ weight.T + bias`` as one recorded op (operands of one floating dtype).

    One node instead of three (matmul, transpose, add): a small network's step spends
    as much time recording and unbroadcasting as multiplying.
    """
    x, w = input.array, weight.array
    rows = x.reshape(-1, x.shape[-1])
    out = rows @ w.T
    if bias is not None:
        out += bias.array
    out = out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(grad):
        grad_rows = grad.reshape(-1, w.shape[0])
        grad_x = (grad_rows @ w).reshape(x.shape) if input.requires_grad else None
        grad_w = grad_rows.T @ rows if weight.requires_grad else None
        grad_b = grad_rows.sum(axis=0) if bias is not None and bias.requires_grad else None
        return grad_x, grad_w, grad_b
    if bias is None:
        return record("Addmm", out, (input, weight), lambda grad: backward(grad)[:2])
    return record("Addmm", out, (input, weight, bias), backward)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Uses cnnlab's generator (:func:`cnnlab.manual_seed`). Identity when not training.
    """
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"dropout: training must be True or False, got {training!r}")
    input = as_tensor(input, "dropout", "input")
    if not training or p == 0:
        return input
    from ..creation import _rng

    x = input.array
    if p == 1:
        scale = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = _rng().random(x.shape) >= p
        scale = (keep / (1 - p)).astype(x.dtype)
    return record("NativeDropout", x * scale, (input,), lambda g: (g * scale,))

"""The ONNX elementwise operators and activations ``cnnlab.onnx.load`` runs (the rest
of :mod:`cnnlab.onnx._import_ops`, same calling convention)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import ops
from ._import_ops import _array, _static, _tensor


def _binary(numpy_op, cnnlab_op):
    def run(args, attributes, opset):
        a, b = args
        if _static(a) and _static(b):
            return numpy_op(a, b)
        return cnnlab_op(_tensor(a), _tensor(b))
    return run


def _unary(function):
    return lambda args, attributes, opset: function(_tensor(args[0]))


def leaky_relu(args, attributes, opset):
    return F.leaky_relu(_tensor(args[0]), attributes.get("alpha", 0.01))


def elu(args, attributes, opset):
    return F.elu(_tensor(args[0]), attributes.get("alpha", 1.0))


def clip(args, attributes, opset):
    if opset < 11:
        low, high = attributes.get("min"), attributes.get("max")
    else:
        # scalars; a one-element 1-D bound (some exporters write those) is read the same
        low, high = [None if a is None else float(_array(a).reshape(-1)[0])
                     for a in (args + [None, None])[1:3]]
    x = _tensor(args[0])
    return x if low is None and high is None else ops.clamp(x, low, high)


def _softmax(function):
    def run(args, attributes, opset):
        x = _tensor(args[0])
        axis = attributes.get("axis", -1 if opset >= 13 else 1) % max(x.ndim, 1)
        if opset >= 13 or axis == x.ndim - 1:
            return function(x, dim=axis)
        # Before opset 13 the input was flattened to 2-D at ``axis`` first.
        shape = tuple(x.shape)
        flat = ops.reshape(x, int(np.prod(shape[:axis], dtype=np.int64)), -1)
        return ops.reshape(function(flat, dim=1), *shape)
    return run


def identity(args, attributes, opset):
    return args[0]


def gelu(args, attributes, opset):
    return F.gelu(_tensor(args[0]), attributes.get("approximate", "none"))



def instance_normalization(args, attributes, opset):
    x, scale, bias = args[:3]
    return F.instance_norm(_tensor(x), weight=scale, bias=bias,
                           eps=attributes.get("epsilon", 1e-5))


def prelu(args, attributes, opset):
    """``x`` where positive, else ``slope * x``: the slope broadcast as ONNX says, which
    is cnnlab's ``where`` rather than F.prelu's one-slope-per-channel rule."""
    x, slope = _tensor(args[0]), _tensor(args[1])
    return ops.where(x > 0, x, x * slope)


def hard_sigmoid(args, attributes, opset):
    """``clip(alpha x + beta, 0, 1)`` (ONNX's defaults alpha 0.2, beta 0.5)."""
    x = _tensor(args[0])
    return ops.clamp(x * attributes.get("alpha", 0.2) + attributes.get("beta", 0.5), 0, 1)

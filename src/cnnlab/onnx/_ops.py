"""ONNX forms of the tensor operations a custom ``forward`` uses between layers.

An autograd node keeps the op's name and its input tensors, not its arguments (the
``dim`` of a ``cat``, the target shape of a ``view``). Each converter recovers them from
the traced shapes and values, and refuses (ExportError) when the recovered operation
does not reproduce the traced output exactly: a wrong guess never reaches the file.

``convert(builder, op, inputs) -> output name``, with ``op`` an :class:`OpCall`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ._graph import ExportError


@dataclass
class OpCall:
    name: str          # the autograd node's name ("Add", "Cat", ...)
    inputs: list       # numpy arrays, one per node input
    output: np.ndarray


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True)


def _refuse(op: OpCall, why: str):
    raise ExportError(f"onnx.export: cannot export the tensor operation {op.name!r}: {why}")


def binary(onnx_op, numpy_op):
    def convert(builder, op, inputs):
        if len(op.inputs) != 2:
            _refuse(op, f"expected 2 operands, the trace has {len(op.inputs)}")
        if not _same(numpy_op(*op.inputs).astype(op.output.dtype), op.output):
            _refuse(op, "it has an argument ONNX's plain form lacks (e.g. alpha=)")
        # ONNX does not promote types: a Python number (float64) meets a float32 tensor
        inputs = [name if array.dtype == op.output.dtype else
                  builder.add("Cast", [name], f"{onnx_op.lower()}.cast",
                              to=builder.helper.np_dtype_to_tensor_dtype(op.output.dtype))
                  for name, array in zip(inputs, op.inputs)]
        return builder.add(onnx_op, inputs, onnx_op.lower())
    return convert


def unary(onnx_op):
    def convert(builder, op, inputs):
        return builder.add(onnx_op, inputs[:1], onnx_op.lower())
    return convert


def identity(builder, op, inputs):
    if op.inputs[0].dtype != op.output.dtype:
        _refuse(op, f"a dtype change {op.inputs[0].dtype} -> {op.output.dtype}")
    return inputs[0]


def cat(builder, op, inputs):
    ndim = op.output.ndim
    for axis in [*range(1, ndim), 0]:  # a batch concatenation last: rarely meant
        if _same(np.concatenate(op.inputs, axis=axis), op.output) if all(
                a.ndim == ndim for a in op.inputs) and sum(a.shape[axis] for a in op.inputs) \
                == op.output.shape[axis] else False:
            return builder.add("Concat", inputs, "concat", axis=axis)
    _refuse(op, "no axis reproduces the traced result")


def reshape(builder, op, inputs):
    source = op.inputs[0]
    if not _same(source.reshape(op.output.shape), op.output):
        _refuse(op, "the result is not a reshape of the input")
    return builder.reshape(inputs[0], source.shape, op.output.shape, "reshape")


def mean(builder, op, inputs):
    source, out = op.inputs[0], op.output
    ndim = source.ndim
    keep = out.ndim == ndim
    count = ndim - out.ndim if not keep else None
    choices = ([tuple(i for i in range(ndim) if out.shape[i] == 1 and source.shape[i] != 1)]
               if keep else itertools.combinations(range(ndim), count))
    for axes in choices:
        if axes and _same(source.mean(axis=axes, keepdims=keep).astype(out.dtype), out):
            if builder.opset >= 18:
                return builder.add("ReduceMean", [inputs[0], builder.ints(axes, "mean.axes")],
                                   "mean", keepdims=int(keep))
            return builder.add("ReduceMean", inputs[:1], "mean", axes=list(axes),
                               keepdims=int(keep))
    _refuse(op, "no set of axes reproduces the traced mean")


def permute(builder, op, inputs):
    source = op.inputs[0]
    for perm in itertools.permutations(range(source.ndim)):
        if _same(source.transpose(perm), op.output):
            return builder.add("Transpose", inputs[:1], "transpose", perm=list(perm))
    _refuse(op, "no permutation reproduces the traced result")


def softmax(onnx_op, log):
    def convert(builder, op, inputs):
        x = op.inputs[0].astype(np.float64)
        for axis in range(x.ndim):
            shifted = x - x.max(axis=axis, keepdims=True)
            logs = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
            expected = logs if log else np.exp(logs)
            if np.allclose(expected, op.output, rtol=1e-5, atol=1e-6):
                return builder.add(onnx_op, inputs[:1], onnx_op.lower(), axis=axis)
        _refuse(op, "no axis reproduces the traced result")
    return convert


CONVERTERS = {
    "Add": binary("Add", np.add), "Sub": binary("Sub", np.subtract),
    "Mul": binary("Mul", np.multiply), "Div": binary("Div", np.divide),
    "Pow": binary("Pow", np.power),
    "Relu": unary("Relu"), "Sigmoid": unary("Sigmoid"), "Tanh": unary("Tanh"),
    "Sqrt": unary("Sqrt"), "Exp": unary("Exp"), "Log": unary("Log"), "Neg": unary("Neg"),
    "Abs": unary("Abs"),
    "Clone": identity, "ToCopy": identity,
    "Cat": cat, "View": reshape, "Reshape": reshape, "Mean": mean, "Permute": permute,
    "Softmax": softmax("Softmax", log=False), "LogSoftmax": softmax("LogSoftmax", log=True),
}

# Functional ops whose arguments only their nn module keeps.
MODULE_FOR = {
    "Convolution": "nn.Conv2d", "ConvolutionTranspose": "nn.ConvTranspose2d",
    "MaxPool2DWithIndices": "nn.MaxPool2d", "AvgPool2D": "nn.AvgPool2d",
    "LpPool2D": "nn.LPPool2d", "AdaptiveAvgPool2D": "nn.AdaptiveAvgPool2d",
    "AdaptiveMaxPool2D": "nn.AdaptiveMaxPool2d", "NativeBatchNorm": "nn.BatchNorm2d",
    "Addmm": "nn.Linear", "Mm": "nn.Linear", "NativeDropout": "nn.Dropout (model.eval())",
}


def convert_op(builder, op: OpCall, inputs):
    convert = CONVERTERS.get(op.name)
    if convert is not None:
        return convert(builder, op, inputs)
    if op.name in MODULE_FOR:
        _refuse(op, f"it was called as a function inside a forward, so its arguments were not "
                    f"recorded; use the layer {MODULE_FOR[op.name]} in the model instead")
    _refuse(op, f"it has no ONNX form here; supported tensor operations: "
                f"{', '.join(sorted(CONVERTERS))} (and the layers of "
                "cnnlab.onnx.SUPPORTED_LAYERS)")

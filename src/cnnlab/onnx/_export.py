"""``cnnlab.onnx.export``: a traced forward pass written as an ONNX model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from ._graph import ExportError, GraphBuilder
from ._modules import converter_for
from ._ops import OpCall, convert_op
from ._trace import Value, trace

MIN_OPSET, MAX_OPSET = 13, 21
"""Opsets written: 13 made Softmax per-axis as PyTorch's; 21 is what onnx 1.15+ knows."""


def export(model, example_input, path, opset_version=17, dynamic_batch=True,
           input_name="input", output_name="output", metadata=None):
    """Write ``model`` as an ONNX file, traced on ``example_input``.

    Parameters
    ----------
    model : cnnlab.nn.Module
        Run once in evaluation mode (its mode is restored afterwards), so dropout is the
        identity and batch norm uses its running statistics.
    example_input : Tensor or numpy.ndarray, shape (N, C, ...)
        Fixes every dimension of the exported graph except the batch (see
        ``dynamic_batch``).
    path : str or os.PathLike
        The ``.onnx`` file, written atomically.
    opset_version : int, default 17
        From 13 to 21. Some arguments need a newer opset (AveragePool with dilation:
        19; LpPool with dilation or ceil_mode: 18; circular padding: 19).
    dynamic_batch : bool, default True
        Make the first dimension of the input and output symbolic (``"N"``).
    input_name, output_name : str
    metadata : dict of str -> str, optional
        Stored as the model's ``metadata_props`` (e.g. class names).

    Returns
    -------
    onnx.ModelProto
        The model written (already passed ``onnx.checker.check_model``).

    Raises
    ------
    ValueError
        (``cnnlab.onnx.ExportError``) naming the layer or operation and the argument
        ONNX cannot express, before anything is written.
    ImportError
        When the ``onnx`` package is missing (``pip install cnnlab[onnx]``).

    Notes
    -----
    What is traced: the layers in ``cnnlab.onnx.SUPPORTED_LAYERS`` (from the arguments
    they keep), and between them the tensor operations in
    ``cnnlab.onnx.SUPPORTED_TENSOR_OPS`` (``+``, ``*``, ``cat``, ``view`` / ``flatten``,
    ``mean``, ``relu`` ...), whose arguments are recovered from the traced values and
    checked against them. Python control flow is frozen at the traced path, as in
    ``torch.onnx.export``'s tracer; the trace records gradients (that is how it sees the
    operations), so code that branches on ``cnnlab.is_grad_enabled()`` is exported in
    its gradient-enabled branch (branch on ``self.training`` instead). Functional calls with arguments (``F.conv2d``,
    ``F.max_pool2d`` inside a custom forward) are refused: use the layer.

    Examples
    --------
    >>> import os, tempfile, cnnlab, cnnlab.onnx
    >>> path = os.path.join(tempfile.mkdtemp(), "lenet.onnx")
    >>> onnx_model = cnnlab.onnx.export(cnnlab.models.lenet5(), cnnlab.zeros(1, 1, 28, 28), path)
    >>> [node.op_type for node in onnx_model.graph.node][:4]
    ['Conv', 'Relu', 'MaxPool', 'Conv']
    """
    onnx = _onnx()
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or not (
            MIN_OPSET <= opset_version <= MAX_OPSET):
        raise ValueError(f"onnx.export: opset_version must be an int from {MIN_OPSET} to "
                         f"{MAX_OPSET}, got {opset_version!r}")
    example = example_input if isinstance(example_input, Tensor) \
        else Tensor._wrap(np.asarray(example_input))
    if example.ndim < 1:
        raise ValueError("onnx.export: example_input must have a batch dimension, got a "
                         "0-d value")
    traced = example
    if dynamic_batch and example.shape[0] == 1:
        # A batch of one hides which reductions run over the batch (a mean over axes
        # (0, 2, 3) and one over (2, 3) give the same shapes and values): trace two.
        traced = Tensor._wrap(np.concatenate([example.array, example.array]))
    was_training = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        source, output, calls = trace(model, traced, lambda m: converter_for(m) is not None)
    finally:
        for module, mode in was_training:
            module.training = mode
    builder = GraphBuilder(opset_version, dynamic_batch)
    names = {Value.of(source).key: input_name}
    builder.fresh(input_name)
    parameters = {id(p): name for name, p in model.named_parameters()}
    parameters.update({id(b): name for name, b in model.named_buffers()})
    result = _emit(builder, Value.of(output), names, calls, parameters)
    # The graph output needs its own name: rename the last node's output.
    if result == input_name or not builder.nodes or result not in builder.nodes[-1].output:
        result = builder.add("Identity", [result], output_name)
    else:
        builder.nodes[-1].output[0] = output_name
        result = output_name
    graph = builder.helper.make_graph(
        builder.nodes, "cnnlab", [_value_info(onnx, input_name, example.array, dynamic_batch)],
        [_value_info(onnx, output_name, output.array, dynamic_batch)], builder.initializers)
    model_proto = builder.helper.make_model(
        graph, opset_imports=[builder.helper.make_opsetid("", opset_version)],
        producer_name="cnnlab")
    model_proto.ir_version = min(model_proto.ir_version, 9)  # readable by older runtimes
    if metadata:
        builder.helper.set_model_props(model_proto, {str(k): str(v) for k, v in metadata.items()})
    onnx.checker.check_model(model_proto, full_check=True)
    from ..checkpoint import write_atomically
    data = model_proto.SerializeToString()
    write_atomically(Path(os.fspath(path)), lambda out: out.write(data))
    return model_proto


def _onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError("cnnlab.onnx needs the onnx package: pip install 'cnnlab[onnx]' "
                          "(or pip install onnx)") from error
    return onnx


def _value_info(onnx, name, array, dynamic_batch):
    dims = list(array.shape)
    if dynamic_batch and dims:
        dims[0] = "N"
    element = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
    return onnx.helper.make_tensor_value_info(name, element, dims)


def _emit(builder, value: Value, names: dict, calls: dict, parameters: dict) -> str:
    """The ONNX name of ``value``, emitting what computes it first (inputs before users).

    An explicit stack instead of recursion: deep models (DenseNet) go past Python's
    recursion limit.
    """
    stack = [value]
    while stack:
        current = stack[-1]
        if current.key in names:
            stack.pop()
            continue
        if current.node is None:  # a parameter, buffer or constant used by a tensor op
            hint = parameters.get(id(current.tensor), "constant")
            names[current.key] = builder.constant(current.tensor.array, hint)
            stack.pop()
            continue
        call = calls.get(id(current.node))
        operands = ([v for v in call.inputs if isinstance(v, Value)] if call is not None
                    else [Value.of(t) for t in current.node.inputs])
        missing = [v for v in operands if v.key not in names]
        if missing:
            stack.extend(missing)
            continue
        inputs = [names[v.key] for v in operands]
        if call is not None:
            names[current.key] = converter_for(call.module)(builder, call, inputs)
        else:
            op = OpCall(current.node.op, [v.tensor.array for v in operands],
                        current.tensor.array)
            names[current.key] = convert_op(builder, op, inputs)
        stack.pop()
    return names[value.key]


__all__ = ["export", "ExportError"]

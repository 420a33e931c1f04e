"""``cnnlab.onnx.load``: an ONNX graph as a cnnlab module that runs and trains on NumPy.

The graph's float initializers become :class:`~cnnlab.nn.Parameter` s (the running
mean and variance of a BatchNormalization become buffers), placed in submodules along
their dotted names, so ``state_dict()`` keys are the initializer names (those of the
PyTorch model, for a ``torch.onnx.export`` file). Integer initializers and values
computed only from constants (a Reshape target made by ``Shape -> Gather -> Concat``)
stay NumPy arrays and are computed with NumPy; everything that depends on the input is
a cnnlab Tensor, so gradients flow to the parameters.

Every node is checked before anything runs: unsupported operators and attributes are
listed together in one ValueError.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..tensor import Tensor
from ._import_ops import OPS, check_node

BUFFER_INPUTS = {"BatchNormalization": (3, 4)}
"""Inputs (by position) that hold statistics, not trainable weights."""


def load(path):
    """Build a cnnlab module from the ONNX file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    OnnxModule
        ``module(x)`` runs the graph on one input (Tensor or array) and returns its
        output (a tuple when the graph has several). Its parameters are the graph's
        float initializers, trainable.

    Raises
    ------
    ValueError
        When the file is not a valid ONNX model, or uses operators or attributes cnnlab
        does not implement (all listed at once), naming the file.

    Examples
    --------
    >>> import os, tempfile, cnnlab, cnnlab.onnx
    >>> path = os.path.join(tempfile.mkdtemp(), "lenet.onnx")
    >>> model = cnnlab.models.lenet5()
    >>> _ = cnnlab.onnx.export(model, cnnlab.zeros(1, 1, 28, 28), path)
    >>> again = cnnlab.onnx.load(path)
    >>> x = cnnlab.rand(2, 1, 28, 28)
    >>> bool((again(x) - model(x)).abs().max() < 1e-6)
    True
    """
    from ._export import _onnx

    onnx = _onnx()
    path = Path(path)
    data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto)
    except Exception as error:  # protobuf's DecodeError, onnx's ValidationError
        raise ValueError(f"onnx.load: {path} is not a valid ONNX model: "
                         f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
                         ) from None
    return OnnxModule(proto, str(path))


def _opset(proto) -> int:
    for entry in proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 1


class _Holder(nn.Module):
    """An empty module that only holds parameters along a dotted name."""

    def forward(self, *args):
        raise RuntimeError("a parameter holder of an imported ONNX model is not callable")


class OnnxModule(nn.Module):
    """A cnnlab module running an ONNX graph node by node."""

    def __init__(self, proto, source: str = "<onnx>"):
        super().__init__()
        from onnx import numpy_helper

        graph = proto.graph
        self.opset = _opset(proto)
        self.source = source
        self.metadata = {entry.key: entry.value for entry in proto.metadata_props}
        problems = []
        for domain in {e.domain for e in proto.opset_import} - {"", "ai.onnx"}:
            problems.append(f"operator set domain {domain!r}")
        nodes = []
        for index, node in enumerate(graph.node):
            attributes = {a.name: _attribute(a, numpy_helper) for a in node.attribute}
            label = f"node {index} {node.name!r} ({node.op_type})" if node.name \
                else f"node {index} ({node.op_type})"
            problems += [f"{label}: {p}" for p in check_node(node.op_type, attributes,
                                                             list(node.input), list(node.output),
                                                             self.opset)]
            nodes.append((node.op_type, list(node.input), list(node.output), attributes, label))
        if problems:
            raise ValueError(f"onnx.load: {source} uses what cnnlab cannot run:\n  - "
                             + "\n  - ".join(problems))
        buffers = {node.input[i] for node in graph.node
                   for i in BUFFER_INPUTS.get(node.op_type, ()) if i < len(node.input)}
        self._nodes = nodes
        self._values = {}  # initializer name -> (holder module, attribute) or ndarray
        taken = set()
        for initializer in graph.initializer:
            array = numpy_helper.to_array(initializer).copy()
            if array.dtype.kind != "f":
                self._values[initializer.name] = array
                continue
            holder, attribute = self._place(initializer.name, taken)
            if initializer.name in buffers:
                holder.register_buffer(attribute, Tensor._wrap(array))
            else:
                holder.register_parameter(attribute, nn.Parameter(array))
            self._values[initializer.name] = (holder, attribute)
        known = {i.name for i in graph.initializer}
        self.input_names = [v.name for v in graph.input if v.name not in known]
        self.output_names = [v.name for v in graph.output]

    def _place(self, name: str, taken: set):
        """The holder module and attribute for initializer ``name`` (dotted path kept,
        each part made a plain identifier)."""
        parts = [re.sub(r"\W", "_", part) or "_" for part in name.split(".")]
        key = ".".join(parts)
        suffix = 1
        while key in taken:
            key, suffix = ".".join(parts[:-1] + [f"{parts[-1]}_{suffix}"]), suffix + 1
        taken.add(key)
        parts = key.split(".")
        holder = self
        for part in parts[:-1]:
            child = holder._modules.get(part)
            if child is None:
                child = _Holder()
                holder.add_module(part, child)
            holder = child
        return holder, parts[-1]

    def forward(self, *inputs):
        return self._run(inputs)

    def node_table(self, *inputs) -> list:
        """Run ``inputs`` through the graph and describe each node:
        ``(label, output shape, number of parameters it reads)``."""
        rows = []

        def visit(label, names_in, result):
            count = sum(int(np.prod(self._initializer_shape(name))) for name in names_in
                        if isinstance(self._values.get(name), tuple))
            shape = tuple(getattr(result, "shape", ()))
            rows.append((label, shape, count))

        with no_grad():
            self._run(inputs, visit)
        return rows

    def _initializer_shape(self, name):
        return tuple(getattr(*self._values[name]).shape)

    def _run(self, inputs, visit=None):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"OnnxModule: the graph takes {len(self.input_names)} input(s) "
                            f"{self.input_names}, got {len(inputs)}")
        env = {}
        for name, value in zip(self.input_names, inputs):
            env[name] = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))
        for name, entry in self._values.items():
            env[name] = getattr(*entry) if isinstance(entry, tuple) else entry
        for op_type, names_in, names_out, attributes, label in self._nodes:
            args = [env[name] if name else None for name in names_in]
            try:
                results = OPS[op_type](args, attributes, self.opset)
            except (ValueError, TypeError) as error:
                raise type(error)(f"OnnxModule: {label}: {error}") from error
            if not isinstance(results, tuple):
                results = (results,)
            for name, result in zip(names_out, results):
                if name:
                    env[name] = result
            if visit is not None:
                visit(label, names_in, results[0])
        outputs = tuple(_as_tensor(env[name]) for name in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self) -> str:
        ops = sorted({op for op, *_ in self._nodes})
        return f"source={self.source!r}, opset={self.opset}, nodes={len(self._nodes)}, " \
               f"ops={ops}"


def _as_tensor(value):
    return value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))


def _attribute(attribute, numpy_helper):
    """An attribute's Python value (ints, floats, strings as str, tensors as arrays)."""
    from onnx import AttributeProto

    kinds = {AttributeProto.INT: lambda a: a.i, AttributeProto.FLOAT: lambda a: a.f,
             AttributeProto.STRING: lambda a: a.s.decode("utf-8"),
             AttributeProto.INTS: lambda a: list(a.ints),
             AttributeProto.FLOATS: lambda a: list(a.floats),
             AttributeProto.STRINGS: lambda a: [s.decode("utf-8") for s in a.strings],
             AttributeProto.TENSOR: lambda a: numpy_helper.to_array(a.t)}
    read = kinds.get(attribute.type)
    return read(attribute) if read else _Unsupported(attribute.type)


class _Unsupported:
    """An attribute of a kind (graph, sparse tensor ...) cnnlab does not read."""

    def __init__(self, kind):
        self.kind = kind

    def __repr__(self) -> str:
        return f"<attribute of type {self.kind}>"

"""A small builder of ONNX graphs: unique value names, nodes and initializers."""

from __future__ import annotations

import numpy as np


class ExportError(ValueError):
    """A model, layer or argument that ONNX (at the chosen opset) cannot express."""


class GraphBuilder:
    """Collects the nodes and initializers of one graph.

    Parameters
    ----------
    opset : int
        The ONNX opset the graph is written for (converters choose forms by it).
    dynamic_batch : bool
        Whether the first dimension of the input and output is symbolic; reshapes then
        copy it (``0`` in a Reshape target) instead of fixing it.
    """

    def __init__(self, opset: int, dynamic_batch: bool):
        import onnx.helper
        import onnx.numpy_helper

        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.nodes = []
        self.initializers = []
        self._names = set()

    def fresh(self, hint: str) -> str:
        """A value name not used yet, made from ``hint``."""
        base = hint.replace("/", ".") or "value"
        name, i = base, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def constant(self, array, hint: str) -> str:
        """Store ``array`` as an initializer; return its name."""
        name = self.fresh(hint)
        # np.asarray(order="C"), not ascontiguousarray: that makes a 0-d array 1-D,
        # and ONNX wants Clip's bounds (and other scalars) 0-d
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array, order="C"),
                                                              name))
        return name

    def ints(self, values, hint: str) -> str:
        """An int64 1-D initializer (shapes, pads, axes)."""
        return self.constant(np.asarray(values, np.int64), hint)

    def add(self, op_type: str, inputs, hint: str, **attributes) -> str:
        """Append one node with one output; return the output's name.

        ``""`` in ``inputs`` marks an omitted optional input, as ONNX does.
        """
        output = self.fresh(hint)
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [output],
                                                name=self.fresh(f"{hint}.{op_type}"),
                                                **attributes))
        return output

    def reshape(self, x: str, in_shape, out_shape, hint: str) -> str:
        """Reshape ``x`` to ``out_shape``; the batch dimension is copied when the graph's
        batch is dynamic and the reshape keeps it."""
        target = list(out_shape)
        if (self.dynamic_batch and len(target) > 0 and len(in_shape) > 0
                and target[0] == in_shape[0]):
            target[0] = 0  # ONNX Reshape: 0 copies the input's dimension
        return self.add("Reshape", [x, self.ints(target, f"{hint}.shape")], hint)

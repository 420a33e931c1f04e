"""Tracing a cnnlab forward pass into the calls an ONNX graph is built from.

Two sources are combined:

- **Module calls.** Layers whose ONNX form we know (``Conv2d``, ``MaxPool2d``,
  ``BatchNorm2d``, ``Linear`` ...) carry their arguments as attributes, so their
  ``forward`` is wrapped, for the time of one forward pass and on that instance only,
  to note the call: the module, its input values and its output value.
- **Tensor operations** between layers (``x + y``, ``torch.cat``, ``x.view``, ``F.relu``
  in a custom ``forward``): every differentiable op records an autograd node (its name
  and its input tensors). The input is traced with ``requires_grad=True`` so that every
  value computed from it has a node. Such a node carries no arguments (``dim`` of a
  ``cat`` ...); the converters recover them from the shapes and check the recovered
  operation against the traced values before using it.

A *value* is keyed by the autograd node that produced it (or by the tensor itself for
leaves: the input, parameters, constants). Keying by node, not by tensor, keeps in-place
operations apart: after ``y += x`` the tensor ``y`` has a new node, while the layer that
produced the old ``y`` keeps the old one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..autograd import keeping_inputs
from ..tensor import Tensor


@dataclass
class Value:
    """A tensor as it was when it was used: the object and the node that made it."""

    tensor: Tensor
    node: object = None

    @classmethod
    def of(cls, tensor: Tensor) -> "Value":
        return cls(tensor, tensor._node)

    @property
    def key(self) -> int:
        return id(self.node) if self.node is not None else id(self.tensor)


@dataclass
class ModuleCall:
    """One call of a layer with a known ONNX form."""

    path: str
    module: object
    inputs: list
    kwargs: dict
    output: Tensor
    node: object = field(default=None)


def trace(model, example: Tensor, known) -> tuple:
    """Run ``model(example)`` once, noting every call of a module for which
    ``known(module)`` is true.

    Returns
    -------
    (input_tensor, output_tensor, calls)
        ``calls`` maps ``id(node)`` of each noted module's output to its
        :class:`ModuleCall`. The nodes stay referenced by the calls, so ids are not
        reused while the result lives.
    """
    calls = {}
    wrapped = []

    def wrap(path, module):
        original = module.forward

        def forward(*args, **kwargs):
            inputs = [Value.of(arg) if isinstance(arg, Tensor) else arg for arg in args]
            output = original(*args, **kwargs)
            node = getattr(output, "_node", None)
            passthrough = any(isinstance(v, Value) and v.node is node for v in inputs)
            if isinstance(output, Tensor) and node is not None and not passthrough:
                calls[id(node)] = ModuleCall(path, module, inputs, kwargs, output, node)
            elif not isinstance(output, Tensor):
                raise ValueError(f"onnx.export: {path or 'the model'} "
                                 f"({type(module).__name__}) returned a "
                                 f"{type(output).__name__}; only layers returning one tensor "
                                 "can be exported (e.g. return_indices=False)")
            return output

        module.__dict__["forward"] = forward  # this instance only; removed below
        wrapped.append(module)

    for path, module in model.named_modules():
        if known(module):
            wrap(path, module)
    source = Tensor._wrap(example.array.copy())
    source.requires_grad = True
    try:
        with keeping_inputs():   # the export walks tensor ops through Node.inputs
            output = model(source)
    finally:
        for module in wrapped:
            module.__dict__.pop("forward", None)
    if not isinstance(output, Tensor):
        raise ValueError(f"onnx.export: the model returned a {type(output).__name__}; "
                         "only models returning one tensor can be exported")
    return source, output, calls

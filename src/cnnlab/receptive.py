"""Receptive-field arithmetic: how much of the input each unit of a feature map sees.

For a chain of convolution and pooling layers, three numbers per axis describe the
units of each layer's output (Dumoulin & Visin, "A guide to convolution arithmetic";
Araujo et al., "Computing receptive fields of convolutional neural networks"):

- ``size``: the receptive field, the number of input pixels (along the axis) that can
  influence one unit;
- ``jump``: the effective stride, the distance in input pixels between the fields of
  two neighbouring units;
- ``start``: the input coordinate of the centre of the first (top-left) unit's field,
  where input pixel ``i`` has coordinate ``i``. Negative values lie in the padding.

A layer with kernel ``k``, stride ``s``, padding ``p`` (before the input) and dilation
``d`` spans ``k_eff = d (k - 1) + 1`` of its input, so::

    jump_out  = jump_in * s
    size_out  = size_in + (k_eff - 1) * jump_in
    start_out = start_in + ((k_eff - 1) / 2 - p) * jump_in

starting from ``size = 1, jump = 1, start = 0`` at the input. Unit ``i`` of a layer
covers the input coordinates ``start + i * jump +- (size - 1) / 2`` (with holes when
a layer is dilated).

Layers are written compactly, e.g. ``"conv5p2,pool2,conv5,pool2"`` (LeNet): a kind
(``conv``, ``pool``, ``maxpool``, ``avgpool``), the kernel size (``5`` or ``3x5``), then
optional ``s<stride>``, ``p<padding>`` and ``d<dilation>``, each ``n`` or ``hxw``.
Pooling strides default to the kernel size, as in PyTorch.

Examples
--------
>>> from cnnlab.receptive import parse_layers, receptive_fields
>>> for field in receptive_fields(parse_layers("conv3,conv3"), input_size=(5, 5)):
...     print(field.name, field.size, field.jump, field.start, field.output_size)
input (1, 1) (1, 1) (0.0, 0.0) (5, 5)
conv3 (3, 3) (1, 1) (1.0, 1.0) (3, 3)
conv3 (5, 5) (1, 1) (2.0, 2.0) (1, 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .shapes import int_pair, padding_pairs, window_output_shape

KINDS = ("conv", "pool", "maxpool", "avgpool")

MODELS = {
    "lenet": ("conv5p2,pool2,conv5,pool2", (28, 28)),
    "alexnet": ("conv11s4p1,maxpool3s2,conv5p2,maxpool3s2,conv3p1,conv3p1,conv3p1,maxpool3s2",
                (224, 224)),
    "vgg11": ("conv3p1,maxpool2,conv3p1,maxpool2,conv3p1,conv3p1,maxpool2,"
              "conv3p1,conv3p1,maxpool2,conv3p1,conv3p1,maxpool2", (224, 224)),
}
"""Named layer chains (the Dive into Deep Learning versions) and their usual input size."""

_SIZE = r"\d+(?:x\d+)?"
_LAYER = re.compile(rf"^(?P<kind>{'|'.join(sorted(KINDS, key=len, reverse=True))})"
                    rf"(?P<kernel>{_SIZE})(?P<options>(?:[spd]{_SIZE})*)$")
_OPTION = re.compile(rf"([spd])({_SIZE})")


@dataclass(frozen=True)
class Layer:
    """One window layer in canonical form (pairs are ``(height, width)``).

    ``padding`` is ``((top, bottom), (left, right))``.
    """

    kind: str
    kernel_size: tuple
    stride: tuple
    padding: tuple = ((0, 0), (0, 0))
    dilation: tuple = (1, 1)
    ceil_mode: bool = False
    name: str = ""


@dataclass(frozen=True)
class Field:
    """The receptive field of the units of one layer's output (pairs per axis).

    ``layer`` is ``None`` for the input itself; ``output_size`` is ``None`` when no
    input size was given.
    """

    name: str
    layer: Layer | None
    size: tuple
    jump: tuple
    start: tuple
    output_size: tuple | None = None

    def span(self, index=(0, 0)) -> tuple:
        """Input coordinates ``((top, bottom), (left, right))`` (inclusive) that unit
        ``index`` of this layer can see; they may reach into the padding."""
        spans = []
        for i, size, jump, start in zip(index, self.size, self.jump, self.start):
            centre = start + i * jump
            half = (size - 1) / 2
            spans.append((round(centre - half), round(centre + half)))
        return tuple(spans)


def _pair(text: str) -> tuple:
    parts = [int(p) for p in text.split("x")]
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def parse_layer(text: str) -> Layer:
    """One layer from its compact form, e.g. ``"conv5p2"``, ``"maxpool3s2"``,
    ``"conv3x5d2"``.

    Raises
    ------
    ValueError
        When ``text`` is not of that form, or a number is out of range.
    """
    match = _LAYER.match(text.strip().lower())
    if not match:
        raise ValueError(
            f"parse_layer: cannot read layer {text!r}; expected a kind ({', '.join(KINDS)}) "
            f"followed by the kernel size and optional s<stride>, p<padding>, d<dilation>, "
            f"each n or hxw, e.g. 'conv5p2', 'pool2', 'conv3s2d2', 'maxpool3x3s2p1'")
    name = text.strip().lower()
    kind = match["kind"]
    options = {}
    for letter, value in _OPTION.findall(match["options"]):
        if letter in options:
            raise ValueError(f"parse_layer: layer {text!r} sets '{letter}' twice")
        options[letter] = _pair(value)
    function = f"layer {name!r}"
    kernel = int_pair(_pair(match["kernel"]), "kernel size", function)
    is_pool = kind != "conv"
    stride = int_pair(options.get("s", kernel if is_pool else (1, 1)), "stride", function)
    dilation = int_pair(options.get("d", (1, 1)), "dilation", function)
    padding = padding_pairs(options.get("p", (0, 0)), function)
    return Layer(kind, kernel, stride, padding, dilation, name=name)


def parse_layers(spec: str) -> list:
    """Layers from a comma-separated chain such as ``"conv5p2,pool2,conv5,pool2"``,
    or the name of a model in :data:`MODELS` (``"lenet"``)."""
    if spec.strip().lower() in MODELS:
        spec = MODELS[spec.strip().lower()][0]
    parts = [part for part in spec.split(",") if part.strip()]
    if not parts:
        raise ValueError(f"parse_layers: no layers in {spec!r}; expected e.g. 'conv3,conv3'")
    return [parse_layer(part) for part in parts]


def next_field(field: Field, layer: Layer, name: str | None = None) -> Field:
    """The receptive field after one more layer (the recurrences in the module docstring)."""
    size, jump, start = [], [], []
    for axis in range(2):
        extent = layer.dilation[axis] * (layer.kernel_size[axis] - 1) + 1
        pad_before = layer.padding[axis][0]
        size.append(field.size[axis] + (extent - 1) * field.jump[axis])
        start.append(field.start[axis] + ((extent - 1) / 2 - pad_before) * field.jump[axis])
        jump.append(field.jump[axis] * layer.stride[axis])
    output_size = None
    if field.output_size is not None:
        output_size = window_output_shape(
            f"receptive field of {name or layer.name or layer.kind}", field.output_size,
            layer.kernel_size, layer.stride, layer.padding, layer.dilation, layer.ceil_mode)
    return Field(name or layer.name or layer.kind, layer, tuple(size), tuple(jump),
                 tuple(start), output_size)


def receptive_fields(layers, input_size=None) -> list:
    """The receptive field of every layer's output, the input's first.

    Parameters
    ----------
    layers : sequence of Layer
        E.g. from :func:`parse_layers` or :func:`layers_from_module`.
    input_size : int or (int, int), optional
        ``(height, width)`` of the input; when given, each field also carries its
        layer's output size (a ValueError with the shape formula if one is empty).

    Returns
    -------
    list of Field, ``len(layers) + 1`` long.
    """
    size = None if input_size is None else int_pair(input_size, "input_size",
                                                     "receptive_fields")
    fields = [Field("input", None, (1, 1), (1, 1), (0.0, 0.0), size)]
    for layer in layers:
        fields.append(next_field(fields[-1], layer))
    return fields


def layers_from_module(module) -> list:
    """The window layers (convolutions and pools) of a model, in order.

    Walks ``module.modules()`` and keeps the leaves that have a ``kernel_size``
    (``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ...); activations and other
    elementwise layers do not change receptive fields and are skipped. Stops at the
    first ``Flatten`` or ``Linear``, after which there is no spatial layout.
    """
    layers = []
    for child in module.modules():
        kind_name = type(child).__name__
        if kind_name in ("Flatten", "Linear"):
            break
        if not hasattr(child, "kernel_size") or any(True for _ in child.children()):
            continue
        kind = "conv" if "Conv" in kind_name else "pool"
        if kind_name.startswith("ConvTranspose"):
            raise ValueError(f"layers_from_module: {kind_name} layers are not supported "
                             "(the receptive-field recurrences assume strided windows)")
        function = f"layers_from_module ({kind_name})"
        kernel = int_pair(child.kernel_size, "kernel_size", function)
        stride_value = getattr(child, "stride", None)
        stride = kernel if stride_value is None else int_pair(stride_value, "stride", function)
        dilation = int_pair(getattr(child, "dilation", 1), "dilation", function)
        padding = getattr(child, "padding", 0)
        if isinstance(padding, str):
            raise ValueError(f"{function}: string padding {padding!r} depends on the input "
                             "size; give explicit padding to compute receptive fields")
        layers.append(Layer(kind, kernel, stride, padding_pairs(padding, function), dilation,
                            bool(getattr(child, "ceil_mode", False)), kind_name))
    return layers


def describe_axis(values) -> str:
    """``'5'`` when both axes agree, else ``'5x3'`` (numbers printed without ``.0``)."""
    texts = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    return texts[0] if texts[0] == texts[1] else "x".join(texts)


__all__ = ["Field", "KINDS", "Layer", "MODELS", "describe_axis", "layers_from_module",
           "next_field", "parse_layer", "parse_layers", "receptive_fields"]

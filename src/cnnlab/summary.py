"""A model summary: per layer the output shape, parameters, multiply-adds and receptive field.

``summary(model, input_shape)`` runs one forward pass on zeros with a hook on every
leaf module, in execution order, and tabulates what each layer produced. No single
PyTorch tool shows all of these: torchinfo has no receptive field, torchscan no
multiply-adds per layer in the same table.

Multiply-adds count the multiplications of convolutions and linear layers for the
given input (batch included); pooling and activations count 0, as in torchinfo. The
receptive field (size, jump, start; see :mod:`cnnlab.receptive`) follows the chain of
window layers in execution order, so it is exact for sequential models; after a
``Flatten`` or ``Linear`` every unit sees the whole input and no field is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .autograd import no_grad
from .receptive import Field, describe_axis, layers_from_module, next_field


@dataclass
class LayerRow:
    """One line of the summary."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    trainable: int
    mult_adds: int
    field: Field | None


def _mult_adds(module, inputs, output) -> int:
    kind = type(module).__name__
    if kind == "Conv2d":
        per_output = module.weight.array[0].size  # C_in / groups * kh * kw
        return int(np.prod(output.shape)) * per_output
    if kind == "ConvTranspose2d":
        per_input = module.weight.array[0].size  # C_out / groups * kh * kw
        return int(np.prod(np.shape(inputs[0]))) * per_input
    if kind == "Linear":
        return int(np.prod(output.shape)) * module.in_features
    return 0


def _shape(value) -> tuple:
    if isinstance(value, (tuple, list)):
        return _shape(value[0])
    return tuple(np.shape(value))


class Summary:
    """The result of :func:`summary`; printing it shows the table."""

    def __init__(self, model, input_shape, rows):
        self.model = model
        self.input_shape = tuple(input_shape)
        self.rows = rows
        params = list(model.parameters())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.total_mult_adds = sum(row.mult_adds for row in rows)

    def table(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #", "Mult-adds", "RF", "Jump", "Start")
        lines = [("input", str(list(self.input_shape)), "", "", "1", "1", "0")]
        for row in self.rows:
            field = row.field
            rf = ("", "", "") if field is None else (
                describe_axis(field.size), describe_axis(field.jump), describe_axis(field.start))
            lines.append((f"{row.name} ({row.kind})", str(list(row.output_shape)),
                          f"{row.params:,}", f"{row.mult_adds:,}") + rf)
        widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
        left = {0, 1}

        def render(cells):
            return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(render(header))
        body = [rule, render(header), rule] + [render(line) for line in lines] + [rule]
        body += [f"Total params: {self.total_params:,}",
                 f"Trainable params: {self.trainable_params:,}",
                 f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                 f"Total mult-adds: {self.total_mult_adds:,} ({self.total_mult_adds / 1e6:.2f} M)",
                 "RF: receptive field size in input pixels; Jump: distance between neighbouring",
                 "units' fields; Start: centre of the first unit's field (input coordinates).",
                 rule]
        return "\n".join(body)

    __str__ = table

    def __repr__(self) -> str:
        return self.table()


def summary(model, input_shape, dtype="float32") -> Summary:
    """Describe ``model`` layer by layer for an input of ``input_shape``.

    Parameters
    ----------
    model : cnnlab.nn.Module
    input_shape : tuple of int
        ``(C, H, W)`` (a batch of one is used) or ``(N, C, H, W)``.

    Returns
    -------
    Summary
        ``print(summary(...))`` shows the table; ``.rows``, ``.total_params``,
        ``.trainable_params`` and ``.total_mult_adds`` hold the numbers.

    Examples
    --------
    >>> from cnnlab.models import lenet5
    >>> s = summary(lenet5(), (1, 28, 28))
    >>> s.total_params, s.total_mult_adds
    (61706, 416520)
    >>> [(row.kind, row.field.size[0]) for row in s.rows[:3]]
    [('Conv2d', 5), ('ReLU', 5), ('MaxPool2d', 6)]
    """
    from .creation import zeros

    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (3, 4) or min(shape) < 1:
        raise ValueError(f"summary: input_shape must be (C, H, W) or (N, C, H, W) with "
                         f"positive sizes, got {tuple(input_shape)!r}")
    batch_shape = shape if len(shape) == 4 else (1,) + shape
    leaves = [(name, module) for name, module in model.named_modules()
              if not any(True for _ in module.children())]
    rows, handles = [], []
    state = {"field": Field("input", None, (1, 1), (1, 1), (0.0, 0.0), None)}

    def hook_for(name):
        def hook(module, inputs, output):
            field = state["field"]
            if field is not None:
                kind = type(module).__name__
                if kind in ("Flatten", "Linear"):
                    field = None
                else:
                    try:
                        layers = layers_from_module(module)
                    except ValueError:
                        layers, field = [], None
                    for layer in layers:
                        field = next_field(field, layer, name)
                state["field"] = field
            rows.append(LayerRow(name or type(module).__name__, type(module).__name__,
                                 _shape(output),
                                 sum(p.numel() for p in module.parameters(recurse=False)),
                                 sum(p.numel() for p in module.parameters(recurse=False)
                                     if p.requires_grad),
                                 _mult_adds(module, inputs, output), state["field"]))
        return hook

    for name, module in leaves:
        handles.append(module.register_forward_hook(hook_for(name)))
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(zeros(*batch_shape, dtype=dtype))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return Summary(model, batch_shape, rows)

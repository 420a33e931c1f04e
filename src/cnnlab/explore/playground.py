"""The chapter's padding/stride/pooling playground: one layer's output size, worked out.

The page sends text fields as typed; :func:`layer_shape` reads them, runs the layer
itself (``cnnlab.functional.conv2d``, ``max_pool2d`` or ``avg_pool2d`` on zeros), and
answers the output size with the formula from :func:`cnnlab.shapes.formula` (the rule
``cnnlab shape`` prints), or the error message cnnlab raises for that choice.
"""

from __future__ import annotations

import re

import cnnlab
import cnnlab.functional as F
from cnnlab import shapes

from .lab import RequestError

MAX_INPUT = 64
"""Largest input side the playground draws (the page shows every cell)."""
LIMITS = {"input": MAX_INPUT, "kernel": 32, "padding": 32, "stride": 64, "dilation": 16}
"""Largest magnitude of each setting, so that no request can ask for a huge layer."""
OPERATIONS = ("conv", "max", "avg")
_NUMBERS = re.compile(r"^\s*-?\d+(\s*[,x]\s*-?\d+)*\s*$")


def parse_numbers(text, name: str, counts=(1, 2)):
    """``'3'`` -> 3, ``'3,4'`` -> (3, 4); also 4 numbers where ``counts`` allows it."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not _NUMBERS.match(text):
        raise RequestError(f"{name}: expected {' or '.join(map(str, counts))} integers "
                           f"separated by ',', got {str(text)[:40]!r}")
    values = [int(v) for v in re.split(r"[,x]", text)]
    limit = LIMITS[name]
    if any(abs(v) > limit for v in values):
        raise RequestError(f"{name}: the playground takes values up to {limit}, got {text!r}")
    if len(values) not in counts:
        raise RequestError(f"{name}: expected {' or '.join(map(str, counts))} integers, got "
                           f"{len(values)} ({text!r})")
    return values[0] if len(values) == 1 else tuple(values)


def parse_padding(text):
    """``'same'``, ``'valid'``, ``'1'``, ``'1,2'`` (height, width) or ``'1,2,0,3'``
    (top, bottom, left, right) as cnnlab's padding argument."""
    if isinstance(text, str) and text.strip().lower() in ("same", "valid"):
        return text.strip().lower()
    value = parse_numbers(text, "padding", (1, 2, 4))
    if isinstance(value, tuple) and len(value) == 4:
        return (value[:2], value[2:])
    return value


def layer_shape(request: dict) -> dict:
    """Answer one playground request.

    ``request``: ``input`` ('6,8'), ``kernel``, ``padding``, ``stride`` (empty: 1 for
    conv, the kernel for pooling), ``dilation``, ``operation`` ('conv', 'max' or 'avg')
    and ``ceil_mode`` (pooling).

    Returns ``{"output": [h, w], "padding": [[top, bottom], [left, right]], "formula":
    [line per axis], "call": the cnnlab call}`` or ``{"error": cnnlab's message,
    "call": ...}``.
    """
    operation = request.get("operation", "conv")
    if operation not in OPERATIONS:
        raise RequestError(f"operation must be one of {', '.join(OPERATIONS)}, got "
                           f"{str(operation)[:40]!r}")
    size = shapes.int_pair(parse_numbers(request.get("input", ""), "input"), "input",
                           "playground") if _positive(request.get("input")) else None
    if size is None or max(size) > MAX_INPUT:
        raise RequestError(f"input: expected one or two sizes 1..{MAX_INPUT} (e.g. 6,8), "
                           f"got {str(request.get('input'))[:40]!r}")
    kernel = parse_numbers(request.get("kernel", ""), "kernel")
    stride_text = request.get("stride", "")
    stride = None if stride_text in ("", None) else parse_numbers(stride_text, "stride")
    padding = parse_padding(request.get("padding", "0"))
    dilation = parse_numbers(request.get("dilation", "1") or "1", "dilation")
    ceil_mode = bool(request.get("ceil_mode", False))
    x = cnnlab.zeros(1, 1, *size)
    if operation == "conv":
        stride = 1 if stride is None else stride
        call = (f"F.conv2d(x, w, stride={stride!r}, padding={padding!r}, "
                f"dilation={dilation!r})")
    else:
        name = "max_pool2d" if operation == "max" else "avg_pool2d"
        call = (f"F.{name}(x, {kernel!r}, stride={stride!r}, padding={padding!r}, "
                f"dilation={dilation!r}, ceil_mode={ceil_mode})")
    call = f"x = cnnlab.zeros(1, 1, {size[0]}, {size[1]}); " + call
    try:
        if operation == "conv":
            weight = cnnlab.zeros(1, 1, *shapes.int_pair(kernel, "kernel_size", "conv2d"))
            out = F.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
            stride_pair = shapes.int_pair(stride, "stride", "conv2d")
        elif operation == "max":
            out = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        else:
            out = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, dilation=dilation)
    except (ValueError, TypeError) as error:
        return {"error": " ".join(str(error).split()), "call": call}
    kernel_pair = shapes.int_pair(kernel, "kernel_size", "playground")
    if operation != "conv":
        stride_pair = kernel_pair if stride is None else shapes.int_pair(stride, "stride",
                                                                         "playground")
    dilation_pair = shapes.int_pair(dilation, "dilation", "playground")
    pads = shapes.padding_pairs(padding, "playground", input_size=size,
                                kernel_size=kernel_pair, stride=stride_pair,
                                dilation=dilation_pair)
    formula = [shapes.formula(axis, n, k, s, p, d, ceil_mode and operation != "conv")
               for axis, n, k, s, p, d in zip(shapes.AXES, size, kernel_pair, stride_pair,
                                                pads, dilation_pair)]
    return {"output": list(out.shape[2:]), "input": list(size), "kernel": list(kernel_pair),
            "stride": list(stride_pair), "dilation": list(dilation_pair),
            "padding": [list(p) for p in pads], "formula": formula, "call": call}


def _positive(text) -> bool:
    try:
        value = parse_numbers(text, "input")
    except RequestError:
        return False
    values = value if isinstance(value, tuple) else (value,)
    return all(v >= 1 for v in values)


__all__ = ["MAX_INPUT", "layer_shape", "parse_padding"]

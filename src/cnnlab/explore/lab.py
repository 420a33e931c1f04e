"""What the explorer page shows, computed with cnnlab: every layer's output for one
digit, one neuron's arithmetic and receptive field, and gradients.

An :class:`Explorer` wraps a trained ``nn.Sequential`` classifier (LeNet-5 from
``cnnlab train``). Every answer is a JSON-ready dict. The page never sends code or
file names: only a 28x28 digit (784 integers 0..255) and indices, all checked here
(:class:`RequestError` carries a message for the page).
"""

from __future__ import annotations

import threading

import numpy as np

import cnnlab
from cnnlab import nn, receptive, shapes
from cnnlab.data import to_tensor

DIGIT_SIZE = (28, 28)
SHORT_NAMES = {"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "pool", "AvgPool2d": "avgpool",
               "Linear": "fc", "Flatten": "flatten", "Sigmoid": "sigmoid", "Tanh": "tanh"}
ELEMENTWISE = {"ReLU": lambda x: np.maximum(x, 0), "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
               "Tanh": np.tanh}
"""Elementwise layers the neuron view can spell out (they keep the receptive field)."""


class RequestError(ValueError):
    """A request the page (or anyone) sent that cannot be answered; the message says why."""


def rounded(array, digits: int = 6) -> list:
    """Nested lists of floats with ``digits`` significant digits (smaller JSON)."""
    return np.vectorize(lambda v: float(f"{v:.{digits}g}"), otypes=[float])(
        np.asarray(array, dtype=np.float64)).tolist() if np.size(array) else []


def check_int(value, name: str, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high)``, or a RequestError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{name}' must be an integer, got {value!r:.40}")
    if not low <= value < high:
        raise RequestError(f"'{name}' must be in {low}..{high - 1}, got {value}")
    return value


def check_digit(value) -> np.ndarray:
    """A request's ``digit``: 784 integers 0..255 (row by row) -> uint8 (28, 28)."""
    count = DIGIT_SIZE[0] * DIGIT_SIZE[1]
    if not isinstance(value, list) or len(value) != count:
        raise RequestError(f"'digit' must be a list of {count} integers 0..255 (28x28, row "
                           f"by row), got {type(value).__name__} of length "
                           f"{len(value) if isinstance(value, list) else '-'}")
    if not all(type(v) is int and 0 <= v <= 255 for v in value):
        raise RequestError("'digit' must hold integers 0..255 only")
    return np.array(value, dtype=np.uint8).reshape(DIGIT_SIZE)


class Explorer:
    """A classifier and its run metadata, with the computations the page asks for.

    Parameters
    ----------
    model : cnnlab.nn.Sequential
        Takes (B, 1, 28, 28) normalised digits, returns (B, classes) logits.
    classes : list of str
    normalize : (mean, std)
        As the model was trained (``cnnlab.data.to_tensor``).
    description : str
        Shown on the page (where the model came from).
    test_set : dataset with ``images`` (N, 28, 28) uint8 and ``labels`` (N,), or None
    warning : str
        Shown on the page in a banner (e.g. that the model is untrained).

    Notes
    -----
    One lock serialises the computations: the server answers requests on several
    threads, and a backward pass must not interleave with another request's forward.
    """

    def __init__(self, model, classes, normalize, description="", test_set=None, warning=""):
        if not isinstance(model, nn.Sequential):
            raise TypeError(f"Explorer: model must be an nn.Sequential (its layers are shown "
                            f"one by one), got {type(model).__name__}")
        self.model = model.eval()
        self.layers = list(model.children())
        self.classes = list(classes)
        self.normalize = tuple(normalize)
        self.description = description
        self.test_set = test_set
        self.warning = warning
        self.names = self._layer_names()
        self.lock = threading.Lock()

    def _layer_names(self) -> list:
        counts, names = {}, []
        for layer in self.layers:
            kind = type(layer).__name__
            short = SHORT_NAMES.get(kind, kind.lower())
            counts[short] = counts.get(short, 0) + 1
            names.append(short if short == "flatten" else f"{short}{counts[short]}")
        return names

    # ------------------------------------------------------------ forward

    def _input(self, digit, requires_grad=False):
        x = to_tensor(digit[None], self.normalize)
        return x.requires_grad_() if requires_grad else x

    def _outputs(self, x) -> list:
        """Every layer's output for input ``x`` (Tensors; the input first)."""
        outputs = [x]
        for layer in self.layers:
            outputs.append(layer(outputs[-1]))
        return outputs

    def info(self) -> dict:
        """What the page needs before any input: the model, its layers, the classes."""
        return {"description": self.description, "warning": self.warning,
                "classes": self.classes,
                "normalize": list(self.normalize),
                "layers": [{"name": name, "module": repr(layer)}
                           for name, layer in zip(self.names, self.layers)],
                "test_images": 0 if self.test_set is None else len(self.test_set)}

    def test_image(self, index) -> dict:
        if self.test_set is None:
            raise RequestError("no test set was found (install MNIST: see 'cnnlab train "
                               "--help')")
        index = check_int(index, "index", 0, len(self.test_set))
        return {"digit": self.test_set.images[index].ravel().tolist(),
                "label": int(self.test_set.labels[index]), "index": index}

    def analyse(self, digit) -> dict:
        """Every layer's output and the class probabilities for a uint8 digit (28, 28).

        Spatial outputs come as ``maps`` (C, H, W), flat ones as ``vector`` (N,).
        """
        with self.lock, cnnlab.no_grad():
            outputs = [t.numpy()[0] for t in self._outputs(self._input(digit))]
        logits = outputs[-1].astype(np.float64)
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        layers = [self._layer_answer("input", "normalised input", outputs[0])]
        for name, layer, output in zip(self.names, self.layers, outputs[1:]):
            layers.append(self._layer_answer(name, repr(layer), output))
        best = int(probabilities.argmax())
        return {"layers": layers, "probabilities": rounded(probabilities),
                "prediction": best, "label": self.classes[best]}

    @staticmethod
    def _layer_answer(name, module, output) -> dict:
        answer = {"name": name, "module": module, "shape": list(output.shape),
                  "min": float(output.min()), "max": float(output.max())}
        answer["maps" if output.ndim == 3 else "vector"] = rounded(output)
        return answer

    # ------------------------------------------------------------ one neuron

    def _check_unit(self, request: dict, outputs) -> tuple:
        index = check_int(request.get("layer"), "layer", 0, len(self.layers) + 1)
        shape = outputs[index].shape
        if len(shape) != 3:
            raise RequestError(f"layer {index} ({self._name(index)}) has no feature maps "
                               f"(its output has shape {tuple(shape)})")
        channel = check_int(request.get("channel"), "channel", 0, shape[0])
        row = check_int(request.get("row"), "row", 0, shape[1])
        col = check_int(request.get("col"), "col", 0, shape[2])
        return index, channel, row, col

    def _name(self, index: int) -> str:
        return "input" if index == 0 else self.names[index - 1]

    def neuron(self, digit, request: dict) -> dict:
        """How unit ``(channel, row, col)`` of layer ``request['layer']`` (1-based over
        the layers; 0 is the input) was computed, with its receptive field on the input
        and on every earlier layer."""
        with self.lock, cnnlab.no_grad():
            outputs = [t.numpy()[0] for t in self._outputs(self._input(digit))]
        index, channel, row, col = self._check_unit(request, outputs)
        answer = {"layer": index, "name": self._name(index), "channel": channel, "row": row,
                  "col": col, "value": float(outputs[index][channel, row, col]),
                  "fields": self.fields(index, row, col, outputs)}
        if index == 0:
            answer["kind"] = "input"
            return answer
        layer, previous = self.layers[index - 1], outputs[index - 1]
        kind = type(layer).__name__
        if isinstance(layer, nn.Conv2d):
            answer.update(conv_arithmetic(layer, previous, channel, row, col))
        elif kind in ("MaxPool2d", "AvgPool2d"):
            answer.update(pool_arithmetic(layer, previous, channel, row, col))
        elif kind in ELEMENTWISE:
            answer.update(kind="elementwise", function=kind,
                          argument=float(previous[channel, row, col]))
        else:
            answer["kind"] = kind
        if answer.get("kind") == "conv" and index < len(self.layers):
            after = type(self.layers[index]).__name__
            if after in ELEMENTWISE:
                answer["activation"] = {"function": after, "name": self.names[index],
                                        "value": float(outputs[index + 1][channel, row, col])}
        return answer

    def fields(self, index: int, row: int, col: int, outputs) -> list:
        """The cells of the input and of every earlier layer that unit ``(row, col)`` of
        layer ``index`` can see: ``[{"layer", "top", "bottom", "left", "right"}]``
        (inclusive, clipped to the layer's size), from :mod:`cnnlab.receptive`."""
        spans = []
        for earlier in range(index, -1, -1):
            if outputs[earlier][0].ndim != 2:  # not a feature map
                continue
            height, width = outputs[earlier].shape[-2:]
            chain = self.layers[earlier:index]
            try:
                layers = receptive.layers_from_module(nn.Sequential(*chain)) if chain else []
                field = receptive.receptive_fields(layers, (height, width))[-1]
            except ValueError:  # e.g. 'same' padding: no outline rather than a wrong one
                continue
            (top, bottom), (left, right) = field.span((row, col))
            spans.append({"layer": earlier, "name": self._name(earlier),
                          "top": max(top, 0), "bottom": min(bottom, height - 1),
                          "left": max(left, 0), "right": min(right, width - 1),
                          "size": list(field.size), "jump": list(field.jump)})
        return spans

    # ------------------------------------------------------------ gradients

    def saliency(self, digit, request: dict) -> dict:
        """The gradient of one class's logit (``{"class": k}``) or of one unit
        (``{"layer", "channel", "row", "col"}``) with respect to the input pixels.

        The gradient is taken through cnnlab's autograd with respect to the input as
        the model sees it (normalised); it is divided by the normalisation's std to be
        per unit of pixel intensity in [0, 1].
        """
        with self.lock:
            x = self._input(digit, requires_grad=True)
            outputs = self._outputs(x)
            if "class" in request:
                target = check_int(request["class"], "class", 0, len(self.classes))
                if outputs[-1].ndim != 2:
                    raise RequestError("the model's output is not (1, classes)")
                outputs[-1][0, target].backward()
                about = f"logit of class {self.classes[target]}"
            else:
                arrays = [t.detach().numpy()[0] for t in outputs]
                index, channel, row, col = self._check_unit(request, arrays)
                if index == 0:
                    raise RequestError("choose a unit of a layer, not of the input")
                outputs[index][0, channel, row, col].backward()
                about = f"{self._name(index)}[{channel}, {row}, {col}]"
            gradient = x.grad.numpy()[0, 0] / self.normalize[1]
            self.model.zero_grad()
        return {"about": about, "gradient": rounded(gradient, 4),
                "max_abs": float(np.abs(gradient).max())}


# ------------------------------------------------------------ the arithmetic


def _window(previous, channel, row, col, kernel, stride, pads, dilation, fill):
    """The values under window ``(row, col)`` of input channel ``channel``; taps in the
    padding read ``fill``. Also each tap's input coordinates."""
    height, width = previous.shape[1:]
    rows = [row * stride[0] - pads[0][0] + i * dilation[0] for i in range(kernel[0])]
    cols = [col * stride[1] - pads[1][0] + j * dilation[1] for j in range(kernel[1])]
    values = np.full(kernel, fill, dtype=np.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            if 0 <= r < height and 0 <= c < width:
                values[i, j] = previous[channel, r, c]
    return values, rows, cols


def _geometry(layer, previous) -> tuple:
    function = type(layer).__name__
    kernel = shapes.int_pair(layer.kernel_size, "kernel_size", function)
    stride_value = getattr(layer, "stride", None)
    stride = kernel if stride_value is None else shapes.int_pair(stride_value, "stride",
                                                                  function)
    dilation = shapes.int_pair(getattr(layer, "dilation", 1), "dilation", function)
    pads = shapes.padding_pairs(layer.padding, function, input_size=previous.shape[1:],
                                kernel_size=kernel, stride=stride, dilation=dilation)
    return kernel, stride, pads, dilation


def conv_arithmetic(layer, previous, out_channel, row, col) -> dict:
    """One convolution output spelled out: per input channel the window, the kernel,
    their products and the products' sum; then the total, the bias and the result.

    Sums are taken in float64 over the float32 values the layer saw, so they agree
    with the layer's own (float32, BLAS-ordered) output to about 1e-6.
    """
    kernel, stride, pads, dilation = _geometry(layer, previous)
    weight = layer.weight.detach().numpy()
    groups = layer.groups
    per_group_in = weight.shape[1]
    group = out_channel // (weight.shape[0] // groups)
    channels = []
    total = 0.0
    for local in range(per_group_in):
        channel = group * per_group_in + local
        window, rows, cols = _window(previous, channel, row, col, kernel, stride, pads,
                                     dilation, 0.0)
        weights = weight[out_channel, local].astype(np.float64)
        products = window * weights
        total += float(products.sum())
        channels.append({"channel": channel, "window": rounded(window),
                         "kernel": rounded(weights), "products": rounded(products),
                         "sum": float(products.sum()), "rows": rows, "cols": cols})
    bias = 0.0 if layer.bias is None else float(layer.bias.detach().numpy()[out_channel])
    return {"kind": "conv", "channels": channels, "sum": total, "bias": bias,
            "result": total + bias, "kernel_size": list(kernel), "stride": list(stride),
            "padding": [list(p) for p in pads], "dilation": list(dilation)}


def pool_arithmetic(layer, previous, channel, row, col) -> dict:
    """One pooling output spelled out: the window (padding is -inf for max, 0 for
    average) and its maximum or mean."""
    kernel, stride, pads, dilation = _geometry(layer, previous)
    is_max = type(layer).__name__ == "MaxPool2d"
    window, rows, cols = _window(previous, channel, row, col, kernel, stride, pads, dilation,
                                 -np.inf if is_max else 0.0)
    if is_max:
        result = float(window.max())
    else:
        inside = sum(0 <= r < previous.shape[1] for r in rows) * sum(
            0 <= c < previous.shape[2] for c in cols)
        count = window.size if getattr(layer, "count_include_pad", True) else inside
        result = float(window.sum() / count)
    shown = np.where(np.isinf(window), np.nan, window)
    return {"kind": "pool", "mode": "max" if is_max else "mean", "channel": channel,
            "window": [[None if np.isnan(v) else float(f"{v:.6g}") for v in line]
                       for line in shown], "rows": rows, "cols": cols,
            "result": result, "kernel_size": list(kernel), "stride": list(stride)}


__all__ = ["Explorer", "RequestError", "check_digit", "conv_arithmetic", "pool_arithmetic"]

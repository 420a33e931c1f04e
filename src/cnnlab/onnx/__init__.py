"""``cnnlab.onnx``: models in and out of ONNX, the exchange format of deep learning.

- :func:`export` traces a cnnlab model's forward pass and writes an ONNX file that ONNX
  Runtime, TensorRT, OpenVINO and the browsers' runtimes run.
- :func:`load` builds a cnnlab module from an ONNX file (e.g. one written by
  ``torch.onnx.export``) that runs, and trains further, on NumPy alone.

Needs the ``onnx`` package (``pip install 'cnnlab[onnx]'``); cnnlab itself does not.
"""

from ._export import MAX_OPSET, MIN_OPSET, export
from ._graph import ExportError
from ._modules import CONVERTERS as _LAYERS
from ._ops import CONVERTERS as _TENSOR_OPS

SUPPORTED_LAYERS = tuple(sorted(_LAYERS))
"""Layer classes :func:`export` writes (subclasses such as ``LazyConv2d`` included)."""

SUPPORTED_TENSOR_OPS = tuple(sorted(_TENSOR_OPS))
"""Autograd op names :func:`export` writes when a custom forward uses them."""


def load(path):
    """Build a cnnlab module from an ONNX file: see :func:`cnnlab.onnx._import.load`."""
    from ._import import load as _load

    return _load(path)


__all__ = ["export", "load", "ExportError", "SUPPORTED_LAYERS", "SUPPORTED_TENSOR_OPS",
           "MIN_OPSET", "MAX_OPSET"]

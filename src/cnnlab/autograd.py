"""Reverse-mode automatic differentiation: the tape and the backward pass.

Every differentiable operation computes its output with NumPy and calls
:func:`record`, handing over the inputs and a ``backward`` closure that maps the
gradient of the output to one gradient per input (``None`` for inputs that need
none). The closure stands next to the forward code that creates it, so each op's
derivative is read in one place (micrograd's ``_backward``).

:func:`run_backward` orders the graph without recursion (deep graphs are fine), calls
each closure once, undoes broadcasting in one place (:func:`unbroadcast`) and
accumulates into the ``.grad`` of leaf tensors with ``+=``, so a tensor used twice
receives both contributions.
"""

from __future__ import annotations

import functools
import threading

import numpy as np


class _GradState(threading.local):
    enabled = True  # each thread starts recording (a class default: no getattr fallback)


_state = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations are being recorded for differentiation."""
    return _state.enabled


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets whether gradients are recorded."""

    enabled = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        set_grad_enabled(self.enabled)
        return self

    def __exit__(self, *exc_info):
        set_grad_enabled(self._previous)
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with type(self)():
                return function(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Disable recording inside a ``with`` block or a decorated function."""

    enabled = False


class enable_grad(_GradMode):
    """Re-enable recording inside a ``no_grad`` block."""

    enabled = True


class Node:
    """One recorded operation: its name, its input tensors and its backward closure."""

    __slots__ = ("name", "inputs", "backward")

    def __init__(self, name, inputs, backward):
        self.name = name
        self.inputs = inputs
        self.backward = backward

    def __repr__(self) -> str:
        return f"<{self.name}Backward0 object>"


def needs_grad(*tensors) -> bool:
    """True when recording is on and any of ``tensors`` requires a gradient."""
    if not _state.enabled:
        return False
    for tensor in tensors:  # a loop: cheaper than any() over a generator for a few tensors
        if getattr(tensor, "requires_grad", False):
            return True
    return False


@functools.cache
def _tensor_class():
    """:class:`cnnlab.tensor.Tensor`, imported on first use (tensor.py imports this module);
    cached, as an import statement in :func:`record` cost a microsecond per op."""
    from .tensor import Tensor

    return Tensor


def record(name: str, output: np.ndarray, inputs, backward):
    """Wrap ``output`` in a Tensor and, if needed, attach it to the graph.

    Parameters
    ----------
    name : str
        Shown as ``grad_fn=<{name}Backward>`` in the output's repr.
    output : np.ndarray
        The forward result.
    inputs : tuple of Tensor
        The differentiable inputs, in the order ``backward`` returns gradients.
    backward : callable
        ``backward(grad_output) -> tuple`` of arrays (or ``None``), one per input.
        Each gradient may have the broadcast shape; it is reduced here.
    """
    out = _tensor_class()._wrap(output)
    if needs_grad(*inputs):
        out.requires_grad = True
        out._node = Node(name, tuple(inputs), backward)
    return out


def unbroadcast(grad: np.ndarray, shape) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _freed(grad_output):
    raise RuntimeError(
        "backward: trying to backward through the graph a second time; its saved "
        "values were freed after the first call. Pass retain_graph=True to the first "
        "backward() if you need to call it twice.")


def _topological_order(root):
    """Tensors reachable from ``root`` through recorded nodes, inputs before outputs."""
    order, seen = [], {id(root)}
    stack = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        stack.append((tensor, True))
        node = tensor._node
        if node is None:
            continue
        for parent in node.inputs:
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, False))
    return order


def run_backward(root, grad_output: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``grad_output`` from ``root`` to every leaf that requires a gradient."""
    from .tensor import Tensor

    grads = {id(root): grad_output}
    for tensor in reversed(_topological_order(root)):
        grad = grads.pop(id(tensor), None)
        if grad is None:
            continue
        if tensor._node is None or tensor._retains_grad:
            if tensor.grad is None:
                tensor.grad = Tensor._wrap(np.array(grad, copy=True))
            else:
                tensor.grad.array += grad
        node = tensor._node
        if node is None:
            continue
        input_grads = node.backward(grad)
        if not retain_graph:
            node.backward = _freed
        for parent, parent_grad in zip(node.inputs, input_grads):
            if parent_grad is None or not parent.requires_grad:
                continue
            parent_grad = unbroadcast(np.asarray(parent_grad), parent.shape)
            parent_grad = parent_grad.astype(parent.array.dtype, copy=False)
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad

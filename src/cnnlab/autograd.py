"""Reverse-mode automatic differentiation: the tape and the backward pass.

Every differentiable operation computes its output with NumPy and calls
:func:`record`, handing over the inputs and a ``backward`` closure that maps the
gradient of the output to one gradient per input (``None`` for inputs that need
none). The closure stands next to the forward code that creates it, so each op's
derivative is read in one place (micrograd's ``_backward``). The recorded
:class:`Node` keeps an *edge* per input, fixed at that moment: the input's own node,
or the input itself for a leaf, so in-place updates made later cannot reroute it.

The backward pass (:func:`backward`, :func:`grad`, and `Tensor.backward`) orders the
graph by a post-order depth-first search without recursion (deep graphs are fine;
:func:`_topological_order` says why the order is right), visits each vertex once
after every vertex that uses it, runs its hooks, undoes broadcasting in one place
(:func:`unbroadcast`) and accumulates into ``.grad`` with ``+=``, so a tensor used
twice receives both contributions. A contribution that would arrive after its
tensor was visited raises instead of vanishing.
"""

from __future__ import annotations

import functools
import itertools
import sys
import threading

import numpy as np


class _GradState(threading.local):
    enabled = True  # each thread starts recording (a class default: no getattr fallback)
    keep_inputs = False  # Node.inputs kept (see keeping_inputs)


_state = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations are being recorded for differentiation."""
    return _state.enabled


def set_grad_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


class keeping_inputs:
    """Context manager: nodes recorded inside keep their input tensors in
    ``Node.inputs`` (for tools that walk the graph by tensors: ONNX export).

    Outside it ``Node.inputs`` is ``None``: a node that held its inputs would keep
    every intermediate activation alive until the backward pass, whether or not the
    backward needs it (measured: a third of what ResNet-18's forward kept).
    """

    def __enter__(self):
        self._previous = _state.keep_inputs
        _state.keep_inputs = True
        return self

    def __exit__(self, *exc_info):
        _state.keep_inputs = self._previous
        return False


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
    """One recorded operation (a tensor's ``grad_fn``): its name, its inputs and its
    backward closure. As in PyTorch, ``name()`` is ``'<Op>Backward0'`` and
    ``next_functions`` gives, per input, ``(node, 0)``: the input's own Node, an
    :class:`AccumulateGrad` for a leaf that requires grad, or None.

    ``edges`` holds, for each input, where its gradient goes, fixed when the op is
    recorded: the input's own Node (an intermediate tensor), the input itself (a leaf
    that requires grad), or ``None`` (no gradient wanted), with the input's shape and
    dtype then. The graph is made of these edges, not of the tensor objects, because
    an in-place op later rebinds a tensor to a new Node: ``z = y * 2; y += b`` must
    still send ``z``'s gradient to the old ``y`` only, never through ``+= b``.
    ``inputs`` keeps the tensors as passed, for looking at the graph, only under
    :class:`keeping_inputs` (else None: it would keep every activation alive).
    ``hooks`` are the gradient hooks of the tensor this node produced, and
    ``retained`` a weak reference to it when it called ``retain_grad()``.
    """

    __slots__ = ("op", "inputs", "backward", "edges", "hooks", "retained")

    def __init__(self, op, inputs, backward):
        self.op = op          # the recorded operation, e.g. 'Mul'
        self.inputs = inputs if _state.keep_inputs else None
        self.backward = backward
        self.edges = tuple(_edge(tensor) for tensor in inputs)
        self.hooks = ()
        self.retained = None

    def name(self) -> str:
        """``'<Op>Backward0'``, as PyTorch names its nodes (``'MulBackward0'``)."""
        return f"{self.op}Backward0"

    @property
    def next_functions(self) -> tuple:
        """``((node, 0), ...)`` per input, where its gradient goes (PyTorch's form)."""
        return tuple((None if edge is None else AccumulateGrad.of(edge[0])
                      if type(edge[0]) is not Node else edge[0], 0) for edge in self.edges)

    def __repr__(self) -> str:
        return f"<{self.name()} object>"


class AccumulateGrad:
    """The end of a path in ``next_functions``: accumulation into the leaf ``variable``
    (PyTorch's ``AccumulateGrad``; one per leaf, made when first asked for)."""

    __slots__ = ("variable", "__weakref__")
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    @classmethod
    def of(cls, leaf) -> "AccumulateGrad":
        node = leaf.__dict__.get("_accumulate_grad")
        if node is None:
            node = leaf.__dict__["_accumulate_grad"] = cls(leaf)
        return node

    @staticmethod
    def name() -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad object>"


def _edge(tensor):
    """Where ``tensor``'s gradient goes: (its Node or itself if a leaf, shape, dtype)."""
    if not tensor.requires_grad:
        return None
    target = tensor._node if tensor._node is not None else tensor
    return target, tensor.array.shape, tensor.array.dtype


def _vertex(tensor):
    """The graph vertex standing for ``tensor`` now: its Node, or itself if a leaf."""
    return tensor._node if tensor._node is not None else tensor


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


class RemovableHandle:
    """What ``Tensor.register_hook`` and ``Module.register_forward_hook`` return:
    ``handle.remove()`` takes the hook off (also on leaving a ``with`` block).

    Hooks live in an ordered dict, keyed by the handle's ``id``, so they run in the
    order they were registered and removing one leaves the others in place.
    """

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False


def _topological_order(roots) -> list:
    """Every vertex (Node or leaf tensor) reachable from ``roots``, each after all its
    inputs.

    A post-order depth-first search without recursion (graphs of any depth): a vertex
    is *marked* when it is first expanded and *emitted* only after every input it
    depends on has been emitted. Why that suffices: when a vertex ``v`` is expanded,
    each input is either unmarked (it is pushed above ``v``'s emit entry, so it is
    emitted before ``v``) or already marked. A marked input is already emitted: were it
    still waiting, its emit entry would sit below ``v`` on the stack, making ``v`` its
    descendant, and the input ``v``'s ancestor and descendant at once, a cycle, which a
    recorded graph cannot have. Reversed, the list visits a vertex only after every
    vertex that uses it, so its gradient is complete when it is read.

    (Marking on *push* instead, as an earlier version did, is wrong: in ``x + x * 2``
    the product, expanded first, skipped ``x`` as "seen" and came out before it, so
    ``x``'s gradient was read before the product had added its share.)
    """
    order, marked = [], set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        vertex, inputs_done = stack.pop()
        if inputs_done:
            order.append(vertex)
            continue
        if id(vertex) in marked:
            continue
        marked.add(id(vertex))
        stack.append((vertex, True))
        if type(vertex) is not Node:
            continue
        for edge in vertex.edges:
            if edge is not None and id(edge[0]) not in marked:
                stack.append((edge[0], False))
    return order


def _leading_to(order: list, targets) -> set:
    """The ids of vertices in ``order`` from which a vertex in ``targets`` is reached
    (``order`` lists inputs first, so one forward sweep decides each vertex)."""
    leads = set()
    for vertex in order:
        if id(vertex) in targets:
            leads.add(id(vertex))
        elif type(vertex) is Node and any(edge is not None and id(edge[0]) in leads
                                          for edge in vertex.edges):
            leads.add(id(vertex))
    return leads


def _run_hooks(hooks, grad: np.ndarray) -> np.ndarray:
    """Apply ``hooks`` in registration order; a hook may return a replacement."""
    from .tensor import Tensor

    for hook in list(hooks.values()):
        result = hook(Tensor._wrap(grad))
        if result is None:
            continue
        replacement = np.asarray(result.array if isinstance(result, Tensor) else result)
        if replacement.shape != grad.shape:
            raise RuntimeError(
                f"register_hook: a hook returned a gradient of shape {replacement.shape} "
                f"for a tensor of shape {grad.shape}; a hook must keep the shape")
        grad = replacement.astype(grad.dtype, copy=False)
    return grad


_PRIVATE_REFERENCES = 3
"""``sys.getrefcount`` of a gradient array in :func:`_accumulate` when nothing but the
engine holds it: the engine's variable, the parameter and getrefcount's argument."""


def _accumulate(tensor, grad: np.ndarray) -> None:
    """``tensor.grad += grad``; the first time, ``grad`` itself when nothing else can
    see it (as PyTorch steals a gradient buffer), else a copy, so no array is shared.

    "Nothing else": an array that owns its writable memory, or views the whole of one
    (a reshape), and whose only references are the engine's
    (:data:`_PRIVATE_REFERENCES`; a hook, another pending gradient, a view or the
    caller of ``backward`` holding it, or another view of its memory, adds one). Saves a full copy of every leaf's
    gradient: 5-20% of a convolution's or batch norm's backward on a leaf input.
    """
    from .tensor import Tensor

    if tensor.grad is None:
        base = grad.base
        private = (grad.flags.writeable and sys.getrefcount(grad) <= _PRIVATE_REFERENCES
                   and (grad.flags.owndata if base is None else
                        # a whole-array view (a reshape) of an array nothing else holds:
                        # referenced by the view, ``base`` and getrefcount's argument
                        type(base) is np.ndarray and base.base is None
                        and base.flags.owndata and grad.size == base.size
                        and sys.getrefcount(base) <= _PRIVATE_REFERENCES))
        tensor.grad = Tensor._wrap(grad if private else np.array(grad, copy=True))
    else:
        tensor.grad.array += grad


def _engine(roots, root_grads, retain_graph: bool, inputs=None, accumulate: bool = True):
    """The backward pass over the graph below the tensors ``roots``.

    Each vertex is visited once, after every vertex that uses it (see
    :func:`_topological_order`): its gradient is complete, hooks run on it, it is
    accumulated into ``.grad`` (leaves, ``retain_grad`` tensors, or only ``inputs``
    when given, if ``accumulate``) or captured (``inputs``, when not), and its node's
    backward sends one share along each edge. A share for a vertex already visited
    would be lost, so it raises instead.

    Returns ``{id(input tensor): gradient}`` for the ``inputs`` that received one.
    """
    grads = {}
    for root, grad in zip(roots, root_grads):
        key = id(_vertex(root))
        grads[key] = grad if key not in grads else grads[key] + grad
    order = _topological_order([_vertex(root) for root in roots])
    wanted = None if inputs is None else {id(_vertex(t)): t for t in inputs}
    useful = None if wanted is None else _leading_to(order, wanted)
    captured, visited = {}, set()
    for vertex in reversed(order):
        key = id(vertex)
        visited.add(key)
        grad = grads.pop(key, None)
        if grad is None or (useful is not None and key not in useful):
            continue
        is_node = type(vertex) is Node
        hooks = vertex.hooks if is_node else vertex._hooks
        if hooks:
            grad = _run_hooks(hooks, grad)
        if wanted is not None and key in wanted:
            captured[id(wanted[key])] = grad
        if accumulate and (not is_node if wanted is None else key in wanted):
            _accumulate(wanted[key] if wanted is not None else vertex, grad)
        elif is_node and vertex.retained is not None and vertex.retained() is not None:
            _accumulate(vertex.retained(), grad)  # even under autograd.grad, as in PyTorch
        if not is_node:
            continue
        input_grads = vertex.backward(grad)
        if not retain_graph:
            vertex.backward = _freed
        for edge, input_grad in zip(vertex.edges, input_grads):
            if edge is None or input_grad is None:
                continue
            target, shape, dtype = edge
            target_key = id(target)
            if target_key in visited:
                raise RuntimeError(
                    f"autograd: internal error: {vertex.name()} produced a gradient "
                    f"for a tensor whose backward already ran; the contribution would be "
                    f"lost. Please report this with the code that built the graph.")
            if useful is not None and target_key not in useful:
                continue
            input_grad = unbroadcast(np.asarray(input_grad), shape).astype(dtype, copy=False)
            grads[target_key] = (input_grad if target_key not in grads
                                 else grads[target_key] + input_grad)
        input_grads = input_grad = None   # the pending gradients' only holder is grads
    return captured


# The entry points (backward, grad) and their argument checks live beside this module;
# re-exported so that cnnlab.autograd.grad is PyTorch's torch.autograd.grad.
from .autograd_calls import accumulate_grads, backward, grad  # noqa: E402,F401

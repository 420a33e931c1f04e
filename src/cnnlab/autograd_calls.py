"""The entry points of the backward pass: :func:`grad`, :func:`backward` and
``Tensor.backward`` (through :func:`accumulate_grads`), with their argument checks.

Split from :mod:`cnnlab.autograd` (the tape and the engine, which re-exports these):
each call checks its arguments once, seeds the output gradients, and hands the graph
to :func:`cnnlab.autograd._engine`.
"""

from __future__ import annotations

import numpy as np

from .autograd import _engine

def _as_sequence(value, name: str, function: str) -> tuple:
    from .tensor import Tensor

    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise TypeError(f"{function}: {name} must be a Tensor or a sequence of Tensors, "
                    f"got {type(value).__name__}")


def _first_order_only(create_graph, function: str) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{function}: create_graph=True (higher-order gradients) is not supported by "
            f"cnnlab's tape; it records first-order backward passes only")


def _differentiable(tensors, name: str, function: str) -> tuple:
    """``tensors`` checked: each a Tensor that requires grad (PyTorch's messages)."""
    from .tensor import Tensor

    tensors = _as_sequence(tensors, name, function)
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{function}: {name} must be Tensors, got "
                            f"{type(tensor).__name__}")
        if not tensor.requires_grad:
            raise RuntimeError(f"{function}: element 0 of tensors does not require grad "
                               f"and does not have a grad_fn" if name == "tensors" else
                               f"{function}: One of the differentiated Tensors does not "
                               f"require grad")
    return tensors


def _seed_gradients(outputs, given, name: str, function: str) -> list:
    """One starting gradient per output: ``given`` (a sequence, one per output, or
    ``None``), with ones for one-element outputs left at ``None``."""
    from .tensor import Tensor

    given = (None,) * len(outputs) if given is None else _as_sequence(given, name, function)
    if len(given) != len(outputs):
        raise RuntimeError(f"{function}: got {len(given)} {name} for {len(outputs)} "
                           f"outputs; give one per output")
    seeds = []
    for index, (output, seed) in enumerate(zip(outputs, given)):
        if seed is None:
            if output.array.size != 1:
                raise RuntimeError(
                    f"{function}: grad can be implicitly created only for scalar outputs; "
                    f"output {index} has shape {tuple(output.shape)}, pass {name}=")
            seeds.append(np.ones_like(output.array))
            continue
        seed = np.asarray(seed.array if isinstance(seed, Tensor) else seed,
                          dtype=output.array.dtype)
        if seed.shape != output.array.shape:
            raise RuntimeError(
                f"{function}: Mismatch in shape: grad_output[{index}] has a shape of "
                f"{tuple(seed.shape)} and output[{index}] has a shape of "
                f"{tuple(output.array.shape)}")
        seeds.append(seed)
    return seeds


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    PyTorch's ``torch.autograd.grad`` (first order): computes the sum over outputs of
    ``grad_outputs[i]`` times d(outputs[i])/d(inputs[j]) for each input. Hooks on the
    tensors of the graph run as in ``backward()``; the ``.grad`` of leaves is left
    alone (``retain_grad`` tensors still receive theirs, as in PyTorch).

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        What is differentiated.
    inputs : Tensor or sequence of Tensor
        With respect to what; leaves or intermediate tensors that require grad.
    grad_outputs : Tensor or sequence of (Tensor or None), optional
        d(loss)/d(output), each of its output's shape; ``None`` means ones and is
        allowed only for one-element outputs.
    retain_graph : bool, optional
        Keep the graph for another backward pass (default: ``create_graph``).
    create_graph : bool
        Higher-order gradients are not supported: ``True`` raises NotImplementedError.
    allow_unused : bool, optional
        Return ``None`` for inputs the outputs do not depend on, instead of raising.
    materialize_grads : bool
        Return zeros instead of ``None`` for unused inputs (implies ``allow_unused``).

    Returns
    -------
    tuple of Tensor
        One gradient per input, shaped like it.

    Examples
    --------
    >>> import cnnlab
    >>> x = cnnlab.tensor([1., 2., 3.], requires_grad=True)
    >>> cnnlab.autograd.grad((x * x).sum(), x)
    (tensor([2., 4., 6.]),)
    """
    from .tensor import Tensor

    _first_order_only(create_graph, "grad")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True cannot be used with "
                         "allow_unused=False; leave allow_unused unset or True")
    outputs = _differentiable(outputs, "outputs", "grad")
    inputs = _differentiable(inputs, "inputs", "grad")
    seeds = _seed_gradients(outputs, grad_outputs, "grad_outputs", "grad")
    captured = _engine(outputs, seeds, bool(retain_graph), inputs=inputs, accumulate=False)
    results = []
    for index, tensor in enumerate(inputs):
        value = captured.get(id(tensor))
        if value is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: The differentiated Tensor at index {index} appears to not have "
                    f"been used in the graph. Set allow_unused=True if this is the desired "
                    f"behavior.")
            results.append(Tensor._wrap(np.zeros_like(tensor.array))
                           if materialize_grads else None)
            continue
        results.append(Tensor._wrap(np.array(value, copy=True)))
    return tuple(results)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """PyTorch's ``torch.autograd.backward``: ``backward()`` from several tensors at once,
    each with its own starting gradient (``None``: ones, for one-element tensors)."""
    accumulate_grads(tensors, grad_tensors, retain_graph, create_graph, inputs,
                     "grad_tensors")


def accumulate_grads(tensors, grad_tensors, retain_graph, create_graph, inputs,
                     argument: str) -> None:
    """:func:`backward`, with ``argument`` naming the starting gradients in errors
    (``Tensor.backward`` calls it ``gradient``)."""
    _first_order_only(create_graph, "backward")
    tensors = _differentiable(tensors, "tensors", "backward")
    seeds = _seed_gradients(tensors, grad_tensors, argument, "backward")
    if inputs is not None:
        inputs = _differentiable(inputs, "inputs", "backward")
        if not inputs:
            raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty")
    _engine(tensors, seeds, bool(retain_graph), inputs=inputs, accumulate=True)

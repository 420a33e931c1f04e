"""Checks and conversions shared by the functional ops, applied once at the boundary."""

from __future__ import annotations

import numpy as np

from ..autograd import record
from ..ops import as_tensor, reshape
from ..tensor import Tensor


def spatial_input(x, function: str, name: str = "input"):
    """``x`` as a 4-D Tensor ``(N, C, H, W)`` and whether it came batched.

    Accepts a Tensor, NumPy array or nested list of shape ``(C, H, W)`` or
    ``(N, C, H, W)``; an unbatched input gets a batch axis of 1 (removed again by
    :func:`restore_batch`).
    """
    tensor = as_tensor(x, function, name)
    if tensor.array.ndim == 4:
        return tensor, True
    if tensor.array.ndim == 3:
        return reshape(tensor, (1,) + tensor.array.shape), False
    raise ValueError(f"{function}: {name} must be 3-D (C, H, W) or 4-D (N, C, H, W), "
                     f"got shape {tuple(tensor.array.shape)}")


def restore_batch(out: Tensor, batched: bool) -> Tensor:
    """Undo the batch axis that :func:`spatial_input` added to an unbatched input."""
    return out if batched else reshape(out, out.array.shape[1:])


def matching_dtypes(function: str, input: Tensor, *others) -> np.dtype:
    """The dtype to compute in: the input's, if every other operand agrees in kind.

    Floating inputs need floating weights of the same dtype (as in PyTorch); integer
    inputs with integer weights compute exactly in int64 (beyond PyTorch).
    """
    dtype = input.array.dtype
    for name, other in others:
        if other is None:
            continue
        if (dtype.kind == "f") != (other.array.dtype.kind == "f") or (
                dtype.kind == "f" and other.array.dtype != dtype):
            raise TypeError(
                f"{function}: input dtype {input.dtype!r} and {name} dtype {other.dtype!r} "
                f"differ; use the same floating dtype for both (e.g. {name}.to(input.dtype)), "
                "or integers for both")
    return np.dtype(np.int64) if dtype.kind in "biu" else dtype


def empty_result(name: str, inputs, out_shape, batched: bool, dtype=None) -> Tensor:
    """An op's empty result (``N == 0``, or a zero output size), without its kernel.

    PyTorch accepts an empty batch for every op (and adaptive pooling to size 0); some
    kernels reshape with ``-1`` or reduce over nothing, which empty arrays cannot do,
    so the boundary answers directly: an empty output of ``out_shape`` (the op's shape
    rule) whose gradient is zeros of each input's shape (empty when ``N == 0``; a
    weight's gradient over an empty batch is zero). ``inputs``: a Tensor or a tuple of
    Tensors and Nones (absent optional inputs, skipped).
    """
    inputs = tuple(t for t in (inputs if isinstance(inputs, tuple) else (inputs,))
                   if t is not None)
    out = np.zeros(out_shape, dtype=inputs[0].array.dtype if dtype is None else dtype)
    shapes = [t.array.shape for t in inputs]
    result = record(name, out, inputs,
                    lambda grad: tuple(np.zeros(shape, dtype=grad.dtype) for shape in shapes))
    return restore_batch(result, batched)

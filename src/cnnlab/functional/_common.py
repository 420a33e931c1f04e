"""Checks and conversions shared by the functional ops, applied once at the boundary."""

from __future__ import annotations

import numpy as np

from ..autograd import record
from ..ops import as_tensor, reshape
from ..tensor import Tensor


#: How the unbatched and batched layouts are spelled in errors, by spatial axes.
LAYOUTS = {1: ("(C, L)", "(N, C, L)"), 2: ("(C, H, W)", "(N, C, H, W)"),
           3: ("(C, D, H, W)", "(N, C, D, H, W)")}


def spatial_input(x, function: str, name: str = "input", spatial: int = 2):
    """``x`` as a Tensor ``(N, C, *spatial_size)`` and whether it came batched.

    Accepts a Tensor, NumPy array or nested list with ``spatial`` spatial axes,
    ``(C, H, W)`` or ``(N, C, H, W)`` for 2; an unbatched input gets a batch axis of 1
    (removed again by :func:`restore_batch`).
    """
    tensor = as_tensor(x, function, name)
    if tensor.array.ndim == spatial + 2:
        return tensor, True
    if tensor.array.ndim == spatial + 1:
        return reshape(tensor, (1,) + tensor.array.shape), False
    unbatched, batched = LAYOUTS[spatial]
    raise ValueError(f"{function}: {name} must be {spatial + 1}-D {unbatched} or "
                     f"{spatial + 2}-D {batched}, got shape {tuple(tensor.array.shape)}")


def float_input(input, function: str) -> Tensor:
    """``input`` as a Tensor of a floating dtype; a TypeError naming ``function`` if not."""
    input = as_tensor(input, function, "input")
    if input.array.dtype.kind != "f":
        raise TypeError(f"{function}: input must be a floating tensor, got {input.dtype!r}; "
                        f"convert it with .float()")
    return input


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


def _exact(value) -> bool:
    kind = type(value)
    return (value is None or kind is int or kind is str
            or (kind is tuple and all(_exact(part) for part in value)))


def exact_key(*arguments):
    """``arguments`` as a dict key for :class:`PlanCache`, or None where that is unsafe.

    ``True == 1`` and ``1.0 == 1`` with equal hashes, yet the checks reject bools and
    floats. So a key is made only when every argument is None, an exact int or str, or
    a tuple of those: then equal keys mean arguments of the same types and values,
    which the checks treat alike.
    """
    for argument in arguments:
        if not _exact(argument):
            return None
    return arguments


class PlanCache:
    """The checked, normalised arguments of recent calls, by :func:`exact_key`.

    A network calls each op with the same sizes and arguments every step; checking
    them once per distinct call (not per call) saves a few microseconds, which is
    most of the cost of a tiny op. Only what the checks derive from the key may go in
    a plan (no array, no Tensor); a call whose key is None or absent runs the checks,
    which raise exactly as without the cache. At most ``size`` plans are kept.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self.plans = {}

    def get(self, key):
        return None if key is None else self.plans.get(key)

    def put(self, key, plan) -> None:
        if key is None:
            return
        if len(self.plans) >= self.size:
            self.plans.clear()
        self.plans[key] = plan


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

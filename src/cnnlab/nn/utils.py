"""``cnnlab.nn.utils``: gradient clipping and flat parameter vectors, as ``torch.nn.utils``."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _tensors(parameters, function):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        tensors = list(parameters)
    except TypeError:
        raise TypeError(f"{function}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}") from None
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{function}: parameters must be Tensors, got "
                            f"{type(tensor).__name__}")
    return tensors


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector
    (``norm_type`` may be ``inf``); each gradient is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``, as PyTorch.

    Returns
    -------
    Tensor
        The total norm before clipping (0-d, the gradients' dtype).
    """
    function = "clip_grad_norm_"
    grads = [p.grad for p in _tensors(parameters, function) if p.grad is not None]
    for name, value in (("max_norm", max_norm), ("norm_type", norm_type)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{function}: {name} must be a number, got {value!r}")
    if not grads:
        return Tensor._wrap(np.array(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == math.inf:
        norms = [np.max(np.abs(g.array)) if g.array.size else 0.0 for g in grads]
        total = np.max(norms)
    else:
        norms = [np.sum(np.abs(g.array) ** norm_type) ** (1.0 / norm_type) for g in grads]
        total = np.sum(np.asarray(norms) ** norm_type) ** (1.0 / norm_type)
    total = np.asarray(total, dtype=grads[0].array.dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"{function}: the total norm of order {norm_type} for gradients "
                           f"is non-finite, so it cannot be clipped. To disable this error "
                           f"and scale the gradients by the non-finite norm anyway, set "
                           f"error_if_nonfinite=False")
    scale = float(max_norm) / (float(total) + 1e-6)
    if scale > 1.0:   # never scale up (a NaN norm stays NaN, as PyTorch)
        scale = 1.0
    for grad in grads:
        grad.array *= np.asarray(scale, dtype=grad.array.dtype)
    return Tensor._wrap(total)


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient to ``[-clip_value, clip_value]`` in place."""
    function = "clip_grad_value_"
    if isinstance(clip_value, bool) or not isinstance(clip_value, numbers.Real):
        raise TypeError(f"{function}: clip_value must be a number, got {clip_value!r}")
    for param in _tensors(parameters, function):
        if param.grad is not None:
            np.clip(param.grad.array, -clip_value, clip_value, out=param.grad.array)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (a copy)."""
    from ..ops import cat, reshape

    return cat([reshape(p, (-1,)) for p in _tensors(parameters, "parameters_to_vector")])


@no_grad()
def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into each parameter's values."""
    function = "vector_to_parameters"
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"{function}: expected vec to be a 1-D Tensor, got "
                        f"{type(vec).__name__}")
    params = _tensors(parameters, function)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"{function}: vec has {vec.numel()} elements, the parameters "
                         f"{total}")
    start = 0
    for param in params:
        count = param.numel()
        param.array[...] = vec.array[start:start + count].reshape(param.array.shape)
        start += count

"""Loading a state dict into a module: PyTorch's key and shape checks, its error text.

:meth:`cnnlab.nn.Module.load_state_dict` calls :func:`load_state_dict` here. Kept apart
from ``module.py`` so that the rules (what counts as missing, unexpected, a size
mismatch; which values are accepted) read in one place.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping

import numpy as np

from ..tensor import Size, Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _IncompatibleKeys(IncompatibleKeys):
    """``(missing_keys, unexpected_keys)``, returned by ``load_state_dict`` (as PyTorch's)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__




def _as_array(value):
    """``value``'s data as a NumPy array, or None when it is not tensor-like.

    Accepted: cnnlab Tensors, NumPy arrays, and objects with ``.detach()`` /
    ``.numpy()`` or ``__array__`` (a torch tensor, a JAX array). Lists and numbers are
    refused, as PyTorch refuses them.
    """
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and callable(value.detach):
        value = value.detach()
    if hasattr(value, "cpu") and callable(value.cpu):
        value = value.cpu()
    if hasattr(value, "numpy") and callable(value.numpy):
        return np.asarray(value.numpy())
    if hasattr(value, "__array__"):
        return np.asarray(value)
    return None


def load_state_dict(module, state_dict, strict: bool = True, assign: bool = False):
    """Copy ``state_dict``'s values into ``module``'s parameters and persistent buffers.

    See :meth:`cnnlab.nn.Module.load_state_dict`, which documents the behaviour.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    # The keys state_dict() gives, with the Parameter and buffer objects themselves
    # (keep_vars) so that loading writes into them.
    own = module.state_dict(keep_vars=True)
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    errors, loads = [], []
    for key, target in own.items():
        if key not in state_dict:
            continue
        array = _as_array(state_dict[key])
        if array is None:
            errors.append(f'While copying the parameter named "{key}", expected a Tensor or '
                          f"array-like object (cnnlab or torch tensor, NumPy array) from "
                          f"checkpoint but received {type(state_dict[key])}")
            continue
        lazy = getattr(target, "is_uninitialized", False)
        if not lazy and array.shape != target.array.shape:
            errors.append(f"size mismatch for {key}: copying a param with shape "
                          f"{Size(array.shape)} from checkpoint, the shape in current model "
                          f"is {Size(target.array.shape)}.")
            continue
        loads.append((target, array, lazy))
    if strict:
        # PyTorch puts the key lists first, then the per-value errors.
        if unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{key}"' for key in unexpected)))
        if missing:
            errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                ", ".join(f'"{key}"' for key in missing)))
    if errors:
        raise RuntimeError(f"Error(s) in loading state_dict for {type(module).__name__}:"
                           "\n\t" + "\n\t".join(errors))
    # Only now, with every value checked, is anything written: a failed load leaves
    # the module as it was (PyTorch may have copied some values before raising).
    for target, array, lazy in loads:
        if lazy:
            target.materialize(tuple(array.shape))
        if assign:
            target.array = np.array(array)
        else:
            target.array[...] = array   # casts into the parameter's own dtype
    return _IncompatibleKeys(missing, unexpected)

"""In-place operations of the Tensor: ``x[i] = v``, ``x += y``, ``fill_``, ``add_`` ...

A mixin of :class:`cnnlab.tensor.Tensor`, kept in its own file because the rule is
subtle. When nothing is being recorded, an in-place op writes into the array, so views
see the change, as in PyTorch. When it must be recorded (the tensor or the value
requires a gradient), the tensor is *rebound* to a new array and a new graph node
(:meth:`InPlaceOps._set_node`); arrays saved for a backward pass are never modified,
and the edges recorded earlier (:class:`cnnlab.autograd.Node`) still lead to the old
value.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np

from . import autograd, dtypes
from .autograd import _tensor_class

if TYPE_CHECKING:
    from .tensor import Tensor


def convert_index(index):
    """Replace Tensors inside an index expression by their arrays."""
    if isinstance(index, tuple):
        return tuple(convert_index(i) for i in index)
    if isinstance(index, _tensor_class()):
        return index.array
    if isinstance(index, list):
        return np.asarray(index)
    return index


class InPlaceOps:
    """The in-place methods of :class:`cnnlab.tensor.Tensor`."""

    def __setitem__(self, index, value):
        index = convert_index(index)
        value_tensor = value if isinstance(value, _tensor_class()) else None
        if autograd.needs_grad(self, value_tensor):
            self._check_inplace("__setitem__")
            source = value_tensor if value_tensor is not None else self._wrap(np.asarray(value))
            self._record_setitem(index, source)
            return
        values = value.array if isinstance(value, _tensor_class()) else value
        self._check_cast(np.asarray(values).dtype, "__setitem__")
        self.array[index] = values

    def _record_setitem(self, index, source: "Tensor") -> None:
        """``self[index] = source`` as a recorded operation (copy, then rebind)."""
        before = self._snapshot()
        updated = self.array.copy()
        updated[index] = source.array
        source_shape = source.shape

        def backward(grad):
            # d/d(before): the gradient outside the overwritten region;
            # d/d(source): the gradient of the region (unbroadcast by the engine).
            grad_before = grad.copy()
            grad_before[index] = 0
            region = grad[index]
            if region.ndim < len(source_shape):
                region = region.reshape((1,) * (len(source_shape) - region.ndim) + region.shape)
            return grad_before, region

        self.array = updated
        self.requires_grad = True
        self._set_node(autograd.Node("CopySlices", (before, source), backward))

    def _snapshot(self) -> "Tensor":
        """A tensor standing for ``self`` before an in-place change is recorded."""
        before = self._wrap(self.array)
        before.requires_grad = self.requires_grad
        before._node = self._node
        return before

    def _set_node(self, node) -> None:
        """Rebind to ``node`` after an in-place change. Nodes recorded earlier keep their
        edges to the old node, and hooks registered earlier stay on it (they see the old
        value's gradient); ``retain_grad`` follows the tensor to its new value."""
        if self._retains_grad and node is not None:
            if self._node is not None:
                self._node.retained = None
            node.retained = weakref.ref(self)
        self._node = node

    def _check_inplace(self, operation: str) -> None:
        if self.requires_grad and self._node is None and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{operation}: a leaf tensor that requires grad is being used in an in-place "
                "operation; wrap the update in `with cnnlab.no_grad():` or apply it to "
                "`.data`")

    def _check_cast(self, source_dtype, operation: str) -> None:
        if not np.can_cast(source_dtype, self.array.dtype, casting="same_kind"):
            raise TypeError(f"{operation}: result type {dtypes.from_numpy_dtype(source_dtype)!r} "
                            f"can't be cast to the tensor's dtype {self.dtype!r} in place")

    def _become(self, result: "Tensor") -> "Tensor":
        """Take over ``result``'s array and graph node (recorded in-place ops)."""
        self.array = result.array
        self.requires_grad = result.requires_grad
        self._set_node(result._node)
        return self

    def _inplace(self, name: str, function, other) -> "Tensor":
        """Apply ``function(self, other)`` in place (``x += y`` and friends)."""
        if autograd.needs_grad(self, other):
            self._check_inplace(name)
            return self._become(function(self._snapshot(), other))
        with autograd.no_grad():
            result = function(self, other)
        self._check_cast(result.array.dtype, name)
        np.copyto(self.array, result.array, casting="same_kind")
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        if isinstance(value, _tensor_class()):
            value = value.item()
        if autograd.needs_grad(self):
            self._record_setitem(Ellipsis, self._wrap(np.asarray(value, self.array.dtype)))
        else:
            self.array[...] = value
        return self

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def copy_(self, source) -> "Tensor":
        source = source if isinstance(source, _tensor_class()) else self._wrap(np.asarray(source))
        self[...] = source
        return self

    def add_(self, other, alpha=1):
        from .ops import add

        return self._inplace("add_", lambda a, b: add(a, b, alpha=alpha), other)

    def sub_(self, other, alpha=1):
        from .ops import sub

        return self._inplace("sub_", lambda a, b: sub(a, b, alpha=alpha), other)

    def mul_(self, other):
        from .ops import mul

        return self._inplace("mul_", mul, other)

    def div_(self, other):
        from .ops import div

        return self._inplace("div_", div, other)

    def clamp_(self, min=None, max=None):
        from .ops import clamp

        return self._inplace("clamp_", lambda a, _: clamp(a, min, max), None)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def uniform_(self, a=0.0, b=1.0):
        from .creation import _rng

        with autograd.no_grad():
            self.array[...] = _rng().uniform(a, b, self.array.shape)
        return self

    def normal_(self, mean=0.0, std=1.0):
        from .creation import _rng

        with autograd.no_grad():
            self.array[...] = _rng().normal(mean, std, self.array.shape)
        return self

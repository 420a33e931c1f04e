"""In-place operations of the Tensor: ``x[i] = v``, ``x += y``, ``fill_``, ``add_`` ...

A mixin of :class:`cnnlab.tensor.Tensor`, kept in its own file because the rule is
subtle. When nothing is being recorded, an in-place op writes into the array, so views
see the change, as in PyTorch. When it must be recorded (the tensor or the value
requires a gradient), the tensor is *rebound* to a new array and a new graph node
(:meth:`InPlaceOps._set_node`); arrays saved for a backward pass are never modified,
and the edges recorded earlier (:class:`cnnlab.autograd.Node`) still lead to the old
value.

Views. A view op (basic indexing, ``reshape`` when NumPy can view, ``permute`` and
``transpose``, ``expand``, ``unbind``/``split``/``chunk``) marks its output with
:func:`mark_view`: ``_view = (base, replay, kind)``, where ``base`` is the tensor that
owns the memory (a view of a view points to the first base) and ``replay(base)`` redoes
the view ops from it; the base keeps weak references to its views. A recorded in-place
op on a view computes the new value of the view, then writes it into a copy of the
base's array (:meth:`InPlaceOps._write_through`) and rebinds the *base* to that copy
and a ``CopySlices`` node, whose backward sends the gradient of the view's region to
the in-place op and the rest to the old base. Whenever a base is rebound, its views
are re-derived by ``replay`` (:meth:`InPlaceOps._refresh_views`), so they show the
new values and their gradients flow through the new node, as in PyTorch. PyTorch's
refusals are kept: views of a leaf that requires grad, views made under ``no_grad``
or by a function returning several views (``unbind``, ``split``), and ``expand``ed
views whose elements share memory.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np

from . import autograd, dtypes
from .autograd import _state as _grad_state, _tensor_class

_weak = weakref.ref

if TYPE_CHECKING:
    from .tensor import Tensor


NO_GRAD = "no_grad"  # the ``kind`` of a view made while recording was off
DETACHED = "detached"  # the ``kind`` of ``detach()`` and ``.data``: same memory, no graph

_NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode "
    "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
    "can clarify your code by moving both the view and the inplace either both inside the "
    "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
    "want the inplace to be tracked).")
_MULTI_VIEW = (
    "An output of {kind} is a view and is being modified inplace. This view is the output "
    "of a function that returns multiple views. Such functions do not allow the output "
    "views to be modified inplace. You should replace the inplace operation by an "
    "out-of-place one.")
_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a "
    "single memory location. Please clone() the tensor before performing the operation.")


def mark_view(out: "Tensor", source: "Tensor", replay, kind=None) -> "Tensor":
    """Record that ``out.array`` is a NumPy view of ``source.array`` made by ``replay``.

    Parameters
    ----------
    out : Tensor
        The new view.
    source : Tensor
        What it was taken from (itself a base or a view).
    replay : callable
        ``replay(tensor) -> Tensor``: the same view op applied to ``tensor`` (of
        ``source``'s shape), recorded when gradients are.
    kind : str, optional
        ``None`` for an ordinary view, else the name of a function returning several
        views (``"Unbind"``, ``"Split"``), whose outputs PyTorch does not let in-place
        ops change; views made under ``no_grad`` get :data:`NO_GRAD`; ``detach()`` and
        ``.data`` give :data:`DETACHED` (they follow the base's values, not its graph).

    The base keeps a weak reference to each view (dead ones are dropped once the list
    has doubled), so the cost is one tuple and one weak reference per view op.
    """
    view = source._view
    if view is None:
        base = source
    else:
        base, first, parent_kind = view
        replay = _chained(first, replay)
        kind = kind or parent_kind
    if kind is None and not _grad_state.enabled:
        kind = NO_GRAD
    out._view = (base, replay, kind)
    views = base._views
    if views is None:
        base._views = [_weak(out)]
    else:
        views.append(_weak(out))
        if len(views) > base._views_limit:
            views[:] = [ref for ref in views if ref() is not None]
            base._views_limit = max(16, 2 * len(views))
    return out


def _chained(first, then):
    return lambda base: then(first(base))


def _overlaps(array: np.ndarray) -> bool:
    """Whether two elements of ``array`` share memory (an ``expand``ed dimension)."""
    return any(step == 0 and size > 1 for step, size in zip(array.strides, array.shape))


def _positions(replay, shape) -> np.ndarray:
    """For each element of the view ``replay`` makes of a base of ``shape``, its index
    in the flattened (C order) base; the same whether NumPy views or copies."""
    with autograd.no_grad():
        flat = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
        return replay(_tensor_class()._wrap(flat)).array


def convert_index(index):
    """Replace Tensors inside an index expression by their arrays."""
    if isinstance(index, tuple):
        return tuple(convert_index(i) for i in index)
    if isinstance(index, _tensor_class()):
        return index.array
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _stale_view(kind: str):
    """The backward of a view PyTorch no longer lets a graph use: one made under
    ``no_grad`` or by ``unbind``/``split``, whose base then changed in place while
    recording. PyTorch refuses as soon as the view is used; cnnlab when the backward
    pass reaches it."""
    if kind == NO_GRAD:
        message = ("A view was created in no_grad mode and its base or another view of its "
                   "base has been modified inplace with grad mode enabled. Given that this "
                   "use case is ambiguous and error-prone, it is forbidden.")
    else:
        message = (f"An output of {kind} is a view and its base or another view of its base "
                   "has been modified inplace. This view is the output of a function that "
                   "returns multiple views. Such functions do not allow the output views to "
                   "be modified inplace.")

    def backward(grad):
        raise RuntimeError(f"backward: {message} Clone the view before the in-place change.")
    return backward


class InPlaceOps:
    """The in-place methods of :class:`cnnlab.tensor.Tensor`."""

    _view = None         # (base, replay, kind) when this tensor is a view, see mark_view
    _views = None        # on a base: weak references to its views
    _views_limit = 16    # prune dead references when the list grows past this

    def __setitem__(self, index, value):
        index = convert_index(index)
        value_tensor = value if isinstance(value, _tensor_class()) else None
        if autograd.needs_grad(self, value_tensor):
            self._check_inplace("__setitem__")
            source = value_tensor if value_tensor is not None else self._wrap(np.asarray(value))
            self._record_setitem(index, source)
            return
        if self._view is not None:
            self._check_view("__setitem__", recorded=False)
        values = value.array if isinstance(value, _tensor_class()) else value
        self._check_cast(np.asarray(values).dtype, "__setitem__")
        try:
            self.array[index] = values
        except ValueError:
            self._raise_if_overlapping()
            raise

    def _record_setitem(self, index, source: "Tensor", operation="__setitem__") -> None:
        """``self[index] = source`` as a recorded operation (copy, then rebind)."""
        before = self._snapshot()
        updated = self.array.copy(order="K")  # the same layout, so views stay views
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

        result = self._wrap(updated)
        result.requires_grad = True
        result._node = autograd.Node("CopySlices", (before, source), backward)
        self._commit(result, operation)

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
        """The refusals of a recorded in-place op (PyTorch's)."""
        if self._view is not None:
            self._check_view(operation, recorded=True)
        if self.requires_grad and self._node is None and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{operation}: a leaf tensor that requires grad is being used in an in-place "
                "operation; wrap the update in `with cnnlab.no_grad():` or apply it to "
                "`.data`")

    def _check_view(self, operation: str, recorded: bool) -> None:
        """PyTorch's refusals for an in-place op on a view, in its order; nothing is
        refused while recording is off (the op then writes into the shared memory)."""
        if not autograd.is_grad_enabled():
            return
        base, _, kind = self._view
        if kind == DETACHED:
            if recorded:  # PyTorch writes into the base but leaves its graph alone
                raise RuntimeError(
                    f"{operation}: cnnlab cannot record an in-place operation on a tensor "
                    "that shares memory with another through detach() or .data; clone() "
                    "it first, or make the change under no_grad")
            return
        if not (recorded or base.requires_grad):
            return
        if kind == NO_GRAD:
            raise RuntimeError(f"{operation}: {_NO_GRAD_VIEW}")
        if base.requires_grad and base._node is None:
            raise RuntimeError(f"{operation}: a view of a leaf Variable that requires grad "
                               "is being used in an in-place operation.")
        if kind is not None:
            raise RuntimeError(f"{operation}: " + _MULTI_VIEW.format(kind=kind))
        if _overlaps(self.array):
            raise RuntimeError(f"{operation}: {_OVERLAP}")

    def _raise_if_overlapping(self) -> None:
        """After NumPy refused a write: PyTorch's error if it was an ``expand``ed view."""
        if _overlaps(self.array):
            raise RuntimeError(_OVERLAP) from None

    def _check_cast(self, source_dtype, operation: str) -> None:
        if not np.can_cast(source_dtype, self.array.dtype, casting="same_kind"):
            raise TypeError(f"{operation}: result type {dtypes.from_numpy_dtype(source_dtype)!r} "
                            f"can't be cast to the tensor's dtype {self.dtype!r} in place")

    def _commit(self, result: "Tensor", operation: str) -> "Tensor":
        """Make ``result`` (recorded) this tensor's new value: rebind to it, or, for a
        view, write it through the base."""
        if result.array.shape != self.array.shape:
            raise RuntimeError(f"{operation}: output with shape {list(self.array.shape)} "
                               f"doesn't match the broadcast shape {list(result.array.shape)}")
        if self._view is not None:
            self._write_through(result, operation)
        else:
            self._become(result)
        return self

    def _become(self, result: "Tensor") -> "Tensor":
        """Take over ``result``'s array and graph node (recorded in-place ops)."""
        array = result.array
        if self._views is not None and array.strides != self.array.strides \
                and array.shape == self.array.shape and array.dtype == self.array.dtype:
            array = np.empty_like(self.array)  # the old layout: the views' replay views it
            array[...] = result.array
        self.array = array
        self.requires_grad = result.requires_grad
        self._set_node(result._node)
        if self._views is not None:
            self._refresh_views()
        return self

    def _write_through(self, result: "Tensor", operation: str) -> None:
        """``self`` is a view: write ``result`` into (a copy of) its base, rebind the base
        to the copy and a ``CopySlices`` node, and re-derive every view of the base."""
        base, replay, _ = self._view
        self._check_cast(result.array.dtype, operation)
        updated = np.empty_like(base.array)  # keeps the layout, so replay views it again
        updated[...] = base.array
        with autograd.no_grad():
            region = replay(self._wrap(updated)).array
        if not np.may_share_memory(region, updated):
            raise RuntimeError(f"{operation}: cnnlab cannot write through this view of a "
                               "tensor of another memory layout; clone() the view first")
        np.copyto(region, result.array, casting="same_kind")
        before, shape = base._snapshot(), base.array.shape

        def backward(grad):
            # new base = old base outside the view's region and `result` inside it, so
            # d/d(old base) is grad with the region zeroed, d/d(result) grad's region.
            positions = _positions(replay, shape)
            grad_before = grad.copy()  # C order: the reshape below is a view
            flat = grad_before.reshape(-1)
            grad_result = flat[positions]
            flat[positions] = 0
            return grad_before, grad_result

        base.array = updated
        base.requires_grad = True
        base._set_node(autograd.Node("CopySlices", (before, result), backward))
        base._refresh_views()

    def _refresh_views(self) -> None:
        """Re-derive each live view of this base from its new array and node (views made
        under ``no_grad`` or by ``unbind``/``split`` get a node that refuses backward,
        ``detach()`` and ``.data`` only the values)."""
        references, self._views = self._views, None  # replay's own views are dropped
        live = []
        try:
            for reference in references:
                view = reference()
                if view is None or view._view is None or view._view[0] is not self:
                    continue
                live.append(reference)
                _, replay, kind = view._view
                fresh = replay(self)
                if not np.may_share_memory(fresh.array, self.array):
                    raise RuntimeError("in-place: cnnlab cannot keep a view of this tensor "
                                       "in step with its base after an in-place change "
                                       "(memory layout changed); clone() the view first")
                view.array = fresh.array
                if kind == DETACHED:
                    continue
                if kind is None or not fresh.requires_grad:
                    view.requires_grad = fresh.requires_grad
                    view._set_node(fresh._node)
                else:
                    view.requires_grad = True
                    view._set_node(autograd.Node("AsStrided", (self,), _stale_view(kind)))
        finally:  # the registry survives an error (the references still alive)
            self._views = live if len(live) == len(references) else \
                [ref for ref in references if ref() is not None]
            self._views_limit = max(16, 2 * len(self._views))

    def _inplace(self, name: str, function, other) -> "Tensor":
        """Apply ``function(self, other)`` in place (``x += y`` and friends)."""
        if autograd.needs_grad(self, other):
            self._check_inplace(name)
            return self._commit(function(self._snapshot(), other), name)
        if self._view is not None:
            self._check_view(name, recorded=False)
        with autograd.no_grad():
            result = function(self, other)
        self._check_cast(result.array.dtype, name)
        try:
            np.copyto(self.array, result.array, casting="same_kind")
        except ValueError:
            self._raise_if_overlapping()
            raise
        return self

    def fill_(self, value) -> "Tensor":
        recorded = autograd.needs_grad(self)
        if recorded:
            self._check_inplace("fill_")
        elif self._view is not None:
            self._check_view("fill_", recorded=False)
        if isinstance(value, _tensor_class()):
            value = value.item()
        if recorded:
            self._record_setitem(Ellipsis, self._wrap(np.asarray(value, self.array.dtype)),
                                 "fill_")
        else:
            try:
                self.array[...] = value
            except ValueError:
                self._raise_if_overlapping()
                raise
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

    def clamp_min_(self, min):
        return self.clamp_(min=min)

    def clamp_max_(self, max):
        return self.clamp_(max=max)

    def masked_fill_(self, mask, value):
        from .ops import masked_fill

        return self._inplace("masked_fill_", lambda a, m: masked_fill(a, m, value), mask)

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


def _unary_inplace(name: str):
    """``Tensor.<name>_()``: the op of :mod:`cnnlab.ops` written back into the tensor
    (recorded like ``add_``: a leaf that requires grad refuses, views are rebased)."""
    def method(self):
        from . import ops

        return self._inplace(name + "_", lambda a, _: getattr(ops, name)(a), None)
    method.__name__ = method.__qualname__ = name + "_"
    return method


for _name in ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "rsqrt", "abs", "neg",
              "square", "sign", "floor", "ceil", "round", "sin", "cos"):
    setattr(InPlaceOps, _name + "_", _unary_inplace(_name))

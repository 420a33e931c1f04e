"""The Tensor: a NumPy array, its dtype, and its place in the autograd graph.

A :class:`Tensor` holds one ``np.ndarray`` (``.array``), a ``requires_grad`` flag, the
``grad`` it accumulates, and the :class:`~cnnlab.autograd.Node` that produced it.
Differentiable operations live in :mod:`cnnlab.ops` (elementwise, reductions,
shapes) and :mod:`cnnlab.functional` (convolution, pooling); the methods here
delegate to them, so ``x.sum()`` and ``cnnlab.sum(x)`` are one code path.

In-place operations (``x[2:4] = 0``, ``x += y``, ``fill_``) come from the mixin in
:mod:`cnnlab.tensor_inplace`: they write into the array when nothing is being recorded,
so views see the change, as in PyTorch, and otherwise rebind ``x`` to a new array and
a new graph node: arrays saved for a backward pass are never modified. A view knows its
base, so a recorded change of the view rebinds the base, and a rebound base re-derives
its views.
"""

from __future__ import annotations

import numbers
import weakref

import numpy as np

from . import _format, autograd, dtypes
from .tensor_inplace import DETACHED, InPlaceOps, convert_index as _convert_index, mark_view
from . import device as _devices


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``cnnlab.Size([8, 8])``."""

    def __repr__(self) -> str:
        return f"cnnlab.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, numbers.Integral))
               and not isinstance(p, (bool, np.bool_)) for p in parts)


class Tensor(InPlaceOps):
    """An n-dimensional array that can record operations for differentiation.

    Create tensors with :func:`cnnlab.tensor`, :func:`cnnlab.zeros`, ... ;
    ``Tensor(data)`` is the same as ``cnnlab.tensor(data)``.
    """

    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected op
    _hooks = ()  # gradient hooks of a leaf: a dict on the instance once one is registered

    def __init__(self, data=None, dtype=None, requires_grad=False):
        from .creation import to_array

        array = to_array([] if data is None else data, dtype)
        self._init(array, requires_grad)

    def _init(self, array, requires_grad=False):
        self.array = array
        self.grad = None
        self._node = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array) -> "Tensor":
        """A Tensor around ``array`` without copying (internal)."""
        tensor = object.__new__(Tensor)
        tensor._init(np.asarray(array))
        return tensor

    # ----------------------------------------------------------------- metadata
    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return self.shape
        return self.array.shape[self._dim(dim, "size")]

    def dim(self) -> int:
        return self.array.ndim

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    nelement = numel

    def stride(self, dim=None):
        """Elements to step in memory per index of each dimension (PyTorch's strides)."""
        strides = tuple(s // self.array.itemsize for s in self.array.strides)
        return strides if dim is None else strides[self._dim(dim, "stride")]

    def element_size(self) -> int:
        return int(self.array.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self.array.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_numpy_dtype(self.array.dtype)

    @property
    def device(self):
        """Always ``device(type='cpu')``: cnnlab computes with NumPy on the CPU."""
        return _devices.CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def _dim(self, dim, function) -> int:
        ndim = max(self.array.ndim, 1)
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"{function}: dim must be an int, got {dim!r}")
        if not -ndim <= dim < ndim:
            raise IndexError(f"{function}: dim {dim} is out of range for a tensor "
                             f"with {self.array.ndim} dimensions (allowed: {-ndim}..{ndim - 1})")
        return dim % ndim

    # ----------------------------------------------------------------- autograd
    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad: only tensors of floating point dtype can require "
                f"gradients, got {self.dtype!r}; convert with .float() first")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; "
                               "use .detach() to get a tensor outside the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()`` (a no-op on leaves,
        which always keep theirs). After an in-place change the tensor keeps the
        gradient of its new value, as in PyTorch."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on Tensor that has "
                               "requires_grad=False")
        if self._node is not None:
            self._retains_grad = True
            self._node.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook) -> "autograd.RemovableHandle":
        """Call ``hook(grad)`` each time the gradient with respect to this tensor is
        computed; a hook that returns a tensor replaces the gradient passed on.

        For a leaf the hook runs before ``.grad`` is accumulated; for an intermediate
        tensor before its gradient flows on to its inputs (and before ``retain_grad``
        stores it). Hooks run in the order they were registered. A hook registered
        before an in-place change of the tensor sees the gradient of the value it had
        then, as in PyTorch.

        Parameters
        ----------
        hook : callable
            ``hook(grad: Tensor) -> Tensor or None``; the result must keep the shape.

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` takes the hook off.

        Examples
        --------
        >>> import cnnlab
        >>> x = cnnlab.tensor([1., 2.], requires_grad=True)
        >>> handle = x.register_hook(lambda g: g * 10)
        >>> (x * 3).sum().backward()
        >>> x.grad
        tensor([30., 30.])
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        if self._node is not None:  # an intermediate: the hook belongs to its node
            if not self._node.hooks:
                self._node.hooks = {}
            hooks = self._node.hooks
        else:
            if not self._hooks:
                self._hooks = {}
            hooks = self._hooks
        handle = autograd.RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Parameters
        ----------
        gradient : Tensor or array_like, optional
            d(loss)/d(self), same shape as ``self``; required unless ``self`` holds one
            element.
        retain_graph : bool, optional
            Keep the graph so that ``backward`` can be called through it again.
        create_graph : bool
            Higher-order gradients are not supported: ``True`` raises NotImplementedError.
        inputs : Tensor or sequence of Tensor, optional
            Accumulate only into these tensors' ``.grad`` (leaves or not).
        """
        autograd.accumulate_grads(self, None if gradient is None else (gradient,),
                                  retain_graph, create_graph, inputs, "gradient")

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, outside the graph: an in-place change of
        either shows in the other, as in PyTorch. (An in-place change of the detached
        tensor that would be recorded, with an operand that requires grad, raises.)"""
        return mark_view(Tensor._wrap(self.array), self, Tensor.detach, DETACHED)

    @property
    def data(self) -> "Tensor":
        """This tensor's values as a tensor outside the graph (shares storage).

        In-place changes made through ``.data`` are not recorded, as in PyTorch:
        ``w.data -= lr * w.grad`` updates ``w``.
        """
        return mark_view(Tensor._wrap(self.array), self, Tensor.detach, DETACHED)

    @data.setter
    def data(self, value) -> None:
        self.array = value.array if isinstance(value, Tensor) else np.asarray(value)

    # ------------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return self.array

    def __array__(self, dtype=None, copy=None):
        if dtype is not None:
            return self.array.astype(dtype, copy=bool(copy))
        return self.array.copy() if copy else self.array

    def tolist(self):
        return self.array.tolist()

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a "
                             f"Python scalar, got shape {tuple(self.shape)}")
        return self.array.reshape(-1)[0].item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} "
                               "elements is ambiguous")
        return bool(self.array.reshape(-1)[0])

    def to(self, *args, **kwargs) -> "Tensor":
        """PyTorch's ``to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(other)`` (its dtype), with ``dtype=``/``device=``/``non_blocking=``/``copy=``.

        Devices must name the CPU (anything else raises RuntimeError). Returns ``self``
        when nothing changes and ``copy`` is False, as PyTorch does.
        """
        dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument {next(iter(kwargs))!r}")
        for argument in args:
            if isinstance(argument, Tensor):
                dtype = argument.dtype
            elif isinstance(argument, bool):
                continue  # PyTorch's positional non_blocking / copy flags
            elif _devices.is_device_like(argument) or isinstance(argument, int):
                device = argument
            else:
                dtype = argument
        _devices.as_device(device, "Tensor.to")
        if dtype is None or dtypes.as_dtype(dtype).numpy == self.array.dtype:
            return self.clone() if copy else self
        from .ops import cast

        return cast(self, dtypes.as_dtype(dtype))

    def type(self, dtype=None):
        if dtype is None:
            return f"cnnlab.{self.dtype.name}"
        return self.to(dtype)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        """Raises RuntimeError: cnnlab has no GPU (PyTorch without CUDA raises too)."""
        raise RuntimeError("Tensor.cuda: cnnlab computes with NumPy on the CPU only; "
                           "there is no GPU to move to (use .to('cpu') or leave it out)")

    def clone(self) -> "Tensor":
        from .ops import clone

        return clone(self)

    def contiguous(self, memory_format=None) -> "Tensor":
        """``self`` when its elements are already laid out in row-major order, else a
        row-major copy (recorded as ``Clone``), as in PyTorch: an in-place change of
        the result must then leave ``self`` alone."""
        if self.array.flags.c_contiguous:
            return self
        from .ops import clone

        return clone(self)

    def is_contiguous(self) -> bool:
        return bool(self.array.flags.c_contiguous)

    # ---------------------------------------------------------------- printing
    def __repr__(self) -> str:
        name = self._node.name() if self._node is not None else None
        return _format.format_tensor(self.array, self.dtype,
                                     (dtypes.float32, dtypes.int64, dtypes.bool_),
                                     grad_fn=name, requires_grad=self.requires_grad)

    def __format__(self, spec):
        if self.array.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    # ---------------------------------------------------------------- indexing
    def __getitem__(self, index):
        from .ops import getitem

        return getitem(self, _convert_index(index))

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        from .ops import unbind

        return iter(unbind(self, 0))  # as PyTorch: views that in-place ops may not change

    __hash__ = object.__hash__


def _install_methods():
    """Attach the differentiable ops of :mod:`cnnlab.ops` as Tensor methods/operators."""
    from . import ops

    def reflected(function):
        return lambda self, other: function(other, self)

    methods = {
        "__add__": ops.add, "__radd__": reflected(ops.add),
        "__sub__": ops.sub, "__rsub__": reflected(ops.sub),
        "__mul__": ops.mul, "__rmul__": reflected(ops.mul),
        "__truediv__": ops.div, "__rtruediv__": reflected(ops.div),
        "__floordiv__": ops.floor_divide, "__rfloordiv__": reflected(ops.floor_divide),
        "__mod__": ops.remainder, "__rmod__": reflected(ops.remainder),
        "__pow__": ops.pow, "__rpow__": reflected(ops.pow),
        "__matmul__": ops.matmul, "__rmatmul__": reflected(ops.matmul),
        "__neg__": ops.neg, "__pos__": lambda self: self, "__abs__": ops.abs,
        "__eq__": ops.eq, "__ne__": ops.ne, "__lt__": ops.lt, "__le__": ops.le,
        "__gt__": ops.gt, "__ge__": ops.ge, "__invert__": ops.bitwise_not,
        "__and__": ops.bitwise_and, "__rand__": reflected(ops.bitwise_and),
        "__or__": ops.bitwise_or, "__ror__": reflected(ops.bitwise_or),
        "__xor__": ops.bitwise_xor, "__rxor__": reflected(ops.bitwise_xor),
    }
    for name in ("add", "sub", "mul", "div", "pow", "matmul", "neg", "abs", "exp", "log",
                 "sqrt", "sin", "cos", "sign", "relu", "sigmoid", "tanh", "clamp", "clip",
                 "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax",
                 "argmin", "prod", "view", "reshape", "flatten", "unflatten", "squeeze",
                 "unsqueeze", "transpose", "permute", "expand", "expand_as", "view_as",
                 "reshape_as", "repeat", "flip", "softmax", "log_softmax", "eq", "ne",
                 "lt", "le", "gt", "ge", "all", "any", "maximum", "minimum", "square",
                 "floor", "ceil", "round", "isnan", "isfinite", "where", "masked_fill",
                 "t", "norm", "allclose", "equal", "logical_not", "logical_and",
                 "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
                 "bitwise_not", "unbind", "split",
                 "chunk", "narrow", "select", "cumsum", "sort", "argsort", "topk",
                 "mm", "bmm", "dot", "outer", "index_select", "gather", "tril", "triu",
                 "logsumexp", "rsqrt", "isinf", "remainder", "floor_divide",
                 "masked_select", "nonzero", "roll", "repeat_interleave", "diag",
                 "trace"):
        if hasattr(ops, name):
            methods[name] = getattr(ops, name)
    from .functional.im2col import tensor_unfold   # Tensor.unfold(dim, size, step)
    methods["unfold"] = tensor_unfold
    from .creation import tensor_factories   # new_zeros, new_ones, ... in self's dtype
    methods.update(tensor_factories())
    methods["type_as"] = lambda self, other: self.to(other.dtype)
    methods["clamp_min"] = lambda self, min: ops.clamp(self, min=min)
    methods["clamp_max"] = lambda self, max: ops.clamp(self, max=max)
    methods["T"] = property(ops.t_all)
    methods["mT"] = property(lambda self: ops.transpose(self, -2, -1))
    # x.where(condition, y) is torch.where(condition, x, y): the tensor comes first
    methods["where"] = lambda self, condition, other: ops.where(condition, self, other)
    for name, function in methods.items():
        setattr(Tensor, name, function)
    Tensor.__hash__ = object.__hash__

"""Creating tensors: from data, filled, ranges, random; and the random generator.

Python floats become ``float32`` and Python ints ``int64`` (PyTorch's defaults);
NumPy arrays keep their dtype. Random numbers come from one NumPy ``Generator``
seeded by :func:`manual_seed`; they are reproducible within cnnlab, but not the same
numbers as PyTorch's generator.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import dtypes
from .device import as_device
from .tensor import Tensor

_GENERATOR = [np.random.default_rng()]


def _rng() -> np.random.Generator:
    return _GENERATOR[0]


def manual_seed(seed: int) -> np.random.Generator:
    """Seed cnnlab's random number generator (``randn``, ``rand``, layer initialisation,
    dropout, data shuffling)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {seed!r}")
    _GENERATOR[0] = np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)
    return _GENERATOR[0]


def get_rng_state() -> dict:
    """The generator's state, as a JSON-serialisable dict."""
    return _rng().bit_generator.state


def set_rng_state(state: dict) -> None:
    generator = np.random.default_rng()
    generator.bit_generator.state = state
    _GENERATOR[0] = generator


def _infer_dtype(data) -> np.dtype:
    """PyTorch's dtype for nested Python data: bool, else int64, else float32."""
    kinds = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            kinds.add(item.array.dtype.kind)
        elif isinstance(item, np.ndarray):
            kinds.add(item.dtype.kind)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(item, numbers.Integral):
            kinds.add("i")
        elif isinstance(item, numbers.Real):
            kinds.add("f")
        else:
            raise TypeError(f"tensor: could not convert {type(item).__name__} {item!r} "
                            "to a number; expected numbers, nested lists of numbers, "
                            "NumPy arrays or tensors")
    if "f" in kinds:
        return np.dtype(np.float32)
    if kinds & {"i", "u"}:
        return np.dtype(np.int64)
    if kinds == {"b"}:
        return np.dtype(np.bool_)
    return np.dtype(np.float32)


def _unwrap_nested(data):
    if isinstance(data, Tensor):
        return data.array
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(item) for item in data]
    return data


def to_array(data, dtype=None, copy=True) -> np.ndarray:
    """An ndarray for ``data`` with PyTorch's default dtypes."""
    if isinstance(data, Tensor):
        array = data.array
    elif isinstance(data, np.ndarray):
        array = data
        if array.dtype.kind not in "biuf":
            raise TypeError(f"tensor: unsupported NumPy dtype {array.dtype}; "
                            "supported: bool, integers, float16/32/64")
    elif isinstance(data, np.generic):
        array = np.asarray(data)
    else:
        inferred = _infer_dtype(data)
        if dtype is not None and inferred.kind == "f":
            # Python floats are float64: build at full precision, then cast to the dtype
            # asked for (0.9 as float64 stays 0.9, not float32's 0.89999998).
            inferred = np.dtype(np.float64)
        try:
            array = np.array(_unwrap_nested(data), dtype=inferred)
        except ValueError as error:
            raise ValueError(f"tensor: nested sequences must be rectangular ({error})") from None
    if dtype is not None:
        target = dtypes.as_dtype(dtype).numpy
        return array.astype(target, copy=copy)
    dtypes.from_numpy_dtype(array.dtype)
    return array.copy() if copy else array


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

    Examples
    --------
    >>> import cnnlab
    >>> cnnlab.tensor([[0, 1], [2, 3]])
    tensor([[0, 1],
            [2, 3]])
    >>> cnnlab.tensor([[1.0, -1]])
    tensor([[ 1., -1.]])
    """
    return _finish(Tensor._wrap(to_array(data, dtype)), device, requires_grad, "tensor")


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory with it where possible."""
    as_device(device, "as_tensor")
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor._wrap(to_array(data, dtype, copy=False))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(to_array(array, copy=False))


def _shape(size, function) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise TypeError(f"{function}: size must be non-negative ints, got {tuple(size)!r}")
    return tuple(int(s) for s in size)


def _size_arguments(positional: tuple, size, function: str) -> tuple:
    """One shape from PyTorch's two spellings: ``zeros(2, 3)`` or ``zeros(size=(2, 3))``."""
    if size is not None:
        if positional:
            raise TypeError(f"{function}: give the size either positionally or as size=, "
                            f"not both (got {positional!r} and size={size!r})")
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"{function}(): argument 'size' must be a tuple of ints, "
                            f"got {type(size).__name__} {size!r}")
        positional = (tuple(size),)
    return _shape(positional, function)


def _finish(out: Tensor, device, requires_grad, function) -> Tensor:
    """Apply the keyword arguments every creation function shares."""
    as_device(device, function)
    return out.requires_grad_(True) if requires_grad else out


def _filled(function, shape, fill, dtype, device, requires_grad, default=np.float32):
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.dtype(default)
    return _finish(Tensor._wrap(np.full(shape, fill, dtype=target)), device, requires_grad,
                   function)


def zeros(*size, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor of zeros (``float32`` unless ``dtype`` says otherwise).

    ``zeros(2, 3)``, ``zeros((2, 3))`` and ``zeros(size=(2, 3))`` are the same.
    """
    shape = _size_arguments(size, _size_keyword(kwargs, "zeros"), "zeros")
    return _filled("zeros", shape, 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """A tensor of ones (``float32`` unless ``dtype`` says otherwise)."""
    shape = _size_arguments(size, _size_keyword(kwargs, "ones"), "ones")
    return _filled("ones", shape, 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, **kwargs) -> Tensor:
    """An uninitialised tensor in PyTorch; here filled with zeros, so runs are repeatable."""
    shape = _size_arguments(size, _size_keyword(kwargs, "empty"), "empty")
    return _filled("empty", shape, 0, dtype, device, requires_grad)


def _size_keyword(kwargs: dict, function: str):
    """``size=`` arrives in ``kwargs``: Python cannot name a keyword like ``*size``.

    PyTorch's ``layout`` and ``pin_memory`` are accepted and have no effect here.
    """
    size = kwargs.pop("size", None)
    kwargs.pop("layout", None)
    kwargs.pop("pin_memory", None)
    if kwargs:
        name = next(iter(kwargs))
        raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
    return size


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    size = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    return _filled("full", _shape(size, "full"), fill_value, dtype, device, requires_grad,
                   _infer_dtype(fill_value))


def _like(function, other, fill, dtype, device, requires_grad):
    array = as_tensor(other).array
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else array.dtype
    return _finish(Tensor._wrap(np.full(array.shape, fill, dtype=target)), device,
                   requires_grad, function)


def zeros_like(input, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None) -> Tensor:
    """Zeros of ``input``'s shape and dtype."""
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None) -> Tensor:
    """Ones of ``input``'s shape and dtype."""
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None) -> Tensor:
    """Uninitialised in PyTorch; zeros here (repeatable)."""
    return _like("empty_like", input, 0, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype."""
    return _like("full_like", input, fill_value, dtype, device, requires_grad)


def _range_bound(value, function, name):
    """A Python number from a number or a one-element tensor (``arange(t.max())``)."""
    if isinstance(value, Tensor):
        if value.array.ndim != 0:
            raise ValueError(f"{function}: {name} must be a number or a 0-d tensor, got a "
                             f"tensor of shape {tuple(value.shape)}")
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{function}: {name} must be a number, got {value!r}")
    return value


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for int arguments.

    With an integer ``dtype``, ``start``, ``end`` and ``step`` are truncated to integers
    first, as in PyTorch (``arange(0.5, 4.7, 1.3, dtype=int64)`` is ``[0, 1, 2, 3]``).
    A step whose sign cannot reach ``end``, and infinite bounds, are errors.
    """
    if end is None:
        start, end = 0, start
    start, end, step = (_range_bound(v, "arange", name)
                        for v, name in ((start, "start"), (end, "end"), (step, "step")))
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        target = np.dtype(np.int64) if is_int else np.dtype(np.float32)
    else:
        target = dtypes.as_dtype(dtype).numpy
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise ValueError(f"arange: unsupported range: {start} -> {end} (step {step}); "
                         f"start, end and step must be finite")
    if target.kind in "biu":
        start, end, step = math.trunc(start), math.trunc(end), math.trunc(step)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and lower bound inconsistent with step sign: "
                         f"start {start}, end {end}, step {step}")
    length = max(int(np.ceil((end - start) / step)), 0)
    values = start + step * np.arange(length, dtype=np.float64 if target.kind == "f" else np.int64)
    return _finish(Tensor._wrap(values.astype(target)), device, requires_grad, "arange")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by
    default); with an integer ``dtype`` the bounds are truncated first, as in PyTorch."""
    start, end = (_range_bound(v, "linspace", name) for v, name in ((start, "start"),
                                                                      (end, "end")))
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.dtype(np.float32)
    if target.kind in "biu":
        start, end = math.trunc(start), math.trunc(end)
    return _finish(Tensor._wrap(np.linspace(start, end, steps).astype(target)), device,
                   requires_grad, "linspace")


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.float32
    return _finish(Tensor._wrap(np.eye(n, m, dtype=target)), device, requires_grad, "eye")


def _random(function, shape, sample, dtype, device, requires_grad):
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.dtype(np.float32)
    if target.kind != "f":
        raise TypeError(f"{function}: dtype must be floating point, got {dtypes.as_dtype(dtype)!r}")
    return _finish(Tensor._wrap(sample(shape).astype(target)), device, requires_grad, function)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False,
          **kwargs) -> Tensor:
    """Standard normal samples of the given size (``float32``); ``size=`` works too."""
    shape = _size_arguments(size, _size_keyword(kwargs, "randn"), "randn")
    return _random("randn", shape, _rng().standard_normal, dtype, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False,
         **kwargs) -> Tensor:
    """Uniform samples in [0, 1) of the given size (``float32``); ``size=`` works too."""
    shape = _size_arguments(size, _size_keyword(kwargs, "rand"), "rand")
    return _random("rand", shape, _rng().random, dtype, device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` with numbers, or tensor ``mean``/``std``
    (the shape is theirs, broadcast; PyTorch's four forms).

    Examples
    --------
    >>> import cnnlab
    >>> cnnlab.normal(0, 1, (3, 3, 3)).shape
    cnnlab.Size([3, 3, 3])
    """
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size= is only allowed when mean and std are numbers; "
                            f"got size={size!r} with a tensor mean or std")
        mean_array = np.asarray(mean.array if isinstance(mean, Tensor) else mean)
        std_array = np.asarray(std.array if isinstance(std, Tensor) else std)
        target = tensors[0].array.dtype
        shape = np.broadcast_shapes(mean_array.shape, std_array.shape)
    else:
        if size is None:
            raise TypeError("normal: with a number mean and std, size= is required, "
                            "e.g. normal(0, 1, (3, 3))")
        mean_array, std_array = np.asarray(mean), np.asarray(std)
        target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.dtype(np.float32)
        shape = _shape((size,) if isinstance(size, numbers.Integral) else (tuple(size),),
                       "normal")
    if np.any(std_array < 0):
        raise RuntimeError(f"normal: std must be >= 0.0, got {std!r}")
    values = mean_array + std_array * _rng().standard_normal(shape)
    return _finish(Tensor._wrap(np.asarray(values).astype(target)), device, requires_grad,
                   "normal")


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Random integers in [low, high) (``int64``): ``randint(high, size)`` or
    ``randint(low, high, size)``, ``size`` positional or as ``size=``."""
    if size is None and high is not None and not isinstance(high, numbers.Integral):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required, e.g. randint(0, 10, (2, 3))")
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.int64
    shape = _shape((size,) if isinstance(size, numbers.Integral) else (tuple(size),),
                   "randint")
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    return _finish(Tensor._wrap(_rng().integers(low, high, shape).astype(target)), device,
                   requires_grad, "randint")


def randperm(n, dtype=None, device=None, requires_grad=False) -> Tensor:
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.int64
    return _finish(Tensor._wrap(_rng().permutation(n).astype(target)), device, requires_grad,
                   "randperm")


def randn_like(input, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None) -> Tensor:
    array = as_tensor(input).array
    return randn(*array.shape, dtype=dtype or dtypes.from_numpy_dtype(array.dtype),
                 device=device, requires_grad=requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None) -> Tensor:
    array = as_tensor(input).array
    return rand(*array.shape, dtype=dtype or dtypes.from_numpy_dtype(array.dtype),
                device=device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None,  # noqa: A002
                 requires_grad=False, memory_format=None) -> Tensor:
    array = as_tensor(input).array
    if high is None:
        low, high = 0, low
    return randint(low, high, array.shape, dtype=dtype or dtypes.from_numpy_dtype(array.dtype),
                   device=device, requires_grad=requires_grad)


def tensor_factories() -> dict:
    """``Tensor.new_zeros``, ``new_ones``, ``new_empty``, ``new_full`` and ``new_tensor``:
    creation functions whose dtype defaults to the tensor's own (PyTorch's rule)."""
    def made_like(function):
        def method(self, *args, dtype=None, **kwargs):
            return function(*args, dtype=self.dtype if dtype is None else dtype, **kwargs)
        method.__name__ = "new_" + function.__name__
        return method
    return {"new_zeros": made_like(zeros), "new_ones": made_like(ones),
            "new_empty": made_like(empty), "new_full": made_like(full),
            "new_tensor": made_like(tensor)}

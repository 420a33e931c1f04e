"""Creating tensors: from data, filled, ranges, random; and the random generator.

Python floats become ``float32`` and Python ints ``int64`` (PyTorch's defaults);
NumPy arrays keep their dtype. Random numbers come from one NumPy ``Generator``
seeded by :func:`manual_seed`; they are reproducible within cnnlab, but not the same
numbers as PyTorch's generator.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
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
        try:
            array = np.array(_unwrap_nested(data), dtype=inferred)
        except ValueError as error:
            raise ValueError(f"tensor: nested sequences must be rectangular ({error})") from None
    if dtype is not None:
        target = dtypes.as_dtype(dtype).numpy
        return array.astype(target, copy=copy)
    dtypes.from_numpy_dtype(array.dtype)
    return array.copy() if copy else array


def tensor(data, dtype=None, requires_grad=False) -> Tensor:
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
    out = Tensor._wrap(to_array(data, dtype))
    if requires_grad:
        out.requires_grad_(True)
    return out


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` as a tensor, sharing memory with it where possible."""
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


def _filled(function, size, fill, dtype, requires_grad, default=np.float32):
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.dtype(default)
    out = Tensor._wrap(np.full(_shape(size, function), fill, dtype=target))
    return out.requires_grad_(True) if requires_grad else out


def zeros(*size, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of zeros (``float32`` unless ``dtype`` says otherwise)."""
    return _filled("zeros", size, 0, dtype, requires_grad)


def ones(*size, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ones (``float32`` unless ``dtype`` says otherwise)."""
    return _filled("ones", size, 1, dtype, requires_grad)


def empty(*size, dtype=None, requires_grad=False) -> Tensor:
    return _filled("empty", size, 0, dtype, requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    size = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    return _filled("full", size, fill_value, dtype, requires_grad, _infer_dtype(fill_value))


def zeros_like(other, dtype=None, requires_grad=False) -> Tensor:
    return _like(other, 0, dtype, requires_grad)


def ones_like(other, dtype=None, requires_grad=False) -> Tensor:
    return _like(other, 1, dtype, requires_grad)


def full_like(other, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return _like(other, fill_value, dtype, requires_grad)


def _like(other, fill, dtype, requires_grad):
    array = as_tensor(other).array
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else array.dtype
    out = Tensor._wrap(np.full(array.shape, fill, dtype=target))
    return out.requires_grad_(True) if requires_grad else out


def arange(start, end=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for int arguments."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    arguments = [start, end, step]
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in arguments)
        target = np.dtype(np.int64) if is_int else np.dtype(np.float32)
    else:
        target = dtypes.as_dtype(dtype).numpy
    length = max(int(np.ceil((end - start) / step)), 0)
    values = start + step * np.arange(length, dtype=np.float64 if target.kind == "f" else np.int64)
    out = Tensor._wrap(values.astype(target))
    return out.requires_grad_(True) if requires_grad else out


def linspace(start, end, steps, dtype=None) -> Tensor:
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.float32
    return Tensor._wrap(np.linspace(start, end, steps).astype(target))


def eye(n, m=None, dtype=None) -> Tensor:
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.float32
    return Tensor._wrap(np.eye(n, m, dtype=target))


def _random(function, size, sample, dtype, requires_grad):
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.dtype(np.float32)
    if target.kind != "f":
        raise TypeError(f"{function}: dtype must be floating point, got {dtypes.as_dtype(dtype)!r}")
    out = Tensor._wrap(sample(_shape(size, function)).astype(target))
    return out.requires_grad_(True) if requires_grad else out


def randn(*size, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal samples of the given size (``float32``)."""
    return _random("randn", size, _rng().standard_normal, dtype, requires_grad)


def rand(*size, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) of the given size (``float32``)."""
    return _random("rand", size, _rng().random, dtype, requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    """Random integers in [low, high) (``int64``)."""
    if high is None:
        low, high = 0, low
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.int64
    return Tensor._wrap(_rng().integers(low, high, _shape(tuple(size), "randint")).astype(target))


def randperm(n, dtype=None) -> Tensor:
    target = dtypes.as_dtype(dtype).numpy if dtype is not None else np.int64
    return Tensor._wrap(_rng().permutation(n).astype(target))


def randn_like(other, dtype=None) -> Tensor:
    array = as_tensor(other).array
    return randn(*array.shape, dtype=dtype or dtypes.from_numpy_dtype(array.dtype))


def rand_like(other, dtype=None) -> Tensor:
    array = as_tensor(other).array
    return rand(*array.shape, dtype=dtype or dtypes.from_numpy_dtype(array.dtype))

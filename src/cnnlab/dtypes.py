"""Data types, named and promoted the way PyTorch users expect.

A :class:`DType` wraps a NumPy dtype. The public names (``cnnlab.float32``,
``cnnlab.float``, ``cnnlab.int64``, ``cnnlab.long`` ...) mirror ``torch``'s.
Type promotion follows PyTorch, not NumPy: ``int64 tensor * 2.5`` is ``float32``
(NumPy would say ``float64``), and Python scalars or 0-d tensors never widen the
dtype of a dimensioned tensor of the same kind.
"""

from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type: a name, the NumPy dtype that stores it, its kind."""

    __slots__ = ("name", "numpy")

    def __init__(self, name: str, numpy_dtype):
        self.name = name
        self.numpy = np.dtype(numpy_dtype)

    @property
    def is_floating_point(self) -> bool:
        return self.numpy.kind == "f"

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    def __repr__(self) -> str:
        return f"cnnlab.{self.name}"

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self.numpy == other.numpy
        try:
            return self.numpy == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.numpy)


float16 = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
uint8 = DType("uint8", np.uint8)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
bool_ = DType("bool", np.bool_)

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NUMPY = {d.numpy: d for d in ALL}
_ALIASES = {"half": float16, "float": float32, "double": float64, "short": int16,
            "int": int32, "long": int64, "bool": bool_}
_BY_NAME = {**{d.name: d for d in ALL}, **_ALIASES}

DEFAULT_FLOAT = float32
DEFAULT_INT = int64


def opmath_dtype(numpy_dtype) -> np.dtype:
    """The dtype arithmetic on ``numpy_dtype`` runs in: float32 for float16, as
    PyTorch's CPU kernels do (their "opmath" type: a float16 result is computed in
    float32 and rounded once, not after every step), else the dtype itself."""
    dtype = np.dtype(numpy_dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def as_dtype(value, name: str = "dtype") -> DType:
    """Turn a cnnlab dtype, NumPy dtype, Python type or name into a :class:`DType`."""
    if isinstance(value, DType):
        return value
    if value is float:
        return DEFAULT_FLOAT
    if value is int:
        return DEFAULT_INT
    if value is bool:
        return bool_
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        found = _BY_NUMPY.get(np.dtype(value))
    except TypeError:
        found = None
    if found is None:
        allowed = ", ".join(d.name for d in ALL)
        raise TypeError(f"{name}: unsupported dtype {value!r}; allowed: {allowed}")
    return found


def from_numpy_dtype(numpy_dtype) -> DType:
    """The :class:`DType` for an array's dtype (TypeError for complex, object, ...)."""
    return as_dtype(numpy_dtype)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}


def _rank(numpy_dtype) -> int:
    return _KIND_RANK[np.dtype(numpy_dtype).kind]


def result_dtype(tensors=(), scalars=(), python_scalars=()) -> np.dtype:
    """PyTorch's type promotion, returning the NumPy dtype to compute in.

    Parameters
    ----------
    tensors : sequence of np.dtype
        Dtypes of operands with at least one dimension.
    scalars : sequence of np.dtype
        Dtypes of 0-d tensor operands.
    python_scalars : sequence of bool, int or float
        Plain Python numbers.

    Notes
    -----
    The result kind (bool < integer < floating) is the highest kind of any operand.
    Within that kind, the first group that has it decides, in the order
    dimensioned tensors, 0-d tensors, Python scalars; a Python scalar that decides
    gives the default dtype of its kind (``float32`` or ``int64``).
    """
    python_dtypes = [np.dtype(np.bool_) if isinstance(v, (bool, np.bool_))
                     else np.dtype(np.int64) if isinstance(v, (int, np.integer))
                     else np.dtype(np.float32) for v in python_scalars]
    groups = [list(map(np.dtype, tensors)), list(map(np.dtype, scalars)), python_dtypes]
    everything = [d for group in groups for d in group]
    top = max(_rank(d) for d in everything)
    for group in groups:
        same_kind = [d for d in group if _rank(d) == top]
        if same_kind:
            result = same_kind[0]
            for d in same_kind[1:]:
                result = np.promote_types(result, d)
            return result
    raise ValueError("result_dtype needs at least one operand")

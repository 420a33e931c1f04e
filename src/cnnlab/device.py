"""Devices: ``cnnlab.device`` and ``cnnlab.cuda``, as PyTorch names them, CPU only.

cnnlab computes with NumPy on the CPU. Code written for PyTorch names devices
(``torch.device('cpu')``, ``x.to(device)``, ``torch.cuda.device_count()``); these
objects let that code run unchanged: the CPU device is accepted everywhere, and
asking for any other device raises a :class:`RuntimeError` that says cnnlab is
CPU-only, where PyTorch built without CUDA raises ``AssertionError``.

Examples
--------
>>> import cnnlab
>>> cnnlab.device('cpu')
device(type='cpu')
>>> cnnlab.zeros(2).device == cnnlab.device('cpu')
True
>>> cnnlab.cuda.device_count()
0
"""

from __future__ import annotations

import numbers

# PyTorch's device types (its message lists the same ones); all parse, only cpu runs.
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                 "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")


class device:
    """A device name: ``type`` ('cpu', 'cuda', ...) and an optional ``index``.

    Built as in PyTorch from ``'cpu'``, ``'cuda:1'``, ``('cuda', 1)`` or another
    device. Equal devices compare equal and hash alike; a device never equals a
    string (as in PyTorch), but ``str(device)`` gives the string.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's parameter name
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device: an index cannot be given with a device")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, numbers.Integral) and not isinstance(type, bool):
            # torch.device(0) means the first CUDA device.
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', "
                            f"got {type!r}")
        name, _, number = type.partition(":")
        if name not in _DEVICE_TYPES:
            raise RuntimeError(f"device: expected one of {', '.join(_DEVICE_TYPES)} device "
                               f"type at start of device string: {type}")
        if number:
            if index is not None:
                raise RuntimeError(f"device: type {type!r} already has an index")
            if not number.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(number)
        if index is not None and (isinstance(index, bool) or
                                  not isinstance(index, numbers.Integral) or index < 0):
            raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
        self._type = name
        self._index = None if index is None else int(index)

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self):
        return self._index

    def __eq__(self, other) -> bool:
        if not isinstance(other, device):
            return False
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash(("device", self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"


CPU = device("cpu")


def as_device(value, function: str):
    """``value`` (None, a string, an int or a device) checked to name the CPU.

    Returns the CPU device, or None when ``value`` is None. Raises RuntimeError
    naming ``function`` for any other device: cnnlab computes on the CPU only.
    """
    if value is None:
        return None
    target = device(value)
    if target.type != "cpu":
        raise RuntimeError(f"{function}: device {str(target)!r} is not available: cnnlab "
                           "computes with NumPy on the CPU only; use device='cpu' (or "
                           "d2l.try_gpu(), which gives the CPU when there is no GPU)")
    return target


def is_device_like(value) -> bool:
    """True for a device object or a string that parses as one ('cpu', 'cuda:0')."""
    if isinstance(value, device):
        return True
    if isinstance(value, str):
        return value.partition(":")[0] in _DEVICE_TYPES
    return False

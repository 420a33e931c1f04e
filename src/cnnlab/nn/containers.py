"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
``ParameterDict``, with ``torch.nn``'s methods and printing."""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Mapping

from .module import Module, Parameter


def _index(index, length, owner):
    """``index`` (may be negative) as a position in ``range(length)``, or IndexError."""
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise TypeError(f"{owner}: indices must be integers or slices, got "
                        f"{type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for {length} entries")
    return index % length


class _Numbered:
    """Submodules registered as ``'0'``, ``'1'``, ...: what Sequential and ModuleList
    share (length, iteration over the modules, renumbering after a deletion)."""

    def _renumber(self, modules):
        self._modules.clear()
        for position, module in enumerate(modules):
            self._modules[str(position)] = module

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_Numbered, Module):
    """Modules applied one after another; index, slice, iterate and ``len()`` like a list.

    ``Sequential(a, b)`` names the modules ``'0'``, ``'1'``; ``Sequential(OrderedDict(...))``
    keeps the given names. A slice is a ``Sequential`` of the same modules and names.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_index(index, len(items), "Sequential")][1]

    def __setitem__(self, index, module):
        name = list(self._modules)[_index(index, len(self._modules), "Sequential")]
        self.add_module(name, module)

    def __delitem__(self, index):
        names = list(self._modules)
        for name in (names[index] if isinstance(index, slice)
                     else [names[_index(index, len(names), "Sequential")]]):
            del self._modules[name]
        # renumber, as PyTorch does
        self._renumber(list(self._modules.values()))

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential: add operator supports only objects of Sequential "
                             f"class, got {type(other).__name__}")
        return Sequential(*self, *other)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: module must be a Module, got "
                            f"{type(module).__name__}")
        modules = list(self._modules.values())
        length = len(modules)
        if not -length <= index <= length:
            raise IndexError(f"Sequential.insert: index {index} is out of range for "
                             f"{length} modules")
        modules.insert(index % (length + 1) if index < 0 else index, module)
        self._renumber(modules)
        return self

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module


class ModuleList(_Numbered, Module):
    """A list of modules, registered so their parameters are found (no ``forward``)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError(f"ModuleList.extend: should be called with an iterable of "
                            f"modules, got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, item in enumerate(modules):
            self.add_module(str(position), item)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_index(index, len(modules), "ModuleList")]

    def __setitem__(self, index, module):
        self.add_module(str(_index(index, len(self._modules), "ModuleList")), module)

    def __delitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_index(index, len(modules), "ModuleList")]
        self._renumber(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))


class _ByName:
    """The read side of a dict, over one of a module's own registries (``_modules``
    or ``_parameters``, named by ``_registry``): what ModuleDict and ParameterDict share."""

    _registry = "_modules"

    def _entries(self) -> dict:
        return self.__dict__[self._registry]

    def __getitem__(self, key):
        return self._entries()[key]

    def __delitem__(self, key):
        del self._entries()[key]

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries())

    def __contains__(self, key):
        return key in self._entries()

    def keys(self):
        return self._entries().keys()

    def values(self):
        return self._entries().values()

    def items(self):
        return self._entries().items()


class ModuleDict(_ByName, Module):
    """Modules by name, registered so their parameters are found; a dict's methods.

    Examples
    --------
    >>> from cnnlab import nn
    >>> heads = nn.ModuleDict({"digit": nn.Linear(4, 10), "parity": nn.Linear(4, 2)})
    >>> list(heads.keys()), heads["parity"].out_features
    (['digit', 'parity'], 2)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        pairs = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for entry in pairs:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise ValueError(f"ModuleDict.update: expected a mapping or pairs "
                                 f"(name, module), got the entry {entry!r}")
            self[entry[0]] = entry[1]


_LEGACY_TYPE = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _parameter_line(param, legacy=False) -> str:
    """PyTorch's one-line description, ``Parameter containing: [cnnlab.float32 of size
    2x3]``; ``legacy`` names the type as ParameterDict does (``cnnlab.FloatTensor``)."""
    size = "x".join(str(n) for n in param.shape)
    kind = f"cnnlab.{_LEGACY_TYPE[param.dtype.name]}" if legacy else repr(param.dtype)
    return f"Parameter containing: [{kind} of size {size}]"


class ParameterList(Module):
    """A list of parameters, registered as ``'0'``, ``'1'``, ... (tensors are wrapped in
    :class:`Parameter`)."""

    def __init__(self, values=None):
        super().__init__()
        for value in values or ():
            self.append(value)

    def append(self, value):
        value = value if isinstance(value, Parameter) else Parameter(value)
        self.register_parameter(str(len(self._parameters)), value)
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, index):
        params = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(params[index])
        return params[_index(index, len(params), "ParameterList")]

    def __setitem__(self, index, value):
        position = _index(index, len(self._parameters), "ParameterList")
        self.register_parameter(str(position), value if isinstance(value, Parameter)
                                else Parameter(value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def extra_repr(self) -> str:
        return "\n".join(f"  ({name}): {_parameter_line(param)}"
                         for name, param in self._parameters.items())


class ParameterDict(_ByName, Module):
    """Parameters by name (tensors are wrapped in :class:`Parameter`)."""

    _registry = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, value):
        self.register_parameter(key, value if isinstance(value, Parameter)
                                else Parameter(value))

    def update(self, parameters):
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(f"  ({name}): {_parameter_line(param, legacy=True)}"
                          for name, param in self._parameters.items())

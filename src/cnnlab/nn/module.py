"""``Module`` and ``Parameter``: containers of learnable tensors, as in PyTorch."""

from __future__ import annotations

from collections import OrderedDict

from ..autograd import RemovableHandle
from ..creation import to_array
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a :class:`Module` registers as learnable (``requires_grad=True``).

    ``Parameter(t)`` shares ``t``'s data, as in PyTorch.
    """

    def __init__(self, data=None, requires_grad=True):
        array = data.array if isinstance(data, Tensor) else to_array(
            [] if data is None else data, copy=False)
        self._init(array, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _check_member_name(function, kind, name, module) -> None:
    """A buffer's or submodule's name: a non-empty str without a dot (PyTorch's rule)."""
    if not isinstance(name, str):
        raise TypeError(f"{function}: {kind} name must be a string, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"{function}: {kind} name must be non-empty and contain no '.', "
                       f"got {name!r}")


class Module:
    """Base class of all layers and models.

    Assigning a :class:`Parameter` or a ``Module`` as an attribute registers it, so
    :meth:`parameters`, :meth:`state_dict`, :meth:`train` and the repr find it.
    Subclasses define ``forward``; calling the module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 "(call super().__init__() first)")
        if name in self._buffers and (value is None or (isinstance(value, Tensor)
                                                        and not isinstance(value, Parameter))):
            self._buffers[name] = value   # assigning to a buffer keeps it a buffer (PyTorch)
            return
        if name in self._parameters and not isinstance(value, Parameter):
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__!r} as parameter "
                                f"{name!r} (a Parameter or None expected; wrap it: "
                                f"nn.Parameter(value))")
            self._parameters[name] = None   # as register_parameter(name, None)
            return
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        self._non_persistent_buffers_set.discard(name)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        else:
            self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register ``tensor`` (or ``None``) as a buffer: state that is not a parameter.

        Buffers (e.g. batch norm's running statistics) follow ``.to(dtype)`` and appear in
        :meth:`buffers`; persistent ones also in :meth:`state_dict`.
        """
        _check_member_name("register_buffer", "buffer", name, self)
        if name in self.__dict__ or name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot assign {type(tensor).__name__!r} object "
                            f"to buffer {name!r} (a Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        _check_member_name("add_module", "module", name, self)
        if name in self.__dict__ and name not in self._modules:
            raise KeyError(f"add_module: attribute {name!r} already exists")
        self._modules[name] = module

    def register_module(self, name: str, module) -> None:
        """Alias of :meth:`add_module`, as in PyTorch."""
        self.add_module(name, module)

    # -------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        output = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", {}).values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(module, inputs, output)`` after every forward; a non-None return
        value replaces the output. Returns a handle whose ``remove()`` unregisters it."""
        hooks = self.__dict__.setdefault("_forward_hooks", OrderedDict())
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module and every submodule, depth first;
        a module reached twice is given once unless ``remove_duplicate=False``."""
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                                remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target: str = "") -> "Module":
        """The submodule at dotted path ``target`` (``''`` is this module)."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"get_submodule: {type(module).__name__} has no "
                                     f"submodule {part!r} (in {target!r})")
            module = child
        return module

    def get_parameter(self, target: str):
        """The parameter at dotted path ``target`` (e.g. ``'0.weight'``)."""
        return self._get_member(target, "_parameters", "parameter")

    def get_buffer(self, target: str):
        """The buffer at dotted path ``target`` (e.g. ``'1.running_mean'``)."""
        return self._get_member(target, "_buffers", "buffer")

    def _get_member(self, target: str, table: str, kind: str):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        members = getattr(module, table)
        if name not in members:
            raise AttributeError(f"get_{kind}: {type(module).__name__} has no {kind} "
                                 f"{name!r} (in {target!r})")
        return members[name]

    def apply(self, function):
        for module in self.children():
            module.apply(function)
        function(self)
        return self

    # --------------------------------------------------------------- modes
    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to ``None`` by default, as PyTorch 2)."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.array[...] = 0

    def to(self, dtype=None, *args, **kwargs):
        """Convert floating parameters and buffers to ``dtype`` (devices are ignored)."""
        from ..dtypes import as_dtype

        from ..device import as_device, is_device_like

        if is_device_like(dtype):
            as_device(dtype, "Module.to")
            dtype = args[0] if args else None
        as_device(kwargs.get("device"), "Module.to")
        dtype = kwargs.get("dtype", dtype)
        if dtype is None:
            return self
        target = as_dtype(dtype).numpy
        for module in self.modules():
            for value in list(module._parameters.values()) + list(module._buffers.values()):
                if getattr(value, "is_uninitialized", False):
                    value.set_materialize_dtype(target)   # lazy: the dtype it will get
            for param in module._parameters.values():
                if param is None or getattr(param, "is_uninitialized", False):
                    continue
                if param.array.dtype.kind == "f":
                    param.array = param.array.astype(target)
                    if param.grad is not None:
                        param.grad.array = param.grad.array.astype(target)
            for name, buffer in module._buffers.items():
                if buffer is None or getattr(buffer, "is_uninitialized", False):
                    continue
                if buffer.array.dtype.kind == "f":
                    buffer.array = buffer.array.astype(target)
        return self

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def cpu(self):
        return self

    def cuda(self, device=None):
        """Raises RuntimeError: cnnlab has no GPU."""
        raise RuntimeError("Module.cuda: cnnlab computes with NumPy on the CPU only; "
                           "there is no GPU to move to (use .to('cpu') or leave it out)")

    # ---------------------------------------------------------- state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name, as tensors sharing storage.

        ``keep_vars=True`` gives the Parameter objects themselves instead of detached
        tensors; an unmaterialised lazy parameter is given as itself (as PyTorch).
        """
        state = OrderedDict() if destination is None else destination
        buffers = {name: value for name, value in self._buffers.items()
                   if name not in self._non_persistent_buffers_set}
        for table in (self._parameters, buffers):
            for name, value in table.items():
                if value is not None:
                    keep = keep_vars or getattr(value, "is_uninitialized", False)
                    state[prefix + name] = value if keep else value.detach()
        # Every path to a shared submodule gets its own keys, as in PyTorch.
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(state, prefix + name + ".", keep_vars)
        return state

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Parameters
        ----------
        state_dict : Mapping of str -> tensor-like
            Values may be cnnlab Tensors, NumPy arrays (beyond PyTorch, which takes
            tensors only) or anything with ``.detach()`` / ``.numpy()`` / ``__array__``
            such as torch tensors. Each is copied into the existing array, cast to its
            dtype (as PyTorch's ``copy_``); lists and numbers are refused, as in PyTorch.
        strict : bool
            Missing and unexpected keys are errors; with False they are only returned.
        assign : bool
            Replace each parameter's data with (a copy of) the loaded value, dtype
            included, instead of copying into it.

        Returns
        -------
        (missing_keys, unexpected_keys) : named tuple of lists of str
            PyTorch's ``_IncompatibleKeys``; prints ``<All keys matched successfully>``.

        Raises
        ------
        RuntimeError
            PyTorch's text: ``Error(s) in loading state_dict for Net:`` then, one per
            line, the missing keys, the unexpected keys (with ``strict``), each size
            mismatch and each value that is not tensor-like. Nothing is loaded then.
        TypeError
            When ``state_dict`` is not a mapping.
        """
        from .state_dict import load_state_dict

        return load_state_dict(self, state_dict, strict=strict, assign=assign)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        head = type(self).__name__ + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


class Identity(Module):
    """Returns its input; any constructor arguments are ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


# The containers live in containers.py; imported here for the old import path.
from .containers import ModuleList, Sequential  # noqa: E402,F401

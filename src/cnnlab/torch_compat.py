"""Run PyTorch code on cnnlab: ``import torch`` gives cnnlab, for this process only.

:func:`install` puts an import hook (a ``sys.meta_path`` finder) in front of the others,
so that in this Python process

* ``import torch`` gives cnnlab, ``torch.nn`` gives ``cnnlab.nn``,
  ``torch.nn.functional`` gives ``cnnlab.functional``, ``torch.utils.data``,
  ``torch.optim.lr_scheduler``, ``torch.cuda`` ... the cnnlab module of the same name;
* ``from d2l import torch as d2l`` gives :mod:`cnnlab.d2l`.

The modules are seen through thin alias modules named after torch, so that anything
cnnlab lacks fails with an error naming the torch name (``AttributeError: torch.nn.GRU
is not provided by cnnlab``, ``ModuleNotFoundError: torch.distributions ...``).
:func:`uninstall` removes the hook and the aliases and puts back any real ``torch`` or
``d2l`` modules imported before. Nothing changes outside the process: ``cnnlab
run-torch SCRIPT.py`` installs it and runs the script.

Examples
--------
>>> from cnnlab import torch_compat
>>> with torch_compat.installed():
...     import torch
...     torch.zeros(2)
tensor([0., 0.])
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
import types

# torch module name -> cnnlab module name, where they differ from the plain rename
_RENAMES = {
    "torch": "cnnlab",
    "torch.nn.functional": "cnnlab.functional",
    "d2l.torch": "cnnlab.d2l",
}
_ROOTS = ("torch", "d2l")


def _target_name(fullname: str):
    """The cnnlab module behind torch (or d2l) module ``fullname``, or None."""
    if fullname in _RENAMES:
        return _RENAMES[fullname]
    if fullname == "d2l":
        return None   # a namespace holding only ``torch``: built by the loader
    if fullname.startswith("torch."):
        return "cnnlab." + fullname[len("torch."):]
    return None


class AliasModule(types.ModuleType):
    """A module named after torch whose attributes are those of a cnnlab module.

    Submodules come back as their own aliases; a missing name raises AttributeError
    naming the torch name.
    """

    def __init__(self, name: str, target):
        super().__init__(name, getattr(target, "__doc__", None))
        object.__setattr__(self, "_target", target)

    def __getattr__(self, attribute):
        target = object.__getattribute__(self, "_target")
        name = object.__getattribute__(self, "__name__")
        if attribute.startswith("__") and attribute.endswith("__"):
            return getattr(target, attribute)
        try:
            value = getattr(target, attribute)
        except AttributeError:
            value = _submodule(f"{name}.{attribute}")
            if value is None:
                raise AttributeError(f"{name}.{attribute} is not provided by cnnlab "
                                     f"({target.__name__} has no {attribute!r}); cnnlab "
                                     "implements PyTorch's CNN subset") from None
            return value
        if isinstance(value, types.ModuleType) and _FINDER.installed:
            alias = sys.modules.get(f"{name}.{attribute}")
            if isinstance(alias, AliasModule):
                return alias
            if _target_name(f"{name}.{attribute}") == value.__name__:
                return importlib.import_module(f"{name}.{attribute}")
        return value

    def __setattr__(self, attribute, value):
        setattr(object.__getattribute__(self, "_target"), attribute, value)

    def __dir__(self):
        return dir(object.__getattribute__(self, "_target"))

    def __repr__(self):
        target = object.__getattribute__(self, "_target")
        return f"<module {self.__name__!r} (cnnlab: {target.__name__!r})>"


def _submodule(fullname: str):
    """Import torch submodule ``fullname`` through the hook, or None if cnnlab lacks it."""
    try:
        return importlib.import_module(fullname)
    except ModuleNotFoundError:
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, target_name):
        self.target_name = target_name

    def create_module(self, spec):
        if self.target_name is None:   # the ``d2l`` package: only its ``torch`` inside
            module = types.ModuleType(spec.name, "D2L's library, with d2l.torch on cnnlab")
            module.__path__ = []
            return module
        return AliasModule(spec.name, importlib.import_module(self.target_name))

    def exec_module(self, module):
        if self.target_name is not None:
            # a package alias needs a __path__ for its submodules to be imported
            target = object.__getattribute__(module, "_target")
            if hasattr(target, "__path__"):
                module.__dict__["__path__"] = []


class _Finder(importlib.abc.MetaPathFinder):
    """Answers imports of ``torch``, ``torch.*``, ``d2l`` and ``d2l.torch``."""

    installed = False

    def find_spec(self, fullname, path=None, target=None):
        root = fullname.partition(".")[0]
        if root not in _ROOTS:
            return None
        if fullname == "d2l":
            return importlib.machinery.ModuleSpec(fullname, _Loader(None), is_package=True)
        target_name = _target_name(fullname)
        if target_name is None:
            raise ModuleNotFoundError(f"{fullname} is not provided by cnnlab (only d2l.torch "
                                      "is, as cnnlab.d2l)")
        try:
            importlib.import_module(target_name)
        except ModuleNotFoundError:
            # no ``name=``: ``from torch import x`` would turn it into Python's generic
            # "cannot import name" and lose this message
            raise ModuleNotFoundError(f"{fullname} is not provided by cnnlab (no module "
                                      f"{target_name}); cnnlab implements PyTorch's CNN "
                                      "subset") from None
        return importlib.machinery.ModuleSpec(fullname, _Loader(target_name),
                                              is_package=True)


_FINDER = _Finder()
_SAVED: dict = {}


def _ours(name: str) -> bool:
    return name.partition(".")[0] in _ROOTS


def install() -> None:
    """Make ``import torch`` (and ``from d2l import torch as d2l``) give cnnlab in this
    process. Modules of those names imported earlier are set aside until
    :func:`uninstall`. Installing twice is harmless."""
    if _FINDER.installed:
        return
    for name in [n for n in sys.modules if _ours(n)]:
        _SAVED[name] = sys.modules.pop(name)
    sys.meta_path.insert(0, _FINDER)
    _FINDER.installed = True


def uninstall() -> None:
    """Undo :func:`install`: remove the hook and the aliases, restore earlier modules."""
    if not _FINDER.installed:
        return
    sys.meta_path.remove(_FINDER)
    _FINDER.installed = False
    for name in [n for n in sys.modules if _ours(n)]:
        del sys.modules[name]
    sys.modules.update(_SAVED)
    _SAVED.clear()


def is_installed() -> bool:
    return _FINDER.installed


@contextlib.contextmanager
def installed():
    """``with installed(): ...``: :func:`install` for the block, then :func:`uninstall`
    (if it was not installed already)."""
    already = _FINDER.installed
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()

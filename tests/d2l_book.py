"""Running the D2L book's PyTorch cells (tests/data/d2l_cells.json) on cnnlab and on PyTorch.

Each section's cells run in order in one namespace, as a notebook does: a cell's printed
output plus the repr of its last expression (when that is not None) is its output. The
book's multi-framework cells test ``tab.selected('pytorch')``; ``tab`` here answers True
for PyTorch only.

On cnnlab, the cells run under :func:`cnnlab.torch_compat.installed` (``import torch``
gives cnnlab, ``from d2l import torch as d2l`` gives :mod:`cnnlab.d2l`). On PyTorch,
``d2l`` is cnnlab's d2l package loaded a second time with its ``_backend`` pointing at
PyTorch (the real ``d2l`` package needs torchvision), so both runs use the same helper
code and differ only in the tensor library.

Training cells run on a tiny budget: :func:`tiny_training` makes every ``Trainer`` run
one epoch and every ``FashionMNIST`` hold 4 synthetic images, resized to at most 72
pixels (the cells' code paths, not the book's accuracy, are what the test checks).
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import sys
import types
from pathlib import Path

import numpy as np

CELLS_FILE = Path(__file__).parent / "data" / "d2l_cells.json"
D2L_FOLDER = Path(__file__).resolve().parents[1] / "src" / "cnnlab" / "d2l"
TRAIN_IMAGES, VAL_IMAGES = 4, 4
TRAIN_MAX_SIZE = 72   # training cells resize to at most this (AlexNet and NiN need 67)


def load_sections() -> list:
    return json.loads(CELLS_FILE.read_text())["sections"]


class Tab:
    """The book's ``tab`` object: ``tab.selected('pytorch', ...)`` is True for PyTorch."""

    @staticmethod
    def selected(*names):
        return "pytorch" in names

    @staticmethod
    def interact_select(*names):
        return None


def oracle_d2l():
    """cnnlab's d2l package loaded again as ``_d2l_oracle``, running on real PyTorch."""
    if "_d2l_oracle" in sys.modules:
        return sys.modules["_d2l_oracle"]
    import torch
    import torch.nn.functional

    backend = types.ModuleType("_d2l_oracle._backend")
    backend.torch, backend.nn, backend.F = torch, torch.nn, torch.nn.functional
    sys.modules["_d2l_oracle._backend"] = backend
    spec = importlib.util.spec_from_file_location(
        "_d2l_oracle", D2L_FOLDER / "__init__.py", submodule_search_locations=[str(D2L_FOLDER)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["_d2l_oracle"] = module
    spec.loader.exec_module(module)
    return module


class SyntheticFashion:
    """Stands in for cnnlab.data.FashionMNIST: a few fixed random 28x28 uint8 images."""

    def __init__(self, train=True, **kwargs):
        rng = np.random.default_rng(0 if train else 1)
        n = TRAIN_IMAGES if train else VAL_IMAGES
        self.images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        self.labels = rng.integers(0, 10, n).astype(np.int64)


@contextlib.contextmanager
def tiny_training(d2l_module):
    """Within the block: ``Trainer`` runs 1 epoch, ``FashionMNIST`` holds synthetic images."""
    trainer_class = d2l_module.Trainer
    original_init = trainer_class.__init__
    data_module = sys.modules[d2l_module.__name__ + ".data"]
    original_files = data_module.FashionMNISTFiles
    data_class = data_module.FashionMNIST
    original_data_init = data_class.__init__

    def small_images(self, batch_size=64, resize=(28, 28)):
        resize = (resize, resize) if isinstance(resize, int) else tuple(resize)
        original_data_init(self, batch_size, tuple(min(n, TRAIN_MAX_SIZE) for n in resize))

    def one_epoch(self, max_epochs, *args, **kwargs):
        kwargs["progress"] = False
        original_init(self, 1, *args, **kwargs)
        self.max_epochs = 1

    trainer_class.__init__ = one_epoch
    data_module.FashionMNISTFiles = SyntheticFashion
    data_class.__init__ = small_images
    try:
        yield
    finally:
        trainer_class.__init__ = original_init
        data_module.FashionMNISTFiles = original_files
        data_class.__init__ = original_data_init


def split_last_expression(code: str):
    """(statements, last expression or None), compiled, as a notebook evaluates a cell."""
    tree = ast.parse(code)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, "<cell>", "exec")
    return body, (compile(last, "<cell>", "eval") if last is not None else None)


def run_cell(code: str, namespace: dict) -> str:
    """Run one cell; return what it prints and the repr of its last expression."""
    body, last = split_last_expression(code)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(body, namespace)
        if last is not None:
            value = eval(last, namespace)
            if value is not None:
                print(repr(value))
    return out.getvalue()


def run_section(section: dict, seed: int, library: str, train: bool = True) -> list:
    """Run one section's cells on ``library`` ('cnnlab' or 'torch'); returns per cell
    ``(output, error)``, error being None or 'ExceptionType: message'. With ``train``
    False, training cells are passed over (output '', error 'not run')."""
    import torch

    import cnnlab
    from cnnlab import torch_compat

    results = []
    namespace = {"__name__": "__main__", "tab": Tab()}
    if library == "cnnlab":
        context = torch_compat.installed()
        d2l_module = sys.modules.get("cnnlab.d2l") or __import__("cnnlab.d2l").d2l
    else:
        context = _torch_d2l()
        d2l_module = oracle_d2l()
    cnnlab.manual_seed(seed)
    torch.manual_seed(seed)
    with context, tiny_training(d2l_module):
        for cell in section["cells"]:
            if not train and is_training_cell(cell["code"]):
                results.append(("", "not run"))
                continue
            try:
                results.append((run_cell(cell["code"], namespace), None))
            except Exception as error:  # noqa: BLE001 - recorded and reported by the test
                results.append(("", f"{type(error).__name__}: {error}"))
    return results


@contextlib.contextmanager
def _torch_d2l():
    """``from d2l import torch as d2l`` gives the oracle d2l, for the block."""
    saved = {name: sys.modules[name] for name in ("d2l", "d2l.torch") if name in sys.modules}
    package = types.ModuleType("d2l")
    package.__path__ = []
    package.torch = oracle_d2l()
    sys.modules["d2l"], sys.modules["d2l.torch"] = package, package.torch
    try:
        yield
    finally:
        for name in ("d2l", "d2l.torch"):
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def normalise(text: str) -> str:
    """PyTorch's output read with ``torch.`` as ``cnnlab.`` (the Done-when rule)."""
    return text.replace("torch.", "cnnlab.")


@contextlib.contextmanager
def in_folder(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def is_training_cell(code: str) -> bool:
    return "trainer.fit(" in code


def build_namespace(section: dict, library: str) -> dict:
    """A section's namespace after its cells: the models' definitions. Training cells and
    layer summaries are left out (time); a cell after a training cell that then fails
    (it reads the trained model) is passed over."""
    import torch

    import cnnlab
    from cnnlab import torch_compat

    namespace = {"__name__": "__main__", "tab": Tab()}
    context = torch_compat.installed() if library == "cnnlab" else _torch_d2l()
    if library == "torch":
        oracle_d2l()
    cnnlab.manual_seed(0)
    torch.manual_seed(0)
    with context, contextlib.redirect_stdout(io.StringIO()):
        trained = False
        for cell in section["cells"]:
            if is_training_cell(cell["code"]) or ".layer_summary(" in cell["code"]:
                trained = trained or is_training_cell(cell["code"])
                continue
            try:
                run_cell(cell["code"], namespace)
            except Exception:  # noqa: BLE001
                if not trained:
                    raise
    return namespace

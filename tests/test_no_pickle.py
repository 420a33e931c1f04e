"""Loading a file never runs code: no library module can unpickle.

The runtime side (a pickle, a ``torch.save`` zip and a pickle inside an ``.npz``, each
refused without running its payload) is in test_serialization.py and test_checkpoint.py;
this test reads every module of ``src/cnnlab`` and fails on any way in to pickle.
"""

import ast
import pathlib

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "src" / "cnnlab"
MODULES = sorted(SOURCE.rglob("*.py"))
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "marshal", "shelve",
                  "cloudpickle"}


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SOURCE)) for p in MODULES])
def test_module_cannot_unpickle(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            continue
        assert not names & UNSAFE_MODULES, f"{path.name}:{node.lineno} imports {names}"
    for call in _calls(tree):
        function = call.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        assert name not in {"eval", "exec"} or isinstance(function, ast.Attribute), \
            f"{path.name}:{call.lineno} calls {name}()"
        if name == "load" and isinstance(function, ast.Attribute) \
                and getattr(function.value, "id", "") in {"np", "numpy"}:
            keywords = {k.arg: k.value for k in call.keywords}
            assert "allow_pickle" in keywords and isinstance(keywords["allow_pickle"], ast.Constant) \
                and keywords["allow_pickle"].value is False, \
                f"{path.name}:{call.lineno}: np.load without allow_pickle=False"
        if name == "load" and isinstance(function, ast.Attribute) \
                and getattr(function.value, "id", "") == "torch":
            pytest.fail(f"{path.name}:{call.lineno}: torch.load unpickles")


def test_the_scan_sees_the_library():
    assert len(MODULES) > 50 and (SOURCE / "checkpoint.py") in MODULES

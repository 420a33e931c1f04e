"""``cnnlab export``, ``cnnlab predict --model model.onnx`` and ``cnnlab summary --model
model.onnx``: files that open elsewhere, the same predictions, and one-line errors."""

import contextlib
import io
import os
import re
import shlex
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import safetensors.torch
import torch

import cnnlab
from cnnlab.cli import main
from cnnlab.cli.predict import load_model
from cnnlab.data import MNIST

from model_twins import lenet


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short `cnnlab train` run and three MNIST test digits as PNG files."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("run")
    status, _, err = cli("train", "--limit-train", "320", "--limit-test", "100", "--epochs", "1",
                         "--out", folder, "--seed", "1", "-q")
    assert status == 0, err
    test = MNIST(train=False)
    images = []
    for i in range(3):
        images.append(folder / f"digit{i}.png")
        Image.fromarray(test.images[i]).save(images[-1])
    return folder, images


def test_export_onnx_runs_in_onnx_runtime_as_the_checkpoint(run, tmp_path):
    folder, _ = run
    status, out, err = cli("export", "--checkpoint", folder, "--to", tmp_path / "lenet.onnx")
    assert status == 0, err
    assert re.search(r"wrote .*lenet\.onnx \([\d,]+ bytes\)", out)
    model, _ = load_model(folder / "checkpoint.npz")
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "lenet.onnx"),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0],
                               model(cnnlab.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_export_safetensors_opens_in_pytorch(run, tmp_path):
    folder, _ = run
    status, out, err = cli("export", "--checkpoint", folder / "checkpoint.npz", "--to",
                           tmp_path / "lenet.safetensors", "-q")
    assert status == 0, err
    assert out.startswith("wrote ")
    theirs = lenet(torch.nn).eval()
    theirs.load_state_dict(safetensors.torch.load_file(tmp_path / "lenet.safetensors"))
    model, _ = load_model(folder / "checkpoint.npz")
    x = np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(cnnlab.tensor(x)).detach().numpy(), expected, rtol=1e-5,
                               atol=1e-6)
    metadata = cnnlab.serialization.read_metadata(tmp_path / "lenet.safetensors")
    assert '"classes": ["0 - zero"' in metadata["cnnlab.run"]


def test_predict_with_the_onnx_model_prints_what_the_checkpoint_gives(run, tmp_path):
    folder, images = run
    assert cli("export", "--checkpoint", folder, "--to", tmp_path / "m.onnx")[0] == 0
    status, from_onnx, err = cli("predict", "--model", tmp_path / "m.onnx", *images, "-q")
    assert status == 0, err
    status, from_checkpoint, err = cli("predict", "--checkpoint", folder / "checkpoint.npz",
                                       *images, "-q")
    assert status == 0, err
    assert from_onnx == from_checkpoint and len(from_onnx.splitlines()) == 3


def test_predict_with_a_foreign_onnx_model(run, tmp_path):
    _, images = run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(lenet(torch.nn).eval(), (torch.zeros(1, 1, 28, 28),),
                          str(tmp_path / "torch.onnx"), dynamo=False)
    status, out, err = cli("predict", "--model", tmp_path / "torch.onnx", images[0])
    assert status == 0, err
    assert "torch.onnx trained on an unknown data set (no cnnlab metadata" in out
    assert re.search(r"digit0\.png: (\d) - class \1, probability 0\.\d{4}", out)


def test_summary_of_an_onnx_model(run, tmp_path):
    folder, _ = run
    cli("export", "--checkpoint", folder, "--to", tmp_path / "m.onnx")
    status, out, err = cli("summary", "--model", tmp_path / "m.onnx")
    assert status == 0, err
    assert re.search(r"node 0 '0\.Conv' \(Conv\) +1x6x28x28 +156\n", out)
    assert "node 11 '11.Gemm' (Gemm)      1x10        850" in out
    assert out.rstrip().endswith("total parameters: 61,706 (opset 17, 12 nodes)")


@pytest.mark.parametrize("argv, message", [
    (["export", "--checkpoint", "{run}", "--to", "{tmp}/model.pt"],
     r"error: --to must name a \.onnx or \.safetensors file, got '.*model\.pt'"),
    (["export", "--checkpoint", "{tmp}/nothing", "--to", "{tmp}/m.onnx"],
     r"error: checkpoint '.*nothing' not found"),
    (["export", "--checkpoint", "{run}", "--to", "{tmp}/no/such/folder/m.onnx"],
     r"error: cannot write '.*m\.onnx': folder '.*folder' does not exist"),
    (["predict", "--model", "{tmp}/missing.onnx", "x.png"], r"error: model '.*missing\.onnx' "
                                                            r"not found"),
    (["predict", "--model", "{run}/checkpoint.npz", "x.png"],
     r"error: onnx\.load: .*checkpoint\.npz is not a valid ONNX model"),
    (["predict", "--model", "a.onnx", "--checkpoint", "b.npz", "x.png"],
     r"error: argument --checkpoint: not allowed with argument --model"),
    (["summary", "--model", "lenett"],
     r"error: argument --model: invalid choice: 'lenett'; did you mean 'lenet'\?"),
])
def test_one_line_errors(run, tmp_path, argv, message):
    folder, _ = run
    status, out, err = cli(*[a.format(run=folder, tmp=tmp_path) for a in argv])
    assert status == 2 and out == ""
    assert re.match(message, err) and err.count("\n") == 1, err


ROOT = Path(__file__).resolve().parents[1]


def readme_section():
    text = (ROOT / "README.md").read_text()
    return text.split("## When you outgrow cnnlab\n", 1)[1].split("\n## ", 1)[0]


def test_readme_when_you_outgrow_cnnlab_runs_as_written(run, tmp_path, monkeypatch):
    _, images = run
    section = readme_section()
    consoles = re.findall(r"```console\n(.*?)```", section, flags=re.S)
    commands = [line.split("  #")[0].strip() for block in consoles
                for line in block.splitlines() if line.strip()]
    assert [c.split()[:2] for c in commands] == [
        ["cnnlab", "train"], ["cnnlab", "export"], ["cnnlab", "export"], ["cnnlab", "predict"],
        ["cnnlab", "summary"], ["python", "examples/ddp_from_cnnlab.py"]]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digit.png").write_bytes(images[0].read_bytes())
    outputs = []
    for command in commands[:-1]:
        status, out, err = cli(*shlex.split(command)[1:])
        assert status == 0, (command, err)
        outputs.append(out)
    assert re.search(r"digit\.png: \d - \w+, probability", outputs[3])
    assert "total parameters: 61,706" in outputs[4]
    # the DDP command's flags are the example's (tests/test_ddp_example.py runs it)
    from test_ddp_example import load_example
    example = load_example()
    args = example.build_parser().parse_args(shlex.split(commands[-1])[2:])
    assert args.check and args.processes == 2
    # the Python block, as written, in the same folder
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["logits"].shape == (8, 10)
    model = namespace["model"]
    assert all(p.grad is not None for p in model.parameters())
    assert namespace["state"]["epoch"] == 3
    assert list(namespace["state"]["model"]) == list(model.state_dict())
    trained, _ = load_model(Path("runs/lenet/checkpoint.npz"))
    x = np.random.default_rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = namespace["twin"](torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(trained(cnnlab.tensor(x)).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    assert os.path.exists("run.pt")

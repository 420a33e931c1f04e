"""torch_compat's import hook, `cnnlab run-torch`, and the d2l helpers' own behaviour."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch as real_torch

import cnnlab
from cnnlab import torch_compat
from cnnlab.cli import main


def test_imports_resolve_to_cnnlab_and_are_restored():
    with torch_compat.installed():
        import torch
        import torch.utils.data  # noqa: F401
        from d2l import torch as d2l
        from torch import nn
        from torch.nn import functional as F

        assert torch.zeros(2).__class__ is cnnlab.Tensor
        assert nn.Conv2d is cnnlab.nn.Conv2d and F.conv2d is cnnlab.functional.conv2d
        assert d2l.Trainer is cnnlab.d2l.Trainer
        assert torch.cuda.device_count() == 0
        assert torch.utils.data.__name__ == "torch.utils.data"
    import torch
    assert torch is real_torch and sys.modules["torch"] is real_torch
    assert "d2l" not in sys.modules


def test_missing_names_name_the_torch_name():
    with torch_compat.installed():
        import torch
        from torch import nn

        with pytest.raises(AttributeError, match=r"torch\.nn\.GRU is not provided by cnnlab"):
            nn.GRU
        with pytest.raises(AttributeError, match=r"torch\.fft is not provided by cnnlab"):
            torch.fft
        with pytest.raises(ModuleNotFoundError, match=r"torch\.distributions is not provided"):
            import torch.distributions  # noqa: F401
        with pytest.raises(ModuleNotFoundError, match=r"d2l\.mxnet is not provided by cnnlab"):
            from d2l import mxnet  # noqa: F401


def test_run_torch_runs_a_script_with_its_arguments(tmp_path, capsys):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""\
        import sys
        import torch
        from torch import nn
        net = nn.Sequential(nn.LazyLinear(3))
        print(sys.argv[1:], type(torch.ones(1)).__module__, net(torch.ones(2, 4)).shape)
        """))
    assert main(["run-torch", str(script), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "['--epochs', '2'] cnnlab.tensor cnnlab.Size([2, 3])"
    assert sys.modules["torch"] is real_torch


def test_run_torch_exit_status_and_missing_script(tmp_path, capsys):
    script = tmp_path / "fails.py"
    script.write_text("import sys\nsys.exit(3)\n")
    assert main(["run-torch", str(script)]) == 3
    assert main(["run-torch", str(tmp_path / "absent.py")]) == 2
    assert "run-torch: no such script" in capsys.readouterr().err


def test_run_torch_leaves_other_processes_alone(tmp_path):
    """A fresh interpreter still imports the real torch: the hook is per process."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__file__)"],
                         capture_output=True, text=True, check=True).stdout
    assert "cnnlab" not in out and "torch" in out


def test_save_hyperparameters_and_add_to_class():
    from cnnlab import d2l

    class Model(d2l.HyperParameters):
        def __init__(self, a, b=2, _private=3, skipped=4):
            self.save_hyperparameters(ignore=["skipped"])

    model = Model(1)
    assert model.hparams == {"a": 1, "b": 2} and (model.a, model.b) == (1, 2)
    assert not hasattr(model, "skipped")

    @d2l.add_to_class(Model)
    def double(self):
        return 2 * self.a
    assert model.double() == 2


def test_trainer_fits_saves_curves_and_clips(tmp_path, monkeypatch, capsys):
    from cnnlab import d2l
    from cnnlab.d2l import data as d2l_data

    class Files:
        def __init__(self, train=True):
            rng = np.random.default_rng(0)
            self.images = rng.integers(0, 256, (40 if train else 20, 28, 28), dtype=np.uint8)
            self.labels = rng.integers(0, 10, len(self.images))

    monkeypatch.setattr(d2l_data, "FashionMNISTFiles", Files)
    monkeypatch.chdir(tmp_path)
    cnnlab.manual_seed(0)
    data = d2l.FashionMNIST(batch_size=16, resize=(32, 32))
    X, y = next(iter(data.get_dataloader(False)))
    assert X.shape == (16, 1, 32, 32) and X.dtype == cnnlab.float32 and y.dtype == cnnlab.int64
    assert float(X.min()) >= 0 and float(X.max()) <= 1
    assert len(data.get_dataloader(True)) == 3 and len(data.val) == 20
    model = d2l.LeNet(lr=0.1)
    model.apply_init([X], d2l.init_cnn)
    trainer = d2l.Trainer(max_epochs=2, gradient_clip_val=0.5)
    assert trainer.gpus == []
    trainer.fit(model, data)
    assert trainer.plot_path == "LeNet-training.png"
    png = (tmp_path / "LeNet-training.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(model.board.data) == {"train_loss", "val_loss", "val_acc"}
    assert [p.x for p in model.board.data["val_acc"]] == [1, 2]
    err = capsys.readouterr().err
    assert "epoch 2/2 train_loss" in err and "val_acc" in err
    norm = np.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
    assert norm <= 0.5 + 1e-5


def test_accuracy_and_loss_match_torch():
    from cnnlab import d2l

    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 10)), rng.integers(0, 10, 6)
    model = d2l.Classifier()
    accuracy = model.accuracy(cnnlab.tensor(logits), cnnlab.tensor(labels))
    expected = float((logits.argmax(1) == labels).mean())
    assert float(accuracy) == pytest.approx(expected)
    loss = model.loss(cnnlab.tensor(logits), cnnlab.tensor(labels))
    reference = real_torch.nn.functional.cross_entropy(real_torch.tensor(logits),
                                                       real_torch.tensor(labels))
    assert float(loss) == pytest.approx(float(reference), abs=1e-12)

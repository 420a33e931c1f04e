"""``cnnlab train``, ``predict``, ``summary`` and ``features``: what they print and write,
resume equality through the command line, and one-line errors (exit status 2)."""

import contextlib
import io
import re

import numpy as np
import pytest
import torch  # the oracle of the suite: fail, never skip, without it
from PIL import Image
from scipy import ndimage

import cnnlab
from cnnlab import checkpoint
from cnnlab.cli import main
from cnnlab.cli.predict import prepare_digit
from cnnlab.cli.train import ProgressBar, duration
from cnnlab.data import MNIST, FashionMNIST, to_tensor
from cnnlab.training import Progress, save_checkpoint

ACCURACY_LINE = re.compile(r"test accuracy (0\.\d{4}|1\.0000)")


def run(capsys, *argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, pattern):
    assert status == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, err), err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of `cnnlab train` on 640 real MNIST digits, 2 epochs: (folder, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("run")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["train", "--limit-train", "640", "--limit-test", "200", "--epochs", "2",
                       "--out", str(folder), "--seed", "1"])
    assert status == 0, err.getvalue()
    return folder, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def test_digits():
    test = MNIST(train=False)
    return test.images[:6], test.labels[:6]


# ------------------------------------------------------------ train


def test_train_prints_epochs_files_and_the_accuracy_last(trained):
    folder, out, err = trained
    lines = out.rstrip("\n").split("\n")
    assert ACCURACY_LINE.fullmatch(lines[-1]), lines[-1]
    assert lines[-3:-1] == [f"  {folder / 'checkpoint.npz'}", f"  {folder / 'training-curve.png'}"]
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    last_epoch_accuracy = re.search(r"test loss [\d.]+, accuracy ([\d.]+)", epochs[-1])[1]
    assert lines[-1] == f"test accuracy {last_epoch_accuracy}"
    assert "640 training images, 200 test images" in out
    # Not a terminal: one progress line per tenth of each epoch (10 steps of 64 each),
    # then the evaluation; nothing redrawn with \r.
    progress = [line for line in err.split("\n") if line.startswith("epoch ")]
    assert len(progress) == 20 and "\r" not in err
    assert re.fullmatch(r"epoch 1/2 \[#{2}\.{22}\]  10% 1/10  loss \d\.\d{4}  acc \d\.\d{4}  "
                        r"[\d,]+ img/s  ETA \d+:\d\d  run ETA \d+:\d\d", progress[0]), progress[0]
    assert progress[9].startswith("epoch 1/2 [" + "#" * 24 + "] 100% 10/10")
    # The epoch is done: nothing left of it, only the second epoch of the run.
    assert re.search(r"  ETA 0:00  run ETA \d+:\d\d$", progress[9]), progress[9]
    assert re.search(r"  ETA 0:00$", progress[19]), progress[19]
    assert err.count("evaluating on 200 test images\n") == 2


def test_train_checkpoint_and_curve(trained):
    folder, out, _ = trained
    loaded = checkpoint.load(folder / "checkpoint.npz")
    assert loaded["epoch"] == 2
    run_metadata = loaded["extra"]["run"]
    assert run_metadata["arguments"] == {
        "dataset": "mnist", "epochs": 2, "batch_size": 64, "optimizer": "sgd", "lr": 0.05,
        "momentum": 0.9, "limit_train": 640, "limit_test": 200, "seed": 1}
    assert run_metadata["model"] == "lenet" and run_metadata["normalize"] == [0.1307, 0.3081]
    assert run_metadata["classes"][7] == "7 - seven"
    assert sorted(loaded["optimizer_state"]["state"]) == list(range(10))
    assert loaded["rng_state"]["bit_generator"] == "PCG64"
    log = loaded["extra"]["log"]
    assert [e["epoch"] for e in log["epochs"]] == [1, 2]
    assert f"test accuracy {log['epochs'][-1]['test_accuracy']:.4f}" in out
    assert len(log["points"]) == 20 and log["points"][-1]["epoch"] == 2.0
    with Image.open(folder / "training-curve.png") as picture:
        assert picture.size == (1040, 380)
        colours = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    # The train curves (C0 blue) and the test markers (C3 red) are drawn.
    assert (np.abs(colours.astype(int) - (31, 119, 180)).sum(axis=1) < 30).sum() > 200
    assert (np.abs(colours.astype(int) - (214, 39, 40)).sum(axis=1) < 30).sum() > 50


def test_resume_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, capsys):
    common = ["--limit-train", "192", "--limit-test", "100", "--seed", "2", "--quiet"]
    status, straight_out, _ = run(capsys, "train", *common, "--epochs", "2",
                                  "--out", tmp_path / "straight")
    assert status == 0
    status, _, _ = run(capsys, "train", *common, "--epochs", "1", "--out", tmp_path / "split")
    assert status == 0
    status, resumed_out, _ = run(capsys, "train", "--resume", "--epochs", "2", "--quiet",
                                 "--out", tmp_path / "split")
    assert status == 0
    straight = checkpoint.load(tmp_path / "straight" / "checkpoint.npz")
    resumed = checkpoint.load(tmp_path / "split" / "checkpoint.npz")
    assert resumed["epoch"] == straight["epoch"] == 2
    for name, value in straight["model_state"].items():
        np.testing.assert_array_equal(resumed["model_state"][name], value, err_msg=name)
    for index, state in straight["optimizer_state"]["state"].items():
        np.testing.assert_array_equal(resumed["optimizer_state"]["state"][index]
                                      ["momentum_buffer"], state["momentum_buffer"])
    assert resumed["extra"]["run"] == straight["extra"]["run"]
    assert resumed_out.split("\n")[-2] == straight_out.split("\n")[-2]  # the accuracy line
    # --quiet: the epoch line(s), the files, the accuracy; no progress bar.
    assert len(resumed_out.strip().split("\n")) == 4


def test_resume_refuses_other_settings_and_missing_runs(tmp_path, capsys):
    folder = tmp_path / "run"
    status, _, _ = run(capsys, "train", "--limit-train", "64", "--limit-test", "10", "--quiet",
                       "--out", folder)
    assert status == 0
    status, _, err = run(capsys, "train", "--resume", "--lr", "0.1", "--out", folder)
    assert_one_line_error(status, err, r"--resume: --lr 0.1 differs from the run's 0.05 \(.*"
                                       r"checkpoint.npz\); a resumed run keeps its settings")
    status, _, err = run(capsys, "train", "--limit-train", "64", "--out", folder)
    assert_one_line_error(status, err, r"already holds a run \(checkpoint.npz\): add --resume")
    status, _, err = run(capsys, "train", "--resume", "--out", tmp_path / "nothing")
    assert_one_line_error(status, err, r"--resume: no checkpoint.npz in '.*nothing' to continue")
    status, _, err = run(capsys, "train", "--resume")
    assert_one_line_error(status, err, r"--resume needs --out DIR")
    status, out, err = run(capsys, "train", "--resume", "--out", folder, "--quiet")
    assert status == 0 and ACCURACY_LINE.fullmatch(out.split("\n")[-2])
    assert "epoch 1/1" not in out  # nothing left to train
    # A training checkpoint whose settings were not written by `cnnlab train`.
    odd = tmp_path / "odd"
    odd.mkdir()
    model = cnnlab.models.lenet5()
    save_checkpoint(odd / "checkpoint.npz", model, cnnlab.optim.SGD(model.parameters(), lr=0.1),
                    epoch=1, metadata={"model": "lenet", "arguments": {"dataset": "cifar",
                                                                       "seed": -1}})
    status, _, err = run(capsys, "train", "--resume", "--out", odd)
    assert_one_line_error(status, err, r"has missing or invalid run settings \['dataset', "
                                       r"'optimizer', 'lr', 'epochs', 'batch_size', 'seed'\] in "
                                       r"its metadata")


def test_train_argument_errors(capsys):
    status, _, err = run(capsys, "train", "--optimizer", "adam", "--momentum", "0.5")
    assert_one_line_error(status, err, r"--momentum applies to --optimizer sgd only")
    status, _, err = run(capsys, "train", "--momentum", "1")
    assert_one_line_error(status, err, r"argument --momentum: expected a number in \[0, 1\)")
    status, _, err = run(capsys, "train", "--limit-test", "20000", "--out", "unused")
    assert_one_line_error(status, err, r"--limit-test 20000: the test set has only 10,000 images")


def test_missing_dataset_is_one_line_with_the_how_to(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    status, out, err = run(capsys, "train", "--data", empty, "--offline", "--out",
                           tmp_path / "run")
    assert_one_line_error(status, err, r"MNIST not found \(searched: " + re.escape(str(empty)) +
                          r"\); --offline forbids downloading. Fix: put the files in ")
    assert len(err) < 300
    assert out == "" and not (tmp_path / "run").exists()


def test_missing_dataset_offline_names_the_install_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(FashionMNIST, "offline_folders", classmethod(lambda cls: []))
    status, _, err = run(capsys, "train", "--dataset", "fashion-mnist", "--offline",
                         "--out", tmp_path / "run")
    assert_one_line_error(status, err, r"FashionMNIST not found \(searched: .*\); --offline "
                          r"forbids downloading. Fix: run it without --offline, or sudo "
                          r"apt-get install dataset-fashion-mnist$")
    assert len(err) < 300


def test_progress_bar_redraws_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(stream, min_interval_s=0.0, test_images=10)
    bar.columns = 120  # whatever the terminal running the tests is
    for step in range(1, 4):
        bar(Progress(1, 1, step, 3, 64 * step, 192, 2.0, 0.5, 0.1 * step))
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\nevaluating on 10 test images\n")
    assert "epoch 1/1 [" + "#" * 24 + "] 100% 3/3  loss 2.0000  acc 0.5000  640 img/s  ETA 0:00" \
        in text
    assert [duration(s) for s in (75.4, 3725, float("inf"))] == ["1:15", "1:02:05", "--:--"]


# ------------------------------------------------------------ predict


def save_digits(folder, images, invert):
    paths = []
    for index, image in enumerate(images):
        path = folder / f"digit{index}{'-inverted' if invert else ''}.png"
        Image.fromarray(255 - image if invert else image, "L").save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("invert", [False, True], ids=["light-on-dark", "dark-on-light"])
def test_predict_equals_the_models_own_prediction(trained, test_digits, tmp_path, capsys,
                                                  invert):
    folder, _, _ = trained
    images, _ = test_digits
    paths = save_digits(tmp_path, images, invert)
    status, out, _ = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz", *paths)
    assert status == 0
    lines = [line for line in out.split("\n") if line.startswith(str(tmp_path))]
    assert len(lines) == len(images)

    from cnnlab.cli.predict import load_model

    model, _ = load_model(folder / "checkpoint.npz")
    with cnnlab.no_grad():
        probabilities = cnnlab.softmax(model(to_tensor(images)), dim=1).numpy()
    for path, line, row in zip(paths, lines, probabilities):
        match = re.fullmatch(re.escape(str(path)) + r": (\d) - \w+, probability ([\d.]+) "
                             r"\(next: \d, [\d.]+\)(; inverted \(dark on light\))?", line)
        assert match, line
        assert int(match[1]) == row.argmax()
        assert float(match[2]) == pytest.approx(row.max(), abs=5e-5)
        assert bool(match[3]) == invert


def test_predict_quiet_and_non_square_images(trained, test_digits, tmp_path, capsys):
    folder, _, _ = trained
    images, _ = test_digits
    # The digit at twice the size, on a wider dark-on-light canvas.
    canvas = np.full((56, 80), 255, np.uint8)
    canvas[:, 12:68] = 255 - np.kron(images[0], np.ones((2, 2), np.uint8))
    Image.fromarray(canvas, "L").save(tmp_path / "wide.png")
    status, out, _ = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz",
                         "--quiet", tmp_path / "wide.png")
    assert status == 0
    assert re.fullmatch(re.escape(str(tmp_path / "wide.png")) + r": \d - \w+, probability "
                        r"[\d.]+\n", out), out


def test_predict_reads_a_dark_digit_on_transparency(trained, test_digits, tmp_path, capsys):
    """A dark digit on a transparent PNG (transparent pixels stored black) is the digit,
    not a black square: the same answer as the opaque light-on-dark original."""
    folder, _, _ = trained
    images, _ = test_digits
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = images[0]  # the ink is opaque, the background transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    Image.fromarray(images[0], "L").save(tmp_path / "opaque.png")
    status, out, _ = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz",
                         "--quiet", tmp_path / "transparent.png", tmp_path / "opaque.png")
    assert status == 0
    first, second = out.splitlines()
    assert first.split(": ", 1)[1] == second.split(": ", 1)[1]
    from cnnlab.digits import decode_gray

    # a blank picture is answered too, but with a warning
    Image.fromarray(np.zeros((28, 28, 4), np.uint8), "RGBA").save(tmp_path / "blank.png")
    status, out, err = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz",
                           "--quiet", tmp_path / "blank.png")
    assert status == 0 and out.startswith(f"{tmp_path / 'blank.png'}: ")
    assert err == (f"warning: '{tmp_path / 'blank.png'}' has no digit after preparation "
                   "(every pixel below 26 of 255): its answer means nothing\n")
    gray = decode_gray(tmp_path / "transparent.png")
    # composited over white: the ink stays dark (black), the background white
    np.testing.assert_allclose(gray, 1 - images[0] / 255, atol=1 / 255 + 1e-6)


def test_predict_goes_on_after_a_bad_image(trained, test_digits, tmp_path, capsys):
    folder, _, _ = trained
    images, _ = test_digits
    paths = save_digits(tmp_path, images[:2], invert=False)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    status, out, err = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz",
                           "--quiet", paths[0], broken, paths[1])
    assert status == 2
    assert [line.split(":")[0] for line in out.splitlines()] == [str(p) for p in paths]
    assert err.splitlines() == [
        f"error: cannot read image '{broken}': not an image in a known format (PNG, JPEG, "
        "GIF, BMP, TIFF, WEBP)", "error: 1 of 3 images could not be read"]


def test_prepare_digit(test_digits):
    images, _ = test_digits
    digit = images[1]
    gray = digit.astype(np.float32) / 255
    same, inverted = prepare_digit(gray)
    np.testing.assert_array_equal(same, digit)
    assert not inverted
    inverse, inverted = prepare_digit(1 - gray)
    np.testing.assert_array_equal(inverse, digit)
    assert inverted
    # Wider than high: padded to a square with the background, centred, then resized.
    wide = np.zeros((28, 56), np.float32)
    wide[:, 14:42] = gray
    squeezed, _ = prepare_digit(wide)
    assert squeezed.shape == (28, 28)
    assert squeezed[:7].max() == squeezed[-7:].max() == 0  # the padding rows
    assert squeezed[7:21].max() > 200


def test_predict_errors(trained, tmp_path, capsys):
    folder, _, _ = trained
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8), "L").save(image)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint at all")
    status, out, err = run(capsys, "predict", "--checkpoint", garbage, image)
    assert_one_line_error(status, err, r"garbage.npz is not a cnnlab checkpoint: not a NumPy "
                                       r".npz \(zip\) archive")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes((folder / "checkpoint.npz").read_bytes()[:5000])
    status, _, err = run(capsys, "predict", "--checkpoint", truncated, image)
    assert_one_line_error(status, err, r"truncated.npz is (truncated or corrupt|not a valid)")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    status, _, err = run(capsys, "predict", "--checkpoint", foreign, image)
    assert_one_line_error(status, err, r"foreign.npz is not a valid cnnlab checkpoint: no "
                                       r"__cnnlab_checkpoint__ entry")
    plain = tmp_path / "plain.npz"
    checkpoint.save(plain, {"weight": np.zeros(3)})
    status, _, err = run(capsys, "predict", "--checkpoint", plain, image)
    assert_one_line_error(status, err, r"not one written by cnnlab.training")
    status, _, err = run(capsys, "predict", "--checkpoint", tmp_path / "missing.npz", image)
    assert_one_line_error(status, err, r"checkpoint '.*missing.npz' not found")
    status, _, err = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz",
                         garbage)
    assert_one_line_error(status, err, r"cannot read image '.*garbage.npz'")
    status, _, err = run(capsys, "predict", "--checkpoint", folder / "checkpoint.npz")
    assert_one_line_error(status, err, r"the following arguments are required: IMAGE")
    assert out == ""


# ------------------------------------------------------------ summary


def test_summary_prints_the_table(capsys):
    status, out, _ = run(capsys, "summary")
    assert status == 0
    assert str(cnnlab.summary(cnnlab.models.lenet5(), (1, 28, 28))) in out
    assert "Total params: 61,706" in out and "Total mult-adds: 416,520" in out
    status, quiet, _ = run(capsys, "summary", "--model", "lenet", "--input", "8x1x28x28", "-q")
    assert status == 0 and quiet.startswith("-----") and "[8, 10]" in quiet
    assert "Total mult-adds: 3,332,160" in quiet


def test_summary_of_alexnet_from_the_registry(capsys):
    """--model takes any model of cnnlab.models, on its usual input (224x224 here); the
    parameter count is PyTorch's for the same layers."""
    status, out, _ = run(capsys, "summary", "--model", "alexnet", "-q")
    assert status == 0
    assert "[1, 96, 54, 54]" in out and "[1, 256, 5, 5]" in out and "[1, 10]" in out
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(1, 96, 11, 4, 1), torch.nn.Conv2d(96, 256, 5, padding=2),
        torch.nn.Conv2d(256, 384, 3, padding=1), torch.nn.Conv2d(384, 384, 3, padding=1),
        torch.nn.Conv2d(384, 256, 3, padding=1), torch.nn.Linear(6400, 4096),
        torch.nn.Linear(4096, 4096), torch.nn.Linear(4096, 10))
    assert f"Total params: {sum(p.numel() for p in twin.parameters()):,}" in out


@pytest.mark.parametrize("argv, pattern", [
    (["--input", "1x32x32"], (r"lenet does not accept an input of shape 1x32x32: linear: "
                              r"input's last dimension must equal in_features = 400")),
    (["--input", "28"], r"argument --input: expected CxHxW \(e.g. 1x28x28\), HxW or NxCxHxW"),
    (["--input", "1x0x28"], r"argument --input: sizes must be >= 1"),
    (["--model", "resnet"], r"argument --model: invalid choice: 'resnet'"),
], ids=["too-big", "one-number", "zero", "unknown-model"])
def test_summary_errors(capsys, argv, pattern):
    status, _, err = run(capsys, "summary", *argv)
    assert_one_line_error(status, err, pattern)


# ------------------------------------------------------------ features


def panel_count(path) -> int:
    """Panels = black frames: fill each frame's inside, count the big filled boxes."""
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("RGB")).astype(int)
    frames = (pixels < 60).all(axis=2)
    labels, count = ndimage.label(ndimage.binary_fill_holes(frames))
    sizes = ndimage.sum(np.ones_like(labels), labels, range(1, count + 1))
    return int((sizes > 5000).sum())


def test_features_draws_input_kernels_and_maps(trained, test_digits, tmp_path, capsys):
    folder, _, _ = trained
    images, _ = test_digits
    image = save_digits(tmp_path, images[:1], invert=True)[0]
    out_file = tmp_path / "pictures" / "features.png"
    status, out, _ = run(capsys, "features", "--checkpoint", folder / "checkpoint.npz",
                         "--image", image, "--out", out_file)
    assert status == 0
    assert out.rstrip().split("\n")[-1] == \
        f"{out_file}: 13 panels (input, 6 kernels, 6 feature maps)"
    assert "before ReLU" in out and "inverted" in out
    with Image.open(out_file) as picture:
        assert picture.size == (1430, 510)  # input on the left: no empty row
        pixels = np.asarray(picture.convert("L"))
    assert panel_count(out_file) == 13
    # little empty space: most columns and rows of the picture have something drawn
    assert (pixels < 250).any(axis=0).mean() > 0.9 and (pixels < 250).any(axis=1).mean() > 0.85


def test_features_errors(trained, tmp_path, capsys):
    folder, _, _ = trained
    status, _, err = run(capsys, "features", "--checkpoint", folder / "checkpoint.npz",
                         "--image", tmp_path / "none.png")
    assert_one_line_error(status, err, r"cannot read image '.*none.png'")
    status, _, err = run(capsys, "features", "--checkpoint", tmp_path, "--image", "x.png")
    assert_one_line_error(status, err, r"is a directory, not a file")


@pytest.mark.parametrize("command", ["train", "predict", "summary", "features"])
def test_help(capsys, command):
    status, out, err = run(capsys, command, "--help")
    assert status == 0 and err == ""
    assert out.startswith(f"usage: cnnlab {command}") and "examples:" in out
    assert "--quiet" in out

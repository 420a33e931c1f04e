"""The command line: printed numbers equal the chapter's, pictures read back right,
bad input is one ``error:`` line with exit status 2.

Most tests call ``main([...])`` in-process (fast); a few run ``python -m cnnlab`` and the
``cnnlab`` console script end to end.
"""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image

from cnnlab import viz
from cnnlab.cli import main
from cnnlab.cli import _common as common
from cnnlab.cli.animate import conv_animation, pool_animation

# The notebook's printed outputs (torch. read as cnnlab.).
SEED_CORR2D = "tensor([[ 4.,  6.],\n        [10., 12.]])"
SEED_LEARNED = """weight:  tensor([[ 1.3820, -0.5599]])
bias:  tensor([-0.1046])
Step 5, loss 0.466
Step 10, loss 0.053
Step 15, loss 0.006
Step 20, loss 0.001
Step 25, loss 0.000
Step 30, loss 0.000
weight:  tensor([[ 0.9998, -0.9990]])
bias:  tensor([-0.0004])"""
SEED_MULTI_IN = "tensor([[ 56.,  72.],\n        [104., 120.]])"
SEED_MULTI_OUT = """tensor([[[ 56.,  72.],
         [104., 120.]],

        [[ 76., 100.],
         [148., 172.]],

        [[ 96., 128.],
         [192., 224.]]])"""
SEED_POOL = [
    "tensor([[4., 5.],\n        [7., 8.]])",
    "tensor([[2., 3.],\n        [5., 6.]])",
    "tensor([[[[ 0.,  1.,  2.,  3.],\n          [ 4.,  5.,  6.,  7.],\n"
    "          [ 8.,  9., 10., 11.],\n          [12., 13., 14., 15.]]]])",
    "tensor([[ 5.,  6.,  7.],\n        [ 9., 10., 11.],\n        [13., 14., 15.]])",
    "tensor([[[[10.]]]])",
    "tensor([[[[ 5.,  7.],\n          [13., 15.]]]])",
    "tensor([[[[ 1.,  3.],\n          [ 9., 11.],\n          [13., 15.]]]])",
    "tensor([[[[ 5.,  7.],\n          [13., 15.]],\n\n         [[ 6.,  8.],\n"
    "          [14., 16.]]]])",
]
SEED_SHAPES = ["cnnlab.Size([8, 8])", "cnnlab.Size([4, 4])", "cnnlab.Size([2, 2])"]
TOUR_FILES = ["corr2d.png", "conv2d-layer.png", "edges-input.png", "edges-output.png",
              "learn-kernel.png", "corr-vs-conv.png", "receptive-field.png",
              "padding-stride.gif", "multi-in.png", "multi-out.png", "1x1-conv.png",
              "pool.png", "pool.gif"]


def run(capsys, *argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr)."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, pattern):
    assert status == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, err), err


# ------------------------------------------------------------ end to end


def test_tour_end_to_end(tmp_path):
    out = tmp_path / "pictures"
    result = subprocess.run([sys.executable, "-m", "cnnlab", "tour", "--out", str(out),
                             "--seed", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    text = result.stdout
    for expected in [SEED_CORR2D, SEED_LEARNED, SEED_MULTI_IN, SEED_MULTI_OUT, *SEED_POOL,
                     *SEED_SHAPES, "cnnlab.Size([3, 2, 2, 2])", "cnnlab.float32"]:
        assert expected in text, expected
    # Sections in the chapter's order, and the files listed last, all written.
    headings = re.findall(r"^(\d+)\. (.+)$", text, re.M)
    assert [int(n) for n, _ in headings] == list(range(1, 12))
    assert headings[0][1].startswith("Cross-correlation") and headings[-1][1] == "Pooling"
    listed = text.split("Files written (13):\n")[1].split("\n\n")[0].split()
    assert listed == [str(out / name) for name in TOUR_FILES]
    # It ends with what to try next.
    assert re.search(r"What next:\n  cnnlab explore +a trained LeNet-5 .*\n  cnnlab train +"
                     r"train LeNet-5 on MNIST .*\n$", text), text[-400:]
    for name in TOUR_FILES:
        assert (out / name).stat().st_size > 500


def test_console_script_and_bad_input_end_to_end():
    script = shutil.which("cnnlab")
    assert script is not None, "the cnnlab console script is not installed"
    result = subprocess.run([script, "shape", "--input", "8y8", "--kernel", "3"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("error: argument --input: expected a size HxW (e.g. 8x8) or one "
                             "number for a square, got '8y8' (see 'cnnlab shape --help')\n")


def test_library_does_not_import_the_cli_or_pictures():
    code = ("import sys, cnnlab, cnnlab.nn, cnnlab.functional, cnnlab.receptive; "
            "print(sorted(m for m in ('cnnlab.cli', 'cnnlab.viz', 'PIL', 'matplotlib') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


# ------------------------------------------------------------ tour


def test_tour_quiet_and_reproducible(tmp_path, capsys):
    status, out, _ = run(capsys, "tour", "--out", str(tmp_path), "--quiet")
    assert status == 0
    # Without --seed the tour draws one and prints it first.
    seed = re.match(r"seed: (\d+) \(pass --seed \1 to repeat this run\)\n", out)
    assert seed
    # --quiet keeps the numbers and the files, drops headings and explanations.
    assert SEED_CORR2D in out and SEED_LEARNED in out and SEED_MULTI_OUT in out
    assert "Cross-correlation (the operation" not in out and "----" not in out
    assert "slides the kernel" not in out
    assert out.rstrip().split("\n")[-13:] == [str(tmp_path / name) for name in TOUR_FILES]
    steps = re.findall(r"Step (\d+), loss (\d+\.\d{3})", out)
    assert [s for s, _ in steps] == ["5", "10", "15", "20", "25", "30"] * 2
    # The same seed repeats the run exactly.
    again = run(capsys, "tour", "--out", str(tmp_path), "--quiet", "--seed", seed[1])[1]
    assert again == f"seed: {seed[1]}\n" + out[seed.end():]


@pytest.mark.parametrize("target", ["file", "file/below"])
def test_tour_unwritable_directory_is_one_line_error(tmp_path, capsys, target):
    (tmp_path / "file").write_text("not a directory")
    status, out, err = run(capsys, "tour", "--out", str(tmp_path / target))
    assert_one_line_error(status, err, r"cannot write pictures to directory .*file")
    assert out == ""


# ------------------------------------------------------------ edges


def test_edges_pictures_have_the_edges_where_the_seed_has_them(tmp_path, capsys):
    status, out, _ = run(capsys, "edges", "--out", str(tmp_path), "--scale", "10")
    assert status == 0
    expected_y = "\n".join(["tensor([[ 0.,  1.,  0.,  0.,  0., -1.,  0.],"]
                           + ["        [ 0.,  1.,  0.,  0.,  0., -1.,  0.],"] * 4
                           + ["        [ 0.,  1.,  0.,  0.,  0., -1.,  0.]])"])
    assert expected_y in out
    (left, top, width, height), size = viz.image_figure_box((6, 8), 10,
                                                            "input: the chapter's image, 6x8")
    assert (width, height) == (80, 60)
    with Image.open(tmp_path / "edges-input.png") as picture:
        assert picture.size == size
        gray = np.asarray(picture.convert("L")).astype(int)
    cells = gray[top + 5:top + height:10, left + 5:left + width:10]  # each cell's centre
    np.testing.assert_array_equal(cells, [[255, 255, 0, 0, 0, 0, 255, 255]] * 6)
    assert_framed_and_titled(gray, left, top, width, height)
    (left, top, width, height), size = viz.image_figure_box(
        (6, 7), 10, "Y = corr2d(input, K), K = [[1.0, -1.0]]")
    with Image.open(tmp_path / "edges-output.png") as picture:
        assert picture.size == size
        output = picture.convert("RGB")
    assert_framed_and_titled(np.asarray(output.convert("L")).astype(int), left, top, width,
                             height)
    colours = [[output.getpixel((left + c * 10 + 5, top + r * 10 + 5)) for c in range(7)]
               for r in range(6)]
    zero = colours[0][0]
    for row in colours:
        assert row[1] != zero and row[5] != zero and row[1] != row[5]
        assert all(row[c] == zero for c in (0, 2, 3, 4, 6))
        assert row[1][0] > 100 and row[1][2] < 60  # +1: red
        assert row[5][2] > 80 and row[5][0] < 20  # -1: blue
    assert min(zero) > 230  # 0: white


def assert_framed_and_titled(gray, left, top, width, height):
    """Text above the cells (a title), left of them (the row axis) and below them (the
    column axis), and a dark frame around them."""
    assert gray[:top - 8, left:left + width].min() < 100  # the title
    assert gray[top:top + height, :left - 4].min() < 100  # row ticks and label
    assert gray[top + height + 4:, left:left + width].min() < 100  # column ticks and label
    assert gray[top - 1, left:left + width].max() < 100 or gray[top, left:left + width].max() < 100


def test_edges_of_an_image_file(tmp_path, capsys):
    values = np.zeros((12, 10), dtype=np.uint8)
    values[:, 4:] = 255  # dark left, bright right: one vertical edge
    Image.fromarray(values, "L").convert("RGB").save(tmp_path / "step.png")
    status, out, _ = run(capsys, "edges", "--image", str(tmp_path / "step.png"),
                         "--out", str(tmp_path), "--kernel", "1,-1", "--scale", "3")
    assert status == 0 and "12x10 pixels" in out
    with Image.open(tmp_path / "edges-input.png") as picture:
        assert picture.size == viz.image_figure_box(
            (12, 10), 3, f"input: {tmp_path / 'step.png'}, 12x10")[1]
    (left, top, _, _), _ = viz.image_figure_box((12, 9), 3,
                                                "Y = corr2d(input, K), K = [[1.0, -1.0]]")
    with Image.open(tmp_path / "edges-output.png") as picture:
        output = picture.convert("RGB")
    colours = [output.getpixel((left + c * 3 + 2, top + 16)) for c in range(9)]  # off the frame
    assert colours[3][2] > 80 and colours[3][0] < 20  # 0 - 1 = -1 at column 3: blue
    assert len({colours[c] for c in (1, 2, 4, 5, 6, 7)}) == 1
    assert min(colours[0]) > 200 and min(colours[8]) > 200  # white, blended with the frame


# ------------------------------------------------------------ learn-kernel


def test_learn_kernel_replays_the_notebook(tmp_path, capsys):
    status, out, _ = run(capsys, "learn-kernel", "--out", str(tmp_path),
                         "--init-weight", "1.3820,-0.5599", "--init-bias", "-0.1046")
    assert status == 0
    assert out.startswith(SEED_LEARNED + "\n")
    with Image.open(tmp_path / "learn-kernel.png") as plot:
        assert plot.width > 600 and plot.height > 200


def test_learn_kernel_seed_steps_and_every(tmp_path, capsys):
    argv = ["learn-kernel", "--out", str(tmp_path), "--seed", "5", "--steps", "12",
            "--every", "4", "--lr", "0.01", "-q"]
    status, out, _ = run(capsys, *argv)
    assert status == 0 and run(capsys, *argv)[1] == out
    assert re.findall(r"Step (\d+), loss", out) == ["4", "8", "12"]
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", out)]
    assert losses == sorted(losses, reverse=True)
    other = run(capsys, *argv[:4], "6", *argv[5:])[1]
    assert other.split("\n")[0] != out.split("\n")[0]  # another random start


# ------------------------------------------------------------ shape


def torch_output(kind, input_size, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    x = torch.zeros((1, 1) + input_size)
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    if kind == "conv":
        return tuple(TF.conv2d(x, torch.zeros(1, 1, *kernel), stride=stride, padding=padding,
                               dilation=dilation).shape[2:])
    return tuple(TF.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode).shape[2:])


@pytest.mark.parametrize("argv, kind, expected", [
    (["--input", "8x8", "--kernel", "3", "--padding", "1"], "conv", ((8, 8), 3, 1, 1)),
    (["--input", "8x8", "--kernel", "3", "--padding", "1", "--stride", "2"], "conv",
     ((8, 8), 3, 2, 1)),
    (["--input", "8x8", "--kernel", "5x5", "--padding", "0,1", "--stride", "3,4"], "conv",
     ((8, 8), (5, 5), (3, 4), (0, 1))),
    (["--input", "224", "--kernel", "11", "--stride", "4", "--padding", "1"], "conv",
     ((224, 224), 11, 4, 1)),
    (["--input", "9x7", "--kernel", "3,2", "--dilation", "2,3"], "conv",
     ((9, 7), (3, 2), 1, 0, (2, 3))),
    (["--input", "4x4", "--kernel", "3", "--padding", "1", "--stride", "2", "--pool"], "pool",
     ((4, 4), 3, 2, 1)),
    (["--input", "4x4", "--kernel", "2,4", "--padding", "1,2", "--stride", "2,3", "--pool"],
     "pool", ((4, 4), (2, 4), (2, 3), (1, 2))),
    (["--input", "5x5", "--kernel", "2", "--pool", "--ceil-mode"], "pool",
     ((5, 5), 2, 2, 0, 1, True)),
    (["--input", "6x6", "--kernel", "3", "--pool", "--ceil-mode", "--stride", "2",
      "--padding", "1"], "pool", ((6, 6), 3, 2, 1, 1, True)),
], ids=["seed-same", "seed-stride2", "seed-5x5", "alexnet-conv1", "dilated", "pool-seed",
        "pool-seed-rect", "pool-ceil", "pool-ceil-padded"])
def test_shape_matches_pytorch(capsys, argv, kind, expected):
    status, out, _ = run(capsys, "shape", *argv, "--quiet")
    assert status == 0
    height, width = torch_output(kind, *expected)
    assert out == f"output: {height}x{width}\n"


def test_shape_prints_the_formula_with_the_seed_numbers(capsys):
    status, out, _ = run(capsys, "shape", "--input", "8x8", "--kernel", "5x5", "--padding",
                         "0,1", "--stride", "3,4")
    assert status == 0
    assert "out_height = floor((in + pad_lo + pad_hi - dilation*(kernel-1) - 1) / stride) + 1\n"\
           "           = floor((8 + 0 + 0 - 1*(5-1) - 1) / 3) + 1\n           = 2\n" in out
    assert "           = floor((8 + 1 + 1 - 1*(5-1) - 1) / 4) + 1\n           = 2\n" in out
    assert "output: 2x2\n" in out
    # The chapter's own form, on the chapter's numbers: (8-5+2*0+3)/3 and (8-5+2*1+4)/4.
    assert "floor((8 - 5 + 2*0 + 3) / 3) = 2" in out and "floor((8 - 5 + 2*1 + 4) / 4) = 2" in out
    assert "padding 'same' gives ceil(in / stride) = 3x2: padding=((1, 2), (0, 1))" in out


def test_shape_same_padding_keeps_the_size(capsys):
    out = run(capsys, "shape", "--input", "8x8", "--kernel", "3")[1]
    assert "padding that keeps the size 8x8 ('same'): padding=1" in out
    out = run(capsys, "shape", "--input", "8x8", "--kernel", "4", "--padding", "same")[1]
    assert "output: 8x8" in out and "padding=((1, 2), (1, 2))" in out


def test_shape_notes_pooling_padding_beyond_pytorch(capsys):
    out = run(capsys, "shape", "--input", "4x4", "--kernel", "3", "--pool", "--padding", "2")[1]
    assert "output: 2x2" in out and "PyTorch's pooling layers require padding <=" in out


# ------------------------------------------------------------ errors


@pytest.mark.parametrize("argv, pattern", [
    (["shape", "--input", "8y8", "--kernel", "3"], r"--input: expected a size HxW .* '8y8'"),
    (["shape", "--input", "8x8", "--kernel", "3", "--stride", "-1"],
     r"--stride: must be >= 1, got '-1'"),
    (["shape", "--input", "8x8", "--kernel", "0"], r"--kernel: must be >= 1"),
    (["shape", "--input", "8x8", "--kernel", "3", "--padding", "-1"], r"--padding: expected"),
    (["shape", "--input", "8x8", "--kernel", "9"],
     r"larger than the padded input 8 \+ 0 \+ 0 = 8.*= 0$"),
    (["shape", "--input", "8x8", "--kernel", "3", "--ceil-mode"], r"--ceil-mode applies to "),
    (["shape", "--input", "4x4", "--kernel", "2", "--pool", "--padding", "2"],
     r"no input element"),
    (["shape", "--kernel", "3"], r"the following arguments are required: --input"),
    (["bogus"], r"invalid choice: 'bogus' \(choose from 'tour', .*\(see 'cnnlab --help'\)$"),
    (["tarin"], r"invalid choice: 'tarin'; did you mean 'train'\? \(see 'cnnlab --help'\)$"),
    (["shape", "--input", "8", "--kernel", "3", "--size", "2"],
     r"^error: unrecognized arguments: --size 2 \(see 'cnnlab shape --help'\)$"),
    (["--frobnicate"], r"^error: unrecognized arguments: --frobnicate \(see 'cnnlab --help'\)"),
    (["receptive-field", "--model", "lenett"],
     r"invalid choice: 'lenett'; did you mean 'lenet'\? \(see 'cnnlab receptive-field --help'\)"),
    (["receptive-field", "conv3,pol2"], r"cannot read layer 'pol2'"),
    (["receptive-field"], r"give either a layer chain"),
    (["receptive-field", "conv3,conv3", "--input", "3x3"], r"larger than the padded input"),
    (["animate", "conv", "--input", "3x3", "--kernel", "5"], r"larger than the padded input"),
    (["animate", "conv", "--input", "100x100"], r"9605 frames"),
    (["animate", "circle"], r"invalid choice: 'circle'"),
    (["edges", "--kernel", "1,a"], r"--kernel: expected numbers"),
    (["corr2d", "--input", "1,2;3"], r"all rows of one length"),
    (["learn-kernel", "--lr", "-1"], r"--lr: expected a positive number"),
    (["learn-kernel", "--init-weight", "1,2"], r"give both --init-weight and --init-bias"),
    (["learn-kernel", "--init-weight", "1,2,3", "--init-bias", "0"],
     r"--init-weight has shape \(1, 3\), but the kernel has shape \(1, 2\)"),
    (["pool", "--stride", "2"], r"--stride: only with --kernel"),
    (["tour", "--seed", "x"], r"--seed: expected an integer seed"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_bad_input_is_one_line_error(tmp_path, capsys, argv, pattern):
    if argv[0] in ("animate", "edges", "corr2d", "learn-kernel", "pool"):
        argv = argv + ["--out", str(tmp_path / ("x.gif" if argv[0] == "animate" else "d"))]
    status, _, err = run(capsys, *argv)
    assert_one_line_error(status, err, pattern)


def test_unreadable_images_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "text.png").write_text("not an image")
    for path, reason in [(tmp_path / "missing.png", "No such file"),
                         (tmp_path / "text.png", r"not an image in a known format \(PNG, "),
                         (tmp_path, "Is a directory")]:
        status, _, err = run(capsys, "edges", "--image", str(path), "--out", str(tmp_path))
        assert_one_line_error(status, err, f"cannot read image '{re.escape(str(path))}': {reason}")


def test_animation_must_be_a_gif(tmp_path, capsys):
    status, _, err = run(capsys, "animate", "conv", "--out", str(tmp_path / "a.png"))
    assert_one_line_error(status, err, r"--out must name a \.gif file")


def test_missing_pictures_packages_is_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    status, out, err = run(capsys, "edges", "--out", str(tmp_path))
    assert_one_line_error(status, err, r'pip install "cnnlab\[viz\]"')
    assert out == ""
    assert run(capsys, "shape", "--input", "4", "--kernel", "3", "-q")[1] == "output: 2x2\n"


# ------------------------------------------------------------ help


COMMANDS = ["tour", "corr2d", "edges", "learn-kernel", "shape", "receptive-field", "animate",
            "pool", "channels"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command):
    status, out, err = run(capsys, command, "--help")
    assert status == 0 and err == ""
    assert out.startswith(f"usage: cnnlab {command}") and "examples:" in out
    assert "--quiet" in out


def test_top_level_help_lists_every_command(capsys):
    for argv in (["--help"], []):
        status, out, _ = run(capsys, *argv)
        assert status == 0 and all(command in out for command in COMMANDS)
    status, out, _ = run(capsys, "--version")
    assert status == 0 and re.fullmatch(r"cnnlab \d+\.\d+\.\d+\n", out)


# ------------------------------------------------------------ receptive-field


def test_receptive_field_table(capsys):
    status, out, _ = run(capsys, "receptive-field", "conv5p2,pool2,conv5,pool2",
                         "--input", "28x28", "-q")
    assert status == 0
    lines = out.rstrip("\n").split("\n")
    assert lines[0].split() == ["layer", "kernel", "stride", "padding", "dilation", "output",
                                "field", "jump", "start", "first", "unit", "sees"]
    rows = [line.split() for line in lines[1:]]
    assert rows == [
        ["input", "28x28", "1", "1", "0", "0..0"],
        ["conv5p2", "5", "1", "2", "1", "28x28", "5", "1", "0", "-2..2"],
        ["pool2", "2", "2", "0", "1", "14x14", "6", "2", "0.5", "-2..3"],
        ["conv5", "5", "1", "0", "1", "10x10", "14", "2", "4.5", "-2..11"],
        ["pool2", "2", "2", "0", "1", "5x5", "16", "4", "5.5", "-2..13"],
    ]
    # Columns are aligned: every row's 'field' value starts under the header's.
    column = lines[0].index("field")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines[1:])
    assert run(capsys, "receptive-field", "--model", "lenet", "-q")[1].endswith(
        "-2..13\n")


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg11"])
def test_receptive_field_of_registry_models(capsys, name):
    """``--model`` reads the layers of cnnlab.models' own model (one registry for every
    command); they agree with the book's chain written out by hand."""
    from cnnlab import receptive
    from cnnlab.models import INPUT_SHAPES, MODELS

    status, out, _ = run(capsys, "receptive-field", "--model", name, "-q")
    chain, size = receptive.MODELS[name]
    assert status == 0 and size == INPUT_SHAPES[name][1:]
    _, by_hand, _ = run(capsys, "receptive-field", chain, "--input", "x".join(map(str, size)),
                        "-q")
    rows = [line.split()[1:] for line in out.splitlines()[1:]]
    assert rows == [line.split()[1:] for line in by_hand.splitlines()[1:]]
    assert len(rows) == 1 + sum(1 for m in MODELS[name]().modules()
                                if type(m).__name__ in ("Conv2d", "MaxPool2d"))


# ------------------------------------------------------------ animate


@pytest.mark.parametrize("argv, kind, geometry", [
    (["conv", "--input", "5x5", "--kernel", "3", "--padding", "1", "--stride", "2"], "conv",
     ((5, 5), (3, 3), (2, 2), (1, 1), (1, 1))),
    (["conv", "--input", "7x6", "--kernel", "3,2", "--dilation", "2"], "conv",
     ((7, 6), (3, 2), (1, 1), (0, 0), (2, 2))),
    (["pool", "--input", "4x4", "--kernel", "3", "--padding", "1", "--stride", "2"], "pool",
     ((4, 4), (3, 3), (2, 2), (1, 1), (1, 1))),
    (["pool", "--input", "5x5", "--kernel", "2", "--ceil-mode"], "pool",
     ((5, 5), (2, 2), (2, 2), (0, 0), (1, 1), True)),
], ids=["conv-padded-strided", "conv-dilated", "pool-seed", "pool-ceil"])
def test_animation_has_one_frame_per_output_cell_plus_one(tmp_path, capsys, argv, kind,
                                                           geometry):
    path = tmp_path / "a.gif"
    status, out, _ = run(capsys, "animate", *argv, "--out", str(path), "--duration", "20")
    assert status == 0 and str(path) in out
    height, width = torch_output(kind, *geometry)
    with Image.open(path) as gif:
        assert gif.n_frames == height * width + 1
        gif.seek(gif.n_frames - 1)
        last = gif.convert("RGB")
    assert viz.OUTPUT_NOW in {colour for _, colour in last.getcolors(1 << 16)}


def test_animation_values_and_frames_are_right(tmp_path):
    report = common.Report(quiet=True, out_dir=tmp_path, stream=open(tmp_path / "log", "w"))
    animation = conv_animation(report, (5, 5), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1),
                               seed=3, name="c.gif")
    x = torch.tensor(animation.input)[None, None]
    w = torch.tensor(animation.kernel)[None, None]
    expected = TF.conv2d(x, w, stride=2, padding=1)[0, 0].numpy()
    np.testing.assert_array_equal(animation.output, expected)
    with Image.open(tmp_path / "c.gif") as gif:
        gif.seek(4)  # the window of output cell 3 = (1, 0): padded rows 2..4, columns 0..2
        frame = gif.convert("RGB")
    for row in range(7):
        for col in range(7):
            inside_window = 2 <= row <= 4 and col <= 2
            colour = frame.getpixel(tuple(v + 4 for v in animation.input_box(row, col)[:2]))
            assert (colour == viz.WINDOW) == inside_window, (row, col)
    for index in range(9):
        box = animation.output_box(*divmod(index, 3))
        colour = frame.getpixel((box[0] + 4, box[1] + 4))
        assert colour == (viz.OUTPUT_DONE if index < 3 else
                          viz.OUTPUT_NOW if index == 3 else viz.WHITE)

    pooled = pool_animation(report, (4, 4), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1),
                            values=np.arange(16).reshape(4, 4), name="p.gif")
    np.testing.assert_array_equal(pooled.output, [[5, 7], [13, 15]])  # the chapter's numbers
    averaged = pool_animation(report, (4, 4), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1),
                              mode="avg", values=np.arange(16).reshape(4, 4), name="v.gif")
    reference = TF.avg_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 3, 2, 1)[0, 0].numpy()
    np.testing.assert_allclose(averaged.output, reference, rtol=1e-6)
    report.stream.close()


# ------------------------------------------------------------ corr2d, pool, channels


def test_corr2d_command(tmp_path, capsys):
    status, out, _ = run(capsys, "corr2d", "--out", str(tmp_path))
    assert status == 0 and SEED_CORR2D in out
    assert "Y[0, 0] = 0*0 + 1*1 + 3*1 + 4*0 = 4" in out
    assert "symmetric under the 180-degree flip" in out
    status, out, _ = run(capsys, "corr2d", "--out", str(tmp_path), "--input",
                         "1,2,3;4,5,6;7,8,9", "--kernel", "1,0;0,-1", "-q")
    x = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])[None, None]
    k = torch.tensor([[1.0, 0], [0, -1]])[None, None]
    correlation = TF.conv2d(x, k)[0, 0]
    convolution = TF.conv2d(x, torch.flip(k, [2, 3]))[0, 0]
    assert repr(correlation) in out and repr(convolution) in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corr-vs-conv.png", "corr2d.png"]


def test_pool_command(tmp_path, capsys):
    status, out, _ = run(capsys, "pool", "--out", str(tmp_path), "-q")
    assert status == 0 and all(block in out for block in SEED_POOL)
    status, out, _ = run(capsys, "pool", "--out", str(tmp_path), "--input",
                         "1,2,3;4,5,6;7,8,9", "--kernel", "2", "--stride", "1", "--mode", "avg")
    reference = TF.avg_pool2d(torch.arange(1.0, 10).view(1, 1, 3, 3), 2, 1)[0]
    assert status == 0 and repr(reference) in out
    with Image.open(tmp_path / "pool.gif") as gif:
        assert gif.n_frames == 4 + 1


def test_channels_command(tmp_path, capsys):
    status, out, _ = run(capsys, "channels", "--out", str(tmp_path), "--seed", "1")
    assert status == 0
    assert SEED_MULTI_IN in out and SEED_MULTI_OUT in out
    assert "tensor([[19., 25.],\n        [37., 43.]])" in out  # channel 0 alone
    # 1x1 convolution = matrix product = fully connected layer, numerically.
    differences = re.findall(r">>> \(Y[13] - Y2\)\.abs\(\)\.max\(\)\ntensor\(([^)]*)\)", out)
    assert len(differences) == 2 and all(float(d) < 1e-5 for d in differences)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "1x1-conv.png", "multi-in.png", "multi-out.png"]

"""Sections "The Conv2D layer", "Edge detection" and "Learning the kernel";
``cnnlab edges`` and ``cnnlab learn-kernel``."""

from __future__ import annotations

import inspect
import secrets

import numpy as np

import cnnlab
from cnnlab import nn, viz
from cnnlab.chapter import corr2d

from . import _common as common

EDGE_KERNEL = np.array([[1.0, -1.0]], dtype=np.float32)
NOTEBOOK_INIT = (np.array([[1.3820, -0.5599]], dtype=np.float32),
                 np.array([-0.1046], dtype=np.float32))
"""The initial weight and bias the chapter's notebook printed (its randn draw)."""


class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(cnnlab.randn(kernel_size))
        self.bias = nn.Parameter(cnnlab.randn(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias


def chapter_image():
    """The chapter's 6x8 image: white (1) with the middle four columns black (0)."""
    image = cnnlab.ones(6, 8)
    image[:, 2:6] = 0
    return image


def read_image(path) -> np.ndarray:
    """A PNG/JPEG/... file as grayscale values in [0, 1], shape (H, W), float32."""
    try:
        return viz.read_gray(path)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise common.CliError(f"cannot read image '{path}': {reason}") from None


def auto_scale(shape, target: int = 320) -> int:
    """Pixels per cell so that the picture is about ``target`` pixels wide (at most 40)."""
    return max(1, min(40, target // max(shape)))


def choose_seed(seed, report) -> int:
    """Seed cnnlab's generator: with ``seed``, or a fresh one that is printed."""
    if seed is None:
        seed = secrets.randbelow(2**31)
        report.show(f"seed: {seed} (pass --seed {seed} to repeat this run)")
    cnnlab.manual_seed(seed)
    return seed


# ------------------------------------------------------------ sections


def conv2d_layer(report) -> None:
    report.heading("The Conv2D layer")
    report.say("A convolutional layer cross-correlates its input with a learned kernel and "
               "adds a learned scalar bias. The chapter's Conv2D holds both as parameters, "
               "initialised at random:")
    source = inspect.getsource(Conv2D).rstrip().split("\n")
    report.show("\n".join([f">>> {source[0]}"] + [f"... {line}".rstrip() for line in source[1:]]))
    layer = Conv2D(kernel_size=(1, 2))
    image = chapter_image()
    report.code("layer = Conv2D(kernel_size=(1, 2))")
    report.code("layer.weight.data", layer.weight.data)
    report.code("layer.bias.data", layer.bias.data)
    with cnnlab.no_grad():
        output = layer(image)
    report.say("Applied to the chapter's 6x8 image (next section) it gives a 6x7 output, "
               "corr2d(image, weight) + bias: see conv2d-layer.png.")
    picture = viz.equation([
        viz.number_grid(image.numpy(), "image"), "⋆",
        viz.signed_grid(layer.weight.data.numpy(), "weight"), "+",
        viz.signed_grid(layer.bias.data.numpy()[None, :], "bias"), "=",
        viz.signed_grid(output.numpy(), "layer(image)")])
    report.save(viz.stack([picture], title="The Conv2D layer at its random start"),
                "conv2d-layer.png")


def edge_detection(report, image=None, kernel=EDGE_KERNEL, scale=None, source=None) -> None:
    report.heading("Edge detection")
    kernel_tensor = cnnlab.tensor(np.asarray(kernel, dtype=np.float32))
    if image is None:
        report.say("The chapter's 6x8 image is white (1) with the middle four columns black "
                   "(0). The kernel [1, -1] answers where horizontally adjacent pixels differ.")
        image = chapter_image()
        report.code("image = cnnlab.ones(6, 8)")
        report.code("image[:, 2:6] = 0")
        report.code("image.dtype", image.dtype)
    else:
        image = cnnlab.tensor(image)
        report.say(f"The image from {source} as grayscale values in [0, 1], "
                   f"{image.shape[0]}x{image.shape[1]} pixels.")
    report.code(f"K = cnnlab.tensor({kernel_tensor.tolist()})")
    with common.user_errors():
        Y = corr2d(image, kernel_tensor)
    report.code("Y = corr2d(image, K)")
    report.code("Y", Y)
    values = Y.numpy()
    columns = [int(c) for c in np.flatnonzero(np.any(values != 0, axis=0))]
    if values.size and len(columns) <= 10:
        signs = ", ".join(f"{c} ({'+' if values[:, c].sum() > 0 else '-'})" for c in columns)
        report.say(f"Nonzero output columns: {signs or 'none'}. The kernel responds only where "
                   f"neighbouring pixels differ, with the sign of the change: red for "
                   f"positive, blue for negative in edges-output.png.")
    scale = scale or auto_scale(image.shape)
    height, width = image.shape
    name = "the chapter's image" if source is None else str(source)
    report.save(viz.image_figure(image.numpy(), scale, f"input: {name}, {height}x{width}",
                                 label="pixel value (0 black, 1 white)"), "edges-input.png")
    report.save(viz.image_figure(values, scale, f"Y = corr2d(input, K), K = "
                                 f"{kernel_tensor.tolist()}", signed=True,
                                 label="Y (red +, blue -)"), "edges-output.png")


def train(layer, X, Y, steps: int, lr: float, every: int, report) -> tuple:
    """The chapter's loop: squared error, backward, plain gradient steps on ``.data``.

    Returns the loss of every step and every parameter's value after each step.
    """
    losses, history = [], {name: [] for name in parameter_names(layer)}
    for i in range(steps):
        Y_hat = layer(X)
        loss = ((Y_hat - Y) ** 2).sum()
        loss.backward()
        layer.weight.data -= lr * layer.weight.grad
        layer.bias.data -= lr * layer.bias.grad
        layer.weight.grad.fill_(0)
        layer.bias.grad.fill_(0)
        losses.append(loss.item())
        values = list(layer.weight.data.numpy().reshape(-1)) + list(layer.bias.data.numpy())
        for name, value in zip(history, values):
            history[name].append(float(value))
        if (i + 1) % every == 0:
            report.show("Step %d, loss %.3f" % (i + 1, loss.item()))
    return losses, history


def parameter_names(layer) -> list:
    rows, cols = layer.weight.shape
    return [f"weight[{r}, {c}]" for r in range(rows) for c in range(cols)] + ["bias"]


def learn_kernel(report, kernel=EDGE_KERNEL, steps: int = 30, lr: float = 0.01,
                 every: int = 5, init=None, picture: bool = True) -> Conv2D:
    """Learn ``kernel`` back from the image and its edge map (the chapter's loop).

    ``init`` is ``(weight, bias)`` arrays to start from instead of the random draw.
    """
    image = chapter_image()
    K = cnnlab.tensor(np.asarray(kernel, dtype=np.float32))
    with common.user_errors():
        Y = corr2d(image, K)
    layer = Conv2D(kernel_size=tuple(K.shape))
    if init is not None:
        weight, bias = init
        if tuple(np.shape(weight)) != tuple(K.shape):
            raise common.CliError(f"--init-weight has shape {tuple(np.shape(weight))}, but the "
                                  f"kernel has shape {tuple(K.shape)}")
        layer.weight.data = cnnlab.tensor(np.asarray(weight, dtype=np.float32))
        layer.bias.data = cnnlab.tensor(np.asarray(bias, dtype=np.float32).reshape(1))
    report.show(f"weight:  {layer.weight.data!r}")
    report.show(f"bias:  {layer.bias.data!r}")
    losses, history = train(layer, image, Y, steps, lr, every, report)
    report.show(f"weight:  {layer.weight.data!r}")
    report.show(f"bias:  {layer.bias.data!r}")
    if picture:
        targets = dict(zip(parameter_names(layer), list(K.numpy().reshape(-1)) + [0.0]))
        plot = viz.training_plot(losses, history, targets,
                                 title=f"Learning K = {K.tolist()} (lr {lr:g})")
        report.save(plot, "learn-kernel.png")
    return layer


def learning_section(report, seed=None) -> None:
    report.heading("Learning the kernel")
    report.say("Given the image X and its edge map Y = corr2d(X, K), a Conv2D layer can learn "
               "K back: start from random parameters, and 30 times compute the squared error "
               "of layer(X) against Y, backpropagate, and step the weight and bias by "
               "-0.01 times their gradients (the chapter's loop, loss printed every 5 steps).")
    choose_seed(seed, report)
    learn_kernel(report)
    report.say("The learned weight is close to K = [[1, -1]] and the bias close to 0.")
    report.say("The notebook started from weight [[1.3820, -0.5599]] and bias [-0.1046] "
               "(its own random draw); from there the same loop prints the notebook's log "
               "exactly:")
    learn_kernel(report, init=NOTEBOOK_INIT, picture=False)


# ------------------------------------------------------------ commands


def run_edges(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet, common.output_directory(args.out))
    image = None if args.image is None else read_image(args.image)
    kernel = EDGE_KERNEL if args.kernel is None else args.kernel
    edge_detection(report, image, kernel, args.scale, source=args.image)
    report.list_files()
    return 0


def run_learn(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet, common.output_directory(args.out))
    kernel = EDGE_KERNEL if args.kernel is None else args.kernel
    init = None
    if (args.init_weight is None) != (args.init_bias is None):
        raise common.CliError("give both --init-weight and --init-bias, or neither")
    if args.init_weight is not None:
        init = (args.init_weight, np.array([args.init_bias], dtype=np.float32))
    else:
        choose_seed(args.seed, report)
    learn_kernel(report, kernel, args.steps, args.lr, args.every, init)
    report.list_files()
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "edges", help="detect vertical edges with the kernel [1, -1]",
        description=common.description(
            "Cross-correlate an image with an edge kernel and draw the input and the signed "
            "output (red positive, blue negative), scaled up with nearest-neighbour so that "
            "small images are visible.",
            ["cnnlab edges                                  # the chapter's 6x8 image",
             "cnnlab edges --image photo.jpg --kernel '1;-1'  # horizontal edges",
             "cnnlab edges --kernel=-1,1                    # a leading '-' needs '='"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--image", metavar="PATH",
                        help="any image Pillow reads (PNG, JPEG, ...), converted to grayscale "
                             "in [0, 1] (default: the chapter's 6x8 image)")
    parser.add_argument("--kernel", type=common.matrix, metavar="MATRIX",
                        help="kernel, rows separated by ';' (default: '1,-1')")
    parser.add_argument("--scale", type=common.positive_int, metavar="N",
                        help="pixels per image pixel in the pictures (default: about 320 "
                             "pixels wide, at most 40 per pixel)")
    common.add_common(parser)
    parser.set_defaults(run=run_edges)

    parser = commands.add_parser(
        "learn-kernel", help="learn the edge kernel back from the image and its edges",
        description=common.description(
            "Train the chapter's Conv2D layer (corr2d plus a bias, random start) to reproduce "
            "Y = corr2d(X, K) on the 6x8 image: squared error, backward, weight -= lr * grad. "
            "Prints the loss every few steps and the learned weight and bias, and plots the "
            "loss and the parameters.",
            ["cnnlab learn-kernel --seed 0",
             "cnnlab learn-kernel --init-weight 1.3820,-0.5599 --init-bias -0.1046"
             "  # the notebook's run",
             "cnnlab learn-kernel --kernel '1,0,-1' --steps 60"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--steps", type=common.positive_int, default=30, metavar="N",
                        help="gradient steps (default: 30)")
    parser.add_argument("--lr", type=common.positive_float, default=0.01,
                        help="learning rate (default: 0.01)")
    parser.add_argument("--kernel", type=common.matrix, metavar="MATRIX",
                        help="the kernel to learn, rows separated by ';' (default: '1,-1')")
    parser.add_argument("--every", type=common.positive_int, default=5, metavar="N",
                        help="print the loss every N steps (default: 5)")
    parser.add_argument("--seed", type=common.seed, metavar="N",
                        help="seed of the random start (default: a fresh seed, printed)")
    parser.add_argument("--init-weight", type=common.matrix, metavar="MATRIX",
                        help="start from this weight instead of a random one")
    parser.add_argument("--init-bias", type=float, metavar="B",
                        help="start from this bias (with --init-weight)")
    common.add_common(parser)
    parser.set_defaults(run=run_learn)

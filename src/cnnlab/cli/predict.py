"""``cnnlab predict``: classify digit images with a checkpoint written by ``cnnlab train``.

Each image is read by :mod:`cnnlab.digits` (the reader ``cnnlab explore``'s uploads use
too): transparency composited over the background that contrasts with the drawing,
grayscale, a light digit on a dark background (a dark-on-light image is inverted),
padded to a square and resized to 28x28, then normalised like the training images. An
image that cannot be read is reported and skipped; the others are still classified, and
the exit status is 2.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlab
from cnnlab import training, viz
from cnnlab.data import to_tensor
from cnnlab.digits import IMAGE_SIZE, prepare_digit
from cnnlab.models import MODELS

from . import _common as common
from .edges import read_image
from .train import one_line, read_checkpoint

BLANK_LEVEL = 26
"""A prepared digit whose brightest pixel is below this (a tenth of 255) is blank."""

__all__ = ["BLANK_LEVEL", "IMAGE_SIZE", "class_label", "load_model", "prepare_digit", "probabilities"]


def load_model(path):
    """The model of a ``cnnlab train`` checkpoint, in evaluation mode, and its run metadata.

    CliError when the file is missing, corrupt, foreign or its weights do not fit."""
    loaded = read_checkpoint(path)
    run = loaded["run"]
    classes, normalize = run.get("classes"), run.get("normalize")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)
            and isinstance(normalize, list) and len(normalize) == 2
            and all(isinstance(v, (int, float)) for v in normalize) and normalize[1] > 0):
        raise common.CliError(f"{path}: its metadata lacks the class names or the "
                              "normalisation (not written by 'cnnlab train')")
    model = MODELS[run["model"]](num_classes=len(classes))
    try:
        training.restore(loaded, model, path=path)
    except ValueError as error:
        raise common.CliError(one_line(error)) from None
    model.eval()
    return model, run


def class_label(index: int, classes) -> str:
    """``'7 - seven'`` (MNIST's names already start with the digit), ``'7 - Sneaker'``."""
    name = classes[index]
    return name if name.startswith(f"{index} ") else f"{index} - {name}"


def probabilities(model, digits, normalize) -> np.ndarray:
    """Softmax of the model's logits for uint8 digits (B, 28, 28): (B, classes)."""
    with cnnlab.no_grad():
        logits = model(to_tensor(np.asarray(digits), tuple(normalize)))
    return cnnlab.softmax(logits, dim=1).numpy()


def run(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet)
    if args.model is not None:
        from .export import load_onnx_model
        model, metadata = load_onnx_model(args.model)
    else:
        model, metadata = load_model(args.checkpoint)
    prepared, failures = [], 0
    for path in args.images:
        try:
            gray = read_image(path)
            if min(gray.shape) < 1:
                raise common.CliError(f"cannot read image '{path}': it has no pixels")
        except common.CliError as error:  # report it, go on with the others
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        prepared.append((path, gray.shape, *prepare_digit(gray)))
    if not prepared:
        return 2
    report.say(f"{metadata['model']} trained on {metadata['dataset']} "
               f"({args.checkpoint or args.model}); images made light-on-dark, square and "
               f"28x28, "
               f"normalised with mean {metadata['normalize'][0]}, std "
               f"{metadata['normalize'][1]}")
    probs = probabilities(model, [digit for _, _, digit, _ in prepared], metadata["normalize"])
    for (path, shape, digit, inverted), row in zip(prepared, probs):
        if digit.max() < BLANK_LEVEL:
            print(f"warning: '{path}' has no digit after preparation (every pixel below "
                  f"{BLANK_LEVEL} of 255): its answer means nothing", file=sys.stderr)
        best = int(np.argmax(row))
        line = f"{path}: {class_label(best, metadata['classes'])}, probability {row[best]:.4f}"
        if not args.quiet:
            notes = (["inverted (dark on light)"] if inverted else []) + (
                [f"resized from {shape[1]}x{shape[0]}"] if shape != IMAGE_SIZE else [])
            runner_up = int(np.argsort(row)[-2])
            line += f" (next: {runner_up}, {row[runner_up]:.4f})"
            line += f"; {', '.join(notes)}" if notes else ""
        report.show(line)
    if failures:
        print(f"error: {failures} of {len(args.images)} images could not be read",
              file=sys.stderr)
        return 2
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "predict", help="classify digit images with a trained checkpoint",
        description=common.description(
            "Classify PNG/JPEG images with a checkpoint written by 'cnnlab train': print, per "
            "image, the most probable class and its probability (softmax). Each image is "
            "converted to grayscale, inverted if it is dark on light (a bright border), padded "
            "to a square, resized to 28x28 and normalised like the training images; a "
            "transparent background is filled with the colour that contrasts with the "
            "drawing. Digits that fill about two thirds of the picture, centred, look most "
            "like MNIST's. An image that cannot be read is reported and skipped; the exit "
            "status is then 2.",
            ["cnnlab predict --checkpoint runs/lenet/checkpoint.npz digit.png",
             "cnnlab predict --checkpoint runs/lenet/checkpoint.npz --quiet *.png",
             "cnnlab predict --model lenet.onnx digit.png   (from 'cnnlab export')"]),
        formatter_class=common.HelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="PATH",
                        help="checkpoint.npz written by 'cnnlab train'")
    source.add_argument("--model", metavar="FILE.onnx",
                        help="an ONNX model (e.g. written by 'cnnlab export'), run on cnnlab")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG images")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)

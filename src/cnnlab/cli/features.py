"""``cnnlab features``: what the first convolutional layer of a trained model sees.

Draws the input digit, the layer's kernels and the feature maps they produce for it.
The maps are the convolution's output with its bias added, before the ReLU that follows
it in LeNet-5, so that their negative parts (which ReLU sets to 0) show too.
"""

from __future__ import annotations

from pathlib import Path

import cnnlab
from cnnlab import nn, viz
from cnnlab.data import to_tensor

from . import _common as common
from .edges import read_image
from .predict import class_label, load_model, prepare_digit, probabilities

DEFAULT_OUT = f"{common.DEFAULT_OUT}/features.png"


def first_conv(model):
    """``(name, module)`` of the first ``Conv2d`` in ``model``'s execution order."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise common.CliError("the model has no Conv2d layer")


def run(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet)
    model, metadata = load_model(args.checkpoint)
    gray = read_image(args.image)
    if min(gray.shape) < 1:
        raise common.CliError(f"cannot read image '{args.image}': it has no pixels")
    digit, inverted = prepare_digit(gray)
    name, conv = first_conv(model)
    with cnnlab.no_grad():
        maps = conv(to_tensor(digit[None], tuple(metadata["normalize"]))).numpy()[0]
    kernels = conv.weight.detach().numpy()[:, 0]  # input channel 0 (LeNet has one)
    count, (kernel_height, kernel_width) = len(kernels), kernels.shape[1:]
    row = probabilities(model, digit[None], metadata["normalize"])[0]
    best = int(row.argmax())
    title = (f"{Path(args.image).name}: the first convolution, layer '{name}' = {conv!r}\n"
             "its kernels and feature maps (the convolution's output, before ReLU)")
    picture = viz.feature_grid(
        digit / 255.0, kernels, maps, title=title,
        image_title="input, 28x28" + (" (inverted)" if inverted else "")
        + f"\npredicted {best} ({row[best]:.2f})",
        map_titles=[f"map {k} (before ReLU)" for k in range(count)])

    out = Path(args.out)
    common.output_directory(out.parent if str(out.parent) else ".")
    try:
        picture.save(out)
    except (OSError, ValueError) as error:
        raise common.CliError(f"cannot write '{out}': {getattr(error, 'strerror', None) or error}")
    report.say(f"layer '{name}': {conv!r}; {count} kernels of {kernel_height}x{kernel_width}, "
               f"feature maps of {maps.shape[1]}x{maps.shape[2]}, shown after the convolution "
               "(bias added), before ReLU" + (" (input was inverted: dark on light)"
                                              if inverted else ""))
    report.say(f"prediction: {class_label(best, metadata['classes'])}, probability "
               f"{row[best]:.4f}")
    report.show(f"{out}: {1 + 2 * count} panels (input, {count} kernels, {count} feature maps)")
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "features", help="a trained model's first-layer kernels and feature maps for an image",
        description=common.description(
            "Draw, for one image, the first convolutional layer of a model trained by "
            "'cnnlab train': its kernels and the feature maps they produce (the "
            "convolution's output, bias added, before ReLU), each panel titled with its "
            "value range. The image is prepared as for 'cnnlab predict'.",
            ["cnnlab features --checkpoint runs/lenet/checkpoint.npz --image digit.png",
             ("cnnlab features --checkpoint runs/lenet/checkpoint.npz --image 7.png "
              "--out seven.png")]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="checkpoint.npz written by 'cnnlab train'")
    parser.add_argument("--image", required=True, metavar="PNG", help="a PNG or JPEG image")
    parser.add_argument("--out", metavar="FILE", default=DEFAULT_OUT,
                        help=f"the picture to write (default: {DEFAULT_OUT})")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)

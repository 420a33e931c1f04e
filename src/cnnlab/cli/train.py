"""``cnnlab train``: LeNet-5 on MNIST or Fashion-MNIST, with a progress bar and a resumable
checkpoint.

The training itself is :func:`cnnlab.training.fit`; this module reads the arguments,
draws the progress bar on stderr, prints one line per epoch and writes the pictures.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

import cnnlab
from cnnlab import optim, training, viz
from cnnlab.data import MNIST, DatasetNotFoundError, FashionMNIST
from cnnlab.models import MODELS

from . import _common as common

DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
CHECKPOINT = "checkpoint.npz"
CURVE = "training-curve.png"
DEFAULT_LR = {"sgd": 0.05, "adam": 0.001}
DEFAULTS = dict(dataset="mnist", epochs=1, batch_size=64, optimizer="sgd", momentum=0.9,
                limit_train=None, limit_test=None, seed=0)
RUN_SETTINGS = ("dataset", "batch_size", "optimizer", "lr", "momentum", "limit_train",
                "limit_test", "seed")
"""What identifies a run: ``--resume`` continues with the checkpoint's values of these."""


# ------------------------------------------------------------ progress bar


def duration(seconds: float) -> str:
    """``75.4`` -> ``'1:15'``; ``3725`` -> ``'1:02:05'``; not finite -> ``'--:--'``."""
    if not math.isfinite(seconds):
        return "--:--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class ProgressBar:
    """Draws :class:`cnnlab.training.Progress` on ``stream`` (stderr).

    ``ETA`` is the time left in this epoch (0:00 once its last step is done); a run of
    several epochs also shows ``run ETA``, the time left to the end of the last epoch.

    On a terminal the line is redrawn in place (``\\r``), at most every
    ``min_interval_s`` seconds; otherwise (a log file, a pipe) one line is written each
    time another tenth of the epoch is done.
    """

    WIDTH = 24

    def __init__(self, stream=None, interactive=None, test_images=0, min_interval_s=0.1):
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.test_images = test_images
        self.min_interval_s = min_interval_s
        self.last_draw = -math.inf
        self.open_line = False  # a redrawn line without its newline yet
        # A redrawn line must not wrap, or \r returns to its second half.
        self.columns = shutil.get_terminal_size((100, 24)).columns - 1

    @staticmethod
    def line(progress) -> str:
        p = progress
        filled = int(ProgressBar.WIDTH * p.step / p.steps)
        bar = "#" * filled + "." * (ProgressBar.WIDTH - filled)
        return (f"epoch {p.epoch}/{p.epochs} [{bar}] {100 * p.step / p.steps:3.0f}% "
                f"{p.step}/{p.steps}  loss {p.loss:.4f}  acc {p.accuracy:.4f}  "
                f"{p.images_per_s:,.0f} img/s  ETA {duration(p.epoch_eta_s)}"
                + (f"  run ETA {duration(p.eta_s)}" if p.epoch < p.epochs else ""))

    def __call__(self, progress) -> None:
        done = progress.step == progress.steps
        if self.interactive:
            now = time.monotonic()
            if not done and now - self.last_draw < self.min_interval_s:
                return
            self.last_draw = now
            self.stream.write("\r" + self.line(progress)[:self.columns].ljust(self.columns))
            self.open_line = not done
            if done:
                self.stream.write("\n")
        elif 10 * progress.step // progress.steps != 10 * (progress.step - 1) // progress.steps:
            self.stream.write(self.line(progress) + "\n")
        if done and self.test_images:
            self.stream.write(f"evaluating on {self.test_images:,} test images\n")
        self.stream.flush()

    def close(self) -> None:
        """End a line left open (on an interruption)."""
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False


# ------------------------------------------------------------ set-up


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def missing_data_message(name: str, error, root, download: bool) -> str:
    """One short line: what was searched, why nothing was downloaded, the one fix."""
    searched = ", ".join(str(folder) for folder in error.searched)
    if not download:
        why, fix = "--offline forbids downloading", f"run it without --offline, or " \
            f"{error.install_command}"
    elif error.download_failed:
        why, fix = "the download failed (no connection?)", error.install_command
    else:
        why, fix = "not downloaded", error.install_command
    if root is not None:
        fix = f"put the files in {root}, or leave out --data"
    return f"{error.dataset} not found (searched: {searched}); {why}. Fix: {fix}"


def load_data(name: str, root, download: bool, limit_train, limit_test):
    """The dataset class, the training and test sets (limited to their first images) and
    the folder they were read from; CliError if they are missing."""
    dataset = DATASETS[name]
    try:
        train = dataset(root, train=True, download=download)
        test = dataset(root, train=False, download=download)
    except DatasetNotFoundError as error:
        raise common.CliError(missing_data_message(name, error, root, download)) from None
    except (OSError, ValueError) as error:
        raise common.CliError(one_line(error)) from None
    for flag, limit, data in (("--limit-train", limit_train, train),
                              ("--limit-test", limit_test, test)):
        if limit is not None and limit > len(data):
            raise common.CliError(f"{flag} {limit}: the {'training' if data is train else 'test'}"
                                  f" set has only {len(data):,} images")
    folder = train.files[0].parent
    train = train if limit_train is None else train.subset(limit_train)
    test = test if limit_test is None else test.subset(limit_test)
    return dataset, train, test, folder


def make_optimizer(settings: dict, parameters):
    if settings["optimizer"] == "sgd":
        return optim.SGD(parameters, lr=settings["lr"], momentum=settings["momentum"])
    elif settings["optimizer"] == "adam":
        return optim.Adam(parameters, lr=settings["lr"])
    else:
        raise common.CliError(f"--optimizer must be sgd or adam, got {settings['optimizer']!r}")


def read_checkpoint(path):
    """A training checkpoint (:func:`cnnlab.training.read_checkpoint`); CliError if it is
    missing, corrupt or not written by ``cnnlab train``."""
    try:
        loaded = training.read_checkpoint(path)
    except FileNotFoundError:
        raise common.CliError(f"checkpoint '{path}' not found") from None
    except IsADirectoryError:
        raise common.CliError(f"checkpoint '{path}' is a directory, not a file") from None
    except (OSError, ValueError) as error:
        raise common.CliError(one_line(getattr(error, "strerror", None) or error)) from None
    run = loaded["run"]
    if run.get("model") not in MODELS or not isinstance(run.get("arguments"), dict):
        raise common.CliError(f"{path} is a cnnlab checkpoint but not one written by "
                              "'cnnlab train' (no model name or arguments in its metadata)")
    return loaded


def given_settings(args) -> dict:
    """The run settings given on the command line (None: not given)."""
    return {key: getattr(args, key) for key in RUN_SETTINGS}


def new_run_settings(args) -> dict:
    settings = {**DEFAULTS, **{k: v for k, v in given_settings(args).items() if v is not None}}
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    if settings["optimizer"] != "sgd":
        if args.momentum is not None:
            raise common.CliError("--momentum applies to --optimizer sgd only")
        settings["momentum"] = None
    settings.setdefault("lr", DEFAULT_LR[settings["optimizer"]])
    return settings


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def resumed_settings(args, saved: dict, path) -> dict:
    """The checkpoint's settings, with ``--epochs`` as the new total; CliError when a
    setting given on the command line differs from the run's, or the saved ones are not
    what ``cnnlab train`` writes."""
    valid = {
        "dataset": saved.get("dataset") in DATASETS,
        "optimizer": saved.get("optimizer") in DEFAULT_LR,
        "lr": isinstance(saved.get("lr"), (int, float)) and saved.get("lr") > 0,
        "momentum": saved.get("momentum") is None if saved.get("optimizer") != "sgd"
        else isinstance(saved.get("momentum"), (int, float)) and 0 <= saved["momentum"] < 1,
        "epochs": _is_int(saved.get("epochs"), 1),
        "batch_size": _is_int(saved.get("batch_size"), 1),
        "seed": _is_int(saved.get("seed"), 0),
        "limit_train": saved.get("limit_train") is None or _is_int(saved["limit_train"], 1),
        "limit_test": saved.get("limit_test") is None or _is_int(saved["limit_test"], 1),
    }
    invalid = [key for key, ok in valid.items() if not ok]
    if invalid:
        raise common.CliError(f"--resume: {path} has missing or invalid run settings "
                              f"{invalid} in its metadata (not written by 'cnnlab train')")
    for key, value in given_settings(args).items():
        if value is not None and saved[key] != value:
            flag = "--" + key.replace("_", "-")
            raise common.CliError(f"--resume: {flag} {value} differs from the run's "
                                  f"{saved[key]} ({path}); a resumed run keeps its "
                                  "settings (leave the option out, or start a new --out)")
    settings = {key: saved[key] for key in valid}
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    return settings


def output_folder(args, dataset_name: str) -> Path:
    if args.out is None:
        if args.resume:
            raise common.CliError("--resume needs --out DIR: the folder of the run to continue")
        return Path("runs") / f"{dataset_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Path(args.out)


# ------------------------------------------------------------ the command


def run(args) -> int:
    viz.check_available()  # before training, not after: the curve needs Matplotlib
    report = common.Report(args.quiet)
    dataset_name = args.dataset or DEFAULTS["dataset"]
    folder = output_folder(args, dataset_name)
    path = folder / CHECKPOINT
    if args.resume:
        if not path.is_file():
            raise common.CliError(f"--resume: no {CHECKPOINT} in '{folder}' to continue "
                                  "(start the run without --resume)")
        loaded = read_checkpoint(path)
        settings = resumed_settings(args, loaded["run"]["arguments"], path)
    else:
        if path.exists():
            raise common.CliError(f"'{folder}' already holds a run ({CHECKPOINT}): add --resume "
                                  "to continue it, or choose another --out")
        loaded = None
        settings = new_run_settings(args)
    dataset, train, test, data_folder = load_data(settings["dataset"], args.data,
                                                  not args.offline,
                                     settings["limit_train"], settings["limit_test"])
    report.out_dir = common.output_directory(folder)

    cnnlab.manual_seed(settings["seed"])
    model = MODELS["lenet"]()
    optimizer = make_optimizer(settings, model.parameters())
    start, log = 0, None
    if loaded is not None:
        try:
            training.restore(loaded, model, optimizer, path)
        except ValueError as error:
            raise common.CliError(one_line(error)) from None
        start, log = loaded["epoch"], loaded["log"]
    metadata = {"model": "lenet", "dataset": settings["dataset"], "classes": dataset.classes,
                "normalize": list(dataset.normalize), "input_shape": [1, 28, 28],
                "cnnlab_version": cnnlab.__version__, "arguments": settings}

    optimizer_text = (f"SGD lr {settings['lr']} momentum {settings['momentum']}"
                      if settings["optimizer"] == "sgd" else f"Adam lr {settings['lr']}")
    report.say(f"LeNet-5 on {dataset.name}: {len(train):,} training images, {len(test):,} test "
               f"images (from {data_folder}); "
               f"{optimizer_text}, batch {settings['batch_size']}, seed {settings['seed']}; "
               f"inputs normalised with mean {dataset.normalize[0]}, std {dataset.normalize[1]}")
    if start:
        report.say(f"resuming after epoch {start} of {settings['epochs']} from {path}")
    if start >= settings["epochs"]:
        report.say(f"{path} has completed {start} of {settings['epochs']} epochs: "
                   "nothing to train (raise --epochs to train more)")

    def epoch_done(result) -> None:
        rate = result.images / result.seconds if result.seconds > 0 else 0.0
        report.show(f"epoch {result.epoch}/{settings['epochs']}: train loss "
                    f"{result.train_loss:.4f}, accuracy {result.train_accuracy:.4f}; test loss "
                    f"{result.test_loss:.4f}, accuracy {result.test_accuracy:.4f} "
                    f"({result.seconds:.1f} s, {rate:,.0f} images/s)")

    bar = None if args.quiet else ProgressBar(test_images=len(test))
    try:
        log = training.fit(model, optimizer, train, test, settings["epochs"],
                           batch_size=settings["batch_size"], seed=settings["seed"],
                           normalize=dataset.normalize, start_epoch=start, log=log,
                           progress=bar, on_epoch_end=epoch_done, checkpoint_path=path,
                           metadata=metadata)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        if path.is_file():
            print(f"the last completed epoch is saved: continue with 'cnnlab train --resume "
                  f"--out {folder}'", file=sys.stderr)
        raise
    report.files.append(path)
    report.save(viz.training_curves(log.points, log.epochs, title=f"LeNet-5 on {dataset.name}"),
                CURVE)
    report.list_files()
    report.show(f"test accuracy {log.epochs[-1].test_accuracy:.4f}")
    return 0


def momentum(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def register(commands) -> None:
    parser = commands.add_parser(
        "train", help="train LeNet-5 on MNIST (or Fashion-MNIST), resumable",
        description=common.description(
            "Train LeNet-5 (cnnlab.models.lenet5) with cross-entropy, showing a progress bar "
            "on stderr; evaluate on the test set after every epoch; write checkpoint.npz "
            "(weights, optimizer state, epoch, random state, these settings) after every "
            "epoch and training-curve.png at the end, into --out. The last line printed is "
            "'test accuracy 0.xxxx'.\n\n"
            "Inputs are normalised with the training set's pixel mean and standard deviation "
            "(MNIST 0.1307, 0.3081), as PyTorch's MNIST example does. Each epoch visits the "
            "samples in an order drawn from --seed and the epoch number, so --resume after an "
            "interruption ends with the same weights as an uninterrupted run.",
            ["cnnlab train --epochs 1 --out runs/lenet",
             "cnnlab train --limit-train 2000 --limit-test 1000 --epochs 3 --out runs/quick",
             "cnnlab train --resume --out runs/lenet --epochs 2",
             "cnnlab train --dataset fashion-mnist --optimizer adam --epochs 5"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--dataset", choices=tuple(DATASETS), default=None,
                        help="the data set (default: mnist)")
    parser.add_argument("--data", metavar="DIR",
                        help="folder holding the four IDX files (default: search the usual "
                             "places: $CNNLAB_DATA, .cache/npm, ~/.cache/cnnlab)")
    parser.add_argument("--offline", action="store_true",
                        help="never download: only use files already here (default: download "
                             "the data set, checksum-verified, when it is not found)")
    parser.add_argument("--download", action="store_true",
                        help="download when missing (the default; kept for old scripts)")
    parser.add_argument("--epochs", type=common.positive_int, metavar="N",
                        help="total number of epochs (default: 1; with --resume, the run's)")
    parser.add_argument("--batch-size", type=common.positive_int, metavar="N",
                        help="images per step (default: 64)")
    parser.add_argument("--lr", type=common.positive_float, metavar="LR",
                        help="learning rate (default: 0.05 for sgd, 0.001 for adam)")
    parser.add_argument("--momentum", type=momentum, metavar="M",
                        help="SGD momentum (default: 0.9)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=None,
                        help="the optimizer (default: sgd)")
    parser.add_argument("--limit-train", type=common.positive_int, metavar="N",
                        help="train on the first N training images only (default: all)")
    parser.add_argument("--limit-test", type=common.positive_int, metavar="N",
                        help="evaluate on the first N test images only (default: all)")
    parser.add_argument("--seed", type=common.seed, metavar="N",
                        help="seed of the initial weights and of the sample order (default: 0)")
    parser.add_argument("--out", metavar="DIR",
                        help="folder of the run: checkpoint and pictures (default: "
                             "runs/<dataset>-<date>-<time>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last completed epoch, with "
                             "its settings")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)

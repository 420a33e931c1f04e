"""Training a classifier: epochs, evaluation, progress reports and resumable checkpoints.

The library side of ``cnnlab train``. Nothing here prints: :func:`train_epoch` and
:func:`fit` report through a ``progress`` callback that receives a :class:`Progress`
after every step (the command line draws its progress bar from it).

Reproducibility. The model's initial weights come from cnnlab's global generator
(``cnnlab.manual_seed(seed)`` before building the model). The order of the training
samples in epoch ``e`` (0-based) comes from a generator of its own, seeded with
:func:`epoch_seed` ``(seed, e)``, so it depends on the seed and the epoch only, never on
what ran before. Together with the checkpoint of the model, the optimizer state (momentum
buffers, Adam's moments and step counts) and the global generator's state, this makes
an interrupted run that is resumed end with exactly the weights of a run that was not
interrupted (:func:`fit` with ``start_epoch``; :func:`resume`).

A typical loop::

    cnnlab.manual_seed(0)
    model = lenet5()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    log = fit(model, optimizer, MNIST(train=True), MNIST(train=False), epochs=1,
              checkpoint_path="run/checkpoint.npz")
    log.epochs[-1].test_accuracy        # about 0.97 after one epoch
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import checkpoint
from .autograd import no_grad
from .creation import get_rng_state, set_rng_state
from .data.loader import MNIST_NORMALIZE, DataLoader

LOG_POINTS_PER_EPOCH = 20
"""How many (loss, accuracy) points :func:`train_epoch` logs per epoch for the curve."""
EVAL_BATCH_SIZE = 1000


@dataclass
class Progress:
    """Where training stands after a step; what a ``progress`` callback receives.

    ``loss`` and ``accuracy`` are the means over the epoch so far (the training loss as
    computed during the step, before the update).
    """

    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based, within the epoch
    steps: int  # steps per epoch
    images: int  # images seen in this epoch
    epoch_images: int  # images per epoch
    loss: float
    accuracy: float
    elapsed_s: float  # since the epoch started

    @property
    def images_per_s(self) -> float:
        return self.images / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float:
        """Seconds left to the end of the last epoch's training at the current speed
        (evaluations not included); ``inf`` before the speed is known."""
        rate = self.images_per_s
        left = self.epoch_images - self.images + self.epoch_images * (self.epochs - self.epoch)
        return left / rate if rate > 0 else math.inf

    @property
    def epoch_eta_s(self) -> float:
        """Seconds left to the end of this epoch's training (0 after its last step);
        ``inf`` before the speed is known."""
        rate = self.images_per_s
        if self.images >= self.epoch_images:
            return 0.0
        return (self.epoch_images - self.images) / rate if rate > 0 else math.inf


@dataclass
class EpochResult:
    """Means over one epoch's training steps, and the evaluation that followed."""

    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    seconds: float  # training time, evaluation excluded
    images: int


@dataclass
class TrainingLog:
    """What a run has done so far: the curve's points and one result per epoch.

    ``points`` are ``{"epoch": position, "loss": ..., "accuracy": ...}`` with ``position``
    in epochs (1.0 is the end of the first epoch), each the mean over the steps since
    the previous point. The log is JSON-serialisable (:meth:`to_dict`), so it travels
    in a checkpoint's metadata and a resumed run continues the same curve.
    """

    points: list = field(default_factory=list)
    epochs: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"points": [dict(point) for point in self.points],
                "epochs": [asdict(result) for result in self.epochs]}

    @classmethod
    def from_dict(cls, data) -> TrainingLog:
        """The inverse of :meth:`to_dict`; ValueError if ``data`` is not such a dict."""
        try:
            points = [{"epoch": float(p["epoch"]), "loss": float(p["loss"]),
                       "accuracy": float(p["accuracy"])} for p in data["points"]]
            epochs = [EpochResult(**result) for result in data["epochs"]]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"TrainingLog.from_dict: not a training log ({error})") from None
        return cls(points, epochs)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s (0-based) sample order in a run seeded with ``seed``.

    Mixed by NumPy's ``SeedSequence``, so that runs with neighbouring seeds do not share
    epoch orders (as ``seed + epoch`` would: seed 0's second epoch = seed 1's first).

    Examples
    --------
    >>> epoch_seed(0, 0) == epoch_seed(0, 0) != epoch_seed(0, 1)
    True
    """
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def _cross_entropy():
    from .functional import cross_entropy

    return cross_entropy


def train_epoch(model, loader, optimizer, loss_function=None, progress=None, epoch=1,
                epochs=1, log_points=LOG_POINTS_PER_EPOCH):
    """Train ``model`` for one pass over ``loader``.

    Parameters
    ----------
    model : cnnlab.nn.Module
        Maps images (B, C, H, W) to logits (B, classes); put in training mode.
    loader : iterable of (images, labels)
        E.g. a :class:`cnnlab.data.DataLoader`; must have ``len()``.
    optimizer : cnnlab.optim.Optimizer
    loss_function : callable, default ``cnnlab.functional.cross_entropy``
        ``loss_function(logits, labels)`` -> the batch's mean loss (a scalar Tensor).
    progress : callable or None
        Called with a :class:`Progress` after every step.
    epoch, epochs : int
        This epoch (1-based) and the run's total, for ``progress``.
    log_points : int
        About how many points to log for the training curve.

    Returns
    -------
    result : EpochResult
        With ``test_loss`` and ``test_accuracy`` NaN (see :func:`evaluate`).
    points : list of dict
        The curve's points, positions in epochs counted from ``epoch - 1``.
    """
    loss_function = loss_function or _cross_entropy()
    steps = len(loader)
    epoch_images = len(loader.dataset) if hasattr(loader, "dataset") else None
    every = max(1, steps // max(1, log_points))
    total_loss = total_correct = images = 0.0
    window_loss = window_correct = window_images = 0.0
    points = []
    model.train()
    start = time.perf_counter()
    for step, (inputs, labels) in enumerate(loader, 1):
        optimizer.zero_grad()
        logits = model(inputs)
        loss = loss_function(logits, labels)
        loss.backward()
        optimizer.step()

        batch = len(labels)
        batch_loss = float(loss.item()) * batch
        batch_correct = float((logits.detach().numpy().argmax(axis=1) == labels.numpy()).sum())
        total_loss += batch_loss
        total_correct += batch_correct
        images += batch
        window_loss += batch_loss
        window_correct += batch_correct
        window_images += batch
        if step % every == 0 or step == steps:
            points.append({"epoch": epoch - 1 + step / steps, "loss": window_loss / window_images,
                           "accuracy": window_correct / window_images})
            window_loss = window_correct = window_images = 0.0
        if progress is not None:
            progress(Progress(epoch, epochs, step, steps, int(images),
                              epoch_images if epoch_images is not None else int(images),
                              total_loss / images, total_correct / images,
                              time.perf_counter() - start))
    seconds = time.perf_counter() - start
    if images == 0:
        raise ValueError("train_epoch: the loader gave no batches")
    result = EpochResult(epoch, total_loss / images, total_correct / images, math.nan,
                         math.nan, seconds, int(images))
    return result, points


def evaluate(model, loader, loss_function=None) -> tuple:
    """Mean loss and accuracy of ``model`` over ``loader``, in evaluation mode, no grad.

    Returns
    -------
    (loss, accuracy) : (float, float)
        Means over all the samples (not over batches).
    """
    loss_function = loss_function or _cross_entropy()
    was_training = model.training
    model.eval()
    total_loss = total_correct = images = 0.0
    try:
        with no_grad():
            for inputs, labels in loader:
                logits = model(inputs)
                batch = len(labels)
                total_loss += float(loss_function(logits, labels).item()) * batch
                total_correct += float((logits.numpy().argmax(axis=1) == labels.numpy()).sum())
                images += batch
    finally:
        model.train(was_training)
    if images == 0:
        raise ValueError("evaluate: the loader gave no batches")
    return total_loss / images, total_correct / images


def fit(model, optimizer, train_data, test_data, epochs, batch_size=64, seed=0,
        normalize=MNIST_NORMALIZE, start_epoch=0, log=None, progress=None,
        on_epoch_end=None, checkpoint_path=None, metadata=None, loss_function=None):
    """Train for epochs ``start_epoch + 1`` to ``epochs``, evaluating after each.

    Parameters
    ----------
    model, optimizer
        As for :func:`train_epoch`.
    train_data, test_data : datasets with ``images`` (N, H, W) uint8 and ``labels`` (N,)
        E.g. ``MNIST(train=True)``, ``MNIST(train=False).subset(1000)``.
    epochs : int
        The run's total number of epochs.
    batch_size : int, default 64
    seed : int, default 0
        Seeds each epoch's sample order (:func:`epoch_seed`). Seed the model's
        initialisation yourself (``cnnlab.manual_seed``) before building it.
    normalize : (mean, std) or None, default MNIST's
        Passed to the loaders (:func:`cnnlab.data.to_tensor`).
    start_epoch : int, default 0
        Epochs already completed (when resuming; see :func:`resume`).
    log : TrainingLog or None
        The log to extend (when resuming); a new one by default.
    progress : callable or None
        Called with a :class:`Progress` after every training step.
    on_epoch_end : callable or None
        Called with the epoch's :class:`EpochResult` once it is evaluated (and saved).
    checkpoint_path : str, os.PathLike or None
        If given, a checkpoint is written there atomically after every epoch
        (:func:`save_checkpoint`), so that an interrupted run can be resumed.
    metadata : dict or None
        JSON-serialisable description of the run, stored in the checkpoint.

    Returns
    -------
    TrainingLog
    """
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1),
                             ("seed", seed, 0), ("start_epoch", start_epoch, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"fit: {name} must be an int >= {low}, got {value!r}")
    log = log if log is not None else TrainingLog()
    test_loader = DataLoader(test_data, batch_size=EVAL_BATCH_SIZE, normalize=normalize)
    for epoch in range(start_epoch, epochs):
        loader = DataLoader(train_data, batch_size=batch_size, shuffle=True,
                            seed=epoch_seed(seed, epoch), normalize=normalize)
        result, points = train_epoch(model, loader, optimizer, loss_function, progress,
                                     epoch + 1, epochs)
        result.test_loss, result.test_accuracy = evaluate(model, test_loader, loss_function)
        log.points.extend(points)
        log.epochs.append(result)
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model, optimizer, epoch + 1, log, metadata)
        if on_epoch_end is not None:
            on_epoch_end(result)
    return log


# ------------------------------------------------------------------ checkpoints


def save_checkpoint(path, model, optimizer, epoch, log=None, metadata=None) -> None:
    """Write the run's state after ``epoch`` completed epochs, atomically.

    The checkpoint (:func:`cnnlab.checkpoint.save`) holds ``model.state_dict()``,
    ``optimizer.state_dict()``, ``epoch``, cnnlab's generator state
    (``cnnlab.get_rng_state()``) and, as its metadata, ``{"run": metadata, "log":
    log.to_dict()}``.
    """
    extra = {"run": metadata or {}, "log": (log or TrainingLog()).to_dict()}
    checkpoint.save(path, model.state_dict(), optimizer.state_dict() if optimizer else None,
                    epoch=epoch, rng_state=get_rng_state(), extra=extra)


def read_checkpoint(path) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`, checking its metadata.

    Returns
    -------
    dict
        :func:`cnnlab.checkpoint.load`'s entries plus ``run`` (the metadata dict) and
        ``log`` (a :class:`TrainingLog`).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is corrupt, not a cnnlab checkpoint, or not a training checkpoint.
    """
    loaded = checkpoint.load(path)
    extra = loaded["extra"]
    if not isinstance(extra.get("run"), dict) or "log" not in extra:
        raise ValueError(f"read_checkpoint: {path} is a cnnlab checkpoint but not one written "
                         "by cnnlab.training (no run metadata)")
    loaded["run"] = extra["run"]
    try:
        loaded["log"] = TrainingLog.from_dict(extra["log"])
    except ValueError as error:
        raise ValueError(f"read_checkpoint: {path}: {error}") from None
    return loaded


def restore(loaded: dict, model, optimizer=None, path="checkpoint") -> None:
    """Put a loaded checkpoint's weights, optimizer state and generator state in place.

    Raises
    ------
    ValueError
        When the weights or the optimizer state do not fit ``model`` / ``optimizer``
        (another architecture, another optimizer).
    """
    try:
        model.load_state_dict(loaded["model_state"])
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        message = error.args[0] if error.args else str(error)
        raise ValueError(f"{path}: its weights do not fit the model: {message}") from None
    if optimizer is not None:
        state = loaded["optimizer_state"]
        if state is None:
            raise ValueError(f"{path}: holds no optimizer state to resume from")
        saved_keys = {key for group in state.get("param_groups", []) for key in group}
        own_keys = {key for group in optimizer.state_dict()["param_groups"] for key in group}
        if saved_keys != own_keys:
            raise ValueError(f"{path}: its optimizer state is not a {type(optimizer).__name__}'s "
                             f"(hyper-parameters {sorted(saved_keys)})")
        try:
            optimizer.load_state_dict(state)
        except (KeyError, ValueError, TypeError) as error:
            message = error.args[0] if error.args else str(error)
            raise ValueError(f"{path}: its optimizer state does not fit: {message}") from None
    if loaded["rng_state"] is not None:
        set_rng_state(loaded["rng_state"])


def resume(path, model, optimizer):
    """Load ``path`` into ``model`` and ``optimizer`` to continue a run with :func:`fit`.

    Returns
    -------
    (start_epoch, log, metadata) : (int, TrainingLog, dict)
        Pass ``start_epoch`` and ``log`` to :func:`fit`.

    Examples
    --------
    ::

        start, log, run = resume("run/checkpoint.npz", model, optimizer)
        fit(model, optimizer, train, test, epochs=2, start_epoch=start, log=log, ...)
    """
    loaded = read_checkpoint(path)
    restore(loaded, model, optimizer, path)
    return loaded["epoch"], loaded["log"], loaded["run"]


__all__ = ["Progress", "EpochResult", "TrainingLog", "epoch_seed", "train_epoch", "evaluate",
           "fit", "save_checkpoint", "read_checkpoint", "restore", "resume"]

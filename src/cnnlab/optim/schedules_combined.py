"""Schedules built on others or on a metric: ``SequentialLR``, ``ChainedScheduler``,
``ReduceLROnPlateau``."""

from __future__ import annotations

import math
import warnings

from bisect import bisect_right

from .scheduler import _EPOCH_DEPRECATION, LRScheduler, _check_optimizer, _number, _per_group


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    Call ``step(metric)`` after each evaluation. After more than ``patience`` epochs
    without an improvement (better than the best by ``threshold``, relative or
    absolute), every group's rate becomes ``max(lr * factor, min_lr)`` (changes smaller
    than ``eps`` are skipped), then ``cooldown`` epochs pass before counting again.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {'min', 'max'}, default 'min'
    factor : float < 1, default 0.1
    patience : int, default 10
    threshold : float, default 1e-4
    threshold_mode : {'rel', 'abs'}, default 'rel'
    cooldown : int, default 0
    min_lr : float or list of float, default 0
    eps : float, default 1e-8
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        owner = "ReduceLROnPlateau"
        _check_optimizer(optimizer, owner)
        self.factor = _number(factor, "factor", owner, high=1.0, high_open=True)
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{owner}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(min_lr, "min_lr", optimizer, owner)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value, best) -> bool:
        if self.threshold_mode == "rel":
            scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
            return value < best * scale if self.mode == "min" else value > best * scale
        if self.mode == "min":
            return value < best - self.threshold
        return value > best + self.threshold

    def step(self, metrics, epoch=None) -> None:
        current = float(metrics)   # a number or a one-element tensor
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0   # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} "
                                   f"parameter groups but min_lrs has {len(self.min_lrs)}; "
                                   "set min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                group["lr"] = new


def _check_parts(owner, schedulers, optimizer):
    if len(schedulers) < 1:
        raise ValueError(f"{owner}: expects at least one scheduler, got none")
    for index, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{owner}: the scheduler at index {index} has no optimizer "
                            f"(got {type(scheduler).__name__})")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner}: does not support ReduceLROnPlateau (its step needs "
                             f"the metric), found at index {index}")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{owner}: every scheduler must belong to the same optimizer; "
                             f"the {type(scheduler).__name__} at index {index} has another")


class SequentialLR(LRScheduler):
    """One schedule after another: ``schedulers[i]`` runs from ``milestones[i - 1]``
    (e.g. ``LinearLR`` warm-up for 5 epochs, then ``CosineAnnealingLR``)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer(optimizer, "SequentialLR")
        _check_parts("SequentialLR", schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects one milestone fewer than schedulers, "
                             f"got {len(schedulers)} schedulers and {len(milestones)} "
                             f"milestones")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Building each part applied its step 0: undo them, then apply the first one's.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_steps(self, scheduler):
        if hasattr(scheduler, "_schedulers"):
            for part in scheduler._schedulers:
                self._undo_steps(part)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)   # a schedule starts: its epoch 0, closed form
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        parts = state.pop("_schedulers")
        self.__dict__.update(state)
        for scheduler, part in zip(self._schedulers, parts):
            scheduler.load_state_dict(part)


class ChainedScheduler(LRScheduler):
    """Several schedules stepped together, their effects multiplied (each rewrites the
    rate the previous one set)."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expects at least one scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_parts("ChainedScheduler", schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = self._current_lrs()

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()

    state_dict = SequentialLR.state_dict
    load_state_dict = SequentialLR.load_state_dict

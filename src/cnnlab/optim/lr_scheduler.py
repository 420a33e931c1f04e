"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

A scheduler rewrites ``group['lr']`` of its optimiser's parameter groups each time its
``step()`` is called (once per epoch, or per batch for ``OneCycleLR``), after the
optimiser's ``step()``. Building one already applies step 0. The sequence of learning
rates is PyTorch's, float for float: each schedule uses PyTorch's update formula
(most multiply the current ``lr``, so a manual change of ``group['lr']`` carries on,
and schedules can be chained).

``get_last_lr()`` returns the learning rates the last step set; ``state_dict()`` /
``load_state_dict()`` save and restore the scheduler's counters (not the optimiser).
"""

from __future__ import annotations

import math
import types
from collections import Counter

from .scheduler import (_LRScheduler, LRScheduler, _check_optimizer, _number,  # noqa: F401
                        _per_group, _positive_int)
from .schedules_combined import ChainedScheduler, ReduceLROnPlateau, SequentialLR
from .schedules_cyclic import CosineAnnealingWarmRestarts, OneCycleLR

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR",
           "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "OneCycleLR", "SequentialLR", "ChainedScheduler",
           "ReduceLROnPlateau"]


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``; ``lr_lambda`` is a function or one per group.

    Examples
    --------
    >>> import cnnlab
    >>> opt = cnnlab.optim.SGD([cnnlab.zeros(1, requires_grad=True)], lr=1.0)
    >>> schedule = LambdaLR(opt, lambda epoch: 0.5 ** epoch)
    >>> for _ in range(2):
    ...     opt.step(); schedule.step()
    >>> schedule.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, "LambdaLR")
        lambdas = _per_group(lr_lambda, "lr_lambda", optimizer, "LambdaLR")
        for function in lambdas:
            if not callable(function):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {function!r}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base * function(self.last_epoch)
                for function, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        """As PyTorch: plain functions are not saved (``None``), callable objects'
        attributes are."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(function, types.FunctionType)
                               else dict(function.__dict__) for function in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for function, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                function.__dict__.update(attributes)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _positive_int(step_size, "step_size", "StepLR")
        self.gamma = _number(gamma, "gamma", "StepLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``
    (by ``gamma ** k`` at an epoch listed k times)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        try:
            self.milestones = Counter(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: milestones must be a list of ints, got "
                            f"{milestones!r}") from None
        self.gamma = _number(gamma, "gamma", "MultiStepLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        passed = sum(count for milestone, count in self.milestones.items()
                     if milestone <= self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = _number(gamma, "gamma", "ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the initial learning rate down to ``eta_min`` over ``T_max`` epochs
    (and back up over the next ``T_max``, and so on).

    ``lr_t = eta_min + (initial_lr - eta_min) (1 + cos(pi t / T_max)) / 2``, applied as
    PyTorch does, step to step: ``lr_t - eta_min = (lr_{t-1} - eta_min)
    (1 + cos(pi t / T_max)) / (1 + cos(pi (t - 1) / T_max))``, with the step after a
    minimum adding ``(initial_lr - eta_min) (1 - cos(pi / T_max)) / 2``.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = _number(eta_min, "eta_min", "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        t, period, floor = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:   # resumed: the closed form once
            return [floor + (base - floor) * (1 + math.cos(t * math.pi / period)) / 2
                    for base in self.base_lrs]
        if (t - 1 - period) % (2 * period) == 0:   # just past a minimum
            return [lr + (base - floor) * (1 - math.cos(math.pi / period)) / 2
                    for base, lr in zip(self.base_lrs, self._current_lrs())]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (lr - floor) + floor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class MultiplicativeLR(LRScheduler):
    """Multiply the learning rate by ``lr_lambda(epoch)`` every epoch (one function, or
    one per group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, "MultiplicativeLR")
        self.lr_lambdas = _per_group(lr_lambda, "lr_lambda", optimizer, "MultiplicativeLR")
        for function in self.lr_lambdas:
            if not callable(function):
                raise TypeError(f"MultiplicativeLR: lr_lambda must be callable, got "
                                f"{function!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [lr * function(self.last_epoch)
                for function, lr in zip(self.lr_lambdas, self._current_lrs())]

    state_dict = LambdaLR.state_dict
    load_state_dict = LambdaLR.load_state_dict


class ConstantLR(LRScheduler):
    """The learning rate times ``factor`` for the first ``total_iters`` epochs, then the
    learning rate itself."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        self.factor = _number(factor, "factor", "ConstantLR", 0, 1)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        scale = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base * scale for base in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor on the learning rate goes linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs (a warm-up), then stays.

    Applied step to step as PyTorch: ``lr_t = lr_{t-1} (1 + (end - start) / (total *
    start + (t - 1) (end - start)))``.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        self.start_factor = _number(start_factor, "start_factor", "LinearLR", 0, 1,
                                    low_open=True)
        self.end_factor = _number(end_factor, "end_factor", "LinearLR", 0, 1)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        step = 1.0 + change / (self.total_iters * self.start_factor
                               + (self.last_epoch - 1) * change)
        return [lr * step for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * done
        return [base * factor for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """``lr = initial_lr (1 - t / total_iters) ** power`` for ``t <= total_iters``
    (applied step to step as PyTorch), then constant."""

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = _positive_int(total_iters, "total_iters", "PolynomialLR")
        self.power = _number(power, "power", "PolynomialLR")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [lr * decay for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        left = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * left ** self.power for base in self.base_lrs]

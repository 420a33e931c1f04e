"""Schedules that rise and fall within a run: ``OneCycleLR``, ``CosineAnnealingWarmRestarts``."""

from __future__ import annotations

import math

from .scheduler import LRScheduler, _check_optimizer, _number, _per_group, _positive_int


class OneCycleLR(LRScheduler):
    """The 1cycle policy: the learning rate rises from ``max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of the steps, then falls to
    ``initial_lr / final_div_factor``; the momentum (or Adam's beta1) moves the opposite
    way between ``max_momentum`` and ``base_momentum``. Step once per batch.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float (one per group)
    total_steps : int, or ``epochs`` and ``steps_per_epoch``
    pct_start : float, default 0.3
    anneal_strategy : {'cos', 'linear'}, default 'cos'
    cycle_momentum : bool, default True
    base_momentum, max_momentum : float or list, defaults 0.85, 0.95
    div_factor, final_div_factor : float, defaults 25, 1e4
    three_phase : bool, default False
        Rise, fall back to the initial rate, then anneal to the minimum.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, last_epoch=-1):
        owner = "OneCycleLR"
        _check_optimizer(optimizer, owner)
        if total_steps is not None:
            self.total_steps = _positive_int(total_steps, "total_steps", owner)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(epochs, "epochs", owner)
                                * _positive_int(steps_per_epoch, "steps_per_epoch", owner))
        else:
            raise ValueError(f"{owner}: you must define either total_steps OR (epochs AND "
                             "steps_per_epoch)")
        _number(pct_start, "pct_start", owner, 0, 1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{owner}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        # Each phase: (last step of the phase, start and end keys of the lr and momentum).
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._phases = [
                (rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                 "max_momentum")]
        else:
            self._phases = [
                (rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        max_lrs = _per_group(max_lr, "max_lr", optimizer, owner)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{owner}: optimizer must support momentum or beta1 with "
                                 "`cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            highs = _per_group(max_momentum, "max_momentum", optimizer, owner)
            lows = _per_group(base_momentum, "base_momentum", optimizer, owner)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, fraction):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def get_lr(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times. The specified number "
                             f"of total steps is {self.total_steps}")
        rates = []
        for group in self.optimizer.param_groups:
            phase_start = 0.0
            for index, (end, lr_from, lr_to, m_from, m_to) in enumerate(self._phases):
                if step <= end or index == len(self._phases) - 1:
                    fraction = (step - phase_start) / (end - phase_start)
                    rates.append(self._anneal(group[lr_from], group[lr_to], fraction))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m_from], group[m_to],
                                                               fraction))
                    break
                phase_start = end
        return rates


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from the initial rate to ``eta_min`` over ``T_0`` epochs, then a
    restart; each following period is ``T_mult`` times longer (SGDR).

    ``lr = eta_min + (initial_lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2``; ``step()``
    may take a fractional ``epoch`` (e.g. ``epoch + batch / batches``).
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        owner = "CosineAnnealingWarmRestarts"
        self.T_0 = _positive_int(T_0, "T_0", owner)
        self.T_mult = _positive_int(T_mult, "T_mult", owner)
        self.eta_min = _number(eta_min, "eta_min", owner)
        self.T_i = self.T_0
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        scale = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base - self.eta_min) * scale for base in self.base_lrs]

    def step(self, epoch=None) -> None:
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:   # restart, the next period T_mult times longer
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be non-negative, "
                             f"got {epoch!r}")
        elif epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # Periods T_0, T_0 m, T_0 m^2, ... end at T_0 (m^n - 1) / (m - 1).
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

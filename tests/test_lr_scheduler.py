"""Learning-rate schedules against torch.optim.lr_scheduler, step by step."""

import math
import warnings

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import optim
from cnnlab.optim import lr_scheduler as L


def optimizers(kind="sgd"):
    """The same two parameter groups (lr 0.1 and 0.02) in cnnlab and torch."""
    ours = [{"params": [cnnlab.zeros(2, requires_grad=True)]},
            {"params": [cnnlab.zeros(3, requires_grad=True)], "lr": 0.02}]
    theirs = [{"params": [torch.zeros(2, requires_grad=True)]},
              {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.02}]
    if kind == "sgd":
        return optim.SGD(ours, lr=0.1, momentum=0.9), torch.optim.SGD(theirs, lr=0.1,
                                                                     momentum=0.9)
    return optim.Adam(ours, lr=0.1), torch.optim.Adam(theirs, lr=0.1)


SCHEDULES = {
    "StepLR": lambda lib, o: lib.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda lib, o: lib.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda lib, o: lib.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda lib, o: lib.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
    "LambdaLR": lambda lib, o: lib.LambdaLR(o, lambda epoch: 1 / (epoch + 1)),
    "LambdaLR-per-group": lambda lib, o: lib.LambdaLR(
        o, [lambda e: 0.95 ** e, lambda e: 1 + e]),
    "MultiplicativeLR": lambda lib, o: lib.MultiplicativeLR(o, lambda e: 0.9 + 0.01 * e),
    "ConstantLR": lambda lib, o: lib.ConstantLR(o, factor=0.25, total_iters=4),
    "LinearLR": lambda lib, o: lib.LinearLR(o, start_factor=0.1, end_factor=0.8,
                                            total_iters=6),
    "PolynomialLR": lambda lib, o: lib.PolynomialLR(o, total_iters=10, power=2.0),
    "CosineAnnealingWarmRestarts": lambda lib, o: lib.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.01),
    "SequentialLR-warmup-cosine": lambda lib, o: lib.SequentialLR(
        o, [lib.LinearLR(o, start_factor=0.2, total_iters=4), lib.CosineAnnealingLR(o, 10)],
        milestones=[4]),
    "SequentialLR-three": lambda lib, o: lib.SequentialLR(
        o, [lib.ConstantLR(o, 0.5, 3), lib.ExponentialLR(o, 0.8), lib.StepLR(o, 2)],
        milestones=[3, 9]),
    "ChainedScheduler": lambda lib, o: lib.ChainedScheduler(
        [lib.ExponentialLR(o, 0.9), lib.ConstantLR(o, 0.5, 5)]),
    "OneCycleLR": lambda lib, o: lib.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=25),
    "OneCycleLR-linear-3phase": lambda lib, o: lib.OneCycleLR(
        o, max_lr=0.3, epochs=3, steps_per_epoch=8, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0),
}


def lr_sequence(optimizer, schedule, steps):
    rates = [schedule.get_last_lr()]
    momenta = []
    for _ in range(steps):
        optimizer.step()
        schedule.step()
        rates.append(schedule.get_last_lr())
        group = optimizer.param_groups[0]
        momenta.append(group.get("momentum", group.get("betas", (None,))[0]))
    return rates, momenta


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("build", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_learning_rates_equal_torchs_step_by_step(build, kind):
    ours_opt, their_opt = optimizers(kind)
    ours, theirs = build(L, ours_opt), build(torch.optim.lr_scheduler, their_opt)
    steps = getattr(theirs, "total_steps", 24)
    ours_rates, ours_momenta = lr_sequence(ours_opt, ours, steps)
    their_rates, their_momenta = lr_sequence(their_opt, theirs, steps)
    np.testing.assert_allclose(ours_rates, their_rates, rtol=1e-15, atol=0)
    assert ours_momenta == pytest.approx(their_momenta, rel=1e-15)
    assert [g["lr"] for g in ours_opt.param_groups] == ours_rates[-1]
    assert ours_opt.param_groups[1]["initial_lr"] == their_opt.param_groups[1]["initial_lr"]


def test_cosine_annealing_with_manual_changes_and_many_periods():
    ours_opt, their_opt = optimizers()
    ours = L.CosineAnnealingLR(ours_opt, T_max=3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(their_opt, T_max=3)
    for step in range(20):
        if step == 7:   # a manual change carries on, as in PyTorch's recursive form
            ours_opt.param_groups[0]["lr"] = their_opt.param_groups[0]["lr"] = 0.05
        ours_opt.step(), their_opt.step()
        ours.step(), theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-14, abs=1e-17)


@pytest.mark.parametrize("options", [dict(), dict(mode="max", threshold_mode="abs",
                                                  threshold=0.1),
                                     dict(patience=1, cooldown=2, factor=0.5, min_lr=0.03),
                                     dict(patience=0, min_lr=[0.0, 0.01], eps=1e-3)],
                         ids=["default", "max-abs", "cooldown-min-lr", "per-group-eps"])
def test_reduce_on_plateau_equals_torchs(options):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.89999, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8,
               0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 1.2, 1.3, 1.3, 1.3]
    ours_opt, their_opt = optimizers()
    ours = L.ReduceLROnPlateau(ours_opt, **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, **options)
    for value in metrics:
        ours_opt.step(), their_opt.step()
        ours.step(cnnlab.tensor(np.float64(value))), theirs.step(value)
        assert ours.get_last_lr() == theirs.get_last_lr()
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.best) == \
            (theirs.num_bad_epochs, theirs.cooldown_counter, theirs.best)


def test_warm_restarts_with_fractional_epochs_equal_torchs():
    ours_opt, their_opt = optimizers()
    ours = L.CosineAnnealingWarmRestarts(ours_opt, T_0=4, T_mult=2)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(their_opt, T_0=4, T_mult=2)
    for epoch in np.arange(0, 30, 0.25):
        ours.step(float(epoch)), theirs.step(float(epoch))
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-14)


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "OneCycleLR", "LambdaLR",
                                  "SequentialLR-warmup-cosine"])
def test_state_dict_resumes_the_same_sequence(name):
    build = SCHEDULES[name]
    opt, _ = optimizers()
    schedule = build(L, opt)
    for _ in range(4):
        opt.step(), schedule.step()
    saved, saved_opt = schedule.state_dict(), opt.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 4
    expected = []
    for _ in range(5):
        opt.step(), schedule.step()
        expected.append(schedule.get_last_lr())
    resumed_opt, _ = optimizers()
    resumed = build(L, resumed_opt)
    resumed_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved)
    got = []
    for _ in range(5):
        resumed_opt.step(), resumed.step()
        got.append(resumed.get_last_lr())
    assert got == expected


def test_state_dict_keys_match_torchs():
    ours_opt, their_opt = optimizers()
    ours = L.StepLR(ours_opt, 2)
    theirs = torch.optim.lr_scheduler.StepLR(their_opt, 2)
    public = {k for k in theirs.state_dict() if not k.startswith("_")}
    assert public <= set(ours.state_dict())
    assert ours.state_dict()["base_lrs"] == theirs.state_dict()["base_lrs"] == [0.1, 0.02]


def test_step_with_epoch_uses_the_closed_form_and_warns():
    ours_opt, their_opt = optimizers()
    ours = L.StepLR(ours_opt, step_size=2, gamma=0.5)
    theirs = torch.optim.lr_scheduler.StepLR(their_opt, step_size=2, gamma=0.5)
    ours_opt.step(), their_opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        ours.step(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.step(7)
    assert ours.get_last_lr() == theirs.get_last_lr() == [0.1 * 0.5 ** 3, 0.02 * 0.5 ** 3]


def test_scheduler_errors():
    opt, _ = optimizers()
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        L.StepLR([], 2)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        L.StepLR(opt, 0)
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        L.ExponentialLR(opt, 0.9, last_epoch=3)
    with pytest.raises(ValueError, match="either total_steps OR"):
        L.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match=r"max_lr must have the same length as "
                                         r"optimizer.param_groups \(2\), got 3"):
        L.OneCycleLR(opt, max_lr=[1, 2, 3], total_steps=5)
    with pytest.raises(ValueError, match=r"factor must be in \[-inf, 1.0\), got 1.5"):
        L.ReduceLROnPlateau(opt, factor=1.5)
    schedule = L.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    opt.step()
    schedule.step(), schedule.step()
    with pytest.raises(ValueError, match="tried to step 3 times. The specified number of "
                                         "total steps is 2"):
        schedule.step()


def test_optim_package_keeps_the_old_imports():
    from cnnlab.optim import SGD, Adam, Optimizer  # noqa: F401
    from cnnlab.optim.optimizers import SGD as SGD2
    assert SGD is SGD2 and issubclass(Adam, Optimizer)
    assert cnnlab.optim.lr_scheduler.LRScheduler is L._LRScheduler
    assert math.isclose(L.ExponentialLR(optimizers()[0], 0.5).get_last_lr()[0], 0.1)


def test_stepping_the_schedule_before_the_optimizer_warns_like_torch():
    ours_opt, their_opt = optimizers()
    ours = L.StepLR(ours_opt, 2)
    theirs = torch.optim.lr_scheduler.StepLR(their_opt, 2)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step"):
        ours.step()
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step"):
        theirs.step()
    ours_opt, _ = optimizers()
    schedule = L.StepLR(ours_opt, 2)
    ours_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schedule.step()

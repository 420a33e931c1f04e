"""Optimisers with PyTorch's update rules: ``SGD`` (momentum, Nesterov, weight decay), ``Adam``."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import no_grad
from ..shapes import check_flag
from ..tensor import Tensor


class Optimizer:
    """Holds parameter groups and per-parameter state; subclasses define ``_update``.

    Parameters
    ----------
    params : iterable of Tensor, or of dicts with a ``'params'`` key (parameter groups)
    defaults : dict
        Hyper-parameters used where a group does not set its own.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        params = _param_list(params, type(self).__name__, "params")
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        owner = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{owner}: a parameter group must be a dict with a 'params' key, "
                            f"got {group!r}")
        group = dict(group)
        group["params"] = _param_list(group["params"], owner, "params of a parameter group",
                                      allow_tensor=True)
        for param in group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(f"{type(self).__name__}: params must be Tensors, got "
                                f"{type(param).__name__}")
            if not param.requires_grad:
                raise ValueError(f"{type(self).__name__}: can't optimize a tensor that does "
                                 "not require grad")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none:
                    param.grad = None
                elif param.grad is not None:
                    param.grad.array[...] = 0

    @no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        self._opt_called = True   # read by the schedulers' call-order warning
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state.setdefault(id(param), {})
                self._update(param.array, param.grad.array, state, group)
        return loss

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    @staticmethod
    def _gradient(param, grad, group):
        """The gradient to step along: negated to maximize, plus L2 ``weight_decay * p``."""
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        return grad

    # ------------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        """Hyper-parameters per group, and per-parameter state by position (as PyTorch)."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for param in group["params"]:
                index.setdefault(id(param), len(index))
                ids.append(index[id(param)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[key]: dict(value) for key, value in self.state.items() if key in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(saved["params"]) != len(group["params"])
                for saved, group in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter "
                             "groups do not match this optimizer's")
        params = [p for group in self.param_groups for p in group["params"]]
        for group, saved in zip(self.param_groups, groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for position, value in state_dict["state"].items():
            position = int(position)
            if not 0 <= position < len(params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: state for parameter "
                                 f"{position}, but there are only {len(params)}")
            param = params[position]
            restored = {}
            for key, item in value.items():
                item = np.array(item, copy=True) if isinstance(item, np.ndarray) else item
                if isinstance(item, np.ndarray) and item.shape not in ((), param.array.shape):
                    raise ValueError(f"{type(self).__name__}.load_state_dict: state {key!r} of "
                                     f"parameter {position} has shape {item.shape}, expected "
                                     f"{param.array.shape}")
                restored[key] = item
            self.state[id(param)] = restored


def _param_list(params, owner, name, allow_tensor=False) -> list:
    """``params`` (an iterable of Tensors or of group dicts) as a list, or a TypeError."""
    if isinstance(params, Tensor):
        if allow_tensor:
            return [params]
        raise TypeError(f"{owner}: {name} must be an iterable of Tensors or dicts (e.g. "
                        f"model.parameters()), got a single Tensor; wrap it in a list")
    if isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
        raise TypeError(f"{owner}: {name} must be an iterable of Tensors or dicts (e.g. "
                        f"model.parameters()), got {type(params).__name__}")
    return list(params)


def _check_number(owner, name, value, low=0.0, high=math.inf, low_open=False):
    interval = f"{'(' if low_open else '['}{low}, {high})"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number in {interval}, got {value!r}")
    if not ((low < value if low_open else low <= value) and value < high):
        raise ValueError(f"{owner}: {name} must be a number in {interval}, got {value!r}")


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's update rule.

    ``g = grad + weight_decay * p``; with momentum, ``b = momentum * b + (1 - dampening)
    * g`` (``b = g`` on the first step) and ``g = g + momentum * b`` (Nesterov) or
    ``g = b``; then ``p -= lr * g``.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False):
        _check_number("SGD", "lr", lr)
        _check_number("SGD", "momentum", momentum)
        _check_number("SGD", "weight_decay", weight_decay)
        _check_number("SGD", "dampening", dampening)
        check_flag(nesterov, "nesterov", "SGD")
        check_flag(maximize, "maximize", "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        grad = self._gradient(param, grad, group)
        momentum = group["momentum"]
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param -= (group["lr"] * grad).astype(param.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's update rule and bias corrections.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    ``weight_decay`` adds ``wd * p`` to the gradient (L2, not AdamW's decoupled decay).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, maximize=False):
        _check_number("Adam", "lr", lr)
        _check_number("Adam", "eps", eps)
        _check_number("Adam", "weight_decay", weight_decay)
        check_flag(amsgrad, "amsgrad", "Adam")
        check_flag(maximize, "maximize", "Adam")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"Adam: betas must be a pair of numbers in [0, 1), got {betas!r}")
        for i, beta in enumerate(betas):
            _check_number("Adam", f"betas[{i}]", beta, 0.0, 1.0)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        grad = self._gradient(param, grad, group)
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (grad - exp_avg) * (1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        second = exp_avg_sq
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        denom = np.sqrt(second) / math.sqrt(bias_correction2) + group["eps"]
        step_size = group["lr"] / bias_correction1
        param -= (step_size * exp_avg / denom).astype(param.dtype, copy=False)

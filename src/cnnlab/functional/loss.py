"""Losses: cross entropy, negative log likelihood, mean squared error."""

from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..autograd import record
from ..ops import as_tensor, half_in_float32

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, function):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{function}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_ignore_index(ignore_index, function):
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(
            ignore_index, (numbers.Integral, np.integer)):
        raise TypeError(f"{function}: ignore_index must be an int, got {ignore_index!r}")


def _class_weight(weight, classes: int, function: str):
    """``weight`` as a Tensor of shape ``(classes,)``, or None."""
    if weight is None:
        return None
    weight = as_tensor(weight, function, "weight")
    if tuple(weight.array.shape) != (classes,):
        raise ValueError(f"{function}: weight must have shape ({classes},) (one value per "
                         f"class), got shape {tuple(weight.array.shape)}")
    return weight


def _classes_last(x: np.ndarray) -> np.ndarray:
    """(N, C, d1, ...) -> (N * d1 * ..., C); (C,) -> (1, C).

    The row count is given explicitly: ``reshape(-1, 0)`` cannot infer it when C is 0.
    """
    if x.ndim == 1:
        return x[None, :]
    rows = x.shape[0] * int(np.prod(x.shape[2:], dtype=np.int64))
    return np.moveaxis(x, 1, -1).reshape(rows, x.shape[1])


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log likelihood of class indices, given log-probabilities.

    Parameters
    ----------
    input : array_like, shape (N, C), (N, C, d1, ...) or (C,)
        Log-probabilities.
    target : array_like of int, shape (N,), (N, d1, ...) or ()
        Class indices in [0, C) (or ``ignore_index``).
    weight : array_like, shape (C,), optional
        Per-class weights; ``'mean'`` divides by the sum of the targets' weights.
    """
    return _nll_loss(input, target, weight, ignore_index, reduction, "nll_loss")


def _nll_loss(input, target, weight, ignore_index, reduction, function):
    """:func:`nll_loss`, with errors naming ``function`` (it also serves cross_entropy)."""
    _check_reduction(reduction, function)
    _check_ignore_index(ignore_index, function)
    input = as_tensor(input, function, "input")
    target = as_tensor(target, function, "target")
    x, t = input.array, target.array
    if x.ndim == 0:
        raise ValueError(f"{function}: input must have a class dimension, got a 0-d tensor")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{function}: target must hold integer class indices, got "
                        f"{target.dtype!r} (for probabilities use cross_entropy)")
    expected = x.shape[:1] + x.shape[2:] if x.ndim > 1 else ()
    if t.shape != expected:
        raise ValueError(f"{function}: target shape {tuple(t.shape)} does not match input "
                         f"shape {tuple(x.shape)}; expected {expected}")
    classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    flat_x = _classes_last(x)
    flat_t = t.reshape(-1).astype(np.int64)
    valid = flat_t != ignore_index
    if np.any((flat_t[valid] < 0) | (flat_t[valid] >= classes)):
        bad = flat_t[valid][(flat_t[valid] < 0) | (flat_t[valid] >= classes)][0]
        raise ValueError(f"{function}: target {bad} is out of bounds for {classes} classes "
                         f"(allowed: 0..{classes - 1} or ignore_index={ignore_index})")
    safe_t = np.where(valid, flat_t, 0)
    weight = _class_weight(weight, classes, function)
    w = np.ones(classes, dtype=x.dtype) if weight is None else weight.array.astype(x.dtype)
    sample_weight = np.where(valid, w[safe_t], 0).astype(x.dtype)
    picked = flat_x[np.arange(flat_x.shape[0]), safe_t]
    losses = -sample_weight * picked
    denominator = sample_weight.sum() if reduction == "mean" else 1
    if reduction == "none":
        out = losses.reshape(t.shape)
    elif reduction == "sum":
        out = np.asarray(losses.sum(), dtype=x.dtype)
    else:
        # Every target ignored (or of weight 0): 0 / 0 = NaN, as in PyTorch.
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(losses.sum() / denominator, dtype=x.dtype)

    def backward(g):
        # d loss / d x[i, t_i] = -w[t_i] * g / denominator, written only for targets
        # that are not ignored (as PyTorch): with every target ignored the gradient is
        # 0, not 0 * (1 / 0) = NaN.
        with np.errstate(divide="ignore", invalid="ignore"):
            per_sample = np.broadcast_to(g, t.shape).reshape(-1) if reduction == "none" \
                else np.full(flat_t.shape, g / denominator, dtype=x.dtype)
            rows = np.flatnonzero(valid)
            grad = np.zeros_like(flat_x)
            grad[rows, safe_t[rows]] = -sample_weight[rows] * per_sample[rows]
        if x.ndim == 1:
            return (grad[0],)
        moved_shape = (x.shape[0],) + x.shape[2:] + (classes,)
        return (np.moveaxis(grad.reshape(moved_shape), -1, 1),)
    return record("NllLoss", out, (input,), backward)


@half_in_float32
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between logits and class indices (or class probabilities).

    ``log_softmax`` over the class dimension (dim 1, or 0 for unbatched input), then
    :func:`nll_loss`; with float targets of the input's shape, ``-sum(p * log_softmax)``.
    """
    function = "cross_entropy"
    _check_reduction(reduction, function)
    _check_ignore_index(ignore_index, function)
    if isinstance(label_smoothing, (bool, np.bool_)) or not isinstance(label_smoothing,
                                                                        numbers.Real):
        raise TypeError(f"{function}: label_smoothing must be a number in [0, 1], "
                        f"got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{function}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    input = as_tensor(input, function, "input")
    target = as_tensor(target, function, "target")
    if input.array.ndim == 0:
        raise ValueError(f"{function}: input must have a class dimension, got a 0-d tensor")
    class_dim = 1 if input.array.ndim > 1 else 0
    log_probs = ops.log_softmax(input, class_dim)
    classes = input.array.shape[class_dim]
    weight = _class_weight(weight, classes, function)
    if target.array.dtype.kind == "f":
        if ignore_index != -100:
            raise ValueError(f"{function}: ignore_index={ignore_index} is not supported with "
                             f"probability (floating point) targets, only with class-index "
                             f"targets; leave ignore_index at its default -100 (PyTorch "
                             f"refuses it too)")
        if target.array.shape != input.array.shape:
            raise ValueError(f"{function}: probability targets must have the input's shape "
                             f"{tuple(input.array.shape)}, got {tuple(target.array.shape)}")
        probs = target
        if label_smoothing:
            probs = ops.add(ops.mul(target, 1 - label_smoothing), label_smoothing / classes)
        terms = ops.mul(log_probs, probs)
        if weight is not None:
            shape = [1] * input.array.ndim
            shape[class_dim] = classes
            terms = ops.mul(terms, weight.reshape(shape))
        losses = ops.neg(ops.sum(terms, class_dim))
        if reduction == "none":
            return losses
        total = ops.sum(losses)
        # mean over the batch elements; none (empty batch) gives 0 / 0 = NaN, as PyTorch
        return total if reduction == "sum" else ops.div(total, losses.array.size)
    loss = _nll_loss(log_probs, target, weight, ignore_index, reduction, function)
    if not label_smoothing:
        return loss
    # Smoothing: mix in the mean over classes of -log p (weighted as PyTorch does).
    shape = [1] * input.array.ndim
    shape[class_dim] = classes
    terms = log_probs if weight is None else ops.mul(log_probs, weight.reshape(shape))
    smooth = ops.neg(ops.sum(terms, class_dim))
    valid = target.array != ignore_index
    # masked, not multiplied by 0/1: an ignored element's gradient is exactly 0 even when
    # the mean below divides by 0 (every target ignored), as in PyTorch
    smooth = ops.where(valid, smooth, 0.0)
    if reduction == "sum":
        smooth = ops.sum(smooth)
    elif reduction == "mean":
        if weight is None:
            smooth = ops.div(ops.sum(smooth), float(valid.sum()))
        else:
            w = weight.array
            t = np.where(valid, target.array, 0)
            smooth = ops.div(ops.sum(smooth), float((w[t] * valid).sum()))
    return ops.add(ops.mul(loss, 1 - label_smoothing), ops.mul(smooth, label_smoothing / classes))


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum) of squared differences; shapes broadcast as in PyTorch."""
    function = "mse_loss"
    _check_reduction(reduction, function)
    input = as_tensor(input, function, "input")
    target = as_tensor(target, function, "target")
    try:
        np.broadcast_shapes(input.array.shape, target.array.shape)
    except ValueError:
        raise ValueError(f"{function}: input shape {tuple(input.array.shape)} and target shape "
                         f"{tuple(target.array.shape)} cannot be broadcast together") from None
    diff = ops.sub(input, target)
    squared = ops.mul(diff, diff)
    if reduction == "none":
        return squared
    return ops.sum(squared) if reduction == "sum" else ops.mean(squared)

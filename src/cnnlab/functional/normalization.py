"""Normalisation: ``batch_norm``, ``instance_norm``, ``layer_norm`` and ``group_norm``,
each one recorded op.

All four standardise ``x`` over some axes and then apply a per-feature affine map::

    mean = x.mean(axes),  var = x.var(axes) (biased),  inv_std = 1 / sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    y = weight * x_hat + bias

They differ only in the axes: batch norm over the batch and the positions of each
channel, instance norm over the positions of each channel of each sample, layer norm over
the trailing ``normalized_shape``, group norm over the channels of a group and their
positions in each sample. The input is reshaped (a view) so that these axes are the
last or the outer ones, and one vectorised NumPy expression handles every channel at once.

Backward, derived once for all four (``n`` values per statistic, ``g = dy * weight``
the gradient reaching ``x_hat``). With ``d = x - mean``::

    d(mean)/dx_j = 1/n,      d(var)/dx_j = 2 d_j / n,
    d(inv_std)/dx_j = -1/2 (var + eps)^(-3/2) * 2 d_j / n = -inv_std^3 d_j / n
    x_hat_i = d_i inv_std
    d(x_hat_i)/dx_j = inv_std (delta_ij - 1/n) - d_i inv_std^3 d_j / n
                    = inv_std (delta_ij - 1/n - x_hat_i x_hat_j / n)

so ``dx_j = sum_i g_i d(x_hat_i)/dx_j``::

    dx = inv_std / n * (n g - sum(g) - x_hat * sum(g x_hat))

and ``d weight = sum(dy x_hat)``, ``d bias = sum(dy)`` over every axis but the feature
axis. In batch norm's evaluation mode the statistics are constants (the running
estimates), so ``dx = g * inv_std``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import no_grad, record
from ..dtypes import opmath_dtype
from ..kernels import batchnorm as batchnorm_kernels
from ..ops import as_tensor
from ._common import float_input

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm"]


# ------------------------------------------------------------------ helpers


def _feature_tensor(value, shape, function, name):
    """``value`` (weight, bias or a running statistic) as a Tensor of ``shape``, or None."""
    if value is None:
        return None
    value = as_tensor(value, function, name)
    if tuple(value.array.shape) != tuple(shape):
        raise ValueError(f"{function}: {name} must have shape {tuple(shape)}, "
                         f"got {tuple(value.array.shape)}")
    if value.array.dtype.kind != "f":
        raise TypeError(f"{function}: {name} must be a floating tensor, got {value.dtype!r}")
    return value


def _check_parameter_dtypes(function, dtype, **parameters):
    """PyTorch's rule for the parameters and statistics given (not None): one dtype
    for all, the input's or, for a float16 input, float32 ("mixed dtype")."""
    given = {name: value for name, value in parameters.items() if value is not None}
    allowed = [np.dtype(dtype)] + ([np.dtype(np.float32)] if dtype == np.float16 else [])
    dtypes = {value.array.dtype for value in given.values()}
    if len(dtypes) > 1 or not dtypes <= set(allowed):
        found = ", ".join(f"{name} {value.dtype}" for name, value in given.items())
        names = " or ".join(str(np.dtype(d)) for d in allowed)
        raise TypeError(f"{function}: the parameters must all have one dtype, the "
                        f"input's ({np.dtype(dtype)}) or float32 for a float16 input; "
                        f"got {found} for a {np.dtype(dtype)} input: convert them "
                        f"with .to({names})")


def _check_eps(eps, function):
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) or eps < 0:
        raise ValueError(f"{function}: eps must be a non-negative number, got {eps!r}")


def _sum(axes, a, b=None):
    """``sum(a)`` or ``sum(a * b)`` over ``axes``, kept as size-1 axes, in ``a``'s dtype.

    One ``einsum`` pass accumulating in float64: no temporary for the product, exact
    to float32 rounding however many values a statistic sums (float32 sums of 300k
    values drift by 1e-3), and faster than ``ndarray.sum`` over the non-trailing axes
    of batch norm's (N, C, L) (measured 1.7 against 1.0 ms on 128x512x9 for
    ``sum(x * y)``; the same 21 ms on 128x64x2304).
    """
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    letters = "abcdefgh"[:a.ndim]
    kept = "".join(letter for axis, letter in enumerate(letters) if axis not in axes)
    operands = (a,) if b is None else (a, b)
    spec = ",".join([letters] * len(operands)) + "->" + kept
    total = np.einsum(spec, *operands, dtype=np.float64, casting="safe")
    shape = tuple(1 if axis in axes else size for axis, size in enumerate(a.shape))
    return total.reshape(shape).astype(a.dtype, copy=False)


def _standardize(x, axes, eps):
    """``(x_hat, inv_std, mean, var)`` over ``axes`` (kept as size-1 axes); the variance
    is the biased one. ``x_hat`` is computed in the one new array ``x - mean``; for a
    float16 ``x`` in float32 (as PyTorch: ``x - mean`` in float16 lost 1% to
    cancellation), the caller's :func:`_affine` rounding the output back."""
    x = x.astype(opmath_dtype(x.dtype), copy=False)
    count = math.prod(x.shape[axis] for axis in ((axes,) if isinstance(axes, int) else axes))
    mean = _sum(axes, x) / count
    x_hat = x - mean
    var = _sum(axes, x_hat, x_hat) / count
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    return x_hat, inv_std, mean, var


def _grad_standardized(g, x_hat, inv_std, axes, count):
    """dx from ``g = dL/d(x_hat)`` where ``x_hat`` is standardised over ``axes``.

    ``dx = inv_std / n * (n g - sum(g) - x_hat * sum(g x_hat))`` (derived in the module
    docstring), with the sums over ``axes`` and ``n = count``; written as
    ``inv_std * (g - sum(g) / n - x_hat * sum(g x_hat) / n)`` into one new array (large
    arrays cost as much to allocate as to compute).
    """
    sum_g = _sum(axes, g)
    sum_g_xhat = _sum(axes, g, x_hat)
    dx = x_hat * (-sum_g_xhat / count)
    dx += g
    dx -= sum_g / count
    dx *= inv_std
    return dx


def _affine(x_hat, weight, bias, feature_shape, dtype):
    """``x_hat * weight + bias`` with the (C,)-shaped parameters reshaped to broadcast,
    in one new array (``x_hat`` itself when there are neither), as ``dtype`` (the
    input's: a float16 input is standardised in float32, and float32 parameters of a
    float16 input give a float16 output, as in PyTorch)."""
    if weight is None and bias is None:
        return x_hat.astype(dtype, copy=False)
    if weight is not None:
        out = x_hat * weight.array.reshape(feature_shape)
        if bias is not None:
            out += bias.array.reshape(feature_shape)
    else:
        out = x_hat + bias.array.reshape(feature_shape)
    return out.astype(dtype, copy=False)


def _record(name, out, input, weight, bias, grad_input, x_hat, affine_shape, sum_axes):
    """Record ``out`` with a backward giving the input, weight and bias gradients.

    The affine map was applied to ``x_hat`` of ``affine_shape``, in which the (C,)
    parameters broadcast as ``feature_shape`` (1 on every axis in ``sum_axes``).
    ``grad_input(g)`` maps ``g = dL/d(x_hat)`` (``affine_shape``) to ``dL/dx``.
    """
    inputs = [input] + [t for t in (weight, bias) if t is not None]
    feature_shape = tuple(1 if axis in sum_axes else size
                          for axis, size in enumerate(affine_shape))

    def backward(dy):
        dy = dy.reshape(affine_shape)
        grads = [None]
        if input.requires_grad:
            g = dy if weight is None else dy * weight.array.reshape(feature_shape)
            grads[0] = grad_input(g)
        if weight is not None:
            grads.append(_sum(sum_axes, dy, x_hat).reshape(weight.array.shape)
                         if weight.requires_grad else None)
        if bias is not None:
            grads.append(_sum(sum_axes, dy).reshape(bias.array.shape)
                         if bias.requires_grad else None)
        return tuple(grads)
    return record(name, out, tuple(inputs), backward)


# --------------------------------------------------------------- batch norm


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over the batch and spatial axes of each channel.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, *) with any number of trailing axes
    running_mean, running_var : Tensor of shape (C,) or None
        Running estimates. In training they are updated in place:
        ``running = (1 - momentum) * running + momentum * batch_statistic``, with the
        unbiased (``n / (n - 1)``) batch variance; in evaluation they normalise.
    weight, bias : Tensor of shape (C,), optional
    training : bool
        Normalise with the batch statistics (and update the running ones).
    momentum : float
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    Tensor of the input's shape.

    Raises
    ------
    ValueError
        For input with fewer than 2 axes, parameters of the wrong shape, evaluation mode
        without running statistics, or training with one value per channel.
    """
    return _channel_norm("batch_norm", "NativeBatchNorm", input, running_mean, running_var,
                         weight, bias, training, momentum, eps, stat_axes=(0, 2))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation: each channel of each sample standardised over its positions.

    Parameters
    ----------
    input : Tensor, shape (N, C, *) with at least one trailing axis
    running_mean, running_var : Tensor of shape (C,) or None
        With ``use_input_stats`` they are updated in place with the batch average of the
        per-instance statistics (unbiased variance), as PyTorch; otherwise they normalise.
    weight, bias : Tensor of shape (C,), optional
    use_input_stats : bool
    momentum, eps : float

    Returns
    -------
    Tensor of the input's shape.
    """
    return _channel_norm("instance_norm", "InstanceNorm", input, running_mean, running_var,
                         weight, bias, use_input_stats, momentum, eps, stat_axes=(2,))


def _channel_norm(function, name, input, running_mean, running_var, weight, bias,
                  use_input_stats, momentum, eps, stat_axes):
    """Batch norm (statistics over ``stat_axes = (0, 2)`` of (N, C, L)) and instance norm
    (over ``(2,)``, per sample): per-channel affine map, optional running statistics."""
    input = float_input(input, function)
    x = input.array
    if x.ndim < 2:
        raise ValueError(f"{function}: input must have at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(x.shape)}")
    _check_eps(eps, function)
    if not isinstance(use_input_stats, (bool, np.bool_)):
        raise TypeError(f"{function}: training must be True or False, got "
                        f"{use_input_stats!r}")
    channels = x.shape[1]
    shape = (channels,)
    running_mean = _feature_tensor(running_mean, shape, function, "running_mean")
    running_var = _feature_tensor(running_var, shape, function, "running_var")
    weight = _feature_tensor(weight, shape, function, "weight")
    bias = _feature_tensor(bias, shape, function, "bias")
    # instance norm's running statistics may differ (PyTorch folds them in separately)
    statistics = ({"running_mean": running_mean, "running_var": running_var}
                  if stat_axes == (0, 2) else {})
    _check_parameter_dtypes(function, x.dtype, weight=weight, bias=bias, **statistics)
    if x.size == 0:
        return _empty_result(name, input, weight, bias)
    # (N, C, L): a view for contiguous input; the affine map and its sums are per channel.
    x3 = x.reshape(x.shape[0], channels, -1)
    count = int(np.prod([x3.shape[axis] for axis in stat_axes]))
    feature_shape = (1, channels, 1)
    if use_input_stats:
        if count <= 1:
            where = "channel" if 0 in stat_axes else "instance"
            raise ValueError(f"{function}: expected more than 1 value per {where} when "
                             f"training, got input size {tuple(x.shape)}")
        if stat_axes == (0, 2):
            return _batch_norm_training(input, x3, running_mean, running_var, weight, bias,
                                        momentum, eps)
        x_hat, inv_std, mean, var = _standardize(x3, stat_axes, eps)
        if running_mean is not None or running_var is not None:
            # Per-instance statistics enter the running ones as their batch average.
            _update_running_stats(function, running_mean, running_var,
                                  mean.mean(axis=0).reshape(shape),
                                  var.mean(axis=0).reshape(shape), count, momentum)

        def grad_input(g):
            return _grad_standardized(g, x_hat, inv_std, stat_axes, count).reshape(x.shape)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{function}: running_mean and running_var are needed when "
                             f"not using the input's statistics (training=False)")
        if stat_axes == (0, 2):
            return _batch_norm_eval(input, x3, running_mean, running_var, weight, bias, eps)
        mean = running_mean.array.astype(x.dtype, copy=False).reshape(feature_shape)
        inv_std = 1.0 / np.sqrt(running_var.array.astype(x.dtype, copy=False)
                                .reshape(feature_shape) + eps)
        x_hat = (x3 - mean) * inv_std

        def grad_input(g):
            # The running statistics are constants here.
            return (g * inv_std).reshape(x.shape)
    out = _affine(x_hat, weight, bias, feature_shape, x.dtype).reshape(x.shape)
    return _record(name, out, input, weight, bias, grad_input, x_hat, x3.shape, (0, 2))


def _float64(tensor):
    """A (C,) parameter or statistic as the float64 array the batch-norm kernel takes."""
    return None if tensor is None else tensor.array.astype(np.float64)


def _batch_norm_training(input, x3, running_mean, running_var, weight, bias, momentum, eps):
    """Batch norm with the batch's statistics: :mod:`cnnlab.kernels.batchnorm`'s fused
    passes (the general path above makes about eight full-size passes each way)."""
    w, b = _float64(weight), _float64(bias)
    y, mean, inv_std, var, exact = batchnorm_kernels.forward(x3, w, b, eps)
    count = x3.shape[0] * x3.shape[2]
    _update_running_stats("batch_norm", running_mean, running_var, mean, var, count,
                          momentum)
    return _record_batch_norm(input, x3, y, weight, bias, w, mean, inv_std, exact, True)


def _batch_norm_eval(input, x3, running_mean, running_var, weight, bias, eps):
    """Batch norm with the running statistics (constants: ``dx = dy * weight * inv_std``)."""
    w, b = _float64(weight), _float64(bias)
    mean = _float64(running_mean)
    inv_std = 1.0 / np.sqrt(_float64(running_var) + eps)
    y = batchnorm_kernels.normalize(x3, mean, inv_std, w, b)
    return _record_batch_norm(input, x3, y, weight, bias, w, mean, inv_std, True, False)


def _record_batch_norm(input, x3, y, weight, bias, w, mean, inv_std, exact, batch_stats):
    """Record batch norm's output ``y`` (N, C, L) with the kernel's backward."""
    x = input.array
    inputs = (input,) + tuple(t for t in (weight, bias) if t is not None)

    def backward(dy):
        dx, dw, db = batchnorm_kernels.backward(dy.reshape(x3.shape), x3, mean, inv_std, w,
                                                exact, input.requires_grad, batch_stats)
        grads = [None if dx is None else dx.reshape(x.shape)]
        if weight is not None:
            grads.append(dw.astype(weight.array.dtype, copy=False))
        if bias is not None:
            grads.append(db.astype(bias.array.dtype, copy=False))
        return tuple(grads)
    return record("NativeBatchNorm", y.reshape(x.shape), inputs, backward)


def _update_running_stats(function, running_mean, running_var, mean, var, count, momentum):
    """Move the running statistics towards the batch's (the variance unbiased: times
    ``count / (count - 1)``), in place; nothing when there are none."""
    if running_mean is None and running_var is None:
        return
    if momentum is None or isinstance(momentum, bool) or not isinstance(momentum,
                                                                          numbers.Real):
        raise TypeError(f"{function}: momentum must be a number, got {momentum!r}")
    _update_running(running_mean, mean, momentum)
    _update_running(running_var, var * (count / (count - 1)), momentum)


def _empty_result(name, input, weight, bias):
    """An empty batch gives an empty output, as in PyTorch (no statistics to take, the
    running ones untouched); every gradient is zero."""
    x = input.array
    params = tuple(t for t in (weight, bias) if t is not None)
    return record(name, x.copy(), (input,) + params,
                  lambda g: (np.zeros_like(x),) + tuple(np.zeros_like(p.array) for p in params))


@no_grad()
def _update_running(running, statistic, momentum):
    """``running = (1 - momentum) * running + momentum * statistic``, in place."""
    if running is None:
        return
    target = running.array
    target *= 1 - momentum
    target += (momentum * statistic).astype(target.dtype, copy=False)


# --------------------------------------------------------------- layer norm


def _normalized_shape(normalized_shape, function):
    if isinstance(normalized_shape, (numbers.Integral, np.integer)) and not isinstance(
            normalized_shape, (bool, np.bool_)):
        normalized_shape = (int(normalized_shape),)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        shape = None
    if not shape or not all(isinstance(n, (numbers.Integral, np.integer))
                            and not isinstance(n, (bool, np.bool_)) and n > 0 for n in shape):
        raise ValueError(f"{function}: normalized_shape must be a positive int or a non-empty "
                         f"tuple of positive ints, got {normalized_shape!r}")
    return tuple(int(n) for n in shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample.

    Parameters
    ----------
    input : Tensor, shape (*, *normalized_shape)
    normalized_shape : int or tuple of int
    weight, bias : Tensor of shape ``normalized_shape``, optional
        Elementwise affine parameters.
    eps : float

    Returns
    -------
    Tensor of the input's shape.
    """
    function = "layer_norm"
    input = float_input(input, function)
    x = input.array
    shape = _normalized_shape(normalized_shape, function)
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"{function}: the input's trailing dimensions must be "
                         f"normalized_shape {shape}, got input shape {tuple(x.shape)}")
    _check_eps(eps, function)
    weight = _feature_tensor(weight, shape, function, "weight")
    bias = _feature_tensor(bias, shape, function, "bias")
    _check_parameter_dtypes(function, x.dtype, weight=weight, bias=bias)
    # (M, K): statistics per row over the K normalised values.
    size = int(np.prod(shape))
    x2 = x.reshape(-1, size)
    x_hat, inv_std, _, _ = _standardize(x2, 1, eps)

    def grad_input(g):
        return _grad_standardized(g, x_hat, inv_std, 1, size).reshape(x.shape)
    out = _affine(x_hat, weight, bias, (1, size), x.dtype).reshape(x.shape)
    return _record("NativeLayerNorm", out, input, weight, bias, grad_input, x_hat,
                   x2.shape, (0,))


# --------------------------------------------------------------- group norm


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation: each sample's channels split into ``num_groups`` groups,
    each group standardised over its channels and positions.

    Parameters
    ----------
    input : Tensor, shape (N, C, *)
    num_groups : int, dividing C
    weight, bias : Tensor of shape (C,), optional
        Per-channel affine parameters.
    eps : float

    Returns
    -------
    Tensor of the input's shape.
    """
    function = "group_norm"
    input = float_input(input, function)
    x = input.array
    if x.ndim < 2:
        raise ValueError(f"{function}: input must have at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(x.shape)}")
    channels = x.shape[1]
    if isinstance(num_groups, (bool, np.bool_)) or not isinstance(
            num_groups, (numbers.Integral, np.integer)) or num_groups < 1 \
            or channels % num_groups:
        raise ValueError(f"{function}: num_groups must be a positive int dividing the "
                         f"{channels} channels, got {num_groups!r}")
    _check_eps(eps, function)
    weight = _feature_tensor(weight, (channels,), function, "weight")
    bias = _feature_tensor(bias, (channels,), function, "bias")
    _check_parameter_dtypes(function, x.dtype, weight=weight, bias=bias)
    batch = x.shape[0]
    if x.size == 0:
        return _empty_result("NativeGroupNorm", input, weight, bias)
    # Statistics on (N, G, C/G * L); the affine map per channel on (N, C, L).
    grouped = x.reshape(batch, int(num_groups), -1)
    count = grouped.shape[2]
    x_hat_grouped, inv_std, _, _ = _standardize(grouped, 2, eps)
    per_channel = (batch, channels, grouped.size // max(batch * channels, 1))
    x_hat = x_hat_grouped.reshape(per_channel)

    def grad_input(g):
        g = g.reshape(grouped.shape)
        return _grad_standardized(g, x_hat_grouped, inv_std, 2, count).reshape(x.shape)
    out = _affine(x_hat, weight, bias, (1, channels, 1), x.dtype).reshape(x.shape)
    return _record("NativeGroupNorm", out, input, weight, bias, grad_input, x_hat,
                   per_channel, (0, 2))

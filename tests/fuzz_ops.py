"""Hypothesis strategies and PyTorch references for the differential fuzzer.

One :class:`FuzzOp` per functional op: a strategy drawing a random configuration
(shapes, sizes, strides, paddings, dilations, groups, modes, batched or not, N = 0
included) among those PyTorch accepts, the inputs it needs (float64), and the same
call written for cnnlab and for PyTorch. Extensions beyond PyTorch (per-side and
'same' padding with a stride, padding modes on ``F.conv2d``, per-side transposed-conv
crops) are compared against PyTorch calls that spell them out (``F.pad`` first, or a
crop of the full output). :func:`check` runs both, forward and backward with the same
random output gradient, and compares values, indices and every gradient.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import assume
from hypothesis import strategies as st

import cnnlab
import cnnlab.functional as F

FORWARD_RTOL = 1e-12
GRAD_RTOL = 1e-8


@dataclasses.dataclass
class FuzzOp:
    name: str
    configs: Callable[[], st.SearchStrategy]      # -> dict
    inputs: Callable[[dict], dict]                 # config -> {name: np.ndarray}
    ours: Callable[[dict, dict], object]           # (config, cnnlab tensors) -> Tensor(s)
    theirs: Callable[[dict, dict], object]         # (config, torch tensors) -> tensor(s)


# ------------------------------------------------------------------- helpers

def _values(config, shape, positive=False):
    """float64 data: normal, or small integers (ties for max pooling), from the seed."""
    rng = np.random.default_rng(config["seed"] + len(shape) * 7919 + sum(shape))
    if config.get("ties"):
        data = rng.integers(-2, 3, size=shape).astype(np.float64)
    else:
        data = rng.standard_normal(shape)
    return np.abs(data) + 0.25 if positive else data


def _batch_shape(config, *rest):
    return tuple(rest) if config["unbatched"] else (config["n"],) + tuple(rest)


def _pair(draw, low, high):
    """An int, or a pair of ints (PyTorch's two spellings)."""
    first = draw(st.integers(low, high))
    if draw(st.booleans()):
        return first
    return (first, draw(st.integers(low, high)))


def _as_pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _out(n, k, s, lo, hi, d, ceil=False):
    """PyTorch's output-size rule (restated here, independently of cnnlab.shapes)."""
    span = n + lo + hi - d * (k - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + lo:
        out -= 1
    return out


def _tf_same(n, k, s, d):
    """TensorFlow's SAME (SAME_UPPER) padding: out = ceil(n / s), extra at the end."""
    total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def _common(draw, unbatched_ok=True):
    return dict(seed=draw(st.integers(0, 2**31 - 1)), n=draw(st.sampled_from([0, 1, 2, 3])),
                unbatched=unbatched_ok and draw(st.booleans()))


def _torch_pads(pads):
    """((top, bottom), (left, right)) -> F.pad's (left, right, top, bottom)."""
    (top, bottom), (left, right) = pads
    return (left, right, top, bottom)


# ------------------------------------------------------------------- conv2d

@st.composite
def _conv2d_configs(draw):
    config = _common(draw)
    groups = draw(st.integers(1, 3))
    config.update(groups=groups, in_per_group=draw(st.integers(1, 3)),
                  out_per_group=draw(st.integers(1, 3)), bias=draw(st.booleans()))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = _pair(draw, 1, 3)
    dilation = _pair(draw, 1, 3)
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    style = draw(st.sampled_from(["int", "pair", "per-side", "valid", "same"]))
    if style == "int":
        padding = draw(st.integers(0, 3))
    elif style == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif style == "per-side":
        padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    else:
        padding = style
    size = []
    for k, d in zip(kernel, _as_pair(dilation)):
        size.append(draw(st.integers(max(1, d * (k - 1) + 1 - 6), d * (k - 1) + 6)))
    config.update(kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                  padding_mode=mode, size=tuple(size))
    pads = _conv_pads(config)
    outs = [_out(n, k, s, lo, hi, d) for n, k, s, (lo, hi), d in
            zip(config["size"], kernel, _as_pair(stride), pads, _as_pair(dilation))]
    assume(min(outs) >= 1)
    if mode == "reflect":
        assume(all(max(p) < n for p, n in zip(pads, config["size"])))
    if mode == "circular":
        assume(all(max(p) <= n for p, n in zip(pads, config["size"])))
    return config


def _conv_pads(config):
    padding = config["padding"]
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(_tf_same(n, k, s, d) for n, k, s, d in zip(
            config["size"], config["kernel"], _as_pair(config["stride"]),
            _as_pair(config["dilation"])))
    if isinstance(padding, int):
        return ((padding, padding),) * 2
    if isinstance(padding[0], int):
        return tuple((p, p) for p in padding)
    return padding


def _conv2d_inputs(config):
    g = config["groups"]
    channels, out = g * config["in_per_group"], g * config["out_per_group"]
    arrays = {"input": _values(config, _batch_shape(config, channels, *config["size"])),
              "weight": _values(config, (out, config["in_per_group"]) + config["kernel"])}
    if config["bias"]:
        arrays["bias"] = _values(config, (out,))
    return arrays


def _conv2d_ours(config, t):
    return F.conv2d(t["input"], t["weight"], t.get("bias"), config["stride"], config["padding"],
                    config["dilation"], config["groups"], padding_mode=config["padding_mode"])


def _conv2d_theirs(config, t):
    x, padding = t["input"], config["padding"]
    simple = isinstance(padding, int) or padding == "valid" or (
        padding == "same" and _as_pair(config["stride"]) == (1, 1)) or (
        isinstance(padding, tuple) and isinstance(padding[0], int))
    if config["padding_mode"] != "zeros" or not simple:
        # nn.Conv2d's own recipe: F.pad in the mode, then an unpadded convolution
        mode = {"zeros": "constant"}.get(config["padding_mode"], config["padding_mode"])
        x = TF.pad(x, _torch_pads(_conv_pads(config)), mode=mode)
        padding = 0
    return TF.conv2d(x, t["weight"], t.get("bias"), config["stride"], padding,
                     config["dilation"], config["groups"])


# ---------------------------------------------------------- conv_transpose2d

@st.composite
def _conv_transpose2d_configs(draw):
    config = _common(draw)
    groups = draw(st.integers(1, 3))
    config.update(groups=groups, in_per_group=draw(st.integers(1, 3)),
                  out_per_group=draw(st.integers(1, 3)), bias=draw(st.booleans()),
                  size=(draw(st.integers(1, 6)), draw(st.integers(1, 6))),
                  kernel=(draw(st.integers(1, 4)), draw(st.integers(1, 4))))
    stride, dilation = _pair(draw, 1, 3), _pair(draw, 1, 3)
    style = draw(st.sampled_from(["int", "pair", "per-side", "same"]))
    if style == "int":
        padding = draw(st.integers(0, 3))
    elif style == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif style == "per-side":
        padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    else:
        padding = "same"
    output_padding = 0
    if style != "same":
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                               for s, d in zip(_as_pair(stride), _as_pair(dilation)))
    config.update(stride=stride, dilation=dilation, padding=padding,
                  output_padding=output_padding)
    crops, extra = _transposed_crops(config)
    for n, k, s, d, (lo, hi), e in zip(config["size"], config["kernel"], _as_pair(stride),
                                       _as_pair(dilation), crops, extra):
        assume((n - 1) * s + d * (k - 1) + 1 + e - lo - hi >= 1)
    return config


def _transposed_crops(config):
    """Rows/columns cropped from each side of the full output, and the output padding."""
    padding = config["padding"]
    if padding == "same":  # out = in * stride (TensorFlow's conv2d_transpose SAME)
        crops, extra = [], []
        for k, s, d in zip(config["kernel"], _as_pair(config["stride"]),
                           _as_pair(config["dilation"])):
            total = d * (k - 1) + 1 - s
            crops.append((total // 2, total - total // 2) if total >= 0 else (0, 0))
            extra.append(max(-total, 0))
        return tuple(crops), tuple(extra)
    if isinstance(padding, int):
        crops = ((padding, padding),) * 2
    elif isinstance(padding[0], int):
        crops = tuple((p, p) for p in padding)
    else:
        crops = padding
    return crops, _as_pair(config["output_padding"])


def _conv_transpose2d_inputs(config):
    g = config["groups"]
    arrays = {"input": _values(config, _batch_shape(config, g * config["in_per_group"],
                                                    *config["size"])),
              "weight": _values(config, (g * config["in_per_group"], config["out_per_group"])
                                + config["kernel"])}
    if config["bias"]:
        arrays["bias"] = _values(config, (g * config["out_per_group"],))
    return arrays


def _conv_transpose2d_ours(config, t):
    return F.conv_transpose2d(t["input"], t["weight"], t.get("bias"), config["stride"],
                              config["padding"], config["output_padding"], config["groups"],
                              config["dilation"])


def _conv_transpose2d_theirs(config, t):
    (top, bottom), (left, right) = crops = _transposed_crops(config)[0]
    symmetric = config["padding"] != "same" and all(lo == hi for lo, hi in crops)
    if symmetric:
        return TF.conv_transpose2d(t["input"], t["weight"], t.get("bias"), config["stride"],
                                   (top, left), _transposed_crops(config)[1], config["groups"],
                                   config["dilation"])
    # the full output (no padding), then the crops: what padding means for a transposed conv
    full = TF.conv_transpose2d(t["input"], t["weight"], t.get("bias"), config["stride"], 0,
                               _transposed_crops(config)[1], config["groups"],
                               config["dilation"])
    height, width = full.shape[-2:]
    return full[..., top:height - bottom, left:width - right]


# ------------------------------------------------------------------ pooling

@st.composite
def _window_configs(draw, dilation=True, padding=True, ceil=True):
    """kernel, stride, padding (<= kernel // 2, PyTorch's limit), dilation, ceil_mode, size."""
    config = _common(draw)
    config.update(channels=draw(st.integers(1, 3)), ties=draw(st.booleans()))
    kernel = _pair(draw, 1, 4)
    kh, kw = _as_pair(kernel)
    stride = draw(st.one_of(st.none(), _pair_strategy(1, 3)))
    pads = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))) if padding else (0, 0)
    config_padding = pads if draw(st.booleans()) or pads[0] != pads[1] else pads[0]
    dil = _pair(draw, 1, 3) if dilation else 1
    ceil_mode = draw(st.booleans()) if ceil else False
    size = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), d * (k - 1) + 6))
                 for k, d, p in zip((kh, kw), _as_pair(dil), pads))
    config.update(kernel=kernel, stride=stride, padding=config_padding, dilation=dil,
                  ceil_mode=ceil_mode, size=size)
    strides = _as_pair(kernel if stride is None else stride)
    for n, k, s, p, d in zip(size, (kh, kw), strides, pads, _as_pair(dil)):
        out = _out(n, k, s, p, p, d, ceil_mode)
        assume(out >= 1)
        # cnnlab's rule (PyTorch pads such windows with -inf): every window overlaps the input
        assume(all(any(0 <= o * s - p + d * j < n for j in range(k)) for o in range(out)))
    return config


def _pair_strategy(low, high):
    return st.one_of(st.integers(low, high),
                     st.tuples(st.integers(low, high), st.integers(low, high)))


def _pool_input(config, positive=False):
    return {"input": _values(config, _batch_shape(config, config["channels"], *config["size"]),
                             positive)}


def _max_pool2d_ours(config, t, F=F):
    return F.max_pool2d(t["input"], config["kernel"], config["stride"], config["padding"],
                        config["dilation"], ceil_mode=config["ceil_mode"],
                        return_indices=config["return_indices"])


@st.composite
def _max_pool2d_configs(draw):
    config = draw(_window_configs())
    config["return_indices"] = draw(st.booleans())
    return config


@st.composite
def _avg_pool2d_configs(draw):
    config = draw(_window_configs(dilation=False))
    config.update(count_include_pad=draw(st.booleans()),
                  divisor_override=draw(st.sampled_from([None, None, -3, 1, 2, 5])))
    return config


def _avg_pool2d_ours(config, t, F=F):
    return F.avg_pool2d(t["input"], config["kernel"], config["stride"], config["padding"],
                        config["ceil_mode"], config["count_include_pad"],
                        config["divisor_override"])


@st.composite
def _lp_pool2d_configs(draw):
    # PyTorch's lp_pool2d has no padding or dilation, and sums x^p (no |x|): positive
    # inputs; its ceil mode rescales partial windows (a documented deviation): off.
    config = draw(_window_configs(dilation=False, padding=False, ceil=False))
    config["norm_type"] = draw(st.sampled_from([1, 2, 3, 1.5, 4.0]))
    return config


def _lp_pool2d_ours(config, t, F=F):
    return F.lp_pool2d(t["input"], config["norm_type"], config["kernel"], config["stride"],
                       config["ceil_mode"])


@st.composite
def _adaptive_configs(draw):
    config = _common(draw)
    config.update(channels=draw(st.integers(1, 3)), ties=draw(st.booleans()),
                  size=(draw(st.integers(1, 9)), draw(st.integers(1, 9))),
                  return_indices=draw(st.booleans()))
    entries = [draw(st.one_of(st.none(), st.integers(1, 2 * n + 1))) for n in config["size"]]
    if draw(st.booleans()) and entries[0] is not None:
        config["output_size"] = entries[0]
    else:
        config["output_size"] = tuple(entries)
    return config


# --------------------------------------------------------------- max_unpool2d

@st.composite
def _max_unpool2d_configs(draw):
    config = draw(_window_configs(dilation=False, ceil=False))
    config["size_style"] = draw(st.sampled_from(["default-or-exact", "pair", "full"]))
    return config


def _unpool_plan(config):
    """Pool a random input with PyTorch; unpool its maxima (equal values at repeated
    indices, so overlapping windows cannot make the result order-dependent)."""
    source = torch.tensor(_values(config, _batch_shape(config, config["channels"],
                                                       *config["size"])))
    values, indices = TF.max_pool2d(source, config["kernel"], config["stride"],
                                    config["padding"], return_indices=True)
    size = tuple(config["size"])
    kh, kw = _as_pair(config["kernel"])
    sh, sw = _as_pair(config["kernel"] if config["stride"] is None else config["stride"])
    ph, pw = _as_pair(config["padding"])
    oh, ow = values.shape[-2:]
    default = ((oh - 1) * sh - 2 * ph + kh, (ow - 1) * sw - 2 * pw + kw)
    style = config["size_style"]
    if style == "default-or-exact":
        output_size = None if default == size else size
    elif style == "pair":
        output_size = size
    elif config["unbatched"]:  # PyTorch takes (H, W) or (N, C, H, W), not (C, H, W)
        output_size = size
    else:
        output_size = tuple(values.shape[:-2]) + size
    return values.numpy(), indices.numpy(), output_size


def _max_unpool2d_inputs(config):
    values, indices, _ = _unpool_plan(config)
    return {"input": values, "indices": indices}


def _max_unpool2d_call(F, config, t):
    output_size = _unpool_plan(config)[2]
    return F.max_unpool2d(t["input"], t["indices"], config["kernel"], config["stride"],
                          config["padding"], output_size)


# ---------------------------------------------------------------------- pad

@st.composite
def _pad_configs(draw):
    config = dict(seed=draw(st.integers(0, 2**31 - 1)))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    if mode == "constant":
        ndim = draw(st.integers(1, 5))
        pairs = draw(st.integers(1, ndim))
    else:
        pairs = draw(st.integers(1, 3))
        ndim = pairs + draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(0 if i < ndim - pairs else 1, 5)) for i in range(ndim))
    pad = []
    for axis in range(pairs):
        size = shape[ndim - 1 - axis]
        low = -size if mode == "constant" else -(size - 1)
        before = draw(st.integers(max(low, -3), 4))
        after = draw(st.integers(max(low - min(before, 0), -3), 4))
        if mode == "circular":
            # PyTorch's circular backward loses copies that wrap around a cropped input
            # more than once (regression test in test_fuzz.py): compare within one wrap
            kept = size + min(before, 0) + min(after, 0)
            assume(max(before, after) <= kept)
        pad += [before, after]
    config.update(mode=mode, shape=shape, pad=tuple(pad),
                  value=draw(st.one_of(st.none(), st.floats(-5, 5))) if mode == "constant"
                  else None)
    return config


def _pad_call(F, config, t):
    return F.pad(t["input"], config["pad"], config["mode"], config["value"])


# ------------------------------------------------------------- unfold / fold

@st.composite
def _unfold_configs(draw):
    config = _common(draw)
    kernel, dilation, stride = _pair(draw, 1, 3), _pair(draw, 1, 3), _pair(draw, 1, 3)
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                       st.tuples(st.integers(0, 2), st.integers(0, 2)))))
    config.update(channels=draw(st.integers(1, 3)), kernel=kernel, dilation=dilation,
                  stride=stride, padding=padding)
    pads = _unfold_pads(padding)
    size = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - lo - hi), d * (k - 1) + 6))
                 for k, d, (lo, hi) in zip(_as_pair(kernel), _as_pair(dilation), pads))
    config["size"] = size
    return config


def _unfold_pads(padding):
    if isinstance(padding, int):
        return ((padding, padding),) * 2
    if isinstance(padding[0], int):
        return tuple((p, p) for p in padding)
    return padding


def _unfold_theirs(config, t):
    padding, x = config["padding"], t["input"]
    if isinstance(padding, tuple) and isinstance(padding[0], tuple):  # per side: pad first
        x, padding = TF.pad(x, _torch_pads(padding)), 0
    return TF.unfold(x, config["kernel"], config["dilation"], padding, config["stride"])


def _fold_theirs(config, t):
    padding = config["padding"]
    if isinstance(padding, tuple) and isinstance(padding[0], tuple):
        # per side: fold onto the padded plane, then crop the padding away
        (top, bottom), (left, right) = padding
        height, width = config["size"]
        full = TF.fold(t["input"], (height + top + bottom, width + left + right),
                       config["kernel"], config["dilation"], 0, config["stride"])
        return full[..., top:top + height, left:left + width]
    return TF.fold(t["input"], config["size"], config["kernel"], config["dilation"], padding,
                   config["stride"])


def _fold_inputs(config):
    kh, kw = _as_pair(config["kernel"])
    blocks = 1
    for n, k, s, (lo, hi), d in zip(config["size"], (kh, kw), _as_pair(config["stride"]),
                                    _unfold_pads(config["padding"]),
                                    _as_pair(config["dilation"])):
        blocks *= _out(n, k, s, lo, hi, d)
    return {"input": _values(config, _batch_shape(config, config["channels"] * kh * kw,
                                                  blocks))}


# ----------------------------------------------------------------- registry

OPS = {op.name: op for op in [
    FuzzOp("conv2d", _conv2d_configs, _conv2d_inputs, _conv2d_ours, _conv2d_theirs),
    FuzzOp("conv_transpose2d", _conv_transpose2d_configs, _conv_transpose2d_inputs,
           _conv_transpose2d_ours, _conv_transpose2d_theirs),
    FuzzOp("max_pool2d", _max_pool2d_configs, _pool_input, _max_pool2d_ours,
           lambda c, t: _max_pool2d_ours(c, t, TF)),
    FuzzOp("avg_pool2d", _avg_pool2d_configs, _pool_input, _avg_pool2d_ours,
           lambda c, t: _avg_pool2d_ours(c, t, TF)),
    FuzzOp("lp_pool2d", _lp_pool2d_configs, lambda c: _pool_input(c, positive=True),
           _lp_pool2d_ours, lambda c, t: _lp_pool2d_ours(c, t, TF)),
    FuzzOp("adaptive_avg_pool2d", _adaptive_configs, _pool_input,
           lambda c, t: F.adaptive_avg_pool2d(t["input"], c["output_size"]),
           lambda c, t: TF.adaptive_avg_pool2d(t["input"], c["output_size"])),
    FuzzOp("adaptive_max_pool2d", _adaptive_configs, _pool_input,
           lambda c, t: F.adaptive_max_pool2d(t["input"], c["output_size"], c["return_indices"]),
           lambda c, t: TF.adaptive_max_pool2d(t["input"], c["output_size"],
                                               c["return_indices"])),
    FuzzOp("max_unpool2d", _max_unpool2d_configs, _max_unpool2d_inputs,
           lambda c, t: _max_unpool2d_call(F, c, t), lambda c, t: _max_unpool2d_call(TF, c, t)),
    FuzzOp("pad", _pad_configs, lambda c: {"input": _values(c, c["shape"])},
           lambda c, t: _pad_call(F, c, t), lambda c, t: _pad_call(TF, c, t)),
    FuzzOp("unfold", _unfold_configs,
           lambda c: {"input": _values(c, _batch_shape(c, c["channels"], *c["size"]))},
           lambda c, t: F.unfold(t["input"], c["kernel"], c["dilation"], c["padding"],
                                 c["stride"]),
           _unfold_theirs),
    FuzzOp("fold", _unfold_configs, _fold_inputs,
           lambda c, t: F.fold(t["input"], c["size"], c["kernel"], c["dilation"], c["padding"],
                               c["stride"]),
           _fold_theirs),
]}


# -------------------------------------------------------------------- check

def _split(result):
    """(values, indices or None)."""
    if isinstance(result, tuple):
        return result
    return result, None


def check(op: FuzzOp, config: dict) -> None:
    """Run ``op`` in cnnlab and PyTorch on ``config``; compare outputs and gradients."""
    arrays = op.inputs(config)
    differentiable = [k for k, v in arrays.items() if v.dtype.kind == "f"]

    torch_inputs = {k: torch.tensor(v, requires_grad=k in differentiable)
                    for k, v in arrays.items()}
    try:
        t_out, t_indices = _split(op.theirs(config, torch_inputs))
    except (RuntimeError, ValueError, IndexError):
        assume(False)  # a configuration PyTorch rejects: not ours to compare

    ours_inputs = {k: cnnlab.tensor(v, requires_grad=k in differentiable)
                   for k, v in arrays.items()}
    out, indices = _split(op.ours(config, ours_inputs))

    expected = t_out.detach().numpy()
    assert tuple(out.shape) == expected.shape, (tuple(out.shape), expected.shape)
    assert out.dtype == cnnlab.float64
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=FORWARD_RTOL,
                               atol=FORWARD_RTOL * scale, err_msg="forward")
    if t_indices is not None:
        np.testing.assert_array_equal(indices.numpy(), t_indices.numpy(), err_msg="indices")

    grad = np.random.default_rng(config.get("seed", 0) + 1).standard_normal(expected.shape)
    if t_out.requires_grad:
        t_out.backward(torch.tensor(grad))
    out.backward(grad)
    for name in differentiable:
        t_grad = torch_inputs[name].grad
        t_grad = np.zeros(arrays[name].shape) if t_grad is None else t_grad.numpy()
        ours_grad = ours_inputs[name].grad
        ours_grad = np.zeros(arrays[name].shape) if ours_grad is None else ours_grad.numpy()
        grad_scale = max(1.0, float(np.abs(t_grad).max(initial=0.0)))
        np.testing.assert_allclose(ours_grad, t_grad, rtol=GRAD_RTOL,
                                   atol=GRAD_RTOL * grad_scale, err_msg=f"grad of {name}")


__all__ = ["OPS", "FuzzOp", "check"]

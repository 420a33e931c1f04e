"""The ONNX operators ``cnnlab.onnx.load`` runs, each on cnnlab's functional ops.

``OPS[op_type](args, attributes, opset)`` computes one node: ``args`` are cnnlab
Tensors (values that depend on the input or on parameters) or NumPy arrays (constants
and shape arithmetic, computed with NumPy); ``None`` marks an omitted optional input.

``check_node`` lists, before anything runs, the attributes or attribute values an
operator does not implement. ONNX pads are ``[x1_begin, x2_begin, ..., x1_end, ...]``;
cnnlab's functional ops take one ``(lo, hi)`` pair per spatial axis.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import ops
from ..shapes import same_padding
from ..tensor import Tensor


# ------------------------------------------------------------------ helpers
def _static(value) -> bool:
    return isinstance(value, (np.ndarray, np.generic))


def _array(value) -> np.ndarray:
    """The NumPy value of a constant (a Parameter read as data, e.g. Resize scales)."""
    return value.array if isinstance(value, Tensor) else np.asarray(value)


def _tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value))


def _function(name: str):
    function = getattr(F, name, None)
    if function is None:
        raise ValueError(f"cnnlab has no functional.{name} for this input rank")
    return function


def _window_pairs(attributes, spatial, kernel, strides, dilations):
    """One ``(lo, hi)`` padding pair per spatial axis, from ``auto_pad`` or ``pads``."""
    mode = attributes.get("auto_pad", "NOTSET")
    nd = len(spatial)
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        pairs = [same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides,
                                                                dilations)]
        return tuple(pair if mode == "SAME_UPPER" else pair[::-1] for pair in pairs)
    if mode == "VALID":
        return ((0, 0),) * nd
    pads = attributes.get("pads", [0] * (2 * nd))
    return tuple(zip(pads[:nd], pads[nd:]))


def _window(attributes, x, kernel=None):
    nd = x.ndim - 2
    kernel = tuple(attributes.get("kernel_shape", kernel))
    strides = tuple(attributes.get("strides", [1] * nd))
    dilations = tuple(attributes.get("dilations", [1] * nd))
    pairs = _window_pairs(attributes, tuple(x.shape[2:]), kernel, strides, dilations)
    return nd, kernel, strides, dilations, pairs


# ------------------------------------------------------------------ layers
def conv(args, attributes, opset):
    x, weight, bias = (args + [None])[:3]
    nd, kernel, strides, dilations, pairs = _window(attributes, x, weight.shape[2:])
    return _function(f"conv{nd}d")(x, weight, bias, strides, pairs, dilations,
                                   attributes.get("group", 1))


def conv_transpose(args, attributes, opset):
    x, weight, bias = (args + [None])[:3]
    nd, kernel, strides, dilations, pairs = _window(attributes, x, weight.shape[2:])
    padding = tuple(lo for lo, _ in pairs) if all(lo == hi for lo, hi in pairs) else pairs
    return _function(f"conv_transpose{nd}d")(
        x, weight, bias, strides, padding, tuple(attributes.get("output_padding", [0] * nd)),
        attributes.get("group", 1), dilations)


def max_pool(args, attributes, opset):
    x = args[0]
    nd, kernel, strides, dilations, pairs = _window(attributes, x)
    return _function(f"max_pool{nd}d")(x, kernel, strides, pairs, dilations,
                                       ceil_mode=bool(attributes.get("ceil_mode", 0)))


def average_pool(args, attributes, opset):
    x = args[0]
    nd, kernel, strides, dilations, pairs = _window(attributes, x)
    extra = {"dilation": dilations} if any(d != 1 for d in dilations) else {}
    return _function(f"avg_pool{nd}d")(x, kernel, strides, pairs,
                                       bool(attributes.get("ceil_mode", 0)),
                                       bool(attributes.get("count_include_pad", 0)), **extra)


def lp_pool(args, attributes, opset):
    x = args[0]
    nd, kernel, strides, dilations, pairs = _window(attributes, x)
    return _function(f"lp_pool{nd}d")(x, float(attributes.get("p", 2)), kernel, strides,
                                      bool(attributes.get("ceil_mode", 0)), padding=pairs,
                                      dilation=dilations)


def global_average_pool(args, attributes, opset):
    x = args[0]
    return ops.mean(x, tuple(range(2, x.ndim)), keepdim=True)


def global_max_pool(args, attributes, opset):
    x = args[0]
    return ops.amax(x, tuple(range(2, x.ndim)), keepdim=True)


def batch_normalization(args, attributes, opset):
    x, scale, bias, mean, var = args[:5]
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, attributes.get("epsilon", 1e-5))


def layer_normalization(args, attributes, opset):
    x, scale, bias = (args + [None])[:3]
    axis = attributes.get("axis", -1)
    axis = axis + x.ndim if axis < 0 else axis
    eps = attributes.get("epsilon", 1e-5)
    x = _tensor(x)
    out = F.layer_norm(x, tuple(x.shape[axis:]), scale, bias, eps)
    # The optional outputs Mean and InvStdDev, over the normalised axes (kept).
    axes = tuple(range(axis, x.ndim))
    mean = ops.mean(x, axes, keepdim=True)
    variance = ops.mean((x - mean) * (x - mean), axes, keepdim=True)
    return out, mean, 1 / ops.sqrt(variance + eps)


def gemm(args, attributes, opset):
    a, b, c = (args + [None])[:3]
    a, b = _tensor(a), _tensor(b)
    if attributes.get("transA", 0):
        a = ops.transpose(a, 0, 1)
    if attributes.get("transB", 0):
        b = ops.transpose(b, 0, 1)
    out = ops.matmul(a, b)
    alpha, beta = attributes.get("alpha", 1.0), attributes.get("beta", 1.0)
    if alpha != 1.0:
        out = out * alpha
    if c is not None:
        out = out + (_tensor(c) if beta == 1.0 else _tensor(c) * beta)
    return out


def matmul(args, attributes, opset):
    if all(_static(a) for a in args):
        return np.matmul(*args)
    return ops.matmul(_tensor(args[0]), _tensor(args[1]))


# ------------------------------------------------------------------ shapes
def flatten(args, attributes, opset):
    x = args[0]
    axis = attributes.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    rows = int(np.prod(x.shape[:axis], dtype=np.int64))
    if _static(x):
        return x.reshape(rows, -1)
    return ops.reshape(x, rows, -1)


def reshape(args, attributes, opset):
    x, shape = args[0], [int(v) for v in _array(args[1])]
    shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]  # 0: copy
    return x.reshape(shape) if _static(x) else ops.reshape(x, *shape)


def concat(args, attributes, opset):
    axis = attributes["axis"]
    if all(_static(a) for a in args):
        return np.concatenate(args, axis=axis)
    return ops.cat([_tensor(a) for a in args], dim=axis)


def transpose(args, attributes, opset):
    x = args[0]
    perm = attributes.get("perm", list(range(x.ndim))[::-1])
    return np.transpose(x, perm) if _static(x) else ops.permute(x, *perm)


def _axes(args, attributes, opset, since):
    if opset >= since:
        return None if len(args) < 2 or args[1] is None else [int(v) for v in _array(args[1])]
    return attributes.get("axes")


def reduce_mean(args, attributes, opset):
    x = args[0]
    axes = _axes(args, attributes, opset, 18)
    axes = tuple(range(x.ndim)) if not axes else tuple(a % x.ndim for a in axes)
    keep = bool(attributes.get("keepdims", 1))
    return x.mean(axis=axes, keepdims=keep) if _static(x) else ops.mean(x, axes, keepdim=keep)


def unsqueeze(args, attributes, opset):
    x = args[0]
    axes = _axes(args, attributes, opset, 13)
    rank = x.ndim + len(axes)
    shape, source = [], iter(x.shape)
    positions = {a % rank for a in axes}
    shape = [1 if i in positions else next(source) for i in range(rank)]
    return x.reshape(shape) if _static(x) else ops.reshape(x, *shape)


def squeeze(args, attributes, opset):
    x = args[0]
    axes = _axes(args, attributes, opset, 13)
    axes = {a % x.ndim for a in axes} if axes else {i for i, n in enumerate(x.shape) if n == 1}
    shape = [n for i, n in enumerate(x.shape) if i not in axes]
    return x.reshape(shape) if _static(x) else ops.reshape(x, *shape)


def shape(args, attributes, opset):
    dims = np.asarray(args[0].shape, np.int64)
    start, end = attributes.get("start", 0), attributes.get("end", None)
    return dims[start:end]


def gather(args, attributes, opset):
    data, indices = args
    if not _static(data):
        raise ValueError("Gather is supported on constants and shapes only")
    return np.take(data, _array(indices), axis=attributes.get("axis", 0))


def slice_(args, attributes, opset):
    data = args[0]
    if not _static(data):
        raise ValueError("Slice is supported on constants and shapes only")
    starts, ends = _array(args[1]), _array(args[2])
    axes = _array(args[3]) if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = _array(args[4]) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return data[tuple(index)]


def cast(args, attributes, opset):
    from onnx import helper

    target = helper.tensor_dtype_to_np_dtype(attributes["to"])
    x = args[0]
    if _static(x):
        return x.astype(target)
    if x.array.dtype == target:
        return x
    raise ValueError(f"Cast of a computed tensor from {x.array.dtype} to {target}")


def constant(args, attributes, opset):
    if "value" in attributes:
        return np.asarray(attributes["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attributes:
            return np.asarray(attributes[key], dtype)
    raise ValueError("Constant without a value")


def pad(args, attributes, opset):
    x = args[0]
    pads = attributes.get("pads") if opset < 11 else [int(v) for v in _array(args[1])]
    value = attributes.get("value", 0.0) if opset < 11 else (
        float(_array(args[2])) if len(args) > 2 and args[2] is not None else 0.0)
    nd = x.ndim
    if any(pads[:2]) or any(pads[nd:nd + 2]):
        raise ValueError("Pad of the batch or channel dimension")
    flat = []
    for axis in reversed(range(2, nd)):  # PyTorch order: last dimension first
        flat += [pads[axis], pads[nd + axis]]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[
        attributes.get("mode", "constant")]
    return F.pad(_tensor(x), flat, mode, value if mode == "constant" else None)


def resize(args, attributes, opset):
    x = args[0]
    scales = args[2] if len(args) > 2 else None
    sizes = args[3] if len(args) > 3 else None
    mode = attributes.get("mode", "nearest")
    transform = attributes.get("coordinate_transformation_mode", "half_pixel")
    torch_mode = {"nearest": "nearest", "linear": "bilinear" if x.ndim == 4 else "linear",
                  "cubic": "bicubic"}[mode]
    align = None if mode == "nearest" else transform == "align_corners"
    if sizes is not None and _array(sizes).size:
        size = tuple(int(v) for v in _array(sizes)[2:])
        factors = None
    else:
        factors = tuple(float(v) for v in _array(scales)[2:])
        size = tuple(int(np.floor(n * f)) for n, f in zip(x.shape[2:], factors))
        if align and any(n * f != int(n * f) for n, f in zip(x.shape[2:], factors)):
            # ONNX maps align_corners coordinates with the unrounded size in * scale,
            # PyTorch (and cnnlab) with the rounded output size.
            raise ValueError(f"Resize align_corners with scales {list(factors)} that do not "
                             f"give whole sizes from {tuple(x.shape[2:])}: ONNX and PyTorch "
                             "differ there")
    if transform == "pytorch_half_pixel" and 1 in size:
        # pytorch_half_pixel maps an output of length 1 to coordinate 0; half_pixel
        # (PyTorch's own interpolate) to the middle.
        raise ValueError("Resize pytorch_half_pixel to an output length of 1 is not "
                         "supported")
    if factors is None:
        return F.interpolate(x, size=size, mode=torch_mode, align_corners=align)
    return F.interpolate(x, scale_factor=factors, mode=torch_mode, align_corners=align)


from ._import_elementwise import (_binary, _softmax, _unary, clip, elu,  # noqa: E402
                                  gelu, hard_sigmoid, identity, instance_normalization,
                                  leaky_relu, prelu)


# ------------------------------------------------------------------ checks
def _one_of(*allowed):
    return lambda value: None if value in allowed else f"must be one of {list(allowed)}"


def _all_one(value):
    return None if all(v == 1 for v in value) else "must be all 1"


def _zero(value):
    return None if value == 0 else "must be 0"


AUTO_PAD = _one_of("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")
WINDOW = {"kernel_shape": None, "strides": None, "pads": None, "auto_pad": AUTO_PAD,
          "dilations": None}
SPECS = {
    "Conv": (conv, {**WINDOW, "group": None}),
    "ConvTranspose": (conv_transpose, {**WINDOW, "group": None, "output_padding": None,
                                       "auto_pad": _one_of("NOTSET", "VALID")}),
    "MaxPool": (max_pool, {**WINDOW, "ceil_mode": None, "storage_order": _zero}),
    "AveragePool": (average_pool, {**WINDOW, "ceil_mode": None, "count_include_pad": None}),
    "LpPool": (lp_pool, {**WINDOW, "ceil_mode": None, "p": None}),
    "GlobalAveragePool": (global_average_pool, {}),
    "GlobalMaxPool": (global_max_pool, {}),
    "BatchNormalization": (batch_normalization, {"epsilon": None, "momentum": None,
                                                 "training_mode": _zero}),
    "LayerNormalization": (layer_normalization, {"axis": None, "epsilon": None,
                                                 "stash_type": None}),
    "InstanceNormalization": (instance_normalization, {"epsilon": None}),
    "Gelu": (gelu, {"approximate": _one_of("none", "tanh")}),
    "Gemm": (gemm, {"alpha": None, "beta": None, "transA": None, "transB": None}),
    "MatMul": (matmul, {}),
    "Add": (_binary(np.add, ops.add), {}), "Sub": (_binary(np.subtract, ops.sub), {}),
    "Mul": (_binary(np.multiply, ops.mul), {}), "Div": (_binary(np.divide, ops.div), {}),
    "Pow": (_binary(np.power, ops.pow), {}),
    "Relu": (_unary(ops.relu), {}), "Sigmoid": (_unary(ops.sigmoid), {}),
    "Tanh": (_unary(ops.tanh), {}), "Sqrt": (_unary(ops.sqrt), {}),
    "Exp": (_unary(ops.exp), {}), "Log": (_unary(ops.log), {}), "Neg": (_unary(ops.neg), {}),
    "Abs": (_unary(ops.abs), {}),
    "LeakyRelu": (leaky_relu, {"alpha": None}), "Elu": (elu, {"alpha": None}),
    "PRelu": (prelu, {}), "HardSigmoid": (hard_sigmoid, {"alpha": None, "beta": None}),
    "HardSwish": (_unary(F.hardswish), {}), "Softplus": (_unary(F.softplus), {}),
    "Mish": (_unary(F.mish), {}),
    "Clip": (clip, {"min": None, "max": None}),
    "Softmax": (_softmax(F.softmax), {"axis": None}),
    "LogSoftmax": (_softmax(F.log_softmax), {"axis": None}),
    "Flatten": (flatten, {"axis": None}),
    "Reshape": (reshape, {"allowzero": _zero}),
    "Concat": (concat, {"axis": None}),
    "Dropout": (identity, {"ratio": None, "seed": None}),
    "Identity": (identity, {}),
    "Transpose": (transpose, {"perm": None}),
    "ReduceMean": (reduce_mean, {"axes": None, "keepdims": None,
                                 "noop_with_empty_axes": _zero}),
    "Unsqueeze": (unsqueeze, {"axes": None}), "Squeeze": (squeeze, {"axes": None}),
    "Shape": (shape, {"start": None, "end": None}),
    "Gather": (gather, {"axis": None}),
    "Slice": (slice_, {}),
    "Cast": (cast, {"to": None, "saturate": None}),
    "Constant": (constant, {"value": None, "value_float": None, "value_floats": None,
                            "value_int": None, "value_ints": None}),
    "Pad": (pad, {"mode": _one_of("constant", "reflect", "edge"), "pads": None,
                  "value": None}),
    "Resize": (resize, {"mode": _one_of("nearest", "linear", "cubic"),
                        "coordinate_transformation_mode": None, "nearest_mode": None,
                        "cubic_coeff_a": None, "exclude_outside": _zero, "antialias": _zero}),
}
OPS = {name: spec[0] for name, spec in SPECS.items()}

# Outputs beyond the first that an operator may have but cnnlab does not compute.
EXTRA_OUTPUTS = {"MaxPool": "Indices", "Dropout": "mask", "BatchNormalization":
                 "running_mean / running_var (training mode)"}
OUTPUTS = {"LayerNormalization": 3}
"""Operators that compute more than their first output."""


def check_node(op_type, attributes, inputs, outputs, opset) -> list:
    """What in this node cnnlab cannot run, as short phrases (empty when all is fine)."""
    if op_type not in SPECS:
        return [f"operator {op_type} is not supported (supported: {', '.join(sorted(SPECS))})"]
    allowed = SPECS[op_type][1]
    problems = []
    for name, value in attributes.items():
        if name not in allowed:
            problems.append(f"attribute {name}={value!r} is not supported")
        elif allowed[name] is not None:
            why = allowed[name](value)
            if why:
                problems.append(f"attribute {name}={value!r} {why}")
    if any(outputs[OUTPUTS.get(op_type, 1):]):
        problems.append(f"output {EXTRA_OUTPUTS.get(op_type, 'beyond the first')} is not "
                        "computed")
    problems += _node_specific(op_type, attributes, inputs, opset)
    kernel = attributes.get("kernel_shape")
    if op_type in RANKED and isinstance(kernel, list) and getattr(
            F, RANKED[op_type].format(len(kernel)), None) is None:
        problems.append(f"{len(kernel)}-D windows: cnnlab has no functional."
                        f"{RANKED[op_type].format(len(kernel))}")
    return problems


RANKED = {"Conv": "conv{}d", "ConvTranspose": "conv_transpose{}d", "MaxPool": "max_pool{}d",
          "AveragePool": "avg_pool{}d", "LpPool": "lp_pool{}d"}
"""The functional op each windowed operator needs, by number of spatial axes."""


def _node_specific(op_type, attributes, inputs, opset) -> list:
    problems = []
    if op_type == "Resize":
        mode = attributes.get("mode", "nearest")
        transform = attributes.get("coordinate_transformation_mode", "half_pixel")
        if mode == "nearest" and (transform != "asymmetric"
                                  or attributes.get("nearest_mode",
                                                    "round_prefer_floor") != "floor"):
            problems.append("mode='nearest' is supported with coordinate_transformation_mode="
                            "'asymmetric' and nearest_mode='floor' (PyTorch's nearest) only")
        if mode != "nearest" and transform not in ("half_pixel", "pytorch_half_pixel",
                                                   "align_corners"):
            problems.append(f"coordinate_transformation_mode={transform!r} is not supported "
                            "(half_pixel, pytorch_half_pixel or align_corners)")
        if mode == "cubic" and abs(attributes.get("cubic_coeff_a", -0.75) + 0.75) > 1e-6:
            problems.append("cubic_coeff_a must be -0.75 (PyTorch's bicubic)")
    if op_type == "Dropout" and len(inputs) > 2 and inputs[2]:
        problems.append("input training_mode is not supported (inference only)")
    if op_type == "Pad" and len(inputs) > 3 and inputs[3]:
        problems.append("input axes is not supported")
    if op_type == "Cast" and "to" not in attributes:
        problems.append("attribute to is missing")
    return problems

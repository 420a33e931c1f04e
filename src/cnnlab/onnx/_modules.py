"""ONNX forms of cnnlab layers, from the arguments each layer keeps as attributes.

Each converter is ``convert(builder, call, inputs) -> output name``: ``call`` is the
traced :class:`~cnnlab.onnx._trace.ModuleCall` (the module, its input tensors, its
output), ``inputs`` the ONNX names of its inputs. Anything ONNX cannot express at the
chosen opset raises :class:`ExportError` naming the layer and the argument.

ONNX pads are ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]``; cnnlab's canonical
padding is one ``(lo, hi)`` pair per spatial axis, so ``pads = [lo...] + [hi...]``.
"""

from __future__ import annotations

import numpy as np

from .. import shapes
from ._graph import ExportError


def _where(call) -> str:
    return f"onnx.export: {call.path or 'the model'} ({type(call.module).__name__})"


def _input(call):
    return call.inputs[0].tensor


def _tuple(value, ndim, name, call):
    return shapes.int_tuple(value, ndim, name, type(call.module).__name__, minimum=0)


def _pads(call, padding, kernel, stride, dilation):
    x = _input(call)
    pairs = shapes.padding_pairs(padding, type(call.module).__name__,
                                 input_size=tuple(x.shape[2:]), kernel_size=kernel,
                                 stride=stride, dilation=dilation)
    return [lo for lo, _ in pairs] + [hi for _, hi in pairs]


def _param(builder, call, name, hint=None):
    tensor = getattr(call.module, name)
    return builder.constant(tensor.array, f"{hint or call.path}.{name}")


# ------------------------------------------------------------------ convolution
PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def conv(builder, call, inputs):
    module, x = call.module, _input(call)
    nd = x.ndim - 2
    kernel = tuple(module.kernel_size)
    stride, dilation = tuple(module.stride), tuple(module.dilation)
    pads = _pads(call, module.padding, kernel, stride, dilation)
    source = inputs[0]
    if module.padding_mode != "zeros" and any(pads):
        mode = PAD_MODES[module.padding_mode]
        if mode == "wrap" and builder.opset < 19:
            raise ExportError(f"{_where(call)}: padding_mode='circular' needs opset 19 "
                              f"(Pad mode 'wrap'); got opset_version={builder.opset}")
        full = [0, 0] + pads[:nd] + [0, 0] + pads[nd:]
        source = builder.add("Pad", [source, builder.ints(full, f"{call.path}.pads")],
                             f"{call.path}.pad", mode=mode)
        pads = [0] * (2 * nd)
    weights = [_param(builder, call, "weight")]
    if module.bias is not None:
        weights.append(_param(builder, call, "bias"))
    return builder.add("Conv", [source, *weights], call.path or "conv", kernel_shape=list(kernel),
                       strides=list(stride), pads=pads, dilations=list(dilation),
                       group=module.groups)


def conv_transpose(builder, call, inputs):
    module, x = call.module, _input(call)
    if call.kwargs.get("output_size") is not None or len(call.inputs) > 1:
        raise ExportError(f"{_where(call)}: the argument output_size cannot be exported; give "
                          "output_padding to the layer instead")
    if isinstance(module.padding, str):
        raise ExportError(f"{_where(call)}: padding={module.padding!r} cannot be exported; "
                          "give the padding as numbers")
    nd = x.ndim - 2
    pairs = shapes.padding_pairs(module.padding, "ConvTranspose", ndim=nd)
    weights = [_param(builder, call, "weight")]
    if module.bias is not None:
        weights.append(_param(builder, call, "bias"))
    return builder.add("ConvTranspose", [inputs[0], *weights], call.path or "conv_transpose",
                       kernel_shape=list(module.kernel_size), strides=list(module.stride),
                       pads=[lo for lo, _ in pairs] + [hi for _, hi in pairs],
                       dilations=list(module.dilation),
                       output_padding=list(module.output_padding), group=module.groups)


# ------------------------------------------------------------------ pooling
def _window(call, stride_default_kernel=True):
    module, x = call.module, _input(call)
    nd = x.ndim - 2
    kernel = _tuple(module.kernel_size, nd, "kernel_size", call)
    stride = module.stride if module.stride is not None else kernel
    stride = _tuple(stride, nd, "stride", call)
    dilation = _tuple(getattr(module, "dilation", 1), nd, "dilation", call)
    pads = _pads(call, getattr(module, "padding", 0), kernel, stride, dilation)
    return kernel, stride, dilation, pads


def max_pool(builder, call, inputs):
    if call.module.return_indices:
        raise ExportError(f"{_where(call)}: return_indices=True cannot be exported")
    kernel, stride, dilation, pads = _window(call)
    return builder.add("MaxPool", inputs[:1], call.path or "max_pool", kernel_shape=list(kernel),
                       strides=list(stride), pads=pads, dilations=list(dilation),
                       ceil_mode=int(call.module.ceil_mode))


def avg_pool(builder, call, inputs):
    module = call.module
    if module.divisor_override is not None:
        raise ExportError(f"{_where(call)}: divisor_override={module.divisor_override} has no "
                          "ONNX form")
    kernel, stride, dilation, pads = _window(call)
    extra = {}
    if any(d != 1 for d in dilation):
        if builder.opset < 19:
            raise ExportError(f"{_where(call)}: dilation={dilation} needs opset 19 "
                              f"(AveragePool dilations); got opset_version={builder.opset}")
        extra["dilations"] = list(dilation)
    return builder.add("AveragePool", inputs[:1], call.path or "avg_pool",
                       kernel_shape=list(kernel), strides=list(stride), pads=pads,
                       ceil_mode=int(module.ceil_mode),
                       count_include_pad=int(module.count_include_pad), **extra)


def lp_pool(builder, call, inputs):
    module = call.module
    p = float(module.norm_type)
    if not p.is_integer() or p < 1:
        raise ExportError(f"{_where(call)}: norm_type={module.norm_type} must be a positive "
                          "whole number for ONNX LpPool (attribute p is an int)")
    kernel, stride, dilation, pads = _window(call)
    extra = {}
    if builder.opset >= 18:
        extra = {"dilations": list(dilation), "ceil_mode": int(module.ceil_mode)}
    elif any(d != 1 for d in dilation) or module.ceil_mode:
        raise ExportError(f"{_where(call)}: dilation / ceil_mode need opset 18 (LpPool); got "
                          f"opset_version={builder.opset}")
    return builder.add("LpPool", inputs[:1], call.path or "lp_pool", kernel_shape=list(kernel),
                       strides=list(stride), pads=pads, p=int(p), **extra)


def _adaptive(builder, call, inputs, op, global_op):
    module, x = call.module, _input(call)
    in_size = tuple(x.shape[2:])
    out_size = tuple(call.output.shape[2:])
    if getattr(module, "return_indices", False):
        raise ExportError(f"{_where(call)}: return_indices=True cannot be exported")
    if all(o == 1 for o in out_size):
        return builder.add(global_op, inputs[:1], call.path or global_op)
    if any(i % o for i, o in zip(in_size, out_size)):
        raise ExportError(f"{_where(call)}: output_size={module.output_size!r} from input "
                          f"{in_size}: ONNX has no adaptive pooling, and the input size is not "
                          "a multiple of the output size (then it is a plain pooling)")
    kernel = [i // o for i, o in zip(in_size, out_size)]
    return builder.add(op, inputs[:1], call.path or op, kernel_shape=kernel, strides=kernel)


def adaptive_avg_pool(builder, call, inputs):
    return _adaptive(builder, call, inputs, "AveragePool", "GlobalAveragePool")


def adaptive_max_pool(builder, call, inputs):
    return _adaptive(builder, call, inputs, "MaxPool", "GlobalMaxPool")


# ------------------------------------------------------------------ normalisation, linear
def batch_norm(builder, call, inputs):
    module = call.module
    if module.running_mean is None or module.running_var is None:
        raise ExportError(f"{_where(call)}: track_running_stats=False normalises with batch "
                          "statistics, which ONNX BatchNormalization (inference) cannot do")
    channels = module.running_mean.shape[0]
    dtype = module.running_mean.array.dtype
    scale = module.weight.array if module.weight is not None else np.ones(channels, dtype)
    shift = module.bias.array if module.bias is not None else np.zeros(channels, dtype)
    names = [builder.constant(scale, f"{call.path}.weight"),
             builder.constant(shift, f"{call.path}.bias"),
             builder.constant(module.running_mean.array, f"{call.path}.running_mean"),
             builder.constant(module.running_var.array, f"{call.path}.running_var")]
    return builder.add("BatchNormalization", [inputs[0], *names], call.path or "batch_norm",
                       epsilon=float(module.eps))


def _affine_or(builder, call, name, fill, channels, dtype):
    """The layer's ``weight``/``bias`` as an initializer, or ``fill`` per channel when the
    layer has none (ONNX's normalisations want both)."""
    tensor = getattr(call.module, name, None)
    value = tensor.array if tensor is not None else np.full(channels, fill, dtype)
    return builder.constant(value, f"{call.path}.{name}")


def instance_norm(builder, call, inputs):
    """InstanceNormalization; in evaluation with running statistics the layer is a batch
    norm on them (PyTorch's ``track_running_stats=True``), and exports as one."""
    module, x = call.module, _input(call)
    if x.ndim == module._spatial + 1:
        raise ExportError(f"{_where(call)}: unbatched input cannot be exported; give the "
                          "example input a batch axis")
    if module.track_running_stats and not module.training:
        return batch_norm(builder, call, inputs)
    channels, dtype = x.shape[1], x.array.dtype
    operands = [inputs[0], _affine_or(builder, call, "weight", 1, channels, dtype),
                _affine_or(builder, call, "bias", 0, channels, dtype)]
    return builder.add("InstanceNormalization", operands, call.path or "instance_norm",
                       epsilon=float(module.eps))


def group_norm(builder, call, inputs):
    """Reshape to (N, G, -1), InstanceNormalization of the G groups, reshape back, then
    the per-channel affine map: opset 6's ops (GroupNormalization came in opset 18 with
    per-group parameters, changed to per-channel in opset 21)."""
    module, x = call.module, _input(call)
    groups, dtype, spatial = module.num_groups, x.array.dtype, x.ndim - 2
    grouped = builder.reshape(inputs[0], x.shape, (x.shape[0], groups, -1),
                              f"{call.path}.grouped")
    normalised = builder.add("InstanceNormalization", [
        grouped, builder.constant(np.ones(groups, dtype), f"{call.path}.ones"),
        builder.constant(np.zeros(groups, dtype), f"{call.path}.zeros")],
        f"{call.path}.normalised", epsilon=float(module.eps))
    shape = builder.add("Shape", inputs[:1], f"{call.path}.shape")
    out = builder.add("Reshape", [normalised, shape], f"{call.path}.ungrouped")
    if not module.affine:
        return out
    per_channel = (-1,) + (1,) * spatial
    scale = builder.constant(module.weight.array.reshape(per_channel), f"{call.path}.weight")
    shift = builder.constant(module.bias.array.reshape(per_channel), f"{call.path}.bias")
    scaled = builder.add("Mul", [out, scale], f"{call.path}.scaled")
    return builder.add("Add", [scaled, shift], call.path or "group_norm")


def layer_norm(builder, call, inputs):
    module = call.module
    shape = tuple(module.normalized_shape)
    dtype = _input(call).array.dtype
    scale = module.weight.array if module.weight is not None else np.ones(shape, dtype)
    operands = [inputs[0], builder.constant(scale, f"{call.path}.weight")]
    if getattr(module, "bias", None) is not None:
        operands.append(_param(builder, call, "bias"))
    return builder.add("LayerNormalization", operands, call.path or "layer_norm",
                       axis=-len(shape), epsilon=float(module.eps))


def linear(builder, call, inputs):
    module, x = call.module, _input(call)
    if x.ndim == 2:
        operands = [inputs[0], _param(builder, call, "weight")]
        if module.bias is not None:
            operands.append(_param(builder, call, "bias"))
        return builder.add("Gemm", operands, call.path or "linear", transB=1)
    weight_t = builder.constant(module.weight.array.T, f"{call.path}.weight_t")
    product = builder.add("MatMul", [inputs[0], weight_t], f"{call.path}.matmul")
    if module.bias is None:
        return product
    return builder.add("Add", [product, _param(builder, call, "bias")], call.path or "linear")


# ------------------------------------------------------------------ activations, shapes
def _simple(op):
    def convert(builder, call, inputs):
        return builder.add(op, inputs[:1], call.path or op.lower())
    return convert


def leaky_relu(builder, call, inputs):
    return builder.add("LeakyRelu", inputs[:1], call.path or "leaky_relu",
                       alpha=float(call.module.negative_slope))


def elu(builder, call, inputs):
    return builder.add("Elu", inputs[:1], call.path or "elu", alpha=float(call.module.alpha))


def relu6(builder, call, inputs):
    dtype = _input(call).array.dtype
    low = builder.constant(np.asarray(0, dtype), f"{call.path}.min")
    high = builder.constant(np.asarray(6, dtype), f"{call.path}.max")
    return builder.add("Clip", [inputs[0], low, high], call.path or "relu6")


def gelu(builder, call, inputs):
    approximate = call.module.approximate
    if builder.opset >= 20:
        return builder.add("Gelu", inputs[:1], call.path or "gelu", approximate=approximate)
    if approximate != "none":
        raise ExportError(f"{_where(call)}: approximate={approximate!r} needs opset 20 (Gelu); "
                          f"got opset_version={builder.opset}")
    # x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))), from opset 13's Erf
    dtype = _input(call).array.dtype
    scaled = builder.add("Div", [inputs[0], builder.constant(np.asarray(np.sqrt(2.0), dtype),
                                                             f"{call.path}.sqrt2")],
                         f"{call.path}.scaled")
    erf = builder.add("Erf", [scaled], f"{call.path}.erf")
    one = builder.add("Add", [erf, builder.constant(np.asarray(1, dtype), f"{call.path}.one")],
                      f"{call.path}.one_plus")
    half = builder.add("Mul", [inputs[0], builder.constant(np.asarray(0.5, dtype),
                                                           f"{call.path}.half")],
                       f"{call.path}.half_x")
    return builder.add("Mul", [half, one], call.path or "gelu")


def hardtanh(builder, call, inputs):
    dtype = _input(call).array.dtype
    low = builder.constant(np.asarray(call.module.min_val, dtype), f"{call.path}.min")
    high = builder.constant(np.asarray(call.module.max_val, dtype), f"{call.path}.max")
    return builder.add("Clip", [inputs[0], low, high], call.path or "hardtanh")


def hardswish(builder, call, inputs):
    if builder.opset < 14:
        raise ExportError(f"{_where(call)}: HardSwish needs opset 14; got "
                          f"opset_version={builder.opset}")
    return builder.add("HardSwish", inputs[:1], call.path or "hardswish")


def hardsigmoid(builder, call, inputs):   # relu6(x + 3) / 6
    return builder.add("HardSigmoid", inputs[:1], call.path or "hardsigmoid",
                       alpha=1.0 / 6.0, beta=0.5)


def _softplus(builder, call, x, beta, hint):
    """``log(1 + exp(beta x)) / beta`` (PyTorch returns x past its threshold, where this
    agrees to float32 rounding: exp(-20) = 2e-9)."""
    if beta == 1:
        return builder.add("Softplus", [x], hint)
    dtype = _input(call).array.dtype
    factor = builder.constant(np.asarray(beta, dtype), f"{call.path}.beta")
    scaled = builder.add("Mul", [x, factor], f"{call.path}.scaled")
    return builder.add("Div", [builder.add("Softplus", [scaled], f"{call.path}.softplus"),
                               factor], hint)


def softplus(builder, call, inputs):
    return _softplus(builder, call, inputs[0], float(call.module.beta),
                     call.path or "softplus")


def log_sigmoid(builder, call, inputs):   # -softplus(-x)
    negated = builder.add("Neg", inputs[:1], f"{call.path}.neg")
    return builder.add("Neg", [_softplus(builder, call, negated, 1.0, f"{call.path}.sp")],
                       call.path or "log_sigmoid")


def mish(builder, call, inputs):   # x tanh(softplus(x)); Mish itself is opset 18
    if builder.opset >= 18:
        return builder.add("Mish", inputs[:1], call.path or "mish")
    gate = builder.add("Tanh", [_softplus(builder, call, inputs[0], 1.0, f"{call.path}.sp")],
                       f"{call.path}.tanh")
    return builder.add("Mul", [inputs[0], gate], call.path or "mish")


def prelu(builder, call, inputs):
    """PRelu with the slopes shaped to broadcast over the channel axis (1)."""
    x, weight = _input(call), call.module.weight.array
    slope = weight.reshape((-1,) + (1,) * (x.ndim - 2)) if weight.size > 1 else weight
    return builder.add("PRelu", [inputs[0], builder.constant(slope, f"{call.path}.weight")],
                       call.path or "prelu")


def silu(builder, call, inputs):
    gate = builder.add("Sigmoid", inputs[:1], f"{call.path}.sigmoid")
    return builder.add("Mul", [inputs[0], gate], call.path or "silu")


def _softmax(op):
    def convert(builder, call, inputs):
        ndim = _input(call).ndim
        dim = call.module.dim
        if dim is None:  # PyTorch's implicit choice (a deprecation warning there)
            dim = 0 if ndim in (0, 1, 3) else 1
        return builder.add(op, inputs[:1], call.path or op.lower(), axis=int(dim) % ndim)
    return convert


def flatten(builder, call, inputs):
    x, out = _input(call), call.output
    if call.module.start_dim % x.ndim == 1 and call.module.end_dim % x.ndim == x.ndim - 1:
        return builder.add("Flatten", inputs[:1], call.path or "flatten", axis=1)
    return builder.reshape(inputs[0], x.shape, out.shape, call.path or "flatten")


def upsample(builder, call, inputs):
    module, x, out = call.module, _input(call), call.output
    modes = {"nearest": ("nearest", "asymmetric"), "bilinear": ("linear", None),
             "linear": ("linear", None), "bicubic": ("cubic", None)}
    if module.mode not in modes:
        raise ExportError(f"{_where(call)}: mode={module.mode!r} cannot be exported; allowed: "
                          f"{sorted(modes)}")
    mode, transform = modes[module.mode]
    if transform is None:
        transform = "align_corners" if module.align_corners else "half_pixel"
    extra = {"nearest_mode": "floor"} if mode == "nearest" else {}
    if mode == "cubic":
        extra["cubic_coeff_a"] = -0.75  # PyTorch's bicubic kernel
    if module.scale_factor is not None and not module.recompute_scale_factor:
        factor = module.scale_factor
        factors = list(factor) if isinstance(factor, tuple) else [factor] * (x.ndim - 2)
        scales = builder.constant(np.asarray([1.0, 1.0, *factors], np.float32),
                                  f"{call.path}.scales")
        operands = [inputs[0], "", scales]
    else:
        # Output sizes, not scales: out / in may not give the size back after flooring.
        # The batch and channel sizes are read from the input, so the batch stays free.
        shape = builder.add("Shape", inputs[:1], f"{call.path}.shape")
        head = builder.add("Slice", [shape, builder.ints([0], f"{call.path}.start"),
                                     builder.ints([2], f"{call.path}.end")], f"{call.path}.nc")
        sizes = builder.add("Concat", [head, builder.ints(out.shape[2:], f"{call.path}.size")],
                            f"{call.path}.sizes", axis=0)
        operands = [inputs[0], "", "", sizes]
    return builder.add("Resize", operands, call.path or "resize", mode=mode,
                       coordinate_transformation_mode=transform, **extra)


# class name -> converter; looked up along the MRO, so LazyConv2d finds Conv2d's.
CONVERTERS = {
    "Conv1d": conv, "Conv2d": conv, "Conv3d": conv,
    "ConvTranspose1d": conv_transpose, "ConvTranspose2d": conv_transpose,
    "ConvTranspose3d": conv_transpose,
    "MaxPool1d": max_pool, "MaxPool2d": max_pool, "MaxPool3d": max_pool,
    "AvgPool1d": avg_pool, "AvgPool2d": avg_pool, "AvgPool3d": avg_pool,
    "LPPool1d": lp_pool, "LPPool2d": lp_pool,
    "AdaptiveAvgPool1d": adaptive_avg_pool, "AdaptiveAvgPool2d": adaptive_avg_pool,
    "AdaptiveAvgPool3d": adaptive_avg_pool,
    "AdaptiveMaxPool1d": adaptive_max_pool, "AdaptiveMaxPool2d": adaptive_max_pool,
    "AdaptiveMaxPool3d": adaptive_max_pool,
    "BatchNorm1d": batch_norm, "BatchNorm2d": batch_norm, "BatchNorm3d": batch_norm,
    "Linear": linear,
    "ReLU": _simple("Relu"), "Sigmoid": _simple("Sigmoid"), "Tanh": _simple("Tanh"),
    "LeakyReLU": leaky_relu, "ELU": elu, "SiLU": silu, "ReLU6": relu6, "GELU": gelu,
    "LayerNorm": layer_norm, "GroupNorm": group_norm,
    "InstanceNorm1d": instance_norm, "InstanceNorm2d": instance_norm,
    "InstanceNorm3d": instance_norm,
    "Hardtanh": hardtanh, "Hardswish": hardswish, "Hardsigmoid": hardsigmoid,
    "Softplus": softplus, "LogSigmoid": log_sigmoid, "Mish": mish, "PReLU": prelu,
    "Identity": _simple("Identity"),
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Softmax2d": lambda builder, call, inputs: builder.add(
        "Softmax", inputs[:1], call.path or "softmax2d", axis=_input(call).ndim - 3),
    "Flatten": flatten, "Upsample": upsample,
}


def converter_for(module):
    """The converter of ``module``'s class or its nearest base, None if it has none."""
    for cls in type(module).__mro__:
        if cls.__name__ in CONVERTERS and cls.__module__.startswith("cnnlab."):
            return CONVERTERS[cls.__name__]
    return None

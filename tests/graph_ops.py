"""Random computation graphs run twice, in cnnlab and in PyTorch (float64).

A graph has 1-3 leaves of one shape ``SHAPE`` and a list of nodes; each node applies
one op of :data:`OPS` to operands drawn from every earlier value (leaves and nodes),
so intermediates feed several ops and reach later nodes along several paths, the
graphs on which a wrong backward order loses gradient. Every op maps ``SHAPE``
tensors to a ``SHAPE`` tensor, wrapping the ops that change shape (a strided
convolution, a 2x2 pool, a crop) in a partner that restores it (a transposed
convolution, ``repeat``, ``F.pad``), so any op can follow any other.

The loss is a fixed random weighting of every node that nothing else uses (so every
node matters). :func:`run` evaluates a graph on a library; :func:`compare` runs both
and reports the first disagreement in values or in any leaf's gradient.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F

SHAPE = (2, 3, 6, 6)
RTOL = 1e-8


@dataclasses.dataclass(frozen=True)
class Op:
    name: str
    arity: int
    apply: Callable  # (lib, operands, constants) -> tensor of SHAPE


class Lib:
    """One library's names: the module, its functional namespace, constant tensors."""

    def __init__(self, module, functional):
        self.m = module
        self.F = functional

    def const(self, array):
        return self.m.tensor(array)


CNNLAB = Lib(cnnlab, F)
TORCH = Lib(torch, TF)


class Constants:
    """Fixed arrays for one node (weights, masks), the same in both libraries."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def normal(self, *shape, scale=0.3):
        return self.rng.standard_normal(shape) * scale


def _batch_norm_from_ops(L, a):
    mean = a.mean((0, 2, 3), keepdim=True)
    var = a.var((0, 2, 3), keepdim=True, correction=0)
    return (a - mean) / (var + 1e-5).sqrt()


def _conv_from_operand(L, a, b):
    weight = L.m.cat((b[:, :, :3, :3], b[:1, :, 3:, 3:]), 0)  # (3, 3, 3, 3) from b
    return L.F.conv2d(a, weight * 0.2, padding=1)


def _down_up(L, a, c):
    small = L.F.conv2d(a, L.const(c.normal(3, 3, 3, 3)), stride=2, padding=1)   # 3x3
    return L.F.conv_transpose2d(small, L.const(c.normal(3, 3, 3, 3)),
                                L.const(c.normal(3)), stride=2, padding=1,
                                output_padding=1)


def _inplace_mix(L, a, b, c):
    y = a.clone()
    y[:, 0] = b[:, 1]
    y += c
    y.mul_(b.sigmoid())
    return y


def _inplace_slice(L, a, b):
    y = a * 1.5
    y[:, :, 1:3] += b[:, :, 2:4]
    return y


def _inplace_view(L, a, b):
    """Writes through views: the base ``y`` and a view taken before must see them."""
    y = a * 1.5
    seen = y[:, 1]                                   # taken before the writes
    rows = y[:, 1, 2:4]                              # (views that are views in any layout)
    rows += b[:, 2, 1:3]
    corner = y[:, 1:, 2:5].transpose(2, 3)           # a view of a view
    corner.mul_(b[:, :2, 1:4].transpose(2, 3).sigmoid())
    return y + seen.unsqueeze(1) * 0.5


def _unpool(L, a):
    out, indices = L.F.max_pool2d(a, 2, 2, return_indices=True)
    return L.F.max_unpool2d(out * 2, indices, 2, 2)


OPS = [
    # elementwise
    Op("add", 2, lambda L, x, c: x[0] + x[1]),
    Op("sub-scaled", 2, lambda L, x, c: x[0] - 0.5 * x[1]),
    Op("mul", 2, lambda L, x, c: x[0] * x[1]),
    Op("div", 2, lambda L, x, c: x[0] / (x[1].abs() + 1)),
    Op("maximum", 2, lambda L, x, c: L.m.maximum(x[0], x[1])),
    # The condition is offset so that values equal up to rounding (plateaus after max
    # pooling, summed in another order by each library) do not decide it.
    Op("where", 2, lambda L, x, c: L.m.where(x[0] > 0.7 * x[1] + 0.05, x[0], x[1] * 0.5)),
    Op("relu", 1, lambda L, x, c: L.m.relu(x[0])),
    Op("sigmoid", 1, lambda L, x, c: L.m.sigmoid(x[0])),
    Op("silu", 1, lambda L, x, c: x[0] * L.m.sigmoid(x[0])),
    Op("tanh", 1, lambda L, x, c: L.m.tanh(x[0])),
    Op("exp-tanh", 1, lambda L, x, c: L.m.exp(L.m.tanh(x[0]))),
    Op("log-abs", 1, lambda L, x, c: L.m.log(x[0].abs() + 1)),
    Op("sqrt-square", 1, lambda L, x, c: L.m.sqrt(x[0] ** 2 + 0.1)),
    Op("sin", 1, lambda L, x, c: L.m.sin(x[0])),
    Op("clamp", 1, lambda L, x, c: L.m.clamp(x[0], -0.7, 0.7)),
    Op("affine", 1, lambda L, x, c: x[0] * L.const(c.normal(3, 1, 1)) + L.const(c.normal(6))),
    # reductions, broadcast back
    Op("center", 1, lambda L, x, c: x[0] - x[0].mean(0)),
    Op("batch-norm-ops", 1, lambda L, x, c: _batch_norm_from_ops(L, x[0])),
    Op("sum-scale", 2, lambda L, x, c: x[0] * L.m.tanh(x[1].sum(1, keepdim=True))),
    Op("std", 1, lambda L, x, c: x[0] / (x[0].std((2, 3), keepdim=True) + 1)),
    Op("amax", 1, lambda L, x, c: x[0] - x[0].amax(1, keepdim=True)),
    Op("max-dim", 1, lambda L, x, c: x[0] + x[0].max(dim=3, keepdim=True)[0]),
    Op("softmax", 1, lambda L, x, c: L.F.softmax(x[0], dim=1)),
    Op("log-softmax", 1, lambda L, x, c: L.F.log_softmax(x[0], dim=3)),
    Op("cumsum", 1, lambda L, x, c: x[0].cumsum(3) * 0.3),
    Op("norm", 2, lambda L, x, c: x[0] / (x[1].norm(dim=1, keepdim=True) + 1)),
    # matrix products
    Op("matmul", 2, lambda L, x, c: (x[0] @ x[1].transpose(2, 3)) * 0.2),
    Op("linear", 1, lambda L, x, c: L.F.linear(x[0], L.const(c.normal(6, 6)),
                                                 L.const(c.normal(6)))),
    Op("linear-from-operand", 2, lambda L, x, c: L.F.linear(x[0], x[1][0, 0] * 0.3)),
    # convolution and pooling
    Op("conv2d", 1, lambda L, x, c: L.F.conv2d(x[0], L.const(c.normal(3, 3, 3, 3)),
                                                 L.const(c.normal(3)), padding=1)),
    Op("conv2d-dilated-grouped", 1, lambda L, x, c: L.F.conv2d(
        x[0], L.const(c.normal(3, 1, 3, 3)), padding=2, dilation=2, groups=3)),
    Op("conv-weight-from-operand", 2, lambda L, x, c: _conv_from_operand(L, x[0], x[1])),
    Op("conv-transpose2d", 1, lambda L, x, c: L.F.conv_transpose2d(
        x[0], L.const(c.normal(3, 3, 3, 3)), padding=1)),
    Op("strided-down-up", 1, lambda L, x, c: _down_up(L, x[0], c)),
    Op("max-pool", 1, lambda L, x, c: L.F.max_pool2d(x[0], 3, 1, 1)),
    Op("max-pool-2-repeat", 1, lambda L, x, c: L.F.max_pool2d(x[0], 2).repeat(1, 1, 2, 2)),
    Op("avg-pool", 1, lambda L, x, c: L.F.avg_pool2d(x[0], 3, 1, 1)),
    Op("avg-pool-exclude-pad", 1, lambda L, x, c: L.F.avg_pool2d(
        x[0], 3, 1, 1, count_include_pad=False)),
    Op("lp-pool-pad", 1, lambda L, x, c: L.F.pad(L.F.lp_pool2d(x[0], 2, 2, stride=1),
                                                   (0, 1, 0, 1))),
    Op("adaptive-avg", 1, lambda L, x, c: L.F.pad(L.F.adaptive_avg_pool2d(x[0], 4),
                                                    (1, 1, 1, 1))),
    Op("adaptive-max", 1, lambda L, x, c: L.F.adaptive_max_pool2d(x[0], (3, 2))
       .repeat(1, 1, 2, 3)),
    Op("max-unpool", 1, lambda L, x, c: _unpool(L, x[0])),
    Op("unfold-fold", 1, lambda L, x, c: L.F.fold(L.F.unfold(x[0], 3, padding=1),
                                                    (6, 6), 3, padding=1) * 0.2),
    Op("pad-reflect", 1, lambda L, x, c: L.F.pad(x[0][:, :, 1:5, 1:5], (1, 1, 1, 1),
                                                   mode="reflect")),
    Op("pad-replicate", 1, lambda L, x, c: L.F.pad(x[0][:, :, 2:, :5], (0, 1, 2, 0),
                                                     mode="replicate")),
    Op("pad-circular", 1, lambda L, x, c: L.F.pad(x[0][:, :, 1:5, 1:5], (1, 1, 1, 1),
                                                    mode="circular")),
    # joins and views
    Op("cat-slice", 2, lambda L, x, c: L.m.cat((x[0], x[1]), 1)[:, 2:5]),
    Op("cat-self", 1, lambda L, x, c: L.m.cat((x[0], x[0] * 2), 1)[:, 1:4]),
    Op("stack-mean", 2, lambda L, x, c: L.m.stack((x[0], x[1], x[0]), 0).mean(0)),
    Op("split-swap", 1, lambda L, x, c: L.m.cat(x[0].split(2, dim=3)[::-1], 3)),
    Op("chunk-sum", 1, lambda L, x, c: sum(x[0].chunk(3, 1)).expand(2, 3, 6, 6)),
    Op("unbind-stack", 1, lambda L, x, c: L.m.stack(x[0].unbind(1)[::-1], 1)),
    Op("transpose", 1, lambda L, x, c: x[0].transpose(2, 3)),
    Op("permute-flip", 1, lambda L, x, c: x[0].permute(0, 1, 3, 2).flip(2)),
    Op("reshape", 1, lambda L, x, c: x[0].reshape(6, 36).t().reshape(2, 3, 6, 6)),
    Op("unsqueeze-squeeze", 1, lambda L, x, c: x[0].unsqueeze(2).squeeze(2) * 1.1),
    Op("index-channels", 1, lambda L, x, c: x[0][:, [2, 0, 1]]),
    Op("index-rows", 2, lambda L, x, c: x[0][:, :, [0, 0, 5, 3, 2, 1]] + x[1]),
    # normalisation and other layers
    Op("batch-norm", 1, lambda L, x, c: L.F.batch_norm(
        x[0], None, None, L.const(c.normal(3) + 1), L.const(c.normal(3)), training=True)),
    Op("layer-norm", 1, lambda L, x, c: L.F.layer_norm(
        x[0], (6, 6), L.const(c.normal(6, 6) + 1), L.const(c.normal(6, 6)))),
    Op("group-norm", 1, lambda L, x, c: L.F.group_norm(
        x[0], 3, L.const(c.normal(3) + 1), L.const(c.normal(3)))),
    Op("gelu-leaky", 1, lambda L, x, c: L.F.gelu(x[0]) + L.F.leaky_relu(x[0], 0.1)),
    Op("upsample-bilinear", 1, lambda L, x, c: L.F.interpolate(
        L.F.avg_pool2d(x[0], 2), scale_factor=2, mode="bilinear", align_corners=False)),
    Op("upsample-nearest", 1, lambda L, x, c: L.F.interpolate(
        L.F.max_pool2d(x[0], 3), size=(6, 6), mode="nearest")),
    # one and three spatial dimensions, through reshapes
    Op("conv1d", 1, lambda L, x, c: L.F.conv1d(
        x[0].reshape(2, 3, 36), L.const(c.normal(3, 3, 5)), padding=2).reshape(2, 3, 6, 6)),
    Op("conv3d", 1, lambda L, x, c: L.F.conv3d(
        x[0].unsqueeze(2), L.const(c.normal(3, 3, 1, 3, 3)), padding=(0, 1, 1)).squeeze(2)),
    Op("pools-1d-3d", 1, lambda L, x, c: L.F.avg_pool3d(
        x[0].unsqueeze(1), (3, 1, 3), 1, (1, 0, 1)).squeeze(1)
        + L.F.max_pool1d(x[0].reshape(6, 6, 6), 3, 1, 1).reshape(2, 3, 6, 6)),
    Op("tensor-unfold", 1, lambda L, x, c: x[0].unfold(3, 3, 3).sum(-1).repeat(1, 1, 1, 3)),
    # sorting and products (offsets keep plateaus from deciding the order of ties)
    Op("sort", 1, lambda L, x, c: (x[0] + L.const(np.arange(6.0) * 1e-3)).sort(dim=3)[0]),
    Op("topk", 1, lambda L, x, c: (x[0] + L.const(np.arange(6.0) * 1e-3)).topk(3, dim=3)[0]
       .repeat(1, 1, 1, 2)),
    Op("prod", 2, lambda L, x, c: x[0] * x[1][:, :, :, :2].prod(-1, keepdim=True)),
    # selections and products added later (gather, index_select, triangles, logsumexp)
    Op("gather-rows", 1, lambda L, x, c: L.m.gather(
        x[0], 2, L.m.tensor(c.rng.integers(0, 6, (2, 3, 6, 6))))),
    Op("index-select", 2, lambda L, x, c: L.m.index_select(
        x[0], 3, L.m.tensor([5, 0, 0, 2, 3, 1])) + x[1]),
    Op("tril-triu", 2, lambda L, x, c: L.m.tril(x[0]) + L.m.triu(x[1], 1) * 0.5),
    Op("roll-repeat-interleave", 1, lambda L, x, c: L.m.roll(x[0], (1, -2), (2, 3))
       + L.m.repeat_interleave(x[0][:, :, :, :3], 2, dim=3)),
    Op("logsumexp", 1, lambda L, x, c: x[0] - L.m.logsumexp(x[0], 1, keepdim=True)),
    Op("bmm-outer", 2, lambda L, x, c: L.m.bmm(x[0].reshape(6, 6, 6), x[1].reshape(6, 6, 6))
       .reshape(2, 3, 6, 6) * 0.2 + L.m.outer(x[0][0, 0, 0], x[1][1, 2, 3]) * 0.1),
    # in-place updates
    Op("inplace-mix", 3, lambda L, x, c: _inplace_mix(L, *x)),
    Op("inplace-slice", 2, lambda L, x, c: _inplace_slice(L, *x)),
    Op("inplace-view", 2, lambda L, x, c: _inplace_view(L, *x)),
]
OPS_BY_NAME = {op.name: op for op in OPS}


@dataclasses.dataclass(frozen=True)
class Graph:
    leaves: int
    nodes: tuple      # ((op name, (operand indices...)), ...), operands index values
    seed: int

    def __str__(self):
        names = [f"x{i}" for i in range(self.leaves)]
        lines = []
        for index, (name, operands) in enumerate(self.nodes):
            names.append(f"n{index}")
            lines.append(f"n{index} = {name}({', '.join(names[i] for i in operands)})")
        return f"Graph(leaves={self.leaves}, seed={self.seed}):\n  " + "\n  ".join(lines)

    def sinks(self):
        """Indices (into values) of nodes no later node uses: the loss weights these."""
        used = {i for _, operands in self.nodes for i in operands}
        first = self.leaves
        return [first + k for k in range(len(self.nodes)) if first + k not in used]


def leaf_arrays(graph: Graph):
    rng = np.random.default_rng(graph.seed)
    return [rng.standard_normal(SHAPE) for _ in range(graph.leaves)]


def run(graph: Graph, lib: Lib, leaves):
    """Evaluate ``graph`` on ``lib``: (the values of every node, the loss)."""
    values = list(leaves)
    for index, (name, operands) in enumerate(graph.nodes):
        op = OPS_BY_NAME[name]
        constants = Constants(graph.seed * 1000 + index)
        out = op.apply(lib, [values[i] for i in operands], constants)
        if tuple(out.shape) != SHAPE:
            raise AssertionError(f"op {name} returned shape {tuple(out.shape)}")
        values.append(out)
    weights = np.random.default_rng(graph.seed + 1)
    loss = 0
    for index in graph.sinks():
        loss = loss + (values[index] * lib.const(weights.standard_normal(SHAPE))).sum()
    return values[graph.leaves:], loss


def _close(ours, theirs, what, graph):
    theirs = np.asarray(theirs)
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=RTOL, atol=RTOL * scale,
                               err_msg=f"{what} differs on\n{graph}")


def compare(graph: Graph) -> None:
    """Raise AssertionError naming the first disagreement of cnnlab with PyTorch."""
    arrays = leaf_arrays(graph)
    ours_leaves = [cnnlab.tensor(a, requires_grad=True) for a in arrays]
    theirs_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_values, ours_loss = run(graph, CNNLAB, ours_leaves)
    theirs_values, theirs_loss = run(graph, TORCH, theirs_leaves)
    for index, (mine, reference) in enumerate(zip(ours_values, theirs_values)):
        _close(mine.detach().numpy(), reference.detach().numpy(), f"node n{index}", graph)
    ours_loss.backward()
    theirs_loss.backward()
    for index, (mine, reference) in enumerate(zip(ours_leaves, theirs_leaves)):
        if reference.grad is None or mine.grad is None:
            assert (mine.grad is None) == (reference.grad is None), \
                f"x{index}.grad: cnnlab {mine.grad is not None}, torch {reference.grad is not None}\n{graph}"
            continue
        _close(mine.grad.numpy(), reference.grad.numpy(), f"x{index}.grad", graph)

"""The book's cases: its LeNet, ResNet-18 and DenseNet, and the parts where their time goes.

- training steps (cross-entropy, SGD) and eval forwards of the three networks
  (``book_models.py``) at batch 128, ResNet-18 and DenseNet on 96-pixel images;
- the convolution backward alone, input gradient (dX) and weight gradient (dW)
  timed separately, on each distinct convolution of ResNet-18 at 96 px, batch 32;
- batch norm forward+backward on the activations of ResNet-18's training step;
- the first call of a convolution shape the process has not seen, against its
  steady-state time.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F
from _suite import (Case, Pair, as_numpy, compare_results, conv_flops, leaves, rng,
                    train_step)
from book_models import exact_zero_gradients, random_batch, resnet18_conv_shapes, twins

LENET_STEPS = 10
"""The book's LeNet steps per timed call (a step takes milliseconds; see cases_core)."""
LR = 0.1  # the book's learning rate for LeNet; plain SGD, as its d2l.SGD
TRAIN_BATCH = 128
BACKWARD_BATCH = 32
FIRST_CALL_STEADY = 3
"""Calls after the first whose median is the steady-state time."""


def _lenet_batch(settings):
    return 2 * settings.lenet_batch  # 128 in the full and quick modes


# ------------------------------------------------------------ whole networks


def _network_step(kind, image_of, batch_of, steps):
    """A Pair of ``steps`` training steps of the book's ``kind`` network per call.

    Each call returns the loss, every buffer (batch norm's running statistics) and
    every parameter's gradient after its last step: from the same weights, on the
    first call (the check), they must agree (see :func:`network_check`).
    """
    def build(settings):
        cnnlab_model, torch_model = twins(kind)
        images, labels = random_batch(batch_of(settings), image_of(settings))
        c_images, t_images = cnnlab.from_numpy(images), torch.from_numpy(images)
        c_labels, t_labels = cnnlab.from_numpy(labels), torch.from_numpy(labels)
        c_opt = cnnlab.optim.SGD(cnnlab_model.parameters(), lr=LR)
        t_opt = torch.optim.SGD(torch_model.parameters(), lr=LR)

        def run(model, optimizer, cross_entropy, x, y):
            for _ in range(steps):
                loss = train_step(model, optimizer, cross_entropy, x, y)
            return (loss.detach(), *model.buffers(), *[p.grad for p in model.parameters()])

        heavy = steps == 1  # seconds per call: few samples, no extra call for memory
        names = [name for name, _ in torch_model.named_parameters()]
        zero_names = exact_zero_gradients(kind, torch_model)
        zero = {index for index, name in enumerate(names) if name in zero_names}
        return Pair(lambda: run(cnnlab_model, c_opt, F.cross_entropy, c_images, c_labels),
                    lambda: run(torch_model, t_opt, TF.cross_entropy, t_images, t_labels),
                    samples=settings.network_samples if heavy else None,
                    warmup=1 if heavy else None, memory=not heavy,
                    check=lambda got, want: network_check(got, want, len(names), zero))
    return build


ZERO_GRADIENT = 1e-2
"""A gradient that is zero in exact arithmetic must stay below this fraction of the
network's largest gradient in cnnlab (PyTorch's rounding noise there reached 1.5e-3)."""
GRADIENT_RTOL = 3e-2
"""Largest ||cnnlab - torch|| / ||torch|| of a whole network's parameter gradient.

Float32 rounding flips a few ReLU and max-pool decisions in a deep network, and the
flips perturb every gradient below them: for ResNet-18 at 96 px, batch 8, PyTorch's
own float32 gradients are 0.1-0.5% (in norm, up to 4% in the largest entry) from its
float64 ones, cnnlab's about 1%, and the two float32 runs about 1% apart. Each op's
gradient is checked tightly in its own case (conv bwd, batch norm); here a wrong
formula would be off by tens of percent."""


def _norm_error(got, want) -> float:
    got, want = as_numpy(got), as_numpy(want)
    if got.shape != want.shape:
        return math.inf
    scale = float(np.linalg.norm(want))
    return float(np.linalg.norm(got - want)) / scale if scale else float(np.abs(got).max())


def network_check(got, want, gradients: int, zero=()) -> tuple:
    """Loss and buffers as :func:`compare_results`; the last ``gradients`` arrays (the
    parameters' gradients) within ``GRADIENT_RTOL`` in norm, except those whose index
    among the gradients is in ``zero``.

    Those are zero in exact arithmetic (:func:`book_models.exact_zero_gradients`): both
    libraries return rounding noise there, which differs completely, so cnnlab's only
    has to be small (below ``ZERO_GRADIENT`` of the largest gradient). The error
    returned is the largest of the loss's and buffers' (relative to their largest
    entry) and the gradients' (in norm).
    """
    got, want = list(got), list(want)
    if len(got) != len(want) or gradients > len(want):
        return False, None
    split = len(want) - gradients
    ok, error = compare_results(got[:split], want[:split])
    if error is None:
        return False, None
    largest = max((float(np.abs(as_numpy(w)).max()) for w in want[split:] if w.numel()),
                  default=0.0)
    for index, (g, w) in enumerate(zip(got[split:], want[split:])):
        if index in zero:
            ok = ok and float(np.abs(as_numpy(g)).max()) <= ZERO_GRADIENT * largest
            continue
        norm_error = _norm_error(g, w)
        error = max(error, norm_error)
        ok = ok and norm_error <= GRADIENT_RTOL
    return ok, error


def _network_eval(kind, image_of, batch_of, heavy):
    def build(settings):
        cnnlab_model, torch_model = twins(kind)
        cnnlab_model.eval()
        torch_model.eval()
        images, _ = random_batch(batch_of(settings), image_of(settings))
        c_images, t_images = cnnlab.from_numpy(images), torch.from_numpy(images)

        def cnnlab_call():
            with cnnlab.no_grad():
                return (cnnlab_model(c_images),)

        def torch_call():
            with torch.no_grad():
                return (torch_model(t_images),)
        return Pair(cnnlab_call, torch_call, samples=settings.network_samples if heavy else None,
                    warmup=1 if heavy else None, memory=not heavy)
    return build


def _network_cases():
    book_image = (lambda s: s.book_image)
    lenet_image = (lambda s: 28)
    batch = (lambda s: s.network_batch)
    cases = [
        Case("book lenet train step",
             lambda s: f"{LENET_STEPS} steps, batch {_lenet_batch(s)}, 28 px, SGD",
             ("lenet_step",), _network_step("lenet", lenet_image, _lenet_batch, LENET_STEPS),
             "book"),
        Case("book resnet18 train step",
             lambda s: f"1 step, batch {batch(s)}, {s.book_image} px, SGD",
             ("resnet_step",), _network_step("resnet18", book_image, batch, 1), "book"),
        Case("book densenet train step",
             lambda s: f"1 step, batch {batch(s)}, {s.book_image} px, SGD",
             ("densenet_step",), _network_step("densenet", book_image, batch, 1), "book"),
        Case("book lenet eval forward", lambda s: f"batch {_lenet_batch(s)}, 28 px",
             ("eval_fwd",), _network_eval("lenet", lenet_image, _lenet_batch, False), "book"),
    ]
    for kind in ("resnet18", "densenet"):
        cases.append(Case(f"book {kind} eval forward",
                          lambda s: f"batch {batch(s)}, {s.book_image} px", ("eval_fwd",),
                          _network_eval(kind, book_image, batch, True), "book"))
    return cases


# --------------------------------------------------- convolution backward alone


def _conv_backward_case(spec, wanted):
    """dX or dW alone of one of ResNet-18's convolutions, through each library's
    ``autograd.grad`` on a graph kept between calls (``retain_graph``): only the wanted
    input requires a gradient, so each library runs exactly that half of its conv
    backward, with what its forward kept for it (cnnlab's im2col columns for dW)."""
    label, cin, size, cout, kernel, stride, padding = spec

    def dims(settings):
        image = settings.book_image
        # the spec is for 96 px; scale its input size with the mode's image size
        return settings.batch(BACKWARD_BATCH), max(1, size * image // 96)

    def build(settings):
        n, height = dims(settings)
        generator = rng()
        x = generator.standard_normal((n, cin, height, height), dtype=np.float32)
        w = (generator.standard_normal((cout, cin, kernel, kernel), dtype=np.float32)
             / np.float32(math.sqrt(cin * kernel * kernel)))
        (cx, cw), (tx, tw) = leaves((x, w), (wanted == "dX", wanted == "dW"))
        c_out = F.conv2d(cx, cw, stride=stride, padding=padding)
        t_out = TF.conv2d(tx, tw, stride=stride, padding=padding)
        grad = generator.standard_normal(tuple(t_out.shape), dtype=np.float32)
        c_grad, t_grad = cnnlab.from_numpy(grad), torch.from_numpy(grad)
        c_input, t_input = (cx, tx) if wanted == "dX" else (cw, tw)
        return Pair(
            lambda: cnnlab.autograd.grad(c_out, (c_input,), c_grad, retain_graph=True),
            lambda: torch.autograd.grad(t_out, (t_input,), t_grad, retain_graph=True),
            flops=conv_flops(n, cin, t_out.shape[2:], cout, kernel))

    def shape(settings):
        n, height = dims(settings)
        return f"{n}x{cin}x{height}x{height}->{cout} k{kernel} s{stride}"
    return Case(f"conv bwd {wanted} {label}", shape,
                ("conv_bwd", "conv_bwd_dx" if wanted == "dX" else "conv_bwd_dw"), build, "book")


def _conv_backward_cases():
    cases = []
    for spec in resnet18_conv_shapes(96):
        # The stem's input is the image: nobody asks for its gradient.
        for wanted in (("dW",) if spec[1] == 1 else ("dX", "dW")):
            cases.append(_conv_backward_case(spec, wanted))
    return cases


# ------------------------------------------------------------------ batch norm


def _batchnorm_case(channels, size):
    """nn.BatchNorm2d in training mode (batch statistics), forward and backward."""
    def dims(settings):
        return settings.batch(TRAIN_BATCH), max(1, size * settings.book_image // 96)

    def build(settings):
        n, height = dims(settings)
        generator = rng()
        x = generator.standard_normal((n, channels, height, height), dtype=np.float32) * 2 + 1
        grad = generator.standard_normal(x.shape, dtype=np.float32)
        gamma = generator.uniform(0.5, 1.5, channels).astype(np.float32)
        beta = generator.standard_normal(channels, dtype=np.float32)
        c_bn, t_bn = cnnlab.nn.BatchNorm2d(channels), torch.nn.BatchNorm2d(channels)
        (cx,), (tx,) = leaves((x,), True)
        c_bn.weight.array[...] = gamma
        c_bn.bias.array[...] = beta
        with torch.no_grad():
            t_bn.weight.copy_(torch.from_numpy(gamma))
            t_bn.bias.copy_(torch.from_numpy(beta))
        c_grad, t_grad = cnnlab.from_numpy(grad), torch.from_numpy(grad)

        def call(bn, x, grad):
            x.grad = bn.weight.grad = bn.bias.grad = None
            out = bn(x)
            out.backward(grad)
            return out.detach(), x.grad, bn.weight.grad, bn.bias.grad

        return Pair(lambda: call(c_bn, cx, c_grad), lambda: call(t_bn, tx, t_grad))

    def shape(settings):
        n, height = dims(settings)
        return f"{n}x{channels}x{height}x{height}"
    return Case(f"batchnorm2d {channels}ch {size}px fwd+bwd", shape, ("batchnorm",), build,
                "book")


# ResNet-18's batch-normalised activations at 96 px: the stem's, then each stage's.
BATCHNORMS = ((64, 48), (64, 24), (128, 12), (256, 6), (512, 3))


# ----------------------------------------------------- first call of a shape


def _first_call_case(channels, first_size):
    """A conv2d forward+backward on shapes no other case uses (odd sizes from
    ``first_size``, a new one per sample): its first call, then its steady time."""
    def sizes(settings):
        return settings.batch(BACKWARD_BATCH), settings.spatial(first_size)

    def make(index, settings):
        n, first = sizes(settings)
        size = first + 2 * index
        generator = rng()
        x = generator.standard_normal((n, channels, size, size), dtype=np.float32)
        w = (generator.standard_normal((channels, channels, 3, 3), dtype=np.float32)
             / np.float32(math.sqrt(channels * 9)))
        grad = generator.standard_normal(x.shape, dtype=np.float32)  # padding 1 keeps size
        (cx, cw), (tx, tw) = leaves((x, w), True)
        t_grad = torch.from_numpy(grad)

        def cnnlab_call():
            cx.grad = cw.grad = None
            out = F.conv2d(cx, cw, padding=1)
            out.backward(grad)
            return out.detach(), cx.grad, cw.grad

        def torch_call():
            tx.grad = tw.grad = None
            out = TF.conv2d(tx, tw, padding=1)
            out.backward(t_grad)
            return out.detach(), tx.grad, tw.grad
        return cnnlab_call, torch_call

    def build(settings):
        return Pair(None, None, first_call=lambda index: make(index, settings))

    def shape(settings):
        n, first = sizes(settings)
        return f"{n}x{channels}x{first}+2i->{channels} k3 p1"
    return Case(f"first call conv {channels}ch fwd+bwd", shape, ("first_call",), build, "book")


def first_call_samples(pair: Pair, samples: int, gap_s: float, idle, time_sample):
    """Time ``samples`` new shapes: each one's first call and its steady time.

    Returns
    -------
    dict of lists, one entry per shape: ``cnnlab_first``, ``cnnlab_steady``,
    ``torch_first``, ``torch_steady`` (seconds).
    """
    times = {key: [] for key in ("cnnlab_first", "cnnlab_steady", "torch_first",
                                 "torch_steady")}
    for index in range(samples):
        calls = dict(zip(("cnnlab", "torch"), pair.first_call(index)))
        for name, call in calls.items():
            idle(gap_s)
            times[f"{name}_first"].append(time_sample(call))
            steady = []
            for _ in range(FIRST_CALL_STEADY):
                idle(gap_s)
                steady.append(time_sample(call))
            times[f"{name}_steady"].append(statistics.median(steady))
    return times


def book_cases() -> list:
    return (_network_cases() + _conv_backward_cases()
            + [_batchnorm_case(channels, size) for channels, size in BATCHNORMS]
            + [_first_call_case(64, 17), _first_call_case(256, 5)])

"""The core cases: convolutions, pooling, tiny-op latency, LeNet-5 and the MNIST epoch.

Each case builds a :class:`_suite.Pair` of calls, cnnlab's and PyTorch's, on the same
data; ``run.py`` checks that they agree and times them.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F
from _suite import Case, Pair, Skip, conv_flops, train_step
from _suite import leaves as _leaves
from _suite import rng as _rng


# conv: (label, N, Cin, H, W, Cout, kernel, stride, padding, dilation, groups)
CONVS = (
    ("lenet-conv1", 256, 1, 28, 28, 6, 5, 1, 2, 1, 1),
    ("lenet-conv2", 256, 6, 14, 14, 16, 5, 1, 0, 1, 1),
    ("resnet3x3-64", 8, 64, 56, 56, 64, 3, 1, 1, 1, 1),
    ("resnet3x3-128", 8, 128, 28, 28, 128, 3, 1, 1, 1, 1),
    ("resnet3x3-256", 8, 256, 14, 14, 256, 3, 1, 1, 1, 1),
    ("stem7x7", 4, 3, 224, 224, 64, 7, 2, 3, 1, 1),
    ("1x1-256to64", 8, 256, 56, 56, 64, 1, 1, 0, 1, 1),
    ("depthwise3x3-32", 8, 32, 112, 112, 32, 3, 1, 1, 1, 32),
    ("dilated3x3-d2", 8, 64, 56, 56, 64, 3, 1, 2, 2, 1),
)


def _conv_groups(label, groups, backward):
    if backward:
        return ("depthwise_fwd_bwd",) if groups > 1 else ("conv_fwd_bwd",)
    if label.startswith("resnet3x3"):
        return ("conv3x3_fwd",)
    if label.startswith("1x1"):
        return ("conv1x1_fwd",)
    return ("conv_fwd_other",)


def _conv_case(spec, backward):
    label, n, cin, h, w, cout, k, stride, pad, dilation, groups = spec
    kwargs = dict(stride=stride, padding=pad, dilation=dilation, groups=groups)

    def build(settings):
        rng = _rng()
        fan_in = cin // groups * k * k
        x = rng.standard_normal((settings.batch(n), cin, settings.spatial(h),
                                 settings.spatial(w)), dtype=np.float32)
        weight = (rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
                  / np.float32(math.sqrt(fan_in)))
        bias = rng.standard_normal(cout, dtype=np.float32)
        (cx, cw, cb), (tx, tw, tb) = _leaves((x, weight, bias), backward)
        with torch.no_grad():
            out_shape = TF.conv2d(tx, tw, tb, **kwargs).shape
        # forward, or forward + dX + dW: each pass costs as many multiply-adds
        flops = conv_flops(x.shape[0], cin, out_shape[2:], cout, k, groups) * (
            3 if backward else 1)
        if not backward:
            return Pair(lambda: (F.conv2d(cx, cw, cb, **kwargs),),
                        lambda: (TF.conv2d(tx, tw, tb, **kwargs),), flops=flops)
        grad = rng.standard_normal(tuple(out_shape), dtype=np.float32)
        torch_grad = torch.from_numpy(grad)

        def cnnlab_call():
            cx.grad = cw.grad = cb.grad = None
            out = F.conv2d(cx, cw, cb, **kwargs)
            out.backward(grad)
            return out.detach(), cx.grad, cw.grad, cb.grad

        def torch_call():
            tx.grad = tw.grad = tb.grad = None
            out = TF.conv2d(tx, tw, tb, **kwargs)
            out.backward(torch_grad)
            return out.detach(), tx.grad, tw.grad, tb.grad
        return Pair(cnnlab_call, torch_call, flops=flops)

    parts = [f"k{k}"] + [f"{name}{value}" for name, value, default in
                         (("s", stride, 1), ("p", pad, 0), ("d", dilation, 1), ("g", groups, 1))
                         if value != default]
    suffix = "fwd+bwd" if backward else "fwd"

    def shape(settings):
        return (f"{settings.batch(n)}x{cin}x{settings.spatial(h)}x{settings.spatial(w)}"
                f"->{cout} {' '.join(parts)}")
    return Case(f"conv {label} {suffix}", shape, _conv_groups(label, groups, backward), build)


POOLS = (("max", 2, 2, 0), ("max", 3, 2, 1), ("avg", 2, 2, 0), ("avg", 3, 2, 1))
POOL_INPUT = (8, 64, 112, 112)


def _pool_case(spec, backward):
    kind, k, stride, pad = spec
    cnnlab_pool = {"max": F.max_pool2d, "avg": F.avg_pool2d}[kind]
    torch_pool = {"max": TF.max_pool2d, "avg": TF.avg_pool2d}[kind]

    def build(settings):
        rng = _rng()
        n, c, h, w = POOL_INPUT
        x = rng.standard_normal((settings.batch(n), c, settings.spatial(h),
                                 settings.spatial(w)), dtype=np.float32)
        (cx,), (tx,) = _leaves((x,), backward)
        if not backward:
            return Pair(lambda: (cnnlab_pool(cx, k, stride, pad),),
                        lambda: (torch_pool(tx, k, stride, pad),))
        with torch.no_grad():
            out_shape = torch_pool(tx, k, stride, pad).shape
        grad = rng.standard_normal(tuple(out_shape), dtype=np.float32)
        torch_grad = torch.from_numpy(grad)

        def cnnlab_call():
            cx.grad = None
            out = cnnlab_pool(cx, k, stride, pad)
            out.backward(grad)
            return out.detach(), cx.grad

        def torch_call():
            tx.grad = None
            out = torch_pool(tx, k, stride, pad)
            out.backward(torch_grad)
            return out.detach(), tx.grad
        return Pair(cnnlab_call, torch_call)

    suffix = "fwd+bwd" if backward else "fwd"

    def shape(settings):
        n, c, h, w = POOL_INPUT
        return (f"{settings.batch(n)}x{c}x{settings.spatial(h)}x{settings.spatial(w)} "
                f"k{k} s{stride}" + (f" p{pad}" if pad else ""))
    group = "pool_fwd_bwd" if backward else "pool_fwd"
    return Case(f"pool {kind} k{k}s{stride}{'p' + str(pad) if pad else ''} {suffix}", shape,
                (group,), build)


def seed_corr2d(X, kernel):
    """The seed notebook's ``corr2d``, verbatim (/work/shared/seed/000_be809b75e199121d.txt)."""
    h, w = kernel.shape
    out = torch.zeros(X.size()[0] - h + 1, X.size()[1] - w + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (X[i: i + h, j: j + w] * kernel).sum()
    return out


def _chapter_image():
    """The seed's 6x8 edge-detection image (middle four columns black) and kernel [1, -1]."""
    image = np.ones((6, 8), dtype=np.float32)
    image[:, 2:6] = 0
    return image, np.array([[1.0, -1.0]], dtype=np.float32)


def _tiny_corr2d(settings):
    image, kernel = _chapter_image()
    (c_image, c_kernel), (t_image, t_kernel) = _leaves((image, kernel), False)
    t_image4, t_kernel4 = t_image[None, None], t_kernel[None, None]
    return Pair(lambda: (cnnlab.corr2d(c_image, c_kernel),),
                lambda: (TF.conv2d(t_image4, t_kernel4)[0, 0],))


def _tiny_conv2d(settings):
    image, kernel = _chapter_image()
    (c_image, c_kernel), (t_image, t_kernel) = _leaves(
        (image.reshape(1, 1, 6, 8), kernel.reshape(1, 1, 1, 2)), False)
    return Pair(lambda: (F.conv2d(c_image, c_kernel),),
                lambda: (TF.conv2d(t_image, t_kernel),))


def _big_corr2d(settings):
    size = settings.big_corr_size
    rng = _rng()
    (c_x, c_k), (t_x, t_k) = _leaves((rng.standard_normal((size, size), dtype=np.float32),
                                      rng.standard_normal((3, 3), dtype=np.float32)), False)
    return Pair(lambda: (cnnlab.corr2d(c_x, c_k),), lambda: (seed_corr2d(t_x, t_k),),
                torch_samples=settings.seed_loop_samples)


def lenet(nn):
    """LeNet-5 as in the chapter (ReLU, max pooling), from ``torch.nn`` or ``cnnlab.nn``."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def twin_lenets(lr=0.01, momentum=0.9):
    """A torch LeNet and a cnnlab LeNet with the same weights, each with its SGD."""
    torch.manual_seed(0)
    torch_model = lenet(torch.nn)
    cnnlab_model = lenet(cnnlab.nn)
    torch_params = list(torch_model.parameters())
    cnnlab_params = list(cnnlab_model.parameters())
    for c, t in zip(cnnlab_params, torch_params, strict=True):
        c.array[...] = t.detach().numpy()
    return ((cnnlab_model, cnnlab.optim.SGD(cnnlab_params, lr=lr, momentum=momentum)),
            (torch_model, torch.optim.SGD(torch_params, lr=lr, momentum=momentum)))


def _lenet_step(settings):
    rng = _rng()
    batch = settings.lenet_batch
    images = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    (c_model, c_opt), (t_model, t_opt) = twin_lenets()
    c_images, t_images = cnnlab.from_numpy(images), torch.from_numpy(images)
    c_labels, t_labels = cnnlab.from_numpy(labels), torch.from_numpy(labels)

    # A call is STEPS consecutive steps, as in training: after the idle gap that
    # precedes every sample, a single step would mostly time how fast each library's
    # threads wake up (PyTorch's took 2-8x longer than a warm step here). Each call
    # returns the loss and the updated parameters: from the same weights they must agree.
    def cnnlab_call():
        for _ in range(STEPS):
            loss = train_step(c_model, c_opt, F.cross_entropy, c_images, c_labels)
        return (loss.detach(), *c_model.parameters())

    def torch_call():
        for _ in range(STEPS):
            loss = train_step(t_model, t_opt, TF.cross_entropy, t_images, t_labels)
        return (loss.detach(), *t_model.parameters())
    return Pair(cnnlab_call, torch_call)


STEPS = 10
"""LeNet training steps per timed call."""


def _epoch_size(settings, total=60000):
    return max(64, int(total * settings.epoch_fraction))


def _mnist_epoch(settings):
    try:
        from cnnlab.data import MNIST, MNIST_NORMALIZE
        dataset = MNIST(train=True, download=False)
    except Exception as error:  # ImportError, DatasetNotFoundError, a corrupt file
        raise Skip(f"MNIST not available ({type(error).__name__}: {error})") from None
    count = _epoch_size(settings, len(dataset.labels))
    mean, std = MNIST_NORMALIZE
    images = ((dataset.images[:count].astype(np.float32) / 255 - mean) / std)[:, None]
    labels = dataset.labels[:count]
    order = _rng().permutation(count)
    batches = [order[i: i + 64] for i in range(0, count, 64)]
    (c_model, c_opt), (t_model, t_opt) = twin_lenets()

    def epoch(model, optimizer, cross_entropy, wrap):
        losses = [train_step(model, optimizer, cross_entropy, wrap(images[index]),
                              wrap(labels[index])).item() for index in batches]
        return (np.array(statistics.mean(losses)),)

    def check(got, want):
        # Losses drift apart over hundreds of float32 steps: compare the epoch's mean loss.
        got, want = float(got[0]), float(want[0])
        return abs(got - want) <= 0.1 * abs(want), abs(got - want) / abs(want)

    return Pair(lambda: epoch(c_model, c_opt, F.cross_entropy, cnnlab.from_numpy),
                lambda: epoch(t_model, t_opt, TF.cross_entropy, torch.from_numpy),
                timed=False, check=check)


def core_cases(with_epoch: bool) -> list:
    cases = []
    for backward in (False, True):
        cases += [_conv_case(spec, backward) for spec in CONVS]
    for backward in (False, True):
        cases += [_pool_case(spec, backward) for spec in POOLS]
    cases += [
        Case("tiny corr2d 6x8", lambda s: "6x8 * 1x2 (torch: F.conv2d)", ("tiny",),
             _tiny_corr2d),
        Case("tiny conv2d 1x1x6x8", lambda s: "1x1x6x8 * 1x1x1x2", ("tiny",), _tiny_conv2d),
        Case("corr2d vs seed loop",
             lambda s: f"{s.big_corr_size}x{s.big_corr_size} * 3x3 (torch: seed loop)",
             ("seed_loop",), _big_corr2d),
        Case("lenet train step", lambda s: f"{STEPS} steps, batch {s.lenet_batch}, SGD m0.9",
             ("lenet_step",), _lenet_step),
    ]
    if with_epoch:
        cases.append(Case("mnist epoch", lambda s: f"{_epoch_size(s)} images, batch 64",
                          ("epoch",), _mnist_epoch))
    return cases

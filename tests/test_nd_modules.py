"""nn.Conv1d/3d and nn.ConvTranspose1d/3d with copied weights against torch (outputs and
float64 gradients), their reprs, ConvTranspose's output_size; channel dropout
(F.dropout1d/2d/3d, nn.Dropout1d/2d/3d): which elements drop together, scaling,
gradients, eval mode, errors."""

import numpy as np
import pytest
import torch

import cnnlab
import cnnlab.functional as F

RNG = np.random.default_rng(12)

LAYERS = [  # (constructor arguments, input shape)
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("Conv1d", (4, 2, 2), dict(groups=2, dilation=2, bias=False, padding_mode="circular",
                               padding=1), (2, 4, 7)),
    ("Conv3d", (2, 3, (2, 3, 2)), dict(padding=(1, 0, 1), stride=(1, 2, 1)), (2, 2, 4, 5, 3)),
    ("Conv3d", (2, 2, 3), dict(padding="same", padding_mode="reflect"), (1, 2, 4, 4, 4)),
    ("ConvTranspose1d", (3, 2, 4), dict(stride=3, output_padding=1), (2, 3, 5)),
    ("ConvTranspose3d", (2, 4, 2), dict(stride=(2, 1, 2), groups=2, dilation=(1, 2, 1)),
     (1, 2, 3, 2, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=lambda v: str(v))
def test_layers_match_torch_with_copied_weights(name, args, kwargs, shape):
    ours = getattr(cnnlab.nn, name)(*args, **kwargs, dtype=cnnlab.float64)
    theirs = getattr(torch.nn, name)(*args, **kwargs, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        if theirs.bias is not None:
            theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    x = RNG.standard_normal(shape)
    mine, reference = cnnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(mine), theirs(reference)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    g = RNG.standard_normal(tuple(expected.shape))
    out.backward(cnnlab.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-8,
                               atol=1e-10)


def test_conv_transpose_output_size_like_torch():
    ours = cnnlab.nn.ConvTranspose3d(1, 1, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose3d(1, 1, 3, stride=2, padding=1)
    x = np.ones((1, 1, 3, 4, 2), np.float32)
    for size in [(5, 7, 3), (6, 8, 4), (5, 8, 3)]:
        assert ours(x, output_size=size).shape == tuple(theirs(torch.tensor(x),
                                                               output_size=size).shape)
    with pytest.raises(ValueError, match=r"ConvTranspose3d: output_size \(7, 7, 3\) is not "
                                         r"reachable: the output depth must be between 5 and 6"):
        ours(x, output_size=(7, 7, 3))


def test_initialisation_scale_and_errors():
    layer = cnnlab.nn.Conv3d(4, 2, 3, groups=2)
    bound = 1 / np.sqrt(2 * 27)
    assert np.abs(layer.weight.detach().numpy()).max() <= bound
    with pytest.raises(TypeError, match=r"Conv1d: kernel_size must be an int or a tuple of 1 "
                                        r"ints \(length\), got \(3, 3\)"):
        cnnlab.nn.Conv1d(1, 1, (3, 3))
    with pytest.raises(ValueError, match=r"ConvTranspose1d: only padding_mode='zeros' is "
                                         r"supported, got 'reflect'"):
        cnnlab.nn.ConvTranspose1d(1, 1, 3, padding_mode="reflect")


# ----------------------------------------------------------- channel dropout


@pytest.mark.parametrize("spatial,shape", [(1, (4, 6, 5)), (1, (6, 5)), (2, (4, 6, 3, 5)),
                                           (3, (3, 4, 2, 3, 2)),
                                           (3, (4, 2, 3, 2))], ids=str)
def test_channel_dropout_drops_whole_channels(spatial, shape):
    cnnlab.manual_seed(0)
    x = cnnlab.tensor(RNG.standard_normal(shape) + 5, requires_grad=True)   # no zeros
    out = getattr(F, f"dropout{spatial}d")(x, p=0.4)
    values = out.detach().numpy()
    lead = values.shape[:values.ndim - spatial]
    flat = values.reshape(lead + (-1,))
    dropped = (flat == 0).all(axis=-1)
    kept = np.isclose(flat, x.detach().numpy().reshape(flat.shape) / 0.6).all(axis=-1)
    assert (dropped | kept).all()           # every channel is dropped or kept whole
    assert dropped.any() and kept.any()
    out.sum().backward()
    grad = x.grad.numpy().reshape(flat.shape)
    np.testing.assert_allclose(grad, np.broadcast_to(np.where(kept[..., None], 1 / 0.6, 0.0),
                                                     grad.shape))


def test_channel_dropout_rate_eval_and_layers():
    cnnlab.manual_seed(1)
    out = F.dropout3d(cnnlab.ones(200, 50, 1, 1, 1), p=0.3).numpy()
    assert abs((out == 0).mean() - 0.3) < 0.02
    x = cnnlab.ones(2, 3, 4)
    assert F.dropout1d(x, 0.5, training=False) is x
    layer = cnnlab.nn.Dropout2d(0.25)
    assert repr(layer) == repr(torch.nn.Dropout2d(0.25)) == "Dropout2d(p=0.25, inplace=False)"
    layer.eval()
    np.testing.assert_array_equal(layer(cnnlab.ones(2, 3, 4, 4)).numpy(), 1.0)
    assert repr(cnnlab.nn.Dropout1d()) == repr(torch.nn.Dropout1d())
    assert repr(cnnlab.nn.Dropout3d(0.1)) == repr(torch.nn.Dropout3d(0.1))


def test_dropout2d_of_3d_input_warns_and_drops_lines_like_torch():
    cnnlab.manual_seed(2)
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input"):
        out = F.dropout2d(cnnlab.ones(8, 6, 5), p=0.5).numpy()
    assert ((out == 0).all(axis=-1) | (out == 2).all(axis=-1)).all()


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.dropout1d(cnnlab.ones(2, 3, 4, 5)), ValueError,
     r"dropout1d: input must be 2-D or 3-D \(C, L\) or \(N, C, L\), got shape \(2, 3, 4, 5\)"),
    (lambda: F.dropout3d(cnnlab.ones(2, 3)), ValueError,
     r"dropout3d: input must be 4-D or 5-D \(C, D, H, W\) or \(N, C, D, H, W\), got shape "
     r"\(2, 3\)"),
    (lambda: F.dropout2d(cnnlab.ones(2, 3, 4), 1.5), ValueError,
     r"dropout2d: p must be a probability in \[0, 1\], got 1.5"),
    (lambda: cnnlab.nn.Dropout3d("x"), TypeError,
     r"Dropout3d: p must be a probability in \[0, 1\], got 'x'"),
], ids=lambda v: None)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("name,args,shape", [
    ("LazyConv1d", (4, 3), (2, 5, 9)), ("LazyConv3d", (2, (2, 3, 2)), (1, 3, 4, 5, 3)),
    ("LazyConvTranspose1d", (4, 3), (2, 5, 6)), ("LazyConvTranspose3d", (2, 2), (1, 3, 2, 3, 2))],
    ids=str)
def test_lazy_layers_take_in_channels_from_the_first_input(name, args, shape):
    layer = getattr(cnnlab.nn, name)(*args)
    theirs = getattr(torch.nn, name)(*args)
    assert repr(layer) == repr(theirs)
    x = np.ones(shape, np.float32)
    out = layer(x)
    theirs(torch.tensor(x))
    assert type(layer).__name__ == name.replace("Lazy", "")
    assert tuple(layer.weight.shape) == tuple(theirs.weight.shape)
    assert out.shape == tuple(theirs(torch.tensor(x)).shape)
    assert repr(layer) == repr(theirs)

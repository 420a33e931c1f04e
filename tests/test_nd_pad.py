"""F.pad over 1, 2 and 3 trailing dimensions, every mode, against torch: values and
float64 gradients (reflect/replicate/circular fold the border gradients back)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
import cnnlab.functional as F

RNG = np.random.default_rng(4)


@pytest.mark.parametrize("shape,pad", [((2, 3, 5), (1, 2)), ((3, 5), (2, 0)),
                                       ((2, 3, 4, 5), (1, 2, 2, 1)),
                                       ((2, 2, 4, 5, 6), (1, 2, 0, 1, 2, 1)),
                                       ((2, 3, 4, 6), (1, 1, 2, 0, 1, 2))], ids=str)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_torch(shape, pad, mode):
    x = RNG.standard_normal(shape)
    ours, theirs = cnnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = F.pad(ours, pad, mode=mode), TF.pad(theirs, pad, mode=mode)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    g = RNG.standard_normal(tuple(expected.shape))
    out.backward(cnnlab.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)

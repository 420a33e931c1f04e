"""Pure NumPy kernels: arrays in, arrays out; each op's forward and backward side by side.

Nothing here knows about Tensors or autograd. Arguments arrive already normalised
(see :mod:`cnnlab.shapes`): sizes as ``(height, width)`` pairs and padding as
``((top, bottom), (left, right))``.
"""

import numpy as _np


def quiet(function):
    """Run ``function`` without NumPy's floating-point warnings.

    NaN and inf propagate through the kernels exactly as through PyTorch's, which
    computes silently; NumPy would print "invalid value encountered in matmul".
    (``np.errstate`` as a decorator: a third cheaper per call than a ``with`` block,
    which builds a new ``errstate`` each time; it matters for tiny inputs.)
    """
    return _np.errstate(all="ignore")(function)

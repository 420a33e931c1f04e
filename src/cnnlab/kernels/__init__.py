"""Pure NumPy kernels: arrays in, arrays out; each op's forward and backward side by side.

Nothing here knows about Tensors or autograd. Arguments arrive already normalised
(see :mod:`cnnlab.shapes`): sizes as ``(height, width)`` pairs and padding as
``((top, bottom), (left, right))``.
"""

import functools as _functools

import numpy as _np


def quiet(function):
    """Run ``function`` without NumPy's floating-point warnings.

    NaN and inf propagate through the kernels exactly as through PyTorch's, which
    computes silently; NumPy would print "invalid value encountered in matmul".
    """
    @_functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _np.errstate(all="ignore"):
            return function(*args, **kwargs)
    return wrapper

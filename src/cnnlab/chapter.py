"""The helper functions of the "Dive into Deep Learning" chapter on CNNs, vectorised.

The chapter writes ``corr2d``, ``corr2d_multi_in``, ``corr2d_multi_in_out`` and
``pool2d`` with a Python loop over output pixels, to show what one output element
is. These versions compute the same numbers with cnnlab's vectorised,
differentiable operations (:func:`cnnlab.functional.correlate2d`,
:func:`~cnnlab.functional.conv2d`, :func:`~cnnlab.functional.max_pool2d`,
:func:`~cnnlab.functional.avg_pool2d`, :func:`cnnlab.matmul`), so the chapter's
code runs unchanged and fast, and gradients flow through them.

Results are floating point, as in the chapter (which fills a ``torch.zeros``
buffer): integer inputs are computed exactly and returned as ``float32``;
floating inputs keep their (promoted) floating dtype.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from . import functional as F
from .autograd import needs_grad
from .kernels import conv as conv_kernels
from .tensor import Tensor
from .ops import as_tensor, cast, matmul, reshape
from .shapes import int_pair, window_output_shape

__all__ = ["corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1",
           "pool2d"]

_NO_PADDING = ((0, 0), (0, 0))

#: ``X.size * K.size`` up to which :func:`corr2d` calls ``conv2d`` (one matrix product)
#: rather than ``correlate2d``: the small-path size of the convolution kernels.
SMALL_CORRELATION = 1 << 14


def _array(value, ndim: int, name: str, layout: str, function: str):
    """``value`` as a Tensor with ``ndim`` non-empty dimensions, or a ValueError."""
    tensor = as_tensor(value, function)
    shape = tuple(tensor.array.shape)
    if len(shape) != ndim:
        raise ValueError(f"{function}: {name} must be {ndim}-D {layout}, got shape {shape}")
    if min(shape) < 1:
        raise ValueError(f"{function}: {name} must not be empty, got shape {shape}")
    return tensor


def _check_fits(function: str, X, K) -> tuple:
    """The output size ``(OH, OW)``, or a ValueError with the formula when the kernel is
    larger than X."""
    return window_output_shape(function, tuple(X.array.shape[-2:]),
                               tuple(K.array.shape[-2:]), (1, 1), _NO_PADDING, (1, 1))


def _check_channels(function: str, X, K, axis: int, layout: str) -> None:
    channels, kernel_channels = X.array.shape[0], K.array.shape[axis]
    if channels != kernel_channels:
        raise ValueError(
            f"{function}: X has {channels} input channels but K has {kernel_channels}; K needs "
            f"one kernel per input channel: shape {layout} with c_i = {channels}, got "
            f"{tuple(K.array.shape)}")


def _same_dtype(X, K):
    """``X`` and ``K`` in their common dtype (int64 for integers, to stay exact)."""
    dtype = dtypes.result_dtype([X.array.dtype, K.array.dtype])
    if dtype.kind in "biu":
        dtype = np.dtype(np.int64)
    target = dtypes.from_numpy_dtype(dtype)
    return cast(X, target), cast(K, target)


def _floating(result):
    """Integer results as float32, like the chapter's ``torch.zeros`` buffer."""
    return result if result.array.dtype.kind == "f" else cast(result, dtypes.float32)


def corr2d(X, K):
    """Two-dimensional cross-correlation of an array ``X`` with a kernel ``K``.

    The kernel window starts at the top-left of ``X`` and slides right and down one
    element at a time; each output element is the sum of the elementwise product of
    the window and the kernel:

    .. math::

        Y[i, j] = \\sum_{a=0}^{k_h - 1} \\sum_{b=0}^{k_w - 1} X[i + a, j + b] \\, K[a, b]

    This is what deep-learning libraries call "convolution" (no kernel flip).

    Parameters
    ----------
    X : Tensor, np.ndarray or nested list, shape (n_h, n_w)
    K : Tensor, np.ndarray or nested list, shape (k_h, k_w)

    Returns
    -------
    Tensor, shape (n_h - k_h + 1, n_w - k_w + 1)
        float32 for integer inputs (computed exactly), else the inputs' floating
        dtype. Differentiable with respect to ``X`` and ``K``.

    Raises
    ------
    ValueError
        If ``X`` or ``K`` is not a non-empty 2-D array, or ``K`` is larger than ``X``
        along either axis (the message shows the output-size formula).

    Notes
    -----
    Output shape: :math:`(n_h - k_h + 1) \\times (n_w - k_w + 1)`.
    Computed by :func:`cnnlab.functional.correlate2d` with ``mode='valid'``: one
    vectorised multiply-add per kernel element, no loop over output pixels. Small
    inputs of one dtype (``X.size * K.size`` up to :data:`SMALL_CORRELATION`), where
    calling costs more than computing, go through :func:`cnnlab.functional.conv2d`
    instead (its small path: one matrix product).

    Examples
    --------
    >>> import cnnlab
    >>> X = cnnlab.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    >>> K = cnnlab.tensor([[0, 1], [1, 0]])
    >>> cnnlab.corr2d(X, K)
    tensor([[ 4.,  6.],
            [10., 12.]])

    Edge detection: a ``[1, -1]`` kernel is non-zero only where neighbours differ.

    >>> image = cnnlab.ones(2, 6)
    >>> image[:, 2:4] = 0
    >>> cnnlab.corr2d(image, cnnlab.tensor([[1.0, -1]]))
    tensor([[ 0.,  1.,  0., -1.,  0.],
            [ 0.,  1.,  0., -1.,  0.]])
    """
    function = "corr2d"
    X = _array(X, 2, "X", "(height, width)", function)
    K = _array(K, 2, "K", "(k_h, k_w)", function)
    out_shape = _check_fits(function, X, K)
    x_dtype = X.array.dtype
    if (x_dtype == K.array.dtype and x_dtype.kind in "biuf"
            and X.array.size * K.array.size <= SMALL_CORRELATION):
        # Small inputs of one dtype: the boundary of correlate2d (modes, boundaries,
        # fill value, type promotion) costs more than the arithmetic, and conv2d's
        # small path computes the same numbers as one matrix product (integers
        # exactly, in int64). Without gradients, straight to the kernel: the tensor
        # wrappers would cost twice the arithmetic.
        if not needs_grad(X, K):
            out, _ = conv_kernels.conv_forward(X.array[None, None], K.array[None, None], None,
                                               (1, 1), _NO_PADDING, (1, 1), 1, keep_cols=False)
            return _floating(Tensor._wrap(out.reshape(out_shape)))
        out = F.conv2d(reshape(X, (1, 1) + X.array.shape), reshape(K, (1, 1) + K.array.shape))
        return _floating(reshape(out, out_shape))
    return _floating(F.correlate2d(X, K, mode="valid"))


def corr2d_multi_in(X, K):
    """Cross-correlation with several input channels, summed over the channels.

    Each input channel ``X[c]`` is correlated with its own kernel ``K[c]``
    (:func:`corr2d`) and the results are added:

    .. math::

        Y = \\sum_{c=0}^{c_i - 1} \\mathrm{corr2d}(X[c], K[c])

    Parameters
    ----------
    X : Tensor, np.ndarray or nested list, shape (c_i, n_h, n_w)
    K : Tensor, np.ndarray or nested list, shape (c_i, k_h, k_w)

    Returns
    -------
    Tensor, shape (n_h - k_h + 1, n_w - k_w + 1)
        float32 for integer inputs, else the inputs' floating dtype; differentiable.

    Raises
    ------
    ValueError
        For wrong numbers of dimensions, different channel counts in ``X`` and
        ``K``, or a kernel larger than ``X``.

    Notes
    -----
    Computed as one :func:`cnnlab.functional.conv2d` with a single output
    channel: weight ``K`` viewed as ``(1, c_i, k_h, k_w)``. Unlike the chapter's
    version, this one does not print the channels it visits.

    Examples
    --------
    >>> import cnnlab
    >>> X = cnnlab.tensor([[[0, 1, 2], [3, 4, 5], [6, 7, 8]],
    ...                    [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    >>> K = cnnlab.tensor([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    >>> cnnlab.corr2d_multi_in(X, K)
    tensor([[ 56.,  72.],
            [104., 120.]])
    """
    function = "corr2d_multi_in"
    X = _array(X, 3, "X", "(c_i, height, width)", function)
    K = _array(K, 3, "K", "(c_i, k_h, k_w)", function)
    _check_channels(function, X, K, 0, "(c_i, k_h, k_w)")
    _check_fits(function, X, K)
    X, K = _same_dtype(X, K)
    out = F.conv2d(X, reshape(K, (1,) + tuple(K.array.shape)))
    return _floating(reshape(out, out.array.shape[1:]))


def corr2d_multi_in_out(X, K):
    """Cross-correlation with several input and output channels.

    Output channel ``o`` is the multi-input correlation of ``X`` with the kernel
    stack ``K[o]`` (:func:`corr2d_multi_in`):

    .. math::

        Y[o] = \\sum_{c=0}^{c_i - 1} \\mathrm{corr2d}(X[c], K[o, c])

    This is exactly a convolutional layer without bias, on one image.

    Parameters
    ----------
    X : Tensor, np.ndarray or nested list, shape (c_i, n_h, n_w)
    K : Tensor, np.ndarray or nested list, shape (c_o, c_i, k_h, k_w)

    Returns
    -------
    Tensor, shape (c_o, n_h - k_h + 1, n_w - k_w + 1)
        float32 for integer inputs, else the inputs' floating dtype; differentiable.

    Raises
    ------
    ValueError
        For wrong numbers of dimensions, ``K.shape[1] != X.shape[0]``, or a kernel
        larger than ``X``.

    Notes
    -----
    One :func:`cnnlab.functional.conv2d` call (im2col and one matrix product)
    instead of the chapter's loop over output channels.

    Examples
    --------
    >>> import cnnlab
    >>> X = cnnlab.tensor([[[0, 1, 2], [3, 4, 5], [6, 7, 8]],
    ...                    [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    >>> K = cnnlab.tensor([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    >>> K = cnnlab.stack([K, K + 1, K + 2])
    >>> K.shape
    cnnlab.Size([3, 2, 2, 2])
    >>> cnnlab.corr2d_multi_in_out(X, K)
    tensor([[[ 56.,  72.],
             [104., 120.]],
    <BLANKLINE>
            [[ 76., 100.],
             [148., 172.]],
    <BLANKLINE>
            [[ 96., 128.],
             [192., 224.]]])
    """
    function = "corr2d_multi_in_out"
    X = _array(X, 3, "X", "(c_i, height, width)", function)
    K = _array(K, 4, "K", "(c_o, c_i, k_h, k_w)", function)
    _check_channels(function, X, K, 1, "(c_o, c_i, k_h, k_w)")
    _check_fits(function, X, K)
    X, K = _same_dtype(X, K)
    return _floating(F.conv2d(X, K))


def corr2d_multi_in_out_1x1(X, K):
    """A 1x1 convolution as a matrix product (the D2L book's version).

    With a 1x1 kernel every output pixel mixes only the channels of the same input
    pixel, so pixels act as samples and channels as features: a fully connected
    layer applied at every position,

    .. math::

        Y[o, i, j] = \\sum_{c=0}^{c_i - 1} K[o, c, 0, 0] \\, X[c, i, j],
        \\qquad Y_{(c_o, hw)} = K_{(c_o, c_i)} \\; X_{(c_i, hw)}

    Parameters
    ----------
    X : Tensor, np.ndarray or nested list, shape (c_i, h, w)
    K : Tensor, np.ndarray or nested list, shape (c_o, c_i, 1, 1)

    Returns
    -------
    Tensor, shape (c_o, h, w)
        Equal to ``corr2d_multi_in_out(X, K)``; float32 for integer inputs, else
        the inputs' floating dtype; differentiable.

    Raises
    ------
    ValueError
        For wrong numbers of dimensions, a kernel that is not 1x1, or
        ``K.shape[1] != X.shape[0]``.

    Examples
    --------
    >>> import cnnlab
    >>> X = cnnlab.arange(12).view(3, 2, 2)
    >>> K = cnnlab.tensor([[1, 0, 0], [1, 1, 1]]).view(2, 3, 1, 1)
    >>> cnnlab.corr2d_multi_in_out_1x1(X, K)
    tensor([[[ 0.,  1.],
             [ 2.,  3.]],
    <BLANKLINE>
            [[12., 15.],
             [18., 21.]]])
    """
    function = "corr2d_multi_in_out_1x1"
    X = _array(X, 3, "X", "(c_i, height, width)", function)
    K = _array(K, 4, "K", "(c_o, c_i, 1, 1)", function)
    if K.array.shape[2:] != (1, 1):
        raise ValueError(f"{function}: K must hold 1x1 kernels, shape (c_o, c_i, 1, 1), got "
                         f"shape {tuple(K.array.shape)}; use corr2d_multi_in_out for larger "
                         f"kernels")
    _check_channels(function, X, K, 1, "(c_o, c_i, 1, 1)")
    X, K = _same_dtype(X, K)
    c_i, h, w = X.array.shape
    c_o = K.array.shape[0]
    X = reshape(X, (c_i, h * w))
    K = reshape(K, (c_o, c_i))
    Y = matmul(K, X)
    return _floating(reshape(Y, (c_o, h, w)))


def pool2d(X, pool_size, mode="max"):
    """Maximum or average pooling of a 2-D array, stride 1, no padding.

    The window slides like :func:`corr2d`'s, but instead of weighting the window
    it takes its maximum or its mean:

    .. math::

        Y[i, j] = \\max_{0 \\le a < p_h,\\, 0 \\le b < p_w} X[i + a, j + b]
        \\quad \\text{or} \\quad
        \\frac{1}{p_h p_w} \\sum_{a, b} X[i + a, j + b]

    Parameters
    ----------
    X : Tensor, np.ndarray or nested list, shape (n_h, n_w)
    pool_size : int or (int, int)
        ``(p_h, p_w)``; an int means a square window.
    mode : {'max', 'avg'}

    Returns
    -------
    Tensor, shape (n_h - p_h + 1, n_w - p_w + 1)
        float32 for integer inputs (the chapter calls ``X.float()``), else ``X``'s
        dtype; differentiable. ``'max'`` sends each output's gradient to the first
        maximum of its window (PyTorch's tie rule).

    Raises
    ------
    ValueError
        If ``X`` is not a non-empty 2-D array, the window is larger than ``X``, or
        ``mode`` is neither ``'max'`` nor ``'avg'``.

    Notes
    -----
    Computed by :func:`cnnlab.functional.max_pool2d` or
    :func:`~cnnlab.functional.avg_pool2d` with ``stride=1`` (``nn.MaxPool2d``'s
    default stride is the window size; the chapter's ``pool2d`` moves by 1).

    Examples
    --------
    >>> import cnnlab
    >>> X = cnnlab.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    >>> cnnlab.pool2d(X, (2, 2))
    tensor([[4., 5.],
            [7., 8.]])
    >>> cnnlab.pool2d(X, (2, 2), 'avg')
    tensor([[2., 3.],
            [5., 6.]])
    """
    function = "pool2d"
    if not isinstance(mode, str) or mode not in ("max", "avg"):
        raise ValueError(f"{function}: mode must be 'max' or 'avg', got {mode!r}")
    X = _array(X, 2, "X", "(height, width)", function)
    size = int_pair(pool_size, "pool_size", function)
    window_output_shape(function, tuple(X.array.shape), size, (1, 1), _NO_PADDING, (1, 1))
    X = _floating(X)
    images = reshape(X, (1,) + tuple(X.array.shape))
    if mode == "max":
        out = F.max_pool2d(images, size, stride=1)
    elif mode == "avg":
        out = F.avg_pool2d(images, size, stride=1)
    else:
        raise ValueError(f"{function}: mode must be 'max' or 'avg', got {mode!r}")
    return reshape(out, out.array.shape[1:])

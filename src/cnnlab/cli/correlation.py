"""Sections "Cross-correlation" and "Correlation vs convolution"; ``cnnlab corr2d``."""

from __future__ import annotations

import numpy as np

import cnnlab
from cnnlab import viz
from cnnlab.chapter import corr2d

from . import _common as common

SEED_X = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
SEED_K = np.array([[0, 1], [1, 0]])


def _literal(array: np.ndarray) -> str:
    """``array`` as the nested list a user would type (floats without float32 noise)."""
    if array.dtype.kind in "iu":
        return repr(array.tolist())
    return repr([[float(f"{v:.6g}") for v in row] for row in array.tolist()])


def _window(top: int, left: int, kernel_shape) -> list:
    return [(top + a, left + b) for a in range(kernel_shape[0]) for b in range(kernel_shape[1])]


def _sum_of_products(X: np.ndarray, K: np.ndarray, top: int, left: int) -> str:
    window = X[top:top + K.shape[0], left:left + K.shape[1]]
    terms = [f"{viz.format_number(x)}*{viz.format_number(k)}"
             for x, k in zip(window.reshape(-1), K.reshape(-1))]
    return " + ".join(terms)


def correlation_picture(X: np.ndarray, K: np.ndarray, Y: np.ndarray, symbol: str = "⋆",
                        title: str = "Cross-correlation", max_rows: int = 4):
    """``X ⋆ K = Y`` once per output cell (up to ``max_rows``), its window shaded."""
    rows = []
    for index in range(min(Y.size, max_rows)):
        top, left = divmod(index, Y.shape[1])
        rows.append(viz.equation([
            viz.number_grid(X, "X", shade=_window(top, left, K.shape)),
            symbol,
            viz.number_grid(K, "K", shade=_window(0, 0, K.shape)),
            "=",
            viz.number_grid(Y, "Y", shade=[(top, left)]),
            viz.text_image(f"Y[{top}, {left}] = {_sum_of_products(X, K, top, left)}"
                           f" = {viz.format_number(Y[top, left])}"),
        ]))
    return viz.stack(rows, title=title)


def cross_correlation(report, X: np.ndarray = SEED_X, K: np.ndarray = SEED_K) -> None:
    report.heading("Cross-correlation (the operation in a convolutional layer)")
    report.say("A 2-D cross-correlation slides the kernel K over the input X, left to right "
               "and top to bottom; each output element is the sum of the elementwise product "
               "of K and the window of X under it.")
    report.code(f"X = cnnlab.tensor({_literal(X)})")
    report.code(f"K = cnnlab.tensor({_literal(K)})")
    with common.user_errors():
        Y = corr2d(cnnlab.tensor(X), cnnlab.tensor(K))
    report.code("corr2d(X, K)", Y)
    (n_h, n_w), (k_h, k_w) = X.shape, K.shape
    report.say(f"For example Y[0, 0] = {_sum_of_products(X, K, 0, 0)} = "
               f"{viz.format_number(Y.numpy()[0, 0])}. With X of shape {n_h}x{n_w} and K of "
               f"shape {k_h}x{k_w}, Y has shape ({n_h} - {k_h} + 1) x ({n_w} - {k_w} + 1) = "
               f"{Y.shape[0]}x{Y.shape[1]}.")
    report.save(correlation_picture(X, K, Y.numpy()), "corr2d.png")


def correlation_vs_convolution(report, X: np.ndarray = SEED_X, K: np.ndarray = SEED_K) -> None:
    report.heading("Cross-correlation vs convolution")
    report.say("A true convolution flips the kernel up-down and left-right before sliding "
               "it. Deep-learning 'convolution' layers skip the flip: since the kernel is "
               "learned, a flipped kernel would simply be learned instead.")
    tensors = cnnlab.tensor(X), cnnlab.tensor(K)
    flipped = cnnlab.flip(tensors[1], [0, 1])
    with common.user_errors():
        correlation = corr2d(*tensors)
        convolution = corr2d(tensors[0], flipped)
    report.code("cnnlab.flip(K, [0, 1])", flipped)
    report.code("corr2d(X, cnnlab.flip(K, [0, 1]))     # convolution", convolution)
    true_convolution = cnnlab.functional.convolve2d(tensors[0], tensors[1], mode="valid")
    report.code("cnnlab.functional.convolve2d(X, K, mode='valid')   # as scipy.signal",
                true_convolution)
    if np.array_equal(correlation.numpy(), convolution.numpy()):
        report.say("This K is symmetric under the 180-degree flip, so here both operations "
                   "agree. With the edge kernel [1, -1] they do not: the flip turns it into "
                   "[-1, 1], and the detected edges change sign.")
        edge_input = np.array([[1, 1, 0, 0, 0, 0, 1, 1]])
        edge_kernel = np.array([[1, -1]])
        report.code("corr2d(cnnlab.tensor([[1, 1, 0, 0, 0, 0, 1, 1]]), "
                    "cnnlab.tensor([[1, -1]]))",
                    corr2d(cnnlab.tensor(edge_input), cnnlab.tensor(edge_kernel)))
        report.code("corr2d(cnnlab.tensor([[1, 1, 0, 0, 0, 0, 1, 1]]), "
                    "cnnlab.tensor([[-1, 1]]))",
                    corr2d(cnnlab.tensor(edge_input), cnnlab.tensor(edge_kernel[:, ::-1].copy())))
        picture_input, picture_kernel = edge_input, edge_kernel
    else:
        report.say("The outputs differ: same input, same kernel, different operation.")
        picture_input, picture_kernel = X, K
    flipped_kernel = picture_kernel[::-1, ::-1].copy()
    rows = [
        viz.equation([viz.number_grid(picture_input, "X"), "⋆",
                      viz.number_grid(picture_kernel, "K"), "=",
                      viz.signed_grid(corr2d(cnnlab.tensor(picture_input),
                                             cnnlab.tensor(picture_kernel)).numpy(),
                                      "cross-correlation")]),
        viz.equation([viz.number_grid(picture_input, "X"), "⋆",
                      viz.number_grid(flipped_kernel, "K flipped"), "=",
                      viz.signed_grid(corr2d(cnnlab.tensor(picture_input),
                                             cnnlab.tensor(flipped_kernel)).numpy(),
                                      "convolution")]),
    ]
    report.save(viz.stack(rows, title="Convolution = cross-correlation with the flipped kernel"),
                "corr-vs-conv.png")


def run(args) -> int:
    viz.check_available()
    report = common.Report(args.quiet, common.output_directory(args.out))
    X = SEED_X if args.input is None else args.input
    K = SEED_K if args.kernel is None else args.kernel
    cross_correlation(report, X, K)
    correlation_vs_convolution(report, X, K)
    report.list_files()
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "corr2d", help="2-D cross-correlation, and how it differs from convolution",
        description=common.description(
            "Cross-correlate an input with a kernel, as the chapter's corr2d, and compare "
            "with true convolution (the flipped kernel).",
            ["cnnlab corr2d", "cnnlab corr2d --input '1,2,3;4,5,6;7,8,9' --kernel '1,0;0,-1'"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--input", type=common.matrix, metavar="MATRIX",
                        help="input rows separated by ';' (default: the chapter's X, "
                             "'0,1,2;3,4,5;6,7,8')")
    parser.add_argument("--kernel", type=common.matrix, metavar="MATRIX",
                        help="kernel rows separated by ';' (default: the chapter's K, '0,1;1,0')")
    common.add_common(parser)
    parser.set_defaults(run=run)

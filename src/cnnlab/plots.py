"""Matplotlib pictures: an image with axes, the kernel-learning plot, training curves and a
layer's kernels and feature maps. Re-exported by :mod:`cnnlab.viz`.

Every picture here uses one font scale (:data:`FONT_SIZE` for labels, ticks and
legends; :data:`TITLE_SIZE` for titles), a title, and labelled axes or a grid.
"""

from __future__ import annotations

import numpy as np

from .viz import DIVERGING, _matplotlib, _pil

FONT_SIZE = 10
TITLE_SIZE = 12
DPI = 100
MAX_SIDE = 1 << 15
# Margins of image_figure, in pixels: room for the title, the axis labels and the colour bar.
_TOP, _BOTTOM, _LEFT, _BAR = 34, 44, 52, 104


def _to_image(figure, canvas):
    Image, _ = _pil()
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy(), "RGB")


def image_figure_box(shape, scale: int, title: str) -> tuple:
    """Where :func:`image_figure` draws the cells: ``(left, top, width, height)`` in
    pixels of the picture, and the picture's ``(width, height)``."""
    rows, cols = shape
    width, height = cols * scale, rows * scale
    # a title wider than the image widens the picture (about 7 px per character)
    picture_width = max(_LEFT + width + _BAR, int(7.2 * len(title)) + 20)
    left = _LEFT + (picture_width - _LEFT - width - _BAR) // 2
    return (left, _TOP, width, height), (picture_width, _TOP + height + _BOTTOM)


def image_figure(values, scale: int, title: str, signed: bool = False, label: str = "",
                 vmin: float = 0.0, vmax: float = 1.0):
    """An array as a picture with a title, row/column axes, a frame and a colour bar.

    Parameters
    ----------
    values : array_like, shape (H, W)
    scale : int
        Pixels per cell: cell ``(r, c)`` fills the ``scale x scale`` block at
        ``(left + c * scale, top + r * scale)``, where ``(left, top, ...)`` is
        :func:`image_figure_box`'s first answer.
    title : str
    signed : bool
        The diverging map, symmetric around 0 (0 white, positive red, negative blue);
        otherwise grayscale from ``vmin`` (black) to ``vmax`` (white).
    label : str
        The colour bar's label.

    Returns
    -------
    PIL.Image.Image
    """
    _, Figure, FigureCanvasAgg = _matplotlib()
    values = np.asarray(values, dtype=np.float64)
    (left, top, width, height), (picture_width, picture_height) = image_figure_box(
        values.shape, scale, title)
    if max(picture_width, picture_height) > MAX_SIDE:  # Agg's limit is 2**23 per side
        raise MemoryError(f"a picture of {picture_width}x{picture_height} pixels is too "
                          f"large to draw (at most {MAX_SIDE} pixels a side)")
    figure = Figure(figsize=(picture_width / DPI, picture_height / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    bottom = picture_height - top - height
    axes = figure.add_axes([left / picture_width, bottom / picture_height,
                            width / picture_width, height / picture_height])
    if signed:
        limit = float(np.max(np.abs(values))) if values.size else 1.0
        limit = limit if limit > 0 else 1.0
        shown = axes.imshow(values, cmap=DIVERGING, vmin=-limit, vmax=limit,
                            interpolation="nearest", aspect="auto")
    else:
        shown = axes.imshow(values, cmap="gray", vmin=vmin, vmax=vmax,
                            interpolation="nearest", aspect="auto")
    rows, cols = values.shape
    axes.set_xticks(_ticks(cols))
    axes.set_yticks(_ticks(rows))
    axes.tick_params(labelsize=FONT_SIZE, length=3)
    axes.set_xlabel("column", fontsize=FONT_SIZE, labelpad=2)
    axes.set_ylabel("row", fontsize=FONT_SIZE, labelpad=2)
    axes.set_title(title, fontsize=TITLE_SIZE, pad=6)
    for spine in axes.spines.values():
        spine.set_color("black")
    bar = figure.add_axes([(left + width + 12) / picture_width, bottom / picture_height,
                           12 / picture_width, height / picture_height])
    colour_bar = figure.colorbar(shown, cax=bar)
    colour_bar.ax.tick_params(labelsize=FONT_SIZE, length=3)
    if label:
        colour_bar.set_label(label, fontsize=FONT_SIZE)
    return _to_image(figure, canvas)


def _ticks(count: int) -> list:
    """At most about six integer ticks from 0 to ``count - 1``."""
    step = max(1, int(np.ceil(count / 6)))
    return list(range(0, count, step))


def training_plot(losses, history=None, targets=None, title: str = "Learning the kernel"):
    """Loss per step (log scale) and, if given, each parameter's path to its target.

    Parameters
    ----------
    losses : sequence of float, one per step
    history : dict of str -> sequence of float, optional
        Parameter values after each step, by name.
    targets : dict of str -> float, optional
        The value each parameter should reach (drawn dashed).

    Returns
    -------
    PIL.Image.Image

    Notes
    -----
    The legend sits below the panels, so it never hides a line.
    """
    _, Figure, FigureCanvasAgg = _matplotlib()
    panels = 2 if history else 1
    figure = Figure(figsize=(5.2 * panels, 4.0), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    steps = np.arange(1, len(losses) + 1)
    axes = figure.add_subplot(1, panels, 1)
    axes.plot(steps, losses, marker="o", markersize=3)
    if len(losses) and min(losses) > 0:
        axes.set_yscale("log")
    _label(axes, "step", "loss (sum of squared errors)", title)
    if history:
        axes = figure.add_subplot(1, 2, 2)
        for index, (name, values) in enumerate(history.items()):
            colour = f"C{index}"
            axes.plot(steps, values, color=colour, label=name)
            if targets and name in targets:
                axes.axhline(targets[name], color=colour, linestyle="--", linewidth=1)
        _label(axes, "step", "value", "parameters (dashed: the true values)")
        axes.legend(fontsize=FONT_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                    ncol=len(history), frameon=False)
    figure.subplots_adjust(left=0.09 if panels == 2 else 0.15, right=0.98, bottom=0.24,
                           top=0.9, wspace=0.25)  # fixed: tight_layout costs half a second
    return _to_image(figure, canvas)


def _label(axes, x_label: str, y_label: str, title: str) -> None:
    axes.set_xlabel(x_label, fontsize=FONT_SIZE)
    axes.set_ylabel(y_label, fontsize=FONT_SIZE)
    axes.set_title(title, fontsize=TITLE_SIZE)
    axes.tick_params(labelsize=FONT_SIZE)
    axes.grid(True, alpha=0.3)


def training_curves(points, epochs=(), title: str = "Training"):
    """Loss and accuracy during training, against the epoch, in two panels.

    Parameters
    ----------
    points : sequence of dict
        ``{"epoch": position, "loss": ..., "accuracy": ...}``, one per logged step
        (``cnnlab.training.TrainingLog.points``): drawn as lines ("train").
    epochs : sequence of objects with ``epoch``, ``test_loss``, ``test_accuracy``
        One per completed epoch (``TrainingLog.epochs``): drawn as markers ("test").
    title : str

    Returns
    -------
    PIL.Image.Image
    """
    _, Figure, FigureCanvasAgg = _matplotlib()
    figure = Figure(figsize=(10.4, 3.8), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    positions = [point["epoch"] for point in points]
    ends = [result.epoch for result in epochs]
    for index, (key, label) in enumerate((("loss", "loss (cross-entropy)"),
                                          ("accuracy", "accuracy"))):
        axes = figure.add_subplot(1, 2, index + 1)
        axes.plot(positions, [point[key] for point in points], color="C0", linewidth=1.2,
                  label="train (mean since the previous point)")
        axes.plot(ends, [getattr(result, f"test_{key}") for result in epochs], "o",
                  color="C3", markersize=6, label="test (end of epoch)")
        if key == "loss" and points and min(p["loss"] for p in points) > 0:
            axes.set_yscale("log")
        _label(axes, "epoch", label, label)
        axes.set_xlim(0, 1.03 * max(positions + ends + [1]))
        axes.legend(fontsize=FONT_SIZE)
    if epochs:
        title = f"{title}: test accuracy {epochs[-1].test_accuracy:.4f} after epoch {ends[-1]}"
    figure.suptitle(title, fontsize=TITLE_SIZE)
    figure.subplots_adjust(left=0.085, right=0.98, bottom=0.14, top=0.82, wspace=0.25)
    return _to_image(figure, canvas)


def feature_grid(image, kernels, feature_maps, title: str = "", kernel_titles=None,
                 map_titles=None, image_title: str = "input"):
    """An input image, a layer's kernels and its feature maps, one titled panel each.

    The input stands on the left, as tall as both rows; the kernels fill the first row
    and the feature maps the second, each on the diverging map (0 white, positive red,
    negative blue) with its own symmetric scale, whose range the panel's title gives.
    There are ``1 + 2 * len(kernels)`` panels, each framed by a black box.

    Parameters
    ----------
    image : array_like, shape (H, W), values in [0, 1]
    kernels : array_like, shape (K, kh, kw)
    feature_maps : array_like, shape (K, H_out, W_out)
    title : str
    kernel_titles, map_titles : sequence of K str, optional
        Default ``"kernel k"`` and ``"map k"``.

    Returns
    -------
    PIL.Image.Image
    """
    _, Figure, FigureCanvasAgg = _matplotlib()
    kernels = np.asarray(kernels, dtype=np.float64)
    feature_maps = np.asarray(feature_maps, dtype=np.float64)
    if kernels.ndim != 3 or feature_maps.ndim != 3 or len(kernels) != len(feature_maps):
        raise ValueError(f"feature_grid: kernels (K, kh, kw) and feature_maps (K, H, W) must "
                         f"have the same K, got shapes {kernels.shape} and "
                         f"{feature_maps.shape}")
    count = len(kernels)
    kernel_titles = kernel_titles or [f"kernel {k}" for k in range(count)]
    map_titles = map_titles or [f"map {k}" for k in range(count)]
    columns = max(count, 1)
    title_lines = title.count("\n") + 1 if title else 0
    figure = Figure(figsize=(1.75 * (columns + 2) + 0.3, 4.6 + 0.25 * title_lines), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, columns + 2, width_ratios=[1, 1] + [1] * columns)

    def panel(axes, values, panel_title, signed):
        if signed:
            vmax = float(np.max(np.abs(values))) or 1.0
            axes.imshow(values, cmap=DIVERGING, vmin=-vmax, vmax=vmax, interpolation="nearest")
            panel_title += f"\n[{values.min():.2f}, {values.max():.2f}]"
        else:
            axes.imshow(values, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        axes.set_title(panel_title, fontsize=FONT_SIZE)
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_color("black")
            spine.set_linewidth(1.5)

    panel(figure.add_subplot(grid[:, :2]), np.asarray(image, dtype=np.float64), image_title,
          signed=False)
    for k in range(count):
        panel(figure.add_subplot(grid[0, 2 + k]), kernels[k], kernel_titles[k], signed=True)
        panel(figure.add_subplot(grid[1, 2 + k]), feature_maps[k], map_titles[k], signed=True)
    if title:
        figure.suptitle(title, fontsize=TITLE_SIZE)
    figure.subplots_adjust(left=0.015, right=0.99, bottom=0.02,
                           top=0.92 - 0.05 * title_lines, hspace=0.45, wspace=0.18)
    return _to_image(figure, canvas)


__all__ = ["FONT_SIZE", "TITLE_SIZE", "feature_grid", "image_figure", "image_figure_box",
           "training_curves", "training_plot"]

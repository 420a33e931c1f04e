"""Plots the book draws: ``plot``, ``ProgressBoard`` (training curves), ``Timer``.

Figures are drawn with matplotlib's non-interactive Agg backend unless a notebook is
running, where they are shown inline (and redrawn as points arrive, as in the book).
Outside a notebook, :meth:`ProgressBoard.save` writes the curves to a PNG file.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time

import numpy as np

_FIGSIZE = [(3.5, 2.5)]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures are shown inline)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def _pyplot():
    import matplotlib

    if not in_notebook():
        matplotlib.use("Agg", force=False)
    from matplotlib import pyplot

    return pyplot


def use_svg_display():
    """Show inline figures as SVG in a notebook (a no-op elsewhere)."""
    if in_notebook():
        try:
            from matplotlib_inline import backend_inline

            backend_inline.set_matplotlib_formats("svg")
        except ImportError:
            pass


def set_figsize(figsize=(3.5, 2.5)):
    """The default size of the figures drawn here, in inches."""
    _FIGSIZE[0] = tuple(figsize)
    _pyplot().rcParams["figure.figsize"] = figsize


def _as_numbers(values):
    if hasattr(values, "detach"):
        values = values.detach().numpy()
    return np.asarray(values, dtype=float)


def plot(X, Y=None, xlabel=None, ylabel=None, legend=(), xlim=None, ylim=None,
         xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
         figsize=(3.5, 2.5), axes=None):
    """Plot one or several curves (lists or 1-D tensors) as the book's ``d2l.plot``."""
    pyplot = _pyplot()

    def one_axis(value):
        return (hasattr(value, "ndim") and value.ndim == 1) or (
            isinstance(value, list) and value and not hasattr(value[0], "__len__"))

    if one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    if axes is None:
        axes = pyplot.figure(figsize=figsize).gca()
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts):
        y = _as_numbers(y)
        if len(x):
            axes.plot(_as_numbers(x), y, fmt)
        else:
            axes.plot(y, fmt)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()
    return axes


class ProgressBoard:
    """Curves drawn point by point: ``draw(x, y, label, every_n)`` averages every
    ``every_n`` points of a label into one plotted point (the book's board).

    ``data`` maps each label to its list of averaged ``(x, y)`` points.
    """

    Point = collections.namedtuple("Point", ["x", "y"])

    def __init__(self, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", ls=("-", "--", "-.", ":"), colors=("C0", "C1", "C2", "C3"),
                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):
        self.xlabel, self.ylabel, self.xlim, self.ylim = xlabel, ylabel, xlim, ylim
        self.xscale, self.yscale, self.ls, self.colors = xscale, yscale, ls, colors
        self.fig, self.axes, self.figsize, self.display = fig, axes, figsize, display
        self.raw_points = collections.OrderedDict()
        self.data = collections.OrderedDict()

    def draw(self, x, y, label, every_n=1):
        points = self.raw_points.setdefault(label, [])
        line = self.data.setdefault(label, [])
        points.append(self.Point(float(x), float(y)))
        if len(points) < max(int(every_n), 1):
            return
        line.append(self.Point(sum(p.x for p in points) / len(points),
                               sum(p.y for p in points) / len(points)))
        points.clear()
        if self.display and in_notebook():
            from IPython import display

            self.render()
            display.display(self.fig)
            display.clear_output(wait=True)

    def render(self):
        """Draw every curve on the board's figure; returns the figure."""
        pyplot = _pyplot()
        if self.fig is None:
            self.fig = pyplot.figure(figsize=self.figsize)
        axes = self.axes if self.axes is not None else self.fig.gca()
        axes.cla()
        lines = []
        for (label, points), ls, color in zip(self.data.items(), self.ls, self.colors):
            # a curve of one point (one epoch's validation) needs a marker to be seen
            lines.append(axes.plot([p.x for p in points], [p.y for p in points],
                                   linestyle=ls, color=color,
                                   marker="o" if len(points) == 1 else None)[0])
        if self.xlim:
            axes.set_xlim(self.xlim)
        if self.ylim:
            axes.set_ylim(self.ylim)
        axes.set_xlabel(self.xlabel)
        axes.set_ylabel(self.ylabel)
        axes.set_xscale(self.xscale)
        axes.set_yscale(self.yscale)
        axes.legend(lines, list(self.data))
        return self.fig

    def save(self, path) -> str:
        """Write the curves to ``path`` (PNG), atomically; returns the path."""
        figure = self.render()
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".png.part")
        os.close(handle)
        try:
            figure.savefig(temporary, format="png", bbox_inches="tight", dpi=120)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        _pyplot().close(figure)
        self.fig = None
        return str(path)


class Timer:
    """Wall-clock timer: ``start``, ``stop`` (returns the interval), ``avg``, ``sum``,
    ``cumsum`` over the recorded intervals."""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.perf_counter()

    def stop(self) -> float:
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def cumsum(self) -> list:
        return np.array(self.times).cumsum().tolist()


class Accumulator:
    """Running sums of ``n`` quantities: ``add(*values)``, ``reset()``, ``self[i]``."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, index):
        return self.data[index]

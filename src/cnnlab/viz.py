"""Pictures of convolutions: number grids, images, signed maps, loss curves, animations.

Used by the command-line tour (:mod:`cnnlab.cli`); not needed by the library. Pillow
and Matplotlib are imported only when a picture is drawn, so ``import cnnlab`` stays
NumPy-only; without them every function raises :class:`VizUnavailable`, whose message
says ``pip install "cnnlab[viz]"``.

Pixel layout, relied on by the tests that read pictures back:

- :func:`gray_image` and :func:`signed_image` draw array cell ``(r, c)`` as the
  ``scale x scale`` block of pixels whose top-left corner is ``(x, y) = (c * scale,
  r * scale)`` (nearest-neighbour scaling); :func:`signed_image` puts its colour bar to
  the right of the cells.
- :class:`WindowAnimation` gives each cell's pixel box (:meth:`~WindowAnimation.input_box`,
  :meth:`~WindowAnimation.output_box`) and paints cells in the flat colours below.
"""

from __future__ import annotations

import functools
import math

import numpy as np

INSTALL_HINT = 'pip install "cnnlab[viz]"'

# Flat colours (RGB). Animation frames use only these, so a GIF keeps them exactly.
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
TEXT = (25, 25, 25)
LINE = (110, 110, 110)
INPUT = (166, 206, 240)  # input cells
PADDING = (232, 232, 232)  # padding cells
WINDOW = (30, 90, 165)  # cells under the sliding window (or a highlighted window)
OUTPUT_DONE = (150, 222, 212)  # output cells already computed
OUTPUT_NOW = (0, 128, 115)  # the output cell being computed
SHADE = (120, 175, 230)  # highlighted cells of a static grid
PALETTE = (WHITE, BLACK, TEXT, LINE, INPUT, PADDING, WINDOW, OUTPUT_DONE, OUTPUT_NOW, SHADE)
DIVERGING = "RdBu_r"  # negative blue, zero white, positive red


class VizUnavailable(ImportError):
    """Pillow or Matplotlib is missing; the message says how to install them."""


def _pil():
    try:
        from PIL import Image, ImageDraw
    except ImportError as error:
        raise VizUnavailable(f"pictures need Pillow and Matplotlib ({error}); "
                             f"install them with: {INSTALL_HINT}") from None
    return Image, ImageDraw


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise VizUnavailable(f"pictures need Pillow and Matplotlib ({error}); "
                             f"install them with: {INSTALL_HINT}") from None
    return matplotlib, Figure, FigureCanvasAgg


def check_available() -> None:
    """Raise :class:`VizUnavailable` unless Pillow and Matplotlib can be imported."""
    _pil()
    _matplotlib()


@functools.lru_cache(maxsize=None)
def _font(size: int):
    """DejaVu Sans (shipped with Matplotlib: it has the maths symbols) at ``size`` px."""
    _pil()
    _matplotlib()
    from matplotlib import font_manager
    from PIL import ImageFont

    try:
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except OSError:
        return ImageFont.load_default(size)


def format_number(value) -> str:
    """A number as short text for a cell: ``4``, ``-0.56``, ``-∞``."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "-∞" if value < 0 else "∞"
    if value == round(value) and abs(value) < 1e6:
        return str(int(round(value)))
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def _text_size(text: str, size: int) -> tuple:
    left, top, right, bottom = _font(size).getbbox(text)
    return right - left, bottom - top


def text_image(text: str, size: int = 15, colour=TEXT):
    """``text`` (may hold newlines) on a white background, tightly padded."""
    Image, ImageDraw = _pil()
    lines = text.split("\n")
    widths = [_text_size(line, size)[0] for line in lines]
    line_height = int(size * 1.35)
    image = Image.new("RGB", (max(widths) + 8, line_height * len(lines) + 6), WHITE)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((4, 3 + i * line_height), line, fill=colour, font=_font(size))
    return image


# ------------------------------------------------------------ colour maps


def diverging_colours(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """RGB (uint8, shape ``values.shape + (3,)``) from the diverging map: 0 is white,
    ``+vmax`` dark red, ``-vmax`` dark blue (``vmax`` defaults to ``max |values|``)."""
    matplotlib, _, _ = _matplotlib()
    values = np.asarray(values, dtype=np.float64)
    if vmax is None:
        vmax = float(np.max(np.abs(values))) if values.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    positions = np.clip(values / vmax, -1.0, 1.0) * 0.5 + 0.5
    rgba = matplotlib.colormaps[DIVERGING](positions)
    return np.round(rgba[..., :3] * 255).astype(np.uint8)


def read_gray(path) -> np.ndarray:
    """An image file as grayscale values in [0, 1], transparency composited.

    :func:`cnnlab.digits.decode_gray`: PNG, JPEG, GIF, BMP, TIFF or WebP, at most
    :data:`cnnlab.digits.MAX_PIXELS` pixels; a dark drawing on a transparent background
    comes back dark on white (not black on black).

    Returns
    -------
    np.ndarray of float32, shape (H, W)

    Raises
    ------
    OSError
        If the file is missing; ValueError (:class:`cnnlab.digits.ImageError`) if it is
        not an image, is truncated or is too large.
    """
    from .digits import decode_gray  # digits imports this module

    return decode_gray(path)


def _upscale(array: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour: every cell becomes a ``scale x scale`` block."""
    return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)


def gray_image(values: np.ndarray, scale: int = 1, vmin: float = 0.0, vmax: float = 1.0):
    """A grayscale picture of ``values`` (shape (H, W)): ``vmin`` black, ``vmax`` white.

    As the chapter's ``show_numpy_GRAY``: 1 is white (255), 0 black. The picture is
    ``(W * scale) x (H * scale)`` pixels, scaled up with nearest-neighbour.
    """
    Image, _ = _pil()
    values = np.asarray(values, dtype=np.float64)
    span = vmax - vmin if vmax != vmin else 1.0
    levels = np.round(np.clip((values - vmin) / span, 0.0, 1.0) * 255).astype(np.uint8)
    return Image.fromarray(_upscale(levels, scale), "L")


def colour_bar(height: int, vmax: float, label: str | None = None):
    """A vertical bar of the diverging map from ``+vmax`` (top) to ``-vmax`` (bottom),
    with the values at its ends and middle written beside it."""
    Image, ImageDraw = _pil()
    vmax = vmax if vmax > 0 else 1.0
    bar_width, font_size = 16, 13
    ramp = np.linspace(vmax, -vmax, height)[:, None].repeat(bar_width, axis=1)
    ticks = [(0, format_number(vmax)), (height // 2, "0"), (height - 1, format_number(-vmax))]
    text_width = max(_text_size(text, font_size)[0] for _, text in ticks)
    label_width = _text_size(label, font_size)[1] + 10 if label else 0
    margin = 10  # room above and below for the end labels
    image = Image.new("RGB", (bar_width + 10 + text_width + 6 + label_width,
                              height + 2 * margin), WHITE)
    image.paste(Image.fromarray(diverging_colours(ramp, vmax), "RGB"), (0, margin))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, margin, bar_width - 1, height + margin - 1), outline=LINE)
    for y, text in ticks:
        draw.line((bar_width, y + margin, bar_width + 4, y + margin), fill=LINE)
        draw.text((bar_width + 7, y + margin), text, fill=TEXT, font=_font(font_size),
                  anchor="lm")
    if label:
        rotated = text_image(label, font_size).rotate(90, expand=True)
        image.paste(rotated, (image.width - rotated.width, (image.height - rotated.height) // 2))
    return image


def signed_image(values: np.ndarray, scale: int = 1, label: str | None = None):
    """A picture of signed ``values`` (shape (H, W)) with the diverging map and a colour bar.

    Cell ``(r, c)`` fills pixels ``[c*scale, (c+1)*scale) x [r*scale, (r+1)*scale)``;
    zero is white, positive red, negative blue (symmetric around 0); the colour bar
    (with ``label``) is to the right.
    """
    Image, _ = _pil()
    values = np.asarray(values, dtype=np.float64)
    vmax = float(np.max(np.abs(values))) if values.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    cells = Image.fromarray(_upscale(diverging_colours(values, vmax), scale), "RGB")
    bar = colour_bar(max(cells.height, 120), vmax, label)
    image = Image.new("RGB", (cells.width + 14 + bar.width, max(cells.height, bar.height)), WHITE)
    image.paste(cells, (0, 0))
    image.paste(bar, (cells.width + 14, 0))
    return image


# ------------------------------------------------------------ number grids

TITLE_HEIGHT = 24
TEXT_SIZE = 15
"""The font size of the grids' titles, numbers and labels (pictures drawn with Pillow)."""


def number_grid(values, title: str = "", shade=(), fills=None, cell: int | None = None,
                font_size: int = 15):
    """A grid with each value written in its cell, as the textbook figures draw arrays.

    Parameters
    ----------
    values : array_like, shape (H, W)
    title : str
        Written above the grid (the space is kept when empty, so grids line up).
    shade : iterable of (row, col)
        Cells to highlight (e.g. a window and the output it produces).
    fills : np.ndarray of uint8, shape (H, W, 3), optional
        A background colour per cell (e.g. from :func:`diverging_colours`).
    cell : int, optional
        Cell size in pixels (default: fits the widest number).
    """
    Image, ImageDraw = _pil()
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"number_grid: values must be 2-D (H, W), got shape {values.shape}")
    texts = [[format_number(v) for v in row] for row in values.tolist()]
    widest = max((_text_size(t, font_size)[0] for row in texts for t in row), default=0)
    cell = cell or max(34, widest + 12)
    rows, cols = values.shape
    title_width = _text_size(title, font_size)[0] + 8 if title else 0
    width = max(cols * cell + 1, title_width)
    image = Image.new("RGB", (width, TITLE_HEIGHT + rows * cell + 1), WHITE)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((width // 2, TITLE_HEIGHT // 2), title, fill=TEXT, font=_font(font_size),
                  anchor="mm")
    left = (width - cols * cell - 1) // 2
    shaded = set(map(tuple, shade))
    for r in range(rows):
        for c in range(cols):
            x0, y0 = left + c * cell, TITLE_HEIGHT + r * cell
            fill = SHADE if (r, c) in shaded else (
                tuple(int(v) for v in fills[r, c]) if fills is not None else WHITE)
            draw.rectangle((x0, y0, x0 + cell, y0 + cell), fill=fill, outline=LINE)
            dark = sum(fill) < 300
            draw.text((x0 + cell / 2, y0 + cell / 2), texts[r][c],
                      fill=WHITE if dark else TEXT, font=_font(font_size), anchor="mm")
    return image


def signed_grid(values, title: str = "", vmax: float | None = None, **options):
    """:func:`number_grid` on the diverging colours (for weights, biases, edge maps)."""
    return number_grid(values, title, fills=diverging_colours(values, vmax), **options)


def equation(parts, gap: int = 10, symbol_size: int = 24):
    """Pictures and symbols side by side (``X ⋆ K = Y``), centred on the grids.

    ``parts`` holds images (e.g. from :func:`number_grid`) and strings: a symbol of one
    or two characters is drawn large, longer text (``"max 2x2 →"``) at the grids' own
    font size, so that a picture keeps one font scale. Grids reserve
    :data:`TITLE_HEIGHT` above them, so symbols sit that much lower than the middle to
    line up with the cells.
    """
    Image, _ = _pil()

    def size(text):
        if len(text) > 2:
            return TEXT_SIZE
        return symbol_size * 3 // 2 if text in ("⋆", "∗") else symbol_size

    images = [text_image(p, size(p)) if isinstance(p, str) else p for p in parts]
    height = max(image.height for image in images)
    width = sum(image.width for image in images) + gap * (len(images) + 1)
    canvas = Image.new("RGB", (width, height), WHITE)
    x = gap
    for part, image in zip(parts, images):
        y = (height - image.height) // 2
        if isinstance(part, str):
            y = min(height - image.height, y + TITLE_HEIGHT // 2)
        canvas.paste(image, (x, y))
        x += image.width + gap
    return canvas


def stack(images, gap: int = 14, title: str | None = None):
    """Pictures (or lines of text) one below the other, left-aligned, with a title."""
    Image, _ = _pil()
    images = [text_image(i) if isinstance(i, str) else i for i in images]
    if title:
        images = [text_image(title, 17)] + images
    width = max(image.width for image in images) + 2 * gap
    height = sum(image.height for image in images) + gap * (len(images) + 1)
    canvas = Image.new("RGB", (width, height), WHITE)
    y = gap
    for image in images:
        canvas.paste(image, (gap, y))
        y += image.height + gap
    return canvas


def resize_gray(values, size) -> np.ndarray:
    """Resize a grayscale array (H, W) to ``size`` = (height, width), bilinear.

    Pillow's resampling, which averages over the source pixels when shrinking (no
    aliasing). The same size returns a float32 copy, unchanged.

    Returns
    -------
    np.ndarray of float32, shape ``size``
    """
    Image, _ = _pil()
    values = np.asarray(values, dtype=np.float32)
    height, width = size
    if values.shape == (height, width):
        return values.copy()
    resized = Image.fromarray(values, "F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


# ------------------------------------------------------------ animation


class WindowAnimation:
    """The frames of a window sliding over a padded input, as in Dumoulin & Visin's
    "A guide to convolution arithmetic" figures.

    Frame 0 shows the padded input and an empty output; frame ``k`` (1..n) shows the
    window of output cell ``k - 1`` (row-major) and the output filled up to that cell,
    so there are ``out_height * out_width + 1`` frames.

    Parameters
    ----------
    input : np.ndarray, shape (H, W)
    output : np.ndarray, shape (out_H, out_W)
        The values the operation produced (computed by the caller, with the library).
    kernel_size, stride, dilation : (int, int)
    padding : ((top, bottom), (left, right))
    kernel : np.ndarray, shape (kh, kw), optional
        Convolution weights, written small in the window's cells.
    pad_text : str
        What a padding cell holds (``'0'`` for convolution, ``'-∞'`` for max pooling).
    operation : str
        How a cell is computed, for the caption (``'max(window)'``).
    title : str
    """

    MARGIN, HEADER, LABEL, CAPTION, GAP = 16, 30, 24, 34, 48

    def __init__(self, input, output, kernel_size, stride, padding, dilation, kernel=None,
                 pad_text="0", operation="sum(window * kernel)", title=""):
        self.input = np.asarray(input, dtype=np.float64)
        self.output = np.asarray(output, dtype=np.float64)
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation
        self.padding = padding
        self.kernel = None if kernel is None else np.asarray(kernel, dtype=np.float64)
        self.pad_text, self.operation, self.title = pad_text, operation, title
        (top, bottom), (left, right) = padding
        self.padded_shape = (self.input.shape[0] + top + bottom,
                             self.input.shape[1] + left + right)
        largest = max(self.padded_shape + self.output.shape)
        self.cell = 40 if largest <= 10 else max(6, 400 // largest)
        self.show_values = self.cell >= 28
        self.input_origin = (self.MARGIN, self.MARGIN + self.HEADER + self.LABEL)
        self.output_origin = (self.input_origin[0] + self.padded_shape[1] * self.cell + self.GAP,
                              self.input_origin[1])
        grid_width = self.output_origin[0] + self.output.shape[1] * self.cell + self.MARGIN
        title_width = _text_size(title, 15)[0] + 2 * self.MARGIN if title else 0
        self.width = max(grid_width, title_width, 320)
        rows = max(self.padded_shape[0], self.output.shape[0])
        self.height = self.input_origin[1] + rows * self.cell + self.CAPTION + self.MARGIN

    @property
    def frame_count(self) -> int:
        return self.output.size + 1

    def input_box(self, row: int, col: int) -> tuple:
        """Pixel box ``(x0, y0, x1, y1)`` (ends exclusive) of padded-input cell (row, col)."""
        x, y = self.input_origin
        return (x + col * self.cell, y + row * self.cell,
                x + (col + 1) * self.cell, y + (row + 1) * self.cell)

    def output_box(self, row: int, col: int) -> tuple:
        """Pixel box ``(x0, y0, x1, y1)`` (ends exclusive) of output cell (row, col)."""
        x, y = self.output_origin
        return (x + col * self.cell, y + row * self.cell,
                x + (col + 1) * self.cell, y + (row + 1) * self.cell)

    def window(self, index: int) -> list:
        """Padded-input cells ``(row, col)`` under the window of output cell ``index``."""
        out_row, out_col = divmod(index, self.output.shape[1])
        return [(out_row * self.stride[0] + i * self.dilation[0],
                 out_col * self.stride[1] + j * self.dilation[1])
                for i in range(self.kernel_size[0]) for j in range(self.kernel_size[1])]

    def _is_padding(self, row: int, col: int) -> bool:
        (top, _), (left, _) = self.padding
        return not (0 <= row - top < self.input.shape[0] and 0 <= col - left < self.input.shape[1])

    def _cell(self, draw, box, fill, text="", small=""):
        x0, y0, x1, y1 = box
        draw.rectangle((x0, y0, x1, y1), fill=fill, outline=LINE)
        colour = WHITE if sum(fill) < 400 else TEXT
        if self.show_values and text:
            draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=colour,
                      font=_font(max(10, self.cell * 3 // 8)), anchor="mm")
        if self.show_values and small and self.cell >= 36:
            draw.text((x1 - 3, y1 - 2), small, fill=colour, font=_font(10), anchor="rd")

    def frame(self, k: int):
        """Frame ``k`` (0..``frame_count - 1``) as an RGB image."""
        Image, ImageDraw = _pil()
        if not 0 <= k < self.frame_count:
            raise ValueError(f"WindowAnimation.frame: k must be in [0, {self.frame_count}), "
                             f"got {k}")
        image = Image.new("RGB", (self.width, self.height), WHITE)
        draw = ImageDraw.Draw(image)
        draw.fontmode = "1"  # no anti-aliasing: frames keep the flat palette exactly
        draw.text((self.MARGIN, self.MARGIN + 8), self.title, fill=TEXT, font=_font(15),
                  anchor="lm")
        label_y = self.input_origin[1] - self.LABEL // 2
        draw.text((self.input_origin[0], label_y), "input (grey: padding)", fill=TEXT,
                  font=_font(13), anchor="lm")
        draw.text((self.output_origin[0], label_y), "output", fill=TEXT, font=_font(13),
                  anchor="lm")
        window = self.window(k - 1) if k > 0 else []
        weights = {}
        if self.kernel is not None:
            for (row, col), weight in zip(window, self.kernel.reshape(-1)):
                weights[(row, col)] = "×" + format_number(weight)
        (top, _), (left, _) = self.padding
        for row in range(self.padded_shape[0]):
            for col in range(self.padded_shape[1]):
                padding = self._is_padding(row, col)
                text = self.pad_text if padding else format_number(
                    self.input[row - top, col - left])
                fill = WINDOW if (row, col) in weights or (row, col) in window else (
                    PADDING if padding else INPUT)
                self._cell(draw, self.input_box(row, col), fill, text, weights.get((row, col), ""))
        for index in range(self.output.size):
            row, col = divmod(index, self.output.shape[1])
            if index < k - 1:
                fill, text = OUTPUT_DONE, format_number(self.output[row, col])
            elif index == k - 1:
                fill, text = OUTPUT_NOW, format_number(self.output[row, col])
            else:
                fill, text = WHITE, ""
            self._cell(draw, self.output_box(row, col), fill, text)
        if k == 0:
            caption = (f"padded input {self.padded_shape[0]}x{self.padded_shape[1]} -> "
                       f"output {self.output.shape[0]}x{self.output.shape[1]}")
        else:
            row, col = divmod(k - 1, self.output.shape[1])
            caption = (f"out[{row}, {col}] = {self.operation} = "
                       f"{format_number(self.output[row, col])}")
        draw.text((self.MARGIN, self.height - self.MARGIN - self.CAPTION // 2), caption,
                  fill=TEXT, font=_font(14), anchor="lm")
        return image

    def frames(self) -> list:
        return [self.frame(k) for k in range(self.frame_count)]

    def save_gif(self, path, duration: int = 700) -> None:
        """Write the animation (looping; the first and last frames stay longer)."""
        Image, _ = _pil()
        palette = Image.new("P", (1, 1))
        flat = [channel for colour in PALETTE for channel in colour]
        palette.putpalette(flat + flat[:3] * (256 - len(PALETTE)))
        frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE)
                  for frame in self.frames()]
        durations = [duration] * len(frames)
        durations[0] = durations[-1] = 3 * duration
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations,
                       loop=0, optimize=False)


def save(image, path) -> None:
    """Write a picture; the format follows the file name's extension."""
    image.save(path)


# The matplotlib pictures live in cnnlab.plots (this file would pass 500 lines); they
# are imported here, after the names they use, so that viz.training_plot etc. still work.
from .plots import (FONT_SIZE, TITLE_SIZE, feature_grid, image_figure,  # noqa: E402
                    image_figure_box, training_curves, training_plot)

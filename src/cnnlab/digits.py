"""Reading pictures as MNIST-like digits: safe decoding, transparency, inversion, size.

One reader for ``cnnlab predict``, ``cnnlab features`` and the uploads and drawings of
``cnnlab explore``:

1. :func:`decode_gray` decodes an image with Pillow, refusing formats outside a list,
   pictures larger than :data:`MAX_PIXELS` (checked from the header, before any pixel
   is decoded) and truncated files, and composites transparency over the background
   that contrasts with the opaque pixels (a dark digit on a transparent PNG becomes a
   dark digit on white, not a black square);
2. :func:`prepare_digit` makes the result look like MNIST: light on dark, square,
   28x28;
3. :func:`fit_digit_box` (for drawings) scales the strokes into a 20x20 box and centres
   their centre of mass, as MNIST's digits were prepared.

Pillow is imported only when an image is decoded (:mod:`cnnlab.viz`'s rule).
"""

from __future__ import annotations

import io

import numpy as np

from .viz import VizUnavailable, _pil, resize_gray

IMAGE_SIZE = (28, 28)
MAX_PIXELS = 4096 * 4096
"""The largest picture decoded (width x height); larger ones are refused unread."""
READ_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
"""The formats :func:`decode_gray` accepts unless told otherwise."""


class ImageError(ValueError):
    """A file that is not a readable image of an accepted format and size."""


def _gray_alpha(image) -> tuple:
    """``(gray, alpha)`` float32 arrays in [0, 1]; ``alpha`` is None for opaque modes."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255), None
    pair = np.asarray(image.convert("LA"), dtype=np.float32) / np.float32(255)
    return pair[..., 0], pair[..., 1]


def composite(gray, alpha) -> np.ndarray:
    """Transparent pixels painted with the background that contrasts with the opaque ones.

    Parameters
    ----------
    gray, alpha : numpy.ndarray, shape (H, W), values in [0, 1]

    Returns
    -------
    numpy.ndarray of float32, shape (H, W): ``alpha * gray + (1 - alpha) * background``,
    where ``background`` is white when the opaque pixels are dark on average (their
    alpha-weighted mean below 0.5) and black otherwise. A wholly transparent picture
    comes back black (blank).

    Notes
    -----
    Pillow's ``convert("L")`` drops alpha, so the usual "dark strokes on a transparent
    background" PNG (whose transparent pixels are stored as black) reads as a black
    square: the digit vanishes. Compositing over a fixed white would in turn hide a light
    digit drawn on transparency; the contrast rule handles both.
    """
    gray = np.asarray(gray, dtype=np.float32)
    alpha = np.asarray(alpha, dtype=np.float32)
    weight = float(alpha.sum())
    if weight == 0:
        return np.zeros_like(gray)
    background = 1.0 if float((alpha * gray).sum()) / weight < 0.5 else 0.0
    return alpha * gray + (1 - alpha) * np.float32(background)


def decode_gray(source, formats=READ_FORMATS, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """An image (a path, a file object or bytes) as grayscale values in [0, 1].

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file object
    formats : sequence of str
        Pillow format names to accept (others are refused before decoding).
    max_pixels : int
        Largest ``width * height`` decoded; read from the header first.

    Returns
    -------
    numpy.ndarray of float32, shape (H, W), transparency composited (:func:`composite`);
    a JPEG's EXIF orientation applied.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        For a path that cannot be opened.
    ImageError
        For anything that is not a complete image of an accepted format and size.
    """
    Image, _ = _pil()
    from PIL import ImageOps

    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        with Image.open(source, formats=list(formats)) as image:
            width, height = image.size
            if width * height > max_pixels or width < 1 or height < 1:
                raise ImageError(f"the image is {width}x{height} pixels; at most "
                                 f"{max_pixels:,} pixels (e.g. 4096x4096) are read")
            image.load()  # decode now: a truncated file fails here, inside the try
            image = ImageOps.exif_transpose(image)
            gray, alpha = _gray_alpha(image)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Image.UnidentifiedImageError:
        raise ImageError(f"not an image in a known format ({', '.join(formats)})") from None
    except ImageError:
        raise
    except Exception as error:  # noqa: BLE001
        # Pillow's decoders signal a broken file with many exception types (OSError,
        # SyntaxError, EOFError, struct.error, IndexError, ...): all mean the same here.
        raise ImageError(f"the image cannot be decoded ({' '.join(str(error).split())})") from None
    return gray if alpha is None else composite(gray, alpha)


def prepare_digit(gray, size=IMAGE_SIZE):
    """An image as an MNIST-like digit: light on dark, square, ``size``, uint8.

    Parameters
    ----------
    gray : numpy.ndarray, shape (H, W), values in [0, 1]

    Returns
    -------
    digit : numpy.ndarray of uint8, shape ``size``
    inverted : bool
        Whether the image was dark on light (the mean of its border, a ring
        ``max(1, min(H, W) // 14)`` pixels wide, above 0.5) and so was inverted.

    Notes
    -----
    A non-square image is padded, centred, with its border's median level so that
    resizing keeps the digit's proportions. Resizing is bilinear, averaging when
    shrinking (:func:`cnnlab.viz.resize_gray`). A 28x28 light-on-dark image comes back
    unchanged; its inverse comes back as the original.
    """
    gray = np.asarray(gray, dtype=np.float32)
    height, width = gray.shape
    ring = max(1, min(height, width) // 14)
    border = np.concatenate([gray[:ring].ravel(), gray[-ring:].ravel(),
                             gray[:, :ring].ravel(), gray[:, -ring:].ravel()])
    inverted = bool(border.mean() > 0.5)
    if inverted:
        gray = 1 - gray
        border = 1 - border
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    gray = np.pad(gray, ((top, side - height - top), (left, side - width - left)),
                  constant_values=float(np.median(border)))
    gray = resize_gray(gray, size)
    return np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8), inverted


def fit_digit_box(digit, box: int = 20) -> np.ndarray:
    """A light-on-dark digit scaled into a ``box x box`` square and centred by mass.

    MNIST's digits were size-normalised to 20x20 (keeping their aspect) and placed in
    28x28 with their centre of mass at the centre; a digit drawn with the mouse rarely
    is, and the model then misreads it. Pixels below a tenth of the brightest are
    treated as background when finding the strokes' bounding box.

    Parameters
    ----------
    digit : numpy.ndarray of uint8, shape (H, W)

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W); all zeros for a blank digit.
    """
    digit = np.asarray(digit)
    height, width = digit.shape
    values = digit.astype(np.float32) / 255
    ink = values > 0.1 * values.max() if values.max() > 0 else np.zeros_like(values, bool)
    if not ink.any():
        return np.zeros_like(digit)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = values[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = box / max(crop.shape)
    new_size = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    scaled = np.clip(resize_gray(crop, new_size), 0, 1)
    canvas = np.zeros((height, width), np.float32)
    total = scaled.sum()
    centre_row = (scaled.sum(axis=1) @ np.arange(new_size[0])) / total
    centre_col = (scaled.sum(axis=0) @ np.arange(new_size[1])) / total
    top = int(np.clip(round((height - 1) / 2 - centre_row), 0, height - new_size[0]))
    left = int(np.clip(round((width - 1) / 2 - centre_col), 0, width - new_size[1]))
    canvas[top:top + new_size[0], left:left + new_size[1]] = scaled
    return np.round(canvas * 255).astype(np.uint8)


__all__ = ["IMAGE_SIZE", "ImageError", "MAX_PIXELS", "READ_FORMATS", "VizUnavailable",
           "composite", "decode_gray", "fit_digit_box", "prepare_digit"]

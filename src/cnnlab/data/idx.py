"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a header followed by the values, row-major and big-endian::

    0x00 0x00 <type code> <number of dimensions d>     magic number, 4 bytes
    <size of dimension 1> ... <size of dimension d>    d big-endian uint32
    <values>                                           prod(sizes) values of the type

The file may be gzip-compressed (recognised by its content, not its name). Every check
that can fail names the file: a truncated or corrupt file is a ``ValueError`` saying what
the header promised and what the file holds, never a NumPy reshape error.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        A writable array with the header's shape, in native byte order (``uint8`` for
        MNIST).

    Raises
    ------
    ValueError
        When the magic number, the type code or the size do not hold, naming the file.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> from cnnlab.data.idx import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "demo-idx2-ubyte.gz")
    >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    with open(path, "rb") as stream:
        compressed = stream.read(2) == GZIP_MAGIC
    if compressed:
        try:
            with gzip.open(path, "rb") as stream:
                content = stream.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"read_idx: {path} is a truncated or corrupt gzip file "
                             f"({exc})") from exc
        dtype, shape, header_size = _parse_header(content[:4 + 4 * 255], path)
        _check_size(len(content) - header_size, dtype, shape, header_size, path)
        values = np.frombuffer(content, dtype, offset=header_size).copy()
    else:
        with open(path, "rb") as stream:
            head = stream.read(4 + 4 * 255)
        dtype, shape, header_size = _parse_header(head, path)
        _check_size(os.path.getsize(path) - header_size, dtype, shape, header_size, path)
        values = np.fromfile(path, dtype, offset=header_size)
    return values.astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def _parse_header(head: bytes, path: Path):
    """(dtype, shape, header size in bytes) from the first bytes of an IDX file."""
    if len(head) < 4:
        raise ValueError(f"read_idx: {path} is not an IDX file: it has only {len(head)} "
                         "bytes, fewer than the 4-byte magic number")
    if head[0] != 0 or head[1] != 0 or head[2] not in IDX_DTYPES:
        codes = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(f"read_idx: {path} is not an IDX file: magic number "
                         f"0x{head[:4].hex().upper()}, expected 0x0000 then a type code "
                         f"({codes}) then the number of dimensions")
    ndim = head[3]
    header_size = 4 + 4 * ndim
    if len(head) < header_size:
        raise ValueError(f"read_idx: {path} is truncated: its magic number announces "
                         f"{ndim} dimensions ({header_size}-byte header) but the file has "
                         f"only {len(head)} bytes")
    shape = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return IDX_DTYPES[head[2]], shape, header_size


def _check_size(data_bytes: int, dtype, shape, header_size: int, path: Path) -> None:
    expected = math.prod(shape) * dtype.itemsize
    if data_bytes != expected:
        problem = "is truncated" if data_bytes < expected else "has trailing bytes"
        dims = " x ".join(str(size) for size in shape) or "scalar"
        raise ValueError(f"read_idx: {path} {problem}: its header says {dims} values of "
                         f"{dtype.name} ({expected} bytes after the {header_size}-byte "
                         f"header), but {data_bytes} bytes follow the header")


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
    array : numpy.ndarray of uint8, int8, int16, int32, float32 or float64, any shape
        with fewer than 256 dimensions.
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes or array.ndim > 255:
        raise TypeError(f"write_idx: cannot store an array of dtype {array.dtype} with "
                        f"{array.ndim} dimensions; IDX holds uint8, int8, int16, int32, "
                        "float32 or float64 with at most 255 dimensions")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        size.to_bytes(4, "big") for size in array.shape)
    content = header + np.ascontiguousarray(array, IDX_DTYPES[code]).tobytes()
    if str(path).endswith(".gz"):
        content = gzip.compress(content)
    Path(path).write_bytes(content)

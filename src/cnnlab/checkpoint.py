"""Saving and loading training checkpoints in a format whose loading never runs code.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) read with
``allow_pickle=False``. Its entries:

- ``__cnnlab_checkpoint__``: UTF-8 JSON as a ``uint8`` array: the format marker and
  version, the epoch, the ``extra`` metadata, and the structure of the model state,
  the optimizer state and the RNG state, in which arrays appear as references
  ``{"array": "array_<i>"}``.
- ``array_0``, ``array_1``, ...: the arrays, in the order they were met.

Python containers other than JSON's are tagged so that they come back as they went in:
a tuple is ``{"tuple": [...]}``, a dict ``{"dict": [[key, value], ...]}`` (so integer
keys stay integers, as in ``Optimizer.state_dict()["state"]``).

Writing is atomic: the archive goes to a temporary file in the same folder, is flushed
to disk, then replaces ``path`` (``os.replace``). A crash or an error mid-save leaves the
previous checkpoint intact (a killed process may leave a hidden ``.<name>.*.tmp`` file).
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .tensor import Tensor

FORMAT = "cnnlab-checkpoint"
VERSION = 1
MARKER = "__cnnlab_checkpoint__"
ZIP_MAGIC = b"PK\x03\x04"


def save(path, model_state, optimizer_state=None, epoch=0, rng_state=None, extra=None) -> None:
    """Write a checkpoint to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (no suffix is added; ``.npz`` is customary).
    model_state : dict of str -> Tensor or numpy.ndarray
        E.g. ``model.state_dict()``.
    optimizer_state : dict or None
        E.g. ``optimizer.state_dict()``: ``{"state": {int: {name: array or number}},
        "param_groups": [{hyper-parameter: value, "params": [int, ...]}, ...]}``.
    epoch : int, default 0
    rng_state : dict or None
        E.g. ``cnnlab.get_rng_state()``.
    extra : dict or None
        JSON-serialisable metadata (tuples come back as lists).

    Raises
    ------
    TypeError
        When a value cannot be stored (an object array, a set, ...), naming it; nothing
        is written.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from cnnlab import checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> checkpoint.save(path, {"weight": np.ones((2, 2))}, epoch=3, extra={"loss": 0.25})
    >>> loaded = checkpoint.load(path)
    >>> loaded["epoch"], loaded["extra"], loaded["model_state"]["weight"].shape
    (3, {'loss': 0.25}, (2, 2))
    """
    arrays = {}
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": _check_epoch(epoch),
        "model": _encode_model(model_state, arrays),
        "optimizer": None if optimizer_state is None
        else _encode(optimizer_state, arrays, "optimizer_state"),
        "rng_state": None if rng_state is None else _encode(rng_state, arrays, "rng_state"),
        "extra": _check_extra(extra),
    }
    marker = np.frombuffer(json.dumps(metadata).encode("utf-8"), np.uint8)
    _write_atomically(Path(path), {MARKER: marker, **arrays})


def load(path) -> dict:
    """Read a checkpoint written by :func:`save`. Never unpickles, so never runs code.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        ``model_state`` (dict of str -> numpy.ndarray, in the saved order; pass it to
        ``model.load_state_dict``), ``optimizer_state`` (dict or None; for
        ``optimizer.load_state_dict``), ``epoch`` (int), ``rng_state`` (dict or None; for
        ``cnnlab.set_rng_state``), ``extra`` (dict) and ``version`` (int).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is truncated, corrupt, not a cnnlab checkpoint (a pickle, another
        ``.npz``), holds pickled objects, or has a newer format version; naming the file.
    """
    path = Path(path)
    # np.load is given an open file so that it is closed even when the zip is corrupt.
    with open(path, "rb") as stream:
        head = stream.read(len(ZIP_MAGIC))
        if head != ZIP_MAGIC:
            pickled = " (it looks like a pickle, which cnnlab never loads)" \
                if head[:1] == b"\x80" else ""
            raise ValueError(f"checkpoint.load: {path} is not a cnnlab checkpoint: not a NumPy "
                             f".npz (zip) archive{pickled}")
        stream.seek(0)
        return _load_archive(stream, path)


def _load_archive(stream, path: Path) -> dict:
    try:
        with np.load(stream, allow_pickle=False) as archive:
            return _read(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"checkpoint.load: {path} is truncated or corrupt: {exc}") from exc
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ValueError(f"checkpoint.load: {path} is not a valid cnnlab checkpoint: "
                         f"{exc}") from exc


# ------------------------------------------------------------------ encoding
def _check_epoch(epoch) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
        raise TypeError(f"checkpoint.save: epoch must be an int, got {epoch!r}")
    return int(epoch)


def _check_extra(extra) -> dict:
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise TypeError(f"checkpoint.save: extra must be a dict or None, got "
                        f"{type(extra).__name__}")
    try:
        return json.loads(json.dumps(extra))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"checkpoint.save: extra must be JSON-serialisable: {exc}") from exc


def _as_array(value, where: str) -> np.ndarray:
    array = value.array if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(f"checkpoint.save: {where} is an array of Python objects "
                        f"(dtype {array.dtype}); a checkpoint holds numeric arrays only")
    return array


def _add_array(array: np.ndarray, arrays: dict) -> dict:
    key = f"array_{len(arrays)}"
    arrays[key] = array
    return {"array": key}


def _encode_model(model_state, arrays: dict) -> list:
    if not isinstance(model_state, dict):
        raise TypeError(f"checkpoint.save: model_state must be a dict of name -> array or "
                        f"Tensor, got {type(model_state).__name__}")
    entries = []
    for name, value in model_state.items():
        if not isinstance(name, str):
            raise TypeError(f"checkpoint.save: model_state keys must be str, got {name!r}")
        where = f"model_state[{name!r}]"
        if not isinstance(value, (Tensor, np.ndarray, np.generic)):
            raise TypeError(f"checkpoint.save: {where} must be a Tensor or a NumPy array, "
                            f"got {type(value).__name__}")
        entries.append([name, _add_array(_as_array(value, where), arrays)])
    return entries


def _encode(value, arrays: dict, where: str):
    """A JSON-able node for ``value``; arrays are moved to ``arrays`` and referenced."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (Tensor, np.ndarray)):
        return _add_array(_as_array(value, where), arrays)
    if isinstance(value, list):
        return [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(item, arrays, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            if not (key is None or isinstance(key, (bool, str, numbers.Integral))):
                raise TypeError(f"checkpoint.save: {where} has key {key!r}; keys must be "
                                "str, int, bool or None")
            pairs.append([_encode(key, arrays, where), _encode(item, arrays, f"{where}[{key!r}]")])
        return {"dict": pairs}
    raise TypeError(f"checkpoint.save: {where} is a {type(value).__name__}, which a checkpoint "
                    "cannot hold; allowed: None, bool, int, float, str, list, tuple, dict, "
                    "Tensor, numpy.ndarray")


# ------------------------------------------------------------------ decoding
def _read(archive) -> dict:
    if MARKER not in archive.files:
        raise ValueError(f"no {MARKER} entry: a NumPy .npz archive, but not a cnnlab "
                         "checkpoint")
    marker = archive[MARKER]
    if marker.dtype != np.uint8 or marker.ndim != 1:
        raise ValueError(f"the {MARKER} entry is {marker.dtype} of shape {marker.shape}, "
                         "expected uint8 JSON bytes")
    metadata = json.loads(marker.tobytes().decode("utf-8"))
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"the {MARKER} entry does not announce the {FORMAT!r} format")
    version = metadata.get("version")
    if version != VERSION:
        raise ValueError(f"format version {version!r}; this cnnlab reads version {VERSION}")
    arrays = {}
    for name in archive.files:
        if name != MARKER:
            try:
                arrays[name] = archive[name]
            except ValueError as exc:
                raise ValueError(f"entry {name!r}: {exc}") from exc
            if not isinstance(arrays[name], np.ndarray):
                raise ValueError(f"entry {name!r} is not a NumPy .npy array")
    used = set()
    model_state = {}
    for entry in metadata["model"]:
        name, node = entry
        if not isinstance(name, str):
            raise ValueError(f"model entry {entry!r} is not [name, array]")
        model_state[name] = _decode(node, arrays, used, f"model_state[{name!r}]")
        if not isinstance(model_state[name], np.ndarray):
            raise ValueError(f"model_state[{name!r}] is not an array reference")
    result = {
        "model_state": model_state,
        "optimizer_state": _decode(metadata["optimizer"], arrays, used, "optimizer_state"),
        "epoch": metadata["epoch"],
        "rng_state": _decode(metadata["rng_state"], arrays, used, "rng_state"),
        "extra": metadata["extra"],
        "version": version,
    }
    if not isinstance(result["epoch"], int) or not isinstance(result["extra"], dict):
        raise ValueError("epoch must be an int and extra a dict")
    unused = sorted(set(arrays) - used)
    if unused:
        raise ValueError(f"unexpected entries {unused} that the metadata does not refer to")
    return result


def _decode(node, arrays: dict, used: set, where: str):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(item, arrays, used, f"{where}[{i}]") for i, item in enumerate(node)]
    if isinstance(node, dict) and len(node) == 1:
        (tag, content), = node.items()
        if tag == "array" and isinstance(content, str) and content in arrays:
            used.add(content)
            return arrays[content]
        if tag == "tuple" and isinstance(content, list):
            return tuple(_decode(item, arrays, used, where) for item in content)
        if tag == "dict" and isinstance(content, list) and all(
                isinstance(pair, list) and len(pair) == 2
                and (pair[0] is None or isinstance(pair[0], (bool, int, str))) for pair in content):
            return {key: _decode(item, arrays, used, f"{where}[{key!r}]") for key, item in content}
    raise ValueError(f"malformed metadata at {where}: {json.dumps(node)[:80]}")


# ------------------------------------------------------------------ writing
def _write_atomically(path: Path, entries: dict) -> None:
    """Write the .npz to a temporary file beside ``path``, sync it, then rename it."""
    folder = path.parent
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **entries)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp creates 0600; use the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)

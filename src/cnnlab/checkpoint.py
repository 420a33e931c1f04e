"""Saving and loading training checkpoints in formats whose loading never runs code.

Two formats, chosen by the suffix of the path when saving and by the file's first bytes
when loading:

**safetensors** (a path ending in ``.safetensors``): the model's tensors under their
own names, so ``safetensors.torch.load_file`` gives PyTorch the state dict, plus the
optimizer's and the generator's arrays under names starting with ``__cnnlab__/``. The
header's ``__metadata__`` holds, under ``"cnnlab"``, the same JSON as the ``.npz``
marker below (format, version, epoch, extra, and the structure of the three states
with tensor references). In PyTorch, drop the extra tensors before loading::

    state = {k: v for k, v in load_file(path).items() if not k.startswith("__cnnlab__/")}

**.npz** (any other path; the original format, still written and read): a NumPy
``.npz`` archive (a zip of ``.npy`` arrays) read with ``allow_pickle=False``. Its
entries:

- ``__cnnlab_checkpoint__``: UTF-8 JSON as a ``uint8`` array: the format marker and
  version, the epoch, the ``extra`` metadata, and the structure of the model state,
  the optimizer state and the RNG state, in which arrays appear as references
  ``{"array": "array_<i>"}``.
- ``array_0``, ``array_1``, ...: the arrays, in the order they were met.

Python containers other than JSON's are tagged so that they come back as they went in:
a tuple is ``{"tuple": [...]}``, a dict ``{"dict": [[key, value], ...]}`` (so integer
keys stay integers, as in ``Optimizer.state_dict()["state"]``).

Writing is atomic: the file goes to a temporary file in the same folder, is flushed
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

from .serialization import decode_tree
from .tensor import Tensor

FORMAT = "cnnlab-checkpoint"
VERSION = 1
MARKER = "__cnnlab_checkpoint__"
SAFETENSORS_PREFIX = "__cnnlab__/"
ZIP_MAGIC = b"PK\x03\x04"


def save(path, model_state, optimizer_state=None, epoch=0, rng_state=None, extra=None) -> None:
    """Write a checkpoint to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (no suffix is added): safetensors when it ends in
        ``.safetensors``, a NumPy ``.npz`` archive otherwise.
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
    path = Path(path)
    if path.suffix == ".safetensors":
        _save_safetensors(path, model_state, metadata, arrays)
        return
    marker = np.frombuffer(json.dumps(metadata).encode("utf-8"), np.uint8)
    entries = {MARKER: marker, **arrays}
    write_atomically(path, lambda out: np.savez(out, **entries))


def _save_safetensors(path: Path, model_state: dict, metadata: dict, arrays: dict) -> None:
    """Model tensors under their own names, every other array under ``__cnnlab__/``."""
    from .serialization import METADATA_KEY, write_safetensors

    tensors, renamed = {}, {}
    for name, node in metadata["model"]:
        tensors[name] = arrays[node["array"]]
        renamed[node["array"]] = name
    for key, array in arrays.items():
        if key not in renamed:
            renamed[key] = f"{SAFETENSORS_PREFIX}{key}"
            tensors[renamed[key]] = array
    metadata = json.loads(json.dumps(metadata))
    _rename_references(metadata, renamed)
    write_safetensors(path, tensors, {METADATA_KEY: json.dumps(metadata)})


def _rename_references(node, renamed: dict) -> None:
    """Point every ``{"array": key}`` of a decoded JSON tree at ``renamed[key]``."""
    if isinstance(node, list):
        for item in node:
            _rename_references(item, renamed)
    elif isinstance(node, dict):
        if set(node) == {"array"} and isinstance(node["array"], str):
            node["array"] = renamed[node["array"]]
            return
        for item in node.values():
            _rename_references(item, renamed)


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
        ``.npz``, a plain safetensors file), holds pickled objects, or has a newer format
        version; naming the file.
    """
    path = Path(path)
    # np.load is given an open file so that it is closed even when the zip is corrupt.
    with open(path, "rb") as stream:
        head = stream.read(len(ZIP_MAGIC))
        if head != ZIP_MAGIC:
            if path.suffix == ".safetensors" or _looks_like_safetensors(stream):
                return _load_safetensors(path)
            pickled = " (it looks like a pickle, which cnnlab never loads)" \
                if head[:1] == b"\x80" else ""
            raise ValueError(f"checkpoint.load: {path} is not a cnnlab checkpoint: not a NumPy "
                             f".npz (zip) archive nor a safetensors file{pickled}")
        stream.seek(0)
        return _load_archive(stream, path)


def _looks_like_safetensors(stream) -> bool:
    """An 8-byte header length followed by the JSON object it announces."""
    stream.seek(0)
    head = stream.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _load_safetensors(path: Path) -> dict:
    from .serialization import METADATA_KEY, read_safetensors

    arrays, metadata = read_safetensors(path, "checkpoint.load")
    try:
        header = json.loads(metadata.get(METADATA_KEY, "null"))
    except ValueError as exc:
        raise ValueError(f"checkpoint.load: {path} is not a valid cnnlab checkpoint: the "
                         f"{METADATA_KEY!r} metadata is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"checkpoint.load: {path} is a safetensors file without cnnlab "
                         "checkpoint metadata (plain weights? read them with "
                         "cnnlab.load_weights)")
    try:
        return _read_parts(header, arrays, f"{METADATA_KEY!r} metadata")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"checkpoint.load: {path} is not a valid cnnlab checkpoint: "
                         f"{exc}") from exc


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
    arrays = {}
    for name in archive.files:
        if name != MARKER:
            try:
                arrays[name] = archive[name]
            except ValueError as exc:
                raise ValueError(f"entry {name!r}: {exc}") from exc
            if not isinstance(arrays[name], np.ndarray):
                raise ValueError(f"entry {name!r} is not a NumPy .npy array")
    return _read_parts(metadata, arrays, f"{MARKER} entry")


def _read_parts(metadata, arrays: dict, source: str) -> dict:
    """The checkpoint described by the decoded JSON ``metadata`` (read from ``source``)
    over ``arrays``."""
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"the {source} does not announce the {FORMAT!r} format")
    version = metadata.get("version")
    if version != VERSION:
        raise ValueError(f"format version {version!r}; this cnnlab reads version {VERSION}")
    used = set()
    model_state = {}
    if not isinstance(metadata.get("model"), list):
        raise ValueError("the metadata has no list of model entries")
    for entry in metadata["model"]:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise ValueError(f"model entry {entry!r} is not [name, array]")
        name, node = entry
        if not isinstance(name, str):
            raise ValueError(f"model entry {entry!r} is not [name, array]")
        model_state[name] = decode_tree(node, arrays, used, f"model_state[{name!r}]")
        if not isinstance(model_state[name], np.ndarray):
            raise ValueError(f"model_state[{name!r}] is not an array reference")
    result = {
        "model_state": model_state,
        "optimizer_state": decode_tree(metadata["optimizer"], arrays, used, "optimizer_state"),
        "epoch": metadata["epoch"],
        "rng_state": decode_tree(metadata["rng_state"], arrays, used, "rng_state"),
        "extra": metadata["extra"],
        "version": version,
    }
    if not isinstance(result["epoch"], int) or not isinstance(result["extra"], dict):
        raise ValueError("epoch must be an int and extra a dict")
    unused = sorted(set(arrays) - used)
    if unused:
        raise ValueError(f"unexpected entries {unused} that the metadata does not refer to")
    return result


# ------------------------------------------------------------------ writing
def write_atomically(path: Path, write) -> None:
    """Call ``write(binary_file)`` on a temporary file beside ``path``, sync it, then
    rename it to ``path``: readers see the old file or the whole new one, never a part."""
    folder = path.parent
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
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

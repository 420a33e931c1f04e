"""Weights and objects in the safetensors format: ``save_weights`` / ``load_weights`` and
``save`` / ``load`` (cnnlab's ``torch.save`` / ``torch.load``, without pickle).

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON
naming each tensor's dtype, shape and byte range, then the raw bytes. Loading one parses
JSON and copies bytes: it never runs code, unlike a pickle (what ``torch.save`` writes).
The same file opens in PyTorch with ``safetensors.torch.load_file(path)``, and the
result goes straight into ``torch_model.load_state_dict``: the tensor names are the
parameter names.

What cnnlab adds lives in the header's string-to-string ``__metadata__`` under the key
``"cnnlab"``: a JSON object ``{"format": "cnnlab.save", "version": 1, "kind": ...}``,
where ``kind`` is ``"state_dict"`` (a flat dict of tensors; ``order`` keeps the key
order, as safetensors sorts names), ``"tensor"`` (one tensor stored under the name
``"tensor"``) or ``"tree"`` (any nesting of dict / list / tuple / numbers / strings /
None with tensors as leaves: ``tree`` is the JSON structure in which each tensor is a
reference ``{"array": name}`` and tuples / non-string keys are tagged as in
:mod:`cnnlab.checkpoint`).

Writes are atomic (a temporary file beside the target, synced, then renamed).
"""

from __future__ import annotations

import json
import numbers
import os
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .tensor import Tensor

FORMAT = "cnnlab.save"
VERSION = 1
METADATA_KEY = "cnnlab"
SINGLE_TENSOR = "tensor"
# safetensors refuses headers above 100 MB; a larger announced length is a lie or not
# safetensors at all, and reading it would only waste memory.
MAX_HEADER = 100_000_000
ALLOWED = ("None, bool, int, float, str, list, tuple, dict (str/int/bool/None keys), "
           "Tensor, numpy.ndarray")


# ------------------------------------------------------------------ public API
def save_weights(model_or_state_dict, path, metadata=None) -> None:
    """Write a model's weights (or a state dict) to a safetensors file, atomically.

    Parameters
    ----------
    model_or_state_dict : Module or dict of str -> Tensor / numpy.ndarray
        A module (its ``state_dict()`` is written: parameters and buffers) or a flat
        mapping of names to arrays.
    path : str or os.PathLike
        The file to write; ``.safetensors`` is customary.
    metadata : dict of str -> str, optional
        Written in the header's ``__metadata__`` beside cnnlab's own entry (e.g. class
        names for ``cnnlab predict``); read back with :func:`read_metadata`.

    Raises
    ------
    TypeError
        When a key is not a str or a value is not a tensor or numeric array, or the
        metadata is not str -> str; nothing is written.

    Notes
    -----
    In PyTorch: ``model.load_state_dict(safetensors.torch.load_file(path))``.

    Examples
    --------
    >>> import os, tempfile, cnnlab
    >>> path = os.path.join(tempfile.mkdtemp(), "lin.safetensors")
    >>> cnnlab.save_weights(cnnlab.nn.Linear(3, 2), path)
    >>> {name: tuple(t.shape) for name, t in cnnlab.load_weights(path).items()}
    {'weight': (2, 3), 'bias': (2,)}
    """
    state = model_or_state_dict
    if hasattr(state, "state_dict") and callable(state.state_dict):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise TypeError(f"save_weights: model_or_state_dict must be a Module or a dict of "
                        f"name -> tensor, got {type(state).__name__}")
    tensors = _flat_tensors(state, "save_weights")
    header = {"format": FORMAT, "version": VERSION, "kind": "state_dict",
              "order": list(tensors)}
    extra = dict(metadata or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()) \
            or METADATA_KEY in extra:
        raise TypeError(f"save_weights: metadata must map str to str (and not use the key "
                        f"{METADATA_KEY!r}), got {metadata!r}")
    write_safetensors(path, tensors, {**extra, METADATA_KEY: json.dumps(header)})


def read_metadata(path) -> dict:
    """The ``__metadata__`` (str -> str) of a safetensors file, checked as
    :func:`load_weights` checks the file."""
    return read_safetensors(path, "read_metadata")[1]


def load_weights(path) -> "OrderedDict[str, Tensor]":
    """Read the tensors of a safetensors file as a state dict. Never runs code.

    Reads files written by :func:`save_weights`, by ``safetensors.torch.save_file`` /
    ``save_model`` (PyTorch), and the model part of a cnnlab safetensors checkpoint.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    OrderedDict of str -> Tensor
        For ``model.load_state_dict``.

    Raises
    ------
    ValueError
        When the file is not a valid safetensors file (truncated, a lying header length,
        a pickle, ...) or holds a nested object (use :func:`load`); naming the file.
    """
    arrays, metadata = read_safetensors(path, "load_weights")
    header = _cnnlab_header(metadata, path, "load_weights")
    if header is not None and header.get("format") == "cnnlab-checkpoint":
        from . import checkpoint
        state = checkpoint.load(path)["model_state"]
        return OrderedDict((name, Tensor._wrap(array)) for name, array in state.items())
    if header is not None and header.get("kind") == "tree":
        raise ValueError(f"load_weights: {path} holds a nested object written by "
                         "cnnlab.save, not a flat state dict; read it with cnnlab.load")
    return OrderedDict((name, Tensor._wrap(array))
                       for name, array in _ordered(arrays, header, path, "load_weights").items())


def save(obj, f) -> None:
    """Save a tensor, a state dict or a nested object, as ``torch.save`` does, but as
    safetensors (never pickle).

    Parameters
    ----------
    obj : Tensor, numpy.ndarray, dict, list or tuple
        A tensor; a state dict (flat dict of str -> tensor, stored with the same names so
        PyTorch's ``safetensors.torch.load_file`` reads it); or any nesting of dict /
        list / tuple / None / bool / int / float / str with tensors as leaves (e.g.
        ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``).
    f : str, os.PathLike or binary file object
        A path is written atomically; a file object receives the bytes.

    Raises
    ------
    TypeError
        For anything else (a Module, a set, a custom object, an object array ...),
        naming where it sits in ``obj``; nothing is written.

    Notes
    -----
    Beyond / unlike PyTorch: modules and arbitrary Python objects cannot be saved (that
    is what needs pickle): save ``model.state_dict()``. Tensors come back detached, with
    ``requires_grad=False``, and tensors that shared memory come back as copies.

    Examples
    --------
    >>> import os, tempfile, cnnlab
    >>> path = os.path.join(tempfile.mkdtemp(), "obj.safetensors")
    >>> cnnlab.save({"w": cnnlab.ones(2), "epoch": 3, "sizes": (4, 5)}, path)
    >>> cnnlab.load(path)
    {'w': tensor([1., 1.]), 'epoch': 3, 'sizes': (4, 5)}
    """
    if isinstance(obj, (Tensor, np.ndarray)):
        tensors = {SINGLE_TENSOR: _numeric_array(obj, "save", "obj")}
        header = {"format": FORMAT, "version": VERSION, "kind": "tensor"}
    elif isinstance(obj, dict) and obj and all(
            isinstance(k, str) and isinstance(v, (Tensor, np.ndarray)) for k, v in obj.items()):
        tensors = _flat_tensors(obj, "save")
        header = {"format": FORMAT, "version": VERSION, "kind": "state_dict",
                  "order": list(tensors)}
    elif isinstance(obj, (dict, list, tuple)):
        arrays = {}
        tree = encode_tree(obj, arrays, "obj", "save")
        tensors = arrays
        header = {"format": FORMAT, "version": VERSION, "kind": "tree", "tree": tree}
    else:
        raise TypeError(f"save: obj is a {type(obj).__name__}, which cnnlab.save cannot "
                        f"store without pickle; allowed: {ALLOWED}. For a model, save "
                        "model.state_dict()")
    write_safetensors(f, tensors, {METADATA_KEY: json.dumps(header)})


def load(f, map_location=None, weights_only=True):
    """Load what :func:`save` wrote (or any safetensors file, or a cnnlab checkpoint), as
    ``torch.load`` does. Never unpickles, so never runs code.

    Parameters
    ----------
    f : str, os.PathLike or binary file object
    map_location : None, 'cpu' or a device whose type is 'cpu'
        Accepted for PyTorch compatibility; cnnlab lives on the CPU.
    weights_only : bool, default True
        Accepted for PyTorch compatibility; cnnlab always loads data only.

    Returns
    -------
    Tensor, dict, list or tuple
        What was saved, with tensors as :class:`~cnnlab.Tensor`. A safetensors file
        without cnnlab's metadata gives a dict of str -> Tensor. A cnnlab training
        checkpoint (``.npz`` or safetensors) gives :func:`cnnlab.checkpoint.load`'s dict.

    Raises
    ------
    ValueError
        When the file is truncated, corrupt, a pickle, or its metadata is malformed;
        naming the file.
    """
    if map_location is not None and str(getattr(map_location, "type", map_location)) != "cpu":
        raise ValueError(f"load: map_location must be None or 'cpu' (cnnlab runs on the "
                         f"CPU), got {map_location!r}")
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as stream:
            head = stream.read(4)
        from . import checkpoint
        if head == checkpoint.ZIP_MAGIC:
            return checkpoint.load(f)
    arrays, metadata = read_safetensors(f, "load")
    name = getattr(f, "name", f) if not isinstance(f, (str, os.PathLike)) else f
    header = _cnnlab_header(metadata, name, "load")
    if header is not None and header.get("format") == "cnnlab-checkpoint":
        from . import checkpoint
        return checkpoint.load(f)
    kind = None if header is None else header.get("kind")
    if kind == "tensor":
        if set(arrays) != {SINGLE_TENSOR}:
            raise ValueError(f"load: {name} announces one tensor but holds {sorted(arrays)}")
        return Tensor._wrap(arrays[SINGLE_TENSOR])
    if kind == "tree":
        used = set()
        try:
            value = decode_tree(header.get("tree"), arrays, used, "obj")
        except ValueError as exc:
            raise ValueError(f"load: {name}: {exc}") from None
        unused = sorted(set(arrays) - used)
        if unused:
            raise ValueError(f"load: {name} holds tensors {unused} that its metadata does "
                             "not refer to")
        return _to_tensors(value)
    if kind not in (None, "state_dict"):
        raise ValueError(f"load: {name} has cnnlab metadata of unknown kind {kind!r}")
    return OrderedDict((key, Tensor._wrap(array))
                       for key, array in _ordered(arrays, header, name, "load").items())


# ------------------------------------------------------------------ safetensors I/O
def write_safetensors(f, tensors: dict, metadata: dict) -> None:
    """Serialise ``tensors`` (str -> numpy.ndarray) with string ``metadata`` to ``f``
    (a path, written atomically, or a binary file object)."""
    from safetensors.numpy import save as to_bytes

    # safetensors wants C-contiguous arrays in native byte order (np.asarray with
    # order="C": np.ascontiguousarray would make a 0-d tensor, like BatchNorm's
    # num_batches_tracked, 1-D)
    arrays = {name: np.asarray(array.astype(array.dtype.newbyteorder("="), copy=False),
                               order="C")
              for name, array in tensors.items()}
    payload = to_bytes(arrays, metadata=metadata)
    if isinstance(f, (str, os.PathLike)):
        from .checkpoint import write_atomically
        write_atomically(Path(f), lambda out: out.write(payload))
    elif hasattr(f, "write"):
        f.write(payload)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")


def read_safetensors(f, who: str):
    """``(arrays, metadata)`` of a safetensors file or file object, checked before parsing.

    Raises ValueError naming the file and the fault for anything that is not a complete,
    well-formed safetensors file.
    """
    if isinstance(f, (str, os.PathLike)):
        name = f
        with open(f, "rb") as stream:
            data = stream.read()
    elif hasattr(f, "read"):
        name = getattr(f, "name", "<file object>")
        data = f.read()
    else:
        raise TypeError(f"{who}: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    _check_header(data, name, who)
    from safetensors.numpy import load as from_bytes
    try:
        arrays = from_bytes(data)
    except Exception as exc:  # SafetensorError and NumPy's dtype errors: one clear kind
        raise ValueError(f"{who}: {name} is not a valid safetensors file: {exc}") from None
    header = json.loads(data[8:8 + _header_length(data)])
    return arrays, header.get("__metadata__") or {}


def _header_length(data: bytes) -> int:
    return struct.unpack("<Q", data[:8])[0]


def _check_header(data: bytes, name, who: str) -> None:
    """The faults a hostile or damaged file shows first, each in plain words."""
    if data[:1] == b"\x80" or data[:4] == b"PK\x03\x04":
        kind = "a pickle (which cnnlab never loads)" if data[:1] == b"\x80" \
            else "a zip archive (.npz or torch.save), not safetensors"
        raise ValueError(f"{who}: {name} is {kind}")
    if len(data) < 8:
        raise ValueError(f"{who}: {name} is truncated: {len(data)} bytes, shorter than the "
                         "8-byte safetensors header length")
    length = _header_length(data)
    if length > min(len(data) - 8, MAX_HEADER):
        raise ValueError(f"{who}: {name} is truncated or corrupt: its header length says "
                         f"{length} bytes but only {len(data) - 8} follow")
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{who}: {name} is not a safetensors file: its header is not "
                         f"UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{who}: {name} is not a safetensors file: its header is a JSON "
                         f"{type(header).__name__}, not an object")
    ends = [entry.get("data_offsets", [0, 0])[1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict)
            and isinstance(entry.get("data_offsets"), list) and entry["data_offsets"]]
    needed = max([end for end in ends if isinstance(end, int)], default=0)
    if needed > len(data) - 8 - length:
        raise ValueError(f"{who}: {name} is truncated: its tensors need {needed} bytes of "
                         f"data but only {len(data) - 8 - length} are present")


def _cnnlab_header(metadata: dict, name, who: str):
    """cnnlab's JSON object from the metadata, None when the file has none."""
    text = metadata.get(METADATA_KEY)
    if text is None:
        return None
    try:
        header = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{who}: {name}: the {METADATA_KEY!r} metadata is not JSON "
                         f"({exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{who}: {name}: the {METADATA_KEY!r} metadata is a JSON "
                         f"{type(header).__name__}, expected an object")
    version = header.get("version")
    if header.get("format") == FORMAT and version != VERSION:
        raise ValueError(f"{who}: {name}: format version {version!r}; this cnnlab reads "
                         f"version {VERSION}")
    return header


def _ordered(arrays: dict, header, name, who: str) -> dict:
    """``arrays`` in the saved key order when the metadata records it."""
    order = None if header is None else header.get("order")
    if order is None:
        return arrays
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(arrays):
        raise ValueError(f"{who}: {name}: the metadata's key order does not match the "
                         "stored tensors")
    return {key: arrays[key] for key in order}


def _flat_tensors(state: dict, who: str) -> dict:
    tensors = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"{who}: state dict keys must be str, got {key!r}")
        if value is None:
            continue  # an absent bias, as PyTorch's state_dict leaves out
        tensors[key] = _numeric_array(value, who, f"[{key!r}]")
    return tensors


def _numeric_array(value, who: str, where: str) -> np.ndarray:
    if isinstance(value, Tensor):
        array = value.array
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        raise TypeError(f"{who}: {where} is a {type(value).__name__}; expected a Tensor or "
                        "a NumPy array")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{who}: {where} has dtype {array.dtype}; safetensors stores bool, "
                        "integer and floating arrays only")
    return array


def _to_tensors(value):
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value)
    if isinstance(value, list):
        return [_to_tensors(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_to_tensors(item) for item in value)
    if isinstance(value, dict):
        return {key: _to_tensors(item) for key, item in value.items()}
    return value


# ------------------------------------------------------------------ nested values
def encode_tree(value, arrays: dict, where: str, who: str):
    """A JSON-able node for ``value``; arrays are moved into ``arrays`` under the name
    ``where`` and referenced as ``{"array": name}``. Tuples and dicts are tagged so they
    come back as they went in: ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``
    (integer keys stay integers, as in ``Optimizer.state_dict()["state"]``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (Tensor, np.ndarray)):
        array = _numeric_array(value, who, where)
        key = where if where not in arrays else f"{where}#{len(arrays)}"
        arrays[key] = array
        return {"array": key}
    if isinstance(value, list):
        return [encode_tree(item, arrays, f"{where}[{i}]", who) for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [encode_tree(item, arrays, f"{where}[{i}]", who)
                          for i, item in enumerate(value)]}
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            if not (key is None or isinstance(key, (bool, str, numbers.Integral))):
                raise TypeError(f"{who}: {where} has key {key!r}; keys must be str, int, bool "
                                "or None")
            pairs.append([encode_tree(key, arrays, where, who),
                          encode_tree(item, arrays, f"{where}[{key!r}]", who)])
        return {"dict": pairs}
    raise TypeError(f"{who}: {where} is a {type(value).__name__}, which cannot be stored "
                    f"without pickle; allowed: {ALLOWED}")


def decode_tree(node, arrays: dict, used: set, where: str):
    """The value :func:`encode_tree` encoded; ValueError for a malformed node."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode_tree(item, arrays, used, f"{where}[{i}]") for i, item in enumerate(node)]
    if isinstance(node, dict) and len(node) == 1:
        (tag, content), = node.items()
        if tag == "array" and isinstance(content, str) and content in arrays:
            used.add(content)
            return arrays[content]
        if tag == "tuple" and isinstance(content, list):
            return tuple(decode_tree(item, arrays, used, where) for item in content)
        if tag == "dict" and isinstance(content, list) and all(
                isinstance(pair, list) and len(pair) == 2
                and (pair[0] is None or isinstance(pair[0], (bool, int, str))) for pair in content):
            return {key: decode_tree(item, arrays, used, f"{where}[{key!r}]")
                    for key, item in content}
    raise ValueError(f"malformed metadata at {where}: {json.dumps(node)[:80]}")

"""safetensors weights, cnnlab.save / cnnlab.load, state dicts both ways with PyTorch,
safetensors checkpoints, and files that must be refused unexecuted."""

import io
import json
import os
import pickle
import struct

import numpy as np
import pytest
import safetensors.torch
import torch

import cnnlab
from cnnlab import checkpoint
from cnnlab.optim import SGD

from model_twins import TWINS


def twins(name):
    build, shape = TWINS[name]
    return build(cnnlab.nn).eval(), build(torch.nn).eval(), shape


def same_outputs(ours, theirs, shape, seed=0):
    x = np.random.default_rng(seed).random(shape, dtype=np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    actual = ours(cnnlab.tensor(x)).detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def assert_bit_identical(cnnlab_state, torch_state):
    assert list(cnnlab_state) == list(torch_state)
    for key in cnnlab_state:
        ours = cnnlab_state[key].detach().numpy()
        theirs = torch_state[key].detach().numpy()
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, key
        assert ours.tobytes() == theirs.tobytes(), key


# ------------------------------------------------------------------ state dicts both ways
@pytest.mark.parametrize("name", list(TWINS))
def test_state_dict_round_trip_through_torch_both_ways(name):
    ours, theirs, shape = twins(name)
    # torch -> cnnlab, handing over torch tensors as they are
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items()})
    assert_bit_identical(ours.state_dict(), theirs.state_dict())
    same_outputs(ours, theirs, shape)
    # cnnlab -> torch, after torch.from_numpy
    fresh, again = twins(name)[:2]
    again.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in fresh.state_dict().items()})
    assert_bit_identical(fresh.state_dict(), again.state_dict())
    same_outputs(fresh, again, shape, seed=1)


@pytest.mark.parametrize("name", list(TWINS))
def test_save_weights_opens_unchanged_in_pytorch(tmp_path, name):
    ours, theirs, shape = twins(name)
    path = tmp_path / "model.safetensors"
    cnnlab.save_weights(ours, path)
    theirs.load_state_dict(safetensors.torch.load_file(path))
    assert_bit_identical(ours.state_dict(), theirs.state_dict())
    same_outputs(ours, theirs, shape)


def test_weights_saved_by_pytorch_load_into_cnnlab(tmp_path):
    ours, theirs, shape = twins("lenet")
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(theirs.state_dict(), path)
    loaded = cnnlab.load_weights(path)
    assert all(isinstance(value, cnnlab.Tensor) for value in loaded.values())
    ours.load_state_dict(loaded)
    assert_bit_identical(ours.state_dict(), theirs.state_dict())
    same_outputs(ours, theirs, shape)


def test_save_weights_keeps_order_dtypes_and_a_state_dict(tmp_path):
    state = {"z.weight": np.arange(6, dtype=np.float64).reshape(2, 3).T,  # not contiguous
             "a.count": np.array(3, np.int64), "m.mask": np.array([True, False]),
             "h": np.array([1.5], np.float16), "u": np.arange(3, dtype=np.uint8)}
    path = tmp_path / "w.safetensors"
    cnnlab.save_weights(state, path)
    loaded = cnnlab.load_weights(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].numpy().dtype == value.dtype
        np.testing.assert_array_equal(loaded[key].numpy(), value)


# ------------------------------------------------------------------ cnnlab.save / load
def test_save_load_a_single_tensor(tmp_path):
    value = cnnlab.arange(12, dtype=cnnlab.float64).reshape(3, 4)
    cnnlab.save(value, tmp_path / "t.pt")
    loaded = cnnlab.load(tmp_path / "t.pt")
    assert isinstance(loaded, cnnlab.Tensor) and loaded.dtype == cnnlab.float64
    np.testing.assert_array_equal(loaded.numpy(), value.numpy())
    # PyTorch reads it as {"tensor": ...}
    assert torch.equal(safetensors.torch.load_file(tmp_path / "t.pt")["tensor"],
                       torch.arange(12, dtype=torch.float64).reshape(3, 4))


def test_save_load_a_state_dict_and_a_training_state(tmp_path):
    model = cnnlab.models.lenet5()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(cnnlab.rand(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    cnnlab.save(model.state_dict(), tmp_path / "sd.pt")
    state = cnnlab.load(tmp_path / "sd.pt")
    assert list(state) == list(model.state_dict())
    everything = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
                  "sizes": (4, 5), "note": None, "nan": float("nan")}
    buffer = io.BytesIO()
    cnnlab.save(everything, buffer)  # a file object, as torch.save allows
    buffer.seek(0)
    loaded = cnnlab.load(buffer, map_location="cpu", weights_only=True)
    assert loaded["epoch"] == 3 and loaded["sizes"] == (4, 5) and loaded["note"] is None
    assert np.isnan(loaded["nan"])
    assert list(loaded["model"]) == list(model.state_dict())
    momentum = optimizer.state_dict()["state"]
    assert list(loaded["optimizer"]["state"]) == list(momentum)  # int keys stay ints
    first = next(iter(momentum))
    for key, value in momentum[first].items():
        got = loaded["optimizer"]["state"][first][key]
        if isinstance(value, (cnnlab.Tensor, np.ndarray)):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(value))
        else:
            assert got == value
    other = cnnlab.models.lenet5()
    other.load_state_dict(loaded["model"])
    other_optimizer = SGD(other.parameters(), lr=0.5)
    other_optimizer.load_state_dict(loaded["optimizer"])
    assert other_optimizer.param_groups[0]["momentum"] == 0.9


CANNOT = {
    "module": (lambda: cnnlab.nn.Linear(2, 2), TypeError,
               r"save: obj is a Linear, which cnnlab.save cannot store without pickle; "
               r"allowed: .*For a model, save model.state_dict\(\)"),
    "set": (lambda: {"a": {1, 2}}, TypeError, r"save: obj\['a'\] is a set, which cannot be "
                                              r"stored without pickle"),
    "object-array": (lambda: [np.array([None, 1], dtype=object)], TypeError,
                     r"save: obj\[0\] has dtype object; safetensors stores bool, integer and "
                     r"floating arrays only"),
    "function": (lambda: {"f": print}, TypeError, r"obj\['f'\] is a builtin_function_or_method"),
    "tuple-key": (lambda: {(1, 2): 3}, TypeError, r"save: obj has key \(1, 2\); keys must be"),
    "string": (lambda: "text", TypeError, r"save: obj is a str"),
}


@pytest.mark.parametrize("make, error, message", CANNOT.values(), ids=CANNOT.keys())
def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path, make, error, message):
    with pytest.raises(error, match=message):
        cnnlab.save(make(), tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_save_weights_refuses_bad_state(tmp_path):
    with pytest.raises(TypeError, match=r"save_weights: state dict keys must be str, got 3"):
        cnnlab.save_weights({3: np.ones(1)}, tmp_path / "w")
    with pytest.raises(TypeError, match=r"save_weights: model_or_state_dict must be a Module "
                                        r"or a dict"):
        cnnlab.save_weights([np.ones(1)], tmp_path / "w")
    with pytest.raises(ValueError, match=r"load: map_location must be None or 'cpu'"):
        cnnlab.load(tmp_path / "w", map_location="cuda:0")


# ------------------------------------------------------------------ checkpoints
def test_safetensors_checkpoint_round_trip_and_opens_in_pytorch(tmp_path):
    ours, theirs, shape = twins("lenet")
    optimizer = SGD(ours.parameters(), lr=0.1, momentum=0.9)
    ours(cnnlab.rand(*shape)).sum().backward()
    optimizer.step()
    path = tmp_path / "run.safetensors"
    rng = cnnlab.get_rng_state()
    checkpoint.save(path, ours.state_dict(), optimizer.state_dict(), epoch=4, rng_state=rng,
                    extra={"loss": 0.5})
    loaded = checkpoint.load(path)
    assert loaded["epoch"] == 4 and loaded["extra"] == {"loss": 0.5}
    assert json.dumps(loaded["rng_state"], default=str) == json.dumps(rng, default=str)
    assert list(loaded["optimizer_state"]["state"]) == list(optimizer.state_dict()["state"])
    # PyTorch: drop cnnlab's extra arrays, then load
    tensors = safetensors.torch.load_file(path)
    assert any(key.startswith(checkpoint.SAFETENSORS_PREFIX) for key in tensors)
    theirs.load_state_dict({k: v for k, v in tensors.items()
                            if not k.startswith(checkpoint.SAFETENSORS_PREFIX)})
    assert_bit_identical(ours.state_dict(), theirs.state_dict())
    same_outputs(ours, theirs, shape)
    # load_weights and cnnlab.load read the model part / the whole checkpoint
    assert list(cnnlab.load_weights(path)) == list(ours.state_dict())
    assert cnnlab.load(path)["epoch"] == 4


def test_old_npz_checkpoint_still_loads_everywhere(tmp_path):
    model = cnnlab.models.lenet5()
    path = tmp_path / "checkpoint.npz"
    checkpoint.save(path, model.state_dict(), epoch=2)
    assert path.read_bytes()[:4] == checkpoint.ZIP_MAGIC
    assert checkpoint.load(path)["epoch"] == 2
    assert cnnlab.load(path)["epoch"] == 2
    with pytest.raises(ValueError, match=r"load_weights: .*checkpoint.npz is a zip archive"):
        cnnlab.load_weights(path)


def test_safetensors_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    checkpoint.save(path, {"w": np.ones(3)}, epoch=1)

    def no_fsync(fd):
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        checkpoint.save(path, {"w": np.zeros(3)}, epoch=2)
    with pytest.raises(OSError, match="fsync failed"):
        cnnlab.save_weights({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


# ------------------------------------------------------------------ hostile files
class MakesDirectory:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (str(self.target),))


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def good_bytes(tmp_path):
    cnnlab.save_weights({"w": np.arange(100.0)}, tmp_path / "good.safetensors")
    return (tmp_path / "good.safetensors").read_bytes()


HOSTILE = {
    "lying-header-length": (lambda good: struct.pack("<Q", 10**9) + good[8:],
                            r"is truncated or corrupt: its header length says 1000000000 bytes"),
    "cut-off": (lambda good: good[:len(good) - 100],
                r"is truncated: its tensors need 800 bytes of data but only 700 are present"),
    "too-short": (lambda good: good[:5], r"is truncated: 5 bytes, shorter than the 8-byte"),
    "empty": (lambda good: b"", r"is truncated: 0 bytes"),
    "header-not-json": (lambda good: struct.pack("<Q", 5) + b"{oops",
                        r"is not a safetensors file: its header is not UTF-8 JSON"),
    "header-a-list": (lambda good: safetensors_bytes([1, 2]),
                      r"its header is a JSON list, not an object"),
    "bad-dtype": (lambda good: safetensors_bytes(
        {"w": {"dtype": "X99", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)),
        r"is not a valid safetensors file: "),
    "overlapping-offsets": (lambda good: safetensors_bytes(
        {"w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)),
        r"is not a valid safetensors file: "),
    "metadata-not-json": (lambda good: safetensors_bytes(
        {"__metadata__": {"cnnlab": "{nope"}}), r"the 'cnnlab' metadata is not JSON"),
    "metadata-a-list": (lambda good: safetensors_bytes(
        {"__metadata__": {"cnnlab": "[1]"}}), r"the 'cnnlab' metadata is a JSON list"),
    "tree-dangling": (lambda good: safetensors_bytes({"__metadata__": {"cnnlab": json.dumps(
        {"format": "cnnlab.save", "version": 1, "kind": "tree",
         "tree": {"dict": [["w", {"array": "missing"}]]}})}}),
        r"malformed metadata at obj\['w'\]"),
    "tensor-smuggled": (lambda good: safetensors_bytes({"__metadata__": {"cnnlab": json.dumps(
        {"format": "cnnlab.save", "version": 1, "kind": "tree", "tree": {"dict": []}})},
        "x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\x01"),
        r"holds tensors \['x'\] that its metadata does not refer to"),
    "newer-version": (lambda good: safetensors_bytes({"__metadata__": {"cnnlab": json.dumps(
        {"format": "cnnlab.save", "version": 9, "kind": "tensor"})}}),
        r"format version 9; this cnnlab reads version 1"),
}


@pytest.mark.parametrize("damage, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_safetensors_are_clear_errors_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(damage(good_bytes(tmp_path)))
    with pytest.raises(ValueError, match=r"load: .*bad\.safetensors(:)? .*" + message):
        cnnlab.load(path)
    with pytest.raises(ValueError, match=r"bad\.safetensors"):
        cnnlab.load_weights(path)


def test_pickle_and_torch_save_files_are_refused_without_running_code(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"w": MakesDirectory(target)}))
    for function in (cnnlab.load, cnnlab.load_weights, checkpoint.load):
        with pytest.raises(ValueError, match=r"model\.pt .*pickle.*never loads"):
            function(path)
    torch_file = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, torch_file)  # a zip with a pickle inside
    with pytest.raises(ValueError, match=r"load_weights: .*torch\.pt is a zip archive"):
        cnnlab.load_weights(torch_file)
    with pytest.raises(ValueError, match=r"checkpoint.load: .*torch\.pt is not a valid cnnlab "
                                         r"checkpoint"):
        cnnlab.load(torch_file)
    pickled_npz = tmp_path / "pickled.npz"
    np.savez(pickled_npz, **{checkpoint.MARKER: np.frombuffer(b"{}", np.uint8),
                             "array_0": np.array([MakesDirectory(target)], dtype=object)})
    with pytest.raises(ValueError, match=r"checkpoint.load: .*pickled\.npz is not a valid "
                                         r"cnnlab checkpoint"):
        cnnlab.load(pickled_npz)
    assert not target.exists()


def test_plain_safetensors_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "w.safetensors"
    cnnlab.save_weights({"w": np.ones(2)}, path)
    with pytest.raises(ValueError, match=r"checkpoint.load: .*w\.safetensors is a safetensors "
                                         r"file without cnnlab checkpoint metadata"):
        checkpoint.load(path)
    cnnlab.save({"a": [np.ones(1)]}, path)
    with pytest.raises(ValueError, match=r"load_weights: .*holds a nested object"):
        cnnlab.load_weights(path)


@pytest.mark.parametrize("suffix", ["pt", "safetensors", "npz"])
def test_zero_dimensional_tensors_keep_their_shape(tmp_path, suffix):
    """A 0-d tensor (BatchNorm's num_batches_tracked, a loss) comes back 0-d: the
    safetensors writer had made it 1-D, and load_state_dict took that silently."""
    model = cnnlab.nn.Sequential(cnnlab.nn.Conv2d(1, 2, 3), cnnlab.nn.BatchNorm2d(2))
    model(cnnlab.randn(2, 1, 5, 5))
    state = dict(model.state_dict(), loss=cnnlab.tensor(0.25))
    cnnlab.save(state, tmp_path / f"s.{suffix}")
    loaded = cnnlab.load(tmp_path / f"s.{suffix}")
    assert {k: tuple(v.shape) for k, v in loaded.items()} == \
        {k: tuple(v.shape) for k, v in state.items()}
    assert tuple(loaded["1.num_batches_tracked"].shape) == ()
    assert loaded["1.num_batches_tracked"].item() == 1


def test_saved_weights_keep_zero_dimensional_shapes_for_pytorch(tmp_path):
    """save_weights of a model with batch norm loads into PyTorch's twin strictly."""
    import safetensors.torch
    model = cnnlab.nn.BatchNorm2d(3)
    model(cnnlab.randn(4, 3, 2, 2))
    cnnlab.save_weights(model, tmp_path / "w.safetensors")
    theirs = torch.nn.BatchNorm2d(3)
    theirs.load_state_dict(safetensors.torch.load_file(tmp_path / "w.safetensors"))
    assert theirs.num_batches_tracked.shape == () and theirs.num_batches_tracked.item() == 1

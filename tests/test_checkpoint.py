"""cnnlab.checkpoint: round trips, atomic writes, and files that must be refused unexecuted."""

import copy
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import zipfile

import numpy as np
import numpy.lib.format
import pytest
import torch  # noqa: F401  (the suite's oracle; its absence must fail the run)

import cnnlab
from cnnlab import checkpoint
from cnnlab.optim import SGD, Adam


def assert_same(actual, expected, where="value"):
    """Equal values AND types, recursively (a tuple is not a list, float32 is not float64)."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    if isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(actual), where
    else:
        assert actual == expected, where


MODEL_STATE = {
    "conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
    "conv.bias": np.array([0.5, -1.25], np.float32),
    "double": np.linspace(0, 1, 7),
    "half": np.array([1.5, 2.0], np.float16),
    "counter": np.array(3, np.int64),
    "mask": np.array([True, False]),
    "empty": np.zeros((0, 3), np.float32),
    "transposed": np.arange(6.0).reshape(2, 3).T,
    "ünïcode/name.with.dots": np.ones(2, np.int32),
}


def test_round_trip_of_every_part(tmp_path):
    path = tmp_path / "run.npz"
    extra = {"loss": 0.125, "history": [1, 2.5, None], "note": "ok", "nested": {"a": True}}
    rng_state = cnnlab.get_rng_state()
    checkpoint.save(path, MODEL_STATE, None, 7, rng_state, extra)
    loaded = checkpoint.load(path)
    assert list(loaded) == ["model_state", "optimizer_state", "epoch", "rng_state", "extra",
                            "version"]
    assert_same(loaded["model_state"], MODEL_STATE, "model_state")
    assert loaded["optimizer_state"] is None and loaded["epoch"] == 7
    assert_same(loaded["rng_state"], rng_state, "rng_state")
    assert_same(loaded["extra"], extra, "extra")
    assert loaded["version"] == checkpoint.VERSION == 1


def test_tensors_and_module_state_dict(tmp_path):
    model = cnnlab.nn.Linear(3, 2)
    checkpoint.save(tmp_path / "m.npz", model.state_dict())
    other = cnnlab.nn.Linear(3, 2)
    assert not np.array_equal(other.weight.detach().numpy(), model.weight.detach().numpy())
    other.load_state_dict(checkpoint.load(tmp_path / "m.npz")["model_state"])
    np.testing.assert_array_equal(other.weight.detach().numpy(), model.weight.detach().numpy())
    np.testing.assert_array_equal(other.bias.detach().numpy(), model.bias.detach().numpy())


def test_extra_is_json_and_defaults(tmp_path):
    checkpoint.save(tmp_path / "c", {"w": np.ones(1)}, extra={"pair": (1, 2), "nan": float("nan")})
    loaded = checkpoint.load(tmp_path / "c")  # no suffix added, none needed
    assert loaded["extra"]["pair"] == [1, 2]  # JSON: tuples come back as lists (documented)
    assert np.isnan(loaded["extra"]["nan"])
    checkpoint.save(tmp_path / "d", {})
    assert checkpoint.load(tmp_path / "d")["extra"] == {}
    assert checkpoint.load(tmp_path / "d")["epoch"] == 0


def train(optimizer, params, steps):
    for step in range(steps):
        optimizer.zero_grad()
        loss = sum(((p * p) * (step + 1)).sum() + p.sum() for p in params)
        loss.backward()
        optimizer.step()


OPTIMIZERS = {
    "sgd-momentum-nesterov": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                            weight_decay=1e-3),
    "adam-amsgrad-groups": lambda ps: Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 1e-2}],
                                           lr=1e-3, betas=(0.8, 0.99), amsgrad=True),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_resuming_from_a_checkpoint_equals_uninterrupted_training(tmp_path, make):
    def fresh():
        cnnlab.manual_seed(0)
        return [cnnlab.randn(3, 4, requires_grad=True), cnnlab.randn(4, requires_grad=True)]

    params = fresh()
    optimizer = make(params)
    train(optimizer, params, 3)
    state = copy.deepcopy(optimizer.state_dict())  # state_dict shares the live arrays
    checkpoint.save(tmp_path / "c.npz", {"w": params[0], "b": params[1]}, state, 3,
                    cnnlab.get_rng_state())
    train(optimizer, params, 2)
    noise = cnnlab.randn(5)

    loaded = checkpoint.load(tmp_path / "c.npz")
    assert_same(loaded["optimizer_state"], state, "optimizer_state")
    assert isinstance(loaded["optimizer_state"]["param_groups"][0]["params"][0], int)
    resumed = fresh()
    for param, name in zip(resumed, ("w", "b")):
        param.array[...] = loaded["model_state"][name]
    optimizer = make(resumed)
    optimizer.load_state_dict(loaded["optimizer_state"])
    cnnlab.set_rng_state(loaded["rng_state"])
    train(optimizer, resumed, 2)
    for a, b in zip(resumed, params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    np.testing.assert_array_equal(cnnlab.randn(5).numpy(), noise.numpy())


def test_rng_state_with_arrays_and_big_ints(tmp_path):
    state = np.random.MT19937(5).state  # holds a uint32 key array
    pcg = np.random.PCG64(2**100).state  # holds ints beyond 64 bits
    checkpoint.save(tmp_path / "c", {}, rng_state={"mt": state, "pcg": pcg})
    loaded = checkpoint.load(tmp_path / "c")["rng_state"]
    assert_same(loaded["mt"], state)
    assert loaded["pcg"]["state"]["state"] > 2**64
    generator = np.random.MT19937()
    generator.state = loaded["mt"]
    assert generator.random_raw() == np.random.MT19937(5).random_raw()


SAVE_ERRORS = {
    "object-array": (dict(model_state={"w": np.array([None, 1])}), TypeError,
                     r"checkpoint.save: model_state\['w'\] is an array of Python objects"),
    "list-param": (dict(model_state={"w": [1.0]}), TypeError,
                   r"model_state\['w'\] must be a Tensor or a NumPy array, got list"),
    "not-a-dict": (dict(model_state=[1]), TypeError, r"model_state must be a dict"),
    "int-key": (dict(model_state={1: np.ones(1)}), TypeError, r"model_state keys must be str"),
    "epoch": (dict(model_state={}, epoch=1.5), TypeError, r"epoch must be an int, got 1.5"),
    "extra-set": (dict(model_state={}, extra={"s": {1}}), TypeError,
                  r"extra must be JSON-serialisable: Object of type set"),
    "optimizer-set": (dict(model_state={}, optimizer_state={"state": {0: {"x": {1}}}}), TypeError,
                      r"optimizer_state\['state'\]\[0\]\['x'\] is a set"),
    "tuple-key": (dict(model_state={}, rng_state={(1, 2): 3}), TypeError,
                  r"rng_state has key \(1, 2\); keys must be str, int, bool or None"),
}


@pytest.mark.parametrize("kwargs, error, message", SAVE_ERRORS.values(), ids=SAVE_ERRORS.keys())
def test_save_rejects_what_it_cannot_store_and_writes_nothing(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        checkpoint.save(tmp_path / "c.npz", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_file_mode_follows_umask(tmp_path):
    checkpoint.save(tmp_path / "c.npz", {})
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "c.npz").st_mode) == 0o666 & ~umask


# ------------------------------------------------------------------ atomicity
OLD = {"weight": np.full((20, 20), 1.0), "bias": np.full(20, 1.0)}
NEW = {"weight": np.full((20, 20), 2.0), "bias": np.full(20, 2.0)}


def test_error_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, OLD, epoch=1)
    original = numpy.lib.format.write_array
    calls = []

    def fail_on_second_array(fp, array, *args, **kwargs):
        calls.append(array.shape)
        if len(calls) == 3:  # marker, weight, then bias
            fp.write(b"half an array")
            raise OSError("disk full (simulated)")
        return original(fp, array, *args, **kwargs)

    monkeypatch.setattr(numpy.lib.format, "write_array", fail_on_second_array)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, NEW, epoch=2)
    assert len(calls) == 3
    monkeypatch.undo()
    loaded = checkpoint.load(path)
    assert loaded["epoch"] == 1
    assert_same(loaded["model_state"], OLD)
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left


def test_error_before_rename_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    checkpoint.save(path, OLD, epoch=1)

    def no_fsync(fd):
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        checkpoint.save(path, NEW, epoch=2)
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


CHILD = r"""
import sys, time
import numpy as np, numpy.lib.format
from cnnlab import checkpoint
original = numpy.lib.format.write_array
calls = []
def stall(fp, array, *args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        fp.write(b"half an array")
        fp.flush()
        print("WRITING", flush=True)
        time.sleep(60)
    return original(fp, array, *args, **kwargs)
numpy.lib.format.write_array = stall
checkpoint.save(sys.argv[1], {"weight": np.full((20, 20), 2.0), "bias": np.full(20, 2.0)}, epoch=2)
"""


def test_killed_process_mid_save_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, OLD, epoch=1)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline() == "WRITING\n"
        temporary = [p for p in tmp_path.iterdir() if p.name != "c.npz"]
        assert len(temporary) == 1 and temporary[0].name.startswith(".c.npz.")
        assert temporary[0].stat().st_size > 0  # the child really was mid-write
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    loaded = checkpoint.load(path)
    assert loaded["epoch"] == 1
    assert_same(loaded["model_state"], OLD)


# ------------------------------------------------------------------ hostile and broken files
class MakesDirectory:
    """Unpickling this creates a directory: the code a hostile file would run."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def write_npz(path, entries):
    """An .npz written member by member with np.save(allow_pickle=True), as an attacker would."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in entries.items():
            with archive.open(name + ".npy", "w") as member:
                np.save(member, value, allow_pickle=True)


def marker(**overrides):
    metadata = {"format": checkpoint.FORMAT, "version": 1, "epoch": 0,
                "model": [["w", {"array": "array_0"}]], "optimizer": None, "rng_state": None,
                "extra": {}}
    metadata.update(overrides)
    return np.frombuffer(json.dumps(metadata).encode(), np.uint8)


def evil_array(target):
    payload = np.empty(1, dtype=object)
    payload[0] = MakesDirectory(target)
    return payload


def test_the_hostile_payload_is_real(tmp_path):
    """The payload below does run code when unpickled: so the refusals that follow count."""
    target = tmp_path / "pwned"
    write_npz(tmp_path / "evil.npz", {"array_0": evil_array(target)})
    with np.load(tmp_path / "evil.npz", allow_pickle=True) as archive:
        archive["array_0"]
    assert target.exists()


HOSTILE = {
    "referenced-object-array": lambda target: {checkpoint.MARKER: marker(),
                                                "array_0": evil_array(target)},
    "unreferenced-object-array": lambda target: {checkpoint.MARKER: marker(),
                                                  "array_0": np.ones(2),
                                                  "array_1": evil_array(target)},
    "object-marker": lambda target: {checkpoint.MARKER: evil_array(target)},
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_pickle_bearing_npz_is_refused_without_running_code(tmp_path, make):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    write_npz(path, make(target))
    with pytest.raises(ValueError, match=r"checkpoint.load: .*evil.npz is not a valid cnnlab "
                       r"checkpoint: .*Object arrays cannot be loaded when allow_pickle=False"):
        checkpoint.load(path)
    assert not target.exists()


def test_pickle_file_is_refused_without_running_code(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"w": MakesDirectory(target)}))
    with pytest.raises(ValueError, match=r"model.pt is not a cnnlab checkpoint: not a NumPy .npz "
                       r"\(zip\) archive nor a safetensors file \(it looks like a pickle, "
                       r"which cnnlab never loads\)"):
        checkpoint.load(path)
    assert not target.exists()


def corrupt_middle(content):
    middle = len(content) // 2
    return content[:middle] + bytes(b ^ 0xFF for b in content[middle:middle + 16]) + \
        content[middle + 16:]


BROKEN = {
    "random-bytes": (lambda good: np.random.default_rng(0).bytes(500),
                     r"is not a cnnlab checkpoint: not a NumPy .npz \(zip\) archive nor a safetensors file$"),
    "empty": (lambda good: b"", r"is not a cnnlab checkpoint: not a NumPy .npz \(zip\) archive"),
    "zip-magic-then-noise": (lambda good: b"PK\x03\x04" + np.random.default_rng(1).bytes(500),
                             r"is truncated or corrupt: File is not a zip file"),
    "truncated": (lambda good: good[: len(good) // 2],
                  r"is truncated or corrupt: File is not a zip file"),
    "truncated-end": (lambda good: good[:-10], r"is truncated or corrupt: "),
    "flipped-bytes": (corrupt_middle,
                      r"is truncated or corrupt: Bad CRC-32 for file 'array_0.npy'"),
    "npy-not-npz": (lambda good: b"\x93NUMPY" + good[6:],
                    r"is not a cnnlab checkpoint: not a NumPy .npz \(zip\) archive"),
}


@pytest.mark.parametrize("damage, message", BROKEN.values(), ids=BROKEN.keys())
def test_broken_files_are_clear_errors_naming_the_file(tmp_path, damage, message):
    good = tmp_path / "good.npz"
    checkpoint.save(good, {"w": np.arange(4000.0)}, epoch=1)
    path = tmp_path / "bad.npz"
    path.write_bytes(damage(good.read_bytes()))
    with pytest.raises(ValueError, match=r"checkpoint.load: " + str(path).replace(".", r"\.")
                       + " " + message):
        checkpoint.load(path)


FOREIGN = {
    "plain-npz": ({"weights": np.ones(3)}, r"no __cnnlab_checkpoint__ entry: a NumPy .npz "
                                            r"archive, but not a cnnlab checkpoint"),
    "marker-not-bytes": ({checkpoint.MARKER: np.ones(3)},
                         r"the __cnnlab_checkpoint__ entry is float64 of shape \(3,\), expected "
                         r"uint8 JSON bytes"),
    "marker-not-json": ({checkpoint.MARKER: np.frombuffer(b"{oops", np.uint8)}, r"Expecting"),
    "other-format": ({checkpoint.MARKER: marker(format="something-else"), "array_0": np.ones(1)},
                     r"the __cnnlab_checkpoint__ entry does not announce the "
                     r"'cnnlab-checkpoint' format"),
    "newer-version": ({checkpoint.MARKER: marker(version=2), "array_0": np.ones(1)},
                      r"format version 2; this cnnlab reads version 1"),
    "dangling-reference": ({checkpoint.MARKER: marker()},
                           r"malformed metadata at model_state\['w'\]"),
    "unexpected-entry": ({checkpoint.MARKER: marker(), "array_0": np.ones(1),
                          "smuggled": np.ones(1)},
                         r"unexpected entries \['smuggled'\] that the metadata does not refer to"),
    "model-not-array": ({checkpoint.MARKER: marker(model=[["w", 3]])},
                        r"model_state\['w'\] is not an array reference"),
    "bad-tag": ({checkpoint.MARKER: marker(optimizer={"set": [1]}), "array_0": np.ones(1)},
                r"malformed metadata at optimizer_state"),
}


@pytest.mark.parametrize("entries, message", FOREIGN.values(), ids=FOREIGN.keys())
def test_foreign_npz_is_refused(tmp_path, entries, message):
    path = tmp_path / "foreign.npz"
    np.savez(path, **entries)
    with pytest.raises(ValueError, match=r"checkpoint.load: .*foreign.npz is not a valid cnnlab "
                       r"checkpoint: " + message):
        checkpoint.load(path)


def test_member_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, **{checkpoint.MARKER: marker()})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("array_0", b"raw bytes, which np.load would hand back as bytes")
    with pytest.raises(ValueError, match=r"foreign.npz is not a valid cnnlab checkpoint: entry "
                       r"'array_0' is not a NumPy .npy array"):
        checkpoint.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "nothing.npz")

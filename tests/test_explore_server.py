"""``cnnlab explore``'s server and computations, without a browser: the answers against
cnnlab's own forward and PyTorch's gradients, uploads, and 200+ malformed requests."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab import nn, training
from cnnlab.data import MNIST, to_tensor
from cnnlab.explore import Explorer
from cnnlab.explore import server as server_module
from cnnlab.models import lenet5

from explore_helpers import RunningServer

from PIL import Image as PIL


@pytest.fixture(scope="module")
def lenet():
    cnnlab.manual_seed(0)
    return lenet5().eval(), {"classes": MNIST.classes, "normalize": list(MNIST.normalize)}


@pytest.fixture(scope="module")
def running(lenet):
    server = RunningServer(*lenet)
    yield server
    server.close()


@pytest.fixture
def digit():
    rng = np.random.default_rng(1)
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = rng.integers(150, 256, (16, 4))
    return image


def call(server, method, path, body=None, headers=None):
    """``(status, parsed JSON or raw bytes)`` of one request on a fresh connection."""
    host, port = server.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        if method == "HEAD" or not kind.startswith("application/json"):
            return response.status, data
        return response.status, json.loads(data)
    finally:
        connection.close()


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# ------------------------------------------------------------ the answers


def test_analyse_matches_forward(running, lenet, digit):
    model, run = lenet
    status, answer = call(running, "POST", "/api/analyse", {"digit": digit.ravel().tolist()})
    assert status == 200
    x = to_tensor(digit[None], tuple(run["normalize"]))
    with cnnlab.no_grad():
        for layer, shown in zip(model.children(), answer["layers"][1:]):
            x = layer(x)
            values = np.array(shown.get("maps", shown.get("vector")))
            np.testing.assert_allclose(values, x.numpy()[0], rtol=1e-5, atol=1e-6)
    logits = x.numpy()[0].astype(np.float64)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-5)
    assert answer["prediction"] == int(expected.argmax())
    assert [layer["name"] for layer in answer["layers"]] == [
        "input", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1",
        "relu3", "fc2", "relu4", "fc3"]


def test_every_unit_arithmetic_matches_the_layer():
    """Strides, per-side padding, dilation, groups, both poolings: each unit's spelled-out
    sum equals the layer's own output."""
    cnnlab.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=(1, 2), dilation=2), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.MaxPool2d(3, 2, 1),
                          nn.AvgPool2d(2, padding=1), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    explorer = Explorer(model, [str(k) for k in range(10)], (0.5, 0.25))
    digit = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    outputs = explorer.analyse(digit)["layers"]
    checked, expected_count = 0, 0
    for index in (1, 2, 3, 4, 5):
        maps = np.array(outputs[index]["maps"])
        expected_count += maps.size
        for channel, row, col in np.ndindex(*maps.shape):
            answer = explorer.neuron(digit, {"layer": index, "channel": channel, "row": row,
                                             "col": col})
            value = answer.get("result", answer.get("value"))
            assert abs(value - maps[channel, row, col]) <= 1e-5 * max(1, abs(value))
            assert abs(answer["value"] - maps[channel, row, col]) <= 1e-5 * max(1, abs(value))
            checked += 1
    assert checked == expected_count == 4 * (13 * 14 * 3 + 7 * 7 + 4 * 4)


def test_conv_neuron_spells_out_padding_and_activation(lenet, digit):
    model, run = lenet
    explorer = Explorer(model, run["classes"], run["normalize"])
    answer = explorer.neuron(digit, {"layer": 1, "channel": 2, "row": 0, "col": 0})
    assert answer["kind"] == "conv" and answer["padding"] == [[2, 2], [2, 2]]
    channel = answer["channels"][0]
    assert channel["rows"] == [-2, -1, 0, 1, 2] and channel["cols"] == [-2, -1, 0, 1, 2]
    assert channel["window"][0] == [0.0] * 5  # the padding reads 0
    weight = model[0].weight.detach().numpy()[2, 0].astype(np.float64)
    assert channel["kernel"] == [[float(f"{v:.6g}") for v in line] for line in weight]
    assert answer["activation"]["function"] == "ReLU"
    assert answer["activation"]["value"] == pytest.approx(max(0.0, answer["result"]), abs=1e-5)


def test_fields_follow_cnnlab_receptive(lenet, digit):
    model, run = lenet
    explorer = Explorer(model, run["classes"], run["normalize"])
    answer = explorer.neuron(digit, {"layer": 6, "channel": 0, "row": 4, "col": 0})  # pool2
    spans = {field["name"]: field for field in answer["fields"]}
    # pool2's field: size 16, jump 4, start 5.5; unit (4, 0) sees input rows
    # 5.5 + 16 -+ 7.5 = 14..29 (clipped to 27) and columns -2..13 (clipped to 0)
    assert (spans["input"]["top"], spans["input"]["bottom"]) == (14, 27)
    assert (spans["input"]["left"], spans["input"]["right"]) == (0, 13)
    assert spans["input"]["size"] == [16, 16] and spans["input"]["jump"] == [4, 4]
    assert (spans["conv2"]["top"], spans["conv2"]["bottom"]) == (8, 9)
    assert (spans["pool1"]["top"], spans["pool1"]["bottom"]) == (8, 13)


def test_saliency_matches_torch(lenet, digit):
    model, run = lenet
    explorer = Explorer(model, run["classes"], run["normalize"])
    unit = {"layer": 4, "channel": 5, "row": 3, "col": 6}
    for request in ({"class": 7}, unit):
        answer = explorer.saliency(digit, request)
        twin = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
            torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10)).double()
        twin.load_state_dict({k: torch.tensor(v.numpy().astype(np.float64))
                              for k, v in model.state_dict().items()})
        x = torch.tensor(to_tensor(digit[None], tuple(run["normalize"])).numpy()
                         .astype(np.float64), requires_grad=True)
        if "class" in request:
            twin(x)[0, 7].backward()
        else:
            twin[:4](x)[0, 5, 3, 6].backward()
        expected = x.grad.numpy()[0, 0] / run["normalize"][1]
        got = np.array(answer["gradient"])
        scale = np.abs(expected).max()
        assert scale > 0
        np.testing.assert_allclose(got, expected, atol=2e-4 * scale, rtol=2e-3)
        if "class" not in request:  # zero outside the receptive field (rows 4..17)
            assert np.all(got[:4] == 0) and np.all(got[18:] == 0)
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------ uploads


def test_transparent_png_with_dark_digit_is_read(running):
    rgba = np.zeros((56, 56, 4), np.uint8)  # transparent black background
    rgba[10:46, 26:30] = (20, 20, 20, 255)  # an opaque dark stroke
    status, answer = call(running, "POST", "/api/image", png_bytes(PIL.fromarray(rgba)))
    assert status == 200
    digit = np.array(answer["digit"]).reshape(28, 28)
    assert digit[5:23, 13:15].min() > 150 and digit[:, :8].max() == 0  # light on dark
    assert answer["notes"] == ["inverted (dark on light)", "resized from 56x56"]


@pytest.mark.parametrize("name,body,fragment", [
    ("empty", b"", "the upload is empty"),
    ("text", b"hello, not an image", "not an image in a known format (PNG, JPEG)"),
    ("truncated", None, "cannot be decoded"),
    ("gif", None, "not an image in a known format"),
    ("bomb", None, "at most 16,777,216 pixels"),
])
def test_bad_uploads_get_clear_messages(running, name, body, fragment):
    if name == "truncated":
        body = png_bytes(PIL.fromarray(np.full((64, 64), 200, np.uint8)))[:-40]
    elif name == "gif":
        buffer = io.BytesIO()
        PIL.new("L", (8, 8)).save(buffer, "GIF")
        body = buffer.getvalue()
    elif name == "bomb":
        body = png_bytes(PIL.new("1", (5000, 5000)))  # small file, 25M pixels
        assert len(body) < 100_000
    status, answer = call(running, "POST", "/api/image", body)
    assert status == 400 and fragment in answer["error"], answer


# ------------------------------------------------------------ robustness


def malformed_requests():
    """215 requests a browser would never send: bad paths, bad JSON, huge bodies."""
    paths = ["/../../etc/passwd", "/static/../lab.py", "/static/../../cli/explore.py",
             "/%2e%2e/%2e%2e/etc/passwd", "/static/%2e%2e/server.py", "//etc/passwd",
             "/static/", "/static/index.html/..", "/static/./explore.js", "/api", "/api/",
             "/static/explore.js%00.png", "/" + "a" * 5000, "/static/\\..\\server.py",
             "/api/info/../../x", "/static/EXPLORE.JS", "/api/test?index=x",
             "/api/test?index=-1", "/api/test?index=99999999999999999999", "/api/test",
             "/favicon.ico", "/static/explore.js/", "/index.htm", "/api/shape"]
    rng = np.random.default_rng(0)
    pieces = ["..", "%2e%2e", "%2f", "static", "api", ".", "~", "%00", "etc", "passwd",
              "explore.js", "index.html", "\\", "%5c", "lab.py", "..;", "%252e"]
    served = {"/", "/index.html", "/api/info"} | {f"/static/{n}" for n in server_module.STATIC}
    random_paths = ["/" + "/".join(rng.choice(pieces, size=int(rng.integers(1, 7))))
                    for _ in range(40)]
    paths += [path for path in random_paths if path not in served][:30]
    requests = [("GET", path, None, {}) for path in paths]
    requests += [("HEAD", path, None, {}) for path in paths[:6]]
    requests += [(method, "/", b"", {"Content-Length": "0"})
                 for method in ("PUT", "DELETE", "PATCH", "OPTIONS")]
    bad_json = [b"", b"{", b"[]", b"null", b"42", b'"digit"', b"\xff\xfe", b"{'a': 1}",
                b'{"digit": null}', b'{"digit": "abc"}', b'{"digit": [1, 2, 3]}',
                b'{"digit": ' + json.dumps([256] * 784).encode() + b"}",
                b'{"digit": ' + json.dumps([-1] * 784).encode() + b"}",
                b'{"digit": ' + json.dumps([0.5] * 784).encode() + b"}",
                b'{"digit": ' + json.dumps([True] * 784).encode() + b"}",
                b'{"digit": ' + json.dumps([[0] * 28] * 28).encode() + b"}",
                b"[" * 5000 + b"]" * 5000, b'{"a": ' + b"1" * 6000 + b"}",
                b'{"digit": NaN}', b'{"digit": Infinity}']
    zeros = [0] * 784
    bad_units = [{"layer": "1"}, {"layer": 99, "channel": 0, "row": 0, "col": 0},
                 {"layer": -1, "channel": 0, "row": 0, "col": 0},
                 {"layer": 1, "channel": 6, "row": 0, "col": 0},
                 {"layer": 1, "channel": 0, "row": 28, "col": 0},
                 {"layer": 1, "channel": 0, "row": 0, "col": -1},
                 {"layer": 8, "channel": 0, "row": 0, "col": 0},
                 {"layer": 1.5, "channel": 0, "row": 0, "col": 0},
                 {"layer": True, "channel": 0, "row": 0, "col": 0}, {}]
    for route in ("/api/analyse", "/api/neuron", "/api/saliency", "/api/shape"):
        requests += [("POST", route, body, {}) for body in bad_json]
    for route in ("/api/neuron", "/api/saliency"):
        requests += [("POST", route, json.dumps({"digit": zeros, **unit}).encode(), {})
                     for unit in bad_units]
    requests += [("POST", "/api/saliency", json.dumps({"digit": zeros, "class": c}).encode(),
                  {}) for c in (-1, 10, "3", None, 2.0)]
    bad_shapes = [{"input": "0"}, {"input": "100"}, {"input": "8", "kernel": "x"},
                  {"input": "8", "kernel": "3", "padding": "1,2,3"},
                  {"input": "8", "kernel": "99"}, {"input": "8", "kernel": "3", "stride": "0"},
                  {"input": "8", "kernel": "3", "operation": "sum"},
                  {"input": "8", "kernel": "3", "padding": "-1"},
                  {"input": "8", "kernel": "3", "dilation": "1000000000"},
                  {"input": ["8"], "kernel": {"a": 1}}]
    requests += [("POST", "/api/shape", json.dumps(shape).encode(), {}) for shape in bad_shapes]
    for route in ("/api/image", "/api/analyse", "/api/shape", "/nowhere"):
        requests += [("POST", route, None, {"Content-Length": str(size)})
                     for size in (10**9, 2**63, 3 * 1024 * 1024)]
        requests += [("POST", route, None, {"Content-Length": text})
                     for text in ("-5", "abc", "1e3")]
        requests += [("POST", route, None, {})]  # no Content-Length at all
    requests += [("POST", "/api/image", bytes(range(256)) * 40, {}) for _ in range(3)]
    requests += [("POST", "/api/image", b"\x89PNG\r\n\x1a\n" + os.urandom(n), {})
                 for n in (0, 10, 100, 1000)]
    requests += [("POST", "/api/analyse", b"x" * (64 * 1024 + 1), {})]
    return requests


def test_server_survives_malformed_requests(running, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    package = Path(server_module.__file__).parent

    def snapshot():
        return {str(p): p.stat().st_mtime_ns for root in (tmp_path, package)
                for p in root.rglob("*") if "__pycache__" not in p.parts}

    before = snapshot()
    requests = malformed_requests()
    assert len(requests) >= 200
    for method, path, body, headers in requests:
        status, answer = call(running, method, path, body, headers)
        # the playground answers cnnlab's own error for a bad layer with 200
        assert 400 <= status < 500 or (path == "/api/shape" and status == 200), (
            method, path[:60], body and body[:60], status, answer)
        if method != "HEAD":
            assert isinstance(answer, dict) and answer["error"], (path, answer)
            assert "Traceback" not in answer["error"] and "internal" not in answer["error"]
    # the server still answers, wrote nothing, and printed nothing
    status, info = call(running, "GET", "/api/info")
    assert status == 200 and len(info["classes"]) == 10
    assert call(running, "GET", "/static/explore.js")[0] == 200
    assert snapshot() == before
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_static_files_only_from_the_table(running):
    for name in ("index.html", "explore.js", "explore.css"):
        status, body = call(running, "GET", f"/static/{name}")
        assert status == 200 and body == server_module.static_file(name)
    status, body = call(running, "GET", "/")
    assert status == 200 and b"cnnlab explore" in body
    for text in (b"http://", b"https://", b"//cdn"):  # works offline: nothing from outside
        for name in ("index.html", "explore.js", "explore.css"):
            assert text not in server_module.static_file(name).replace(b"http://127", b"")


def test_ctrl_c_stops_cleanly(tmp_path, lenet):
    model, _ = lenet
    path = tmp_path / "checkpoint.npz"
    metadata = {"model": "lenet", "dataset": "mnist", "classes": MNIST.classes,
                "normalize": list(MNIST.normalize), "arguments": {}}
    training.save_checkpoint(path, model, None, 1, metadata=metadata)
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnlab", "explore", "--model", str(path), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        assert line.startswith("cnnlab explore: open http://127.0.0.1:"), line
        url = line.split()[3]
        host, port = url[len("http://"):].rstrip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/api/info")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and err.strip() == "cnnlab explore: stopped"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]

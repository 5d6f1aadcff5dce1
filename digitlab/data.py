"""MNIST-format splits as whole uint8 tensors: from a folder, a download, or the shipped sample."""

from __future__ import annotations

import gzip
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

LABELS = [str(d) for d in range(10)]
MEAN, STD = 0.1307, 0.3081  # MNIST train pixel statistics, ink = 1
SAMPLE_PATH = Path(__file__).parent / "sample" / "mnist_sample.npz"
CACHE_DIR = Path(os.environ.get("DIGITLAB_CACHE", Path.home() / ".cache" / "digitlab"))
DATA_ENV = "DIGITLAB_DATA_DIR"
SOURCES = ("auto", "sample", "download")  # or a folder path
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class Digits:
    """Both splits in memory: images (N, 28, 28) uint8 with ink high, labels (N,) int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    name: str  # "mnist" or "sample": logs always say which one trained a model

    def __str__(self) -> str:
        return f"{self.name} ({len(self.train_labels)} train / {len(self.test_labels)} test)"


def read_idx(path: Path) -> np.ndarray:
    """Read one idx file (raw or .gz) into a numpy array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} holds {data.size} bytes, its header says {shape}")
    return data.reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """Find `stem` in `folder` (or its MNIST/raw subfolder), gzipped or not."""
    for sub in (folder, folder / "MNIST" / "raw", folder / "raw"):
        for name in (stem, stem + ".gz"):
            if (sub / name).is_file():
                return sub / name
    raise FileNotFoundError(f"no {stem}[.gz] in {folder}")


def load_folder(folder: str | Path) -> Digits:
    """Load the four standard MNIST idx files from a folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    arrays = {}
    for split, (images, labels) in SPLIT_FILES.items():
        x, y = read_idx(find_idx(folder, images)), read_idx(find_idx(folder, labels))
        if x.ndim != 3 or len(x) != len(y):
            raise ValueError(f"{folder}: {split} images {x.shape} do not match labels {y.shape}")
        arrays[split] = (torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64)))
    return Digits(*arrays["train"], *arrays["test"], name="mnist")


def load_sample() -> Digits:
    """The small real MNIST sample shipped in the package (tests, offline fallback)."""
    with np.load(SAMPLE_PATH) as z:
        t = {k: torch.from_numpy(z[k].astype(np.int64 if "labels" in k else np.uint8)) for k in z.files}
    return Digits(t["train_images"], t["train_labels"], t["test_images"], t["test_labels"], name="sample")


def download(root: Path = CACHE_DIR / "mnist", timeout: float = 10.0) -> Digits:
    """Fetch MNIST with torchvision into `root` (once), then load it from there."""
    from torchvision.datasets import MNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # no route to the internet should fail fast, not hang
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    finally:
        socket.setdefaulttimeout(previous)
    return load_folder(root)


def load_digits(source: str | Path | None = "auto") -> Digits:
    """Resolve a data source: a folder, "sample", "download", or "auto".

    "auto" tries $DIGITLAB_DATA_DIR, then the download cache / a download, and falls
    back to the shipped sample (announced in the log) when offline.
    """
    source = str(source or "auto")
    if source == "sample":
        return load_sample()
    if source == "download":
        return download()
    if source != "auto":
        return load_folder(source)
    if os.environ.get(DATA_ENV):
        return load_folder(os.environ[DATA_ENV])
    try:
        return download()
    except Exception as err:  # offline or blocked: the sample keeps the lab usable
        log.warning("MNIST download failed (%s); using the shipped sample", err)
        return load_sample()

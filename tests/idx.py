"""Write MNIST idx files, so tests can build data folders from the shipped sample."""

import gzip
from pathlib import Path

import numpy as np

from digitlab.data import SPLIT_FILES, Digits


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist_folder(digits: Digits, folder: Path, gz: bool = True) -> Path:
    """The four standard files of `digits` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, (images, labels) in SPLIT_FILES.items():
        write_idx(folder / (images + suffix), getattr(digits, f"{split}_images").numpy())
        write_idx(folder / (labels + suffix), getattr(digits, f"{split}_labels").numpy())
    return folder

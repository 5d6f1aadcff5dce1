"""Write idx files (MNIST, Fashion-MNIST), so tests can build data folders from the shipped samples."""

import gzip
from pathlib import Path

import numpy as np

from digitlab.data.dataset import Dataset
from digitlab.data.formats import SPLIT_FILES


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_mnist_folder(data: Dataset, folder: Path, gz: bool = True) -> Path:
    """The four standard files of a grey 28 px dataset in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, (images, labels) in SPLIT_FILES.items():
        write_idx(folder / (images + suffix), getattr(data, f"{split}_images")[:, 0].numpy())
        write_idx(folder / (labels + suffix), getattr(data, f"{split}_labels").numpy())
    return folder

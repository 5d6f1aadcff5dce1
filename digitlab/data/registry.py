"""Datasets by name -> Dataset: a folder or archive, the shipped sample, a download, or "auto".

Built in: `mnist`, `fashion-mnist` (idx files), `chinese-mnist` (a folder of JPGs with the label
in the file name, split by writer), `cifar10` (its binary distribution or an image folder; never
the pickled one), each from a local folder (or .tar.gz), a standard download where one exists,
or the small real sample shipped in digitlab/data/sample/. Your own images: a folder (or zip) with one
subfolder per class, as torchvision's ImageFolder reads it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from digitlab.data.cache import cached
from digitlab.data.dataset import DataError, Dataset, from_arrays
from digitlab.data.download import DOWNLOADS, fetch_dataset
from digitlab.data.formats import LOADERS, load_image_folder, read_class_folders
from digitlab.data.specs import SPECS
from digitlab.note import note

log = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"
DATA_ENV = "DIGITLAB_DATA_DIR"  # a dataset's folder, or a folder of them (mnist/, fashion_mnist/, ...)
SOURCES = ("auto", "sample", "download")  # or a folder / archive path
OWN = "folder"  # the dataset name for your own images


DATASETS = tuple(SPECS) + (OWN,)


SHARED_NAMES = {"mnist": "mnist", "fashion-mnist": "fashion_mnist", "chinese-mnist": "chinese_mnist",
                "cifar10": "cifar10"}  # subfolder names in a folder of datasets (../shared/data)


def load_dataset(name: str = "mnist", source: str | Path | None = "auto", **own) -> Dataset:
    """A dataset by name from `source`: a folder or archive, "sample", "download" or "auto".

    "auto" tries $DIGITLAB_DATA_DIR, then the download cache / a download (where a standard one
    exists), and falls back to the shipped sample, saying why in `notes`. `own` passes the view
    and size to load_image_folder for name "folder".
    """
    source = str(source or "auto")
    if name == OWN:
        if source in SOURCES:
            raise DataError("Your own images need a folder (or zip) with one subfolder of images per class.")
        return load_image_folder(source, **own)
    if name not in SPECS:
        raise DataError(f"unknown dataset {name!r}; choose from {list(DATASETS)}")
    if source == "sample":
        return load_sample(name)
    if source == "download":
        return download(name)
    if source != "auto":
        return load_from_folder(name, Path(source).expanduser())
    env = os.environ.get(DATA_ENV)
    if env:
        folder = Path(env).expanduser()
        return load_from_folder(name, folder / SHARED_NAMES[name] if (folder / SHARED_NAMES[name]).exists() else folder)
    if name not in DOWNLOADS:
        data = load_sample(name)
        data.notes.append(note("data.no_download", "{name} has no standard download: this is the shipped sample. Give "
                               "a folder of the full data (or set $DIGITLAB_DATA_DIR) to use all of it.", name=name))
        return data
    try:
        return download(name)
    except DataError as err:  # offline or blocked: the sample keeps the lab usable (the note says it once)
        log.info("%s", err)
        data = load_sample(name)
        data.notes.append(note("data.offline", "{err} Using the shipped sample instead ({train:,} training and "
                               "{test:,} test images).", err=str(err), name=name, train=len(data.train_labels),
                               test=len(data.test_labels)))
        return data


def download(name: str, root: Path | None = None) -> Dataset:
    """A built-in dataset from its standard download (fetched into the cache once)."""
    data = load_from_folder(name, fetch_dataset(name, root))
    data.source = "download"
    return data


def load_from_folder(name: str, path: Path) -> Dataset:
    """A built-in dataset from its folder (or a .tar.gz / .zip of it)."""
    if not path.exists():
        raise DataError(f"The data folder {path} does not exist.")
    return cached(name, path, lambda: LOADERS[name](path))


def sample_path(name: str) -> Path:
    return SAMPLE_DIR / f"{name.replace('-', '_')}_sample.npz"


def load_sample(name: str = "mnist") -> Dataset:
    """The small real sample of a built-in dataset shipped in the package (tests, offline use)."""
    if name not in SPECS:
        raise DataError(f"unknown dataset {name!r}; choose from {list(SPECS)}")
    path = sample_path(name)
    if not path.is_file() and path.with_suffix(".zip").is_file():  # photos ship as JPEGs in class folders
        data = read_class_folders(path.with_suffix(".zip"), SPECS[name], required_split=True)
        data.source = "sample"
        return data
    with np.load(path) as arrays:
        return from_arrays(arrays, SPECS[name], "sample")

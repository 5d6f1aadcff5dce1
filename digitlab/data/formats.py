"""The files datasets come in -> Dataset: idx files (MNIST, Fashion-MNIST), Chinese MNIST's named JPGs,
CIFAR-10's binary batches, and class folders (yours, or CIFAR-10 as images).

Images are stored as their views (digitlab.vision.views): what a model of that spec reads, so training
data and a user's image go through the same recipe.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from digitlab.data.archives import archive_listing, archive_members
from digitlab.data.dataset import DataError, Dataset, from_arrays
from digitlab.data.negatives import OWN_FOLDER, with_own
from digitlab.data.specs import SPECS, glyph_spec
from digitlab.note import note
from digitlab.spec import DatasetSpec
from digitlab.vision.imageio import IMAGE_SUFFIXES, ImageError, read_pixels
from digitlab.vision.views import VIEWS

MIN_PER_CLASS = 5  # images a class needs, at least, to be learned and tested


TEST_SHARE = 0.2  # of each class's images, when a folder has no train/ and test/ split


MAX_OWN_IMAGES = 20_000  # an own-images folder or zip: at most this many files are read
# What a folder or archive may unpack to: CIFAR-10's binary batches are 31 MB each and 184 MB in all.


DATASET_MAX_PIXELS = 16_000_000  # an image of a dataset larger than this is skipped: a phone photo fits


# ---------------------------------------------------------------- idx files (MNIST, Fashion-MNIST)


SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """Read one idx file (raw or .gz) into a numpy array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} holds {data.size} bytes, its header says {shape}")
    return data.reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """Find `stem` in `folder` (or torchvision's <Name>/raw subfolders), gzipped or not."""
    subs = [folder, folder / "raw", *(p / "raw" for p in folder.iterdir() if p.is_dir())] if folder.is_dir() else []
    for sub in subs:
        for name in (stem, stem + ".gz"):
            if (sub / name).is_file():
                return sub / name
    raise DataError(f"There is no {stem}[.gz] in {folder}.")


def load_idx_folder(name: str, folder: Path) -> Dataset:
    """The four standard idx files of MNIST or Fashion-MNIST from a folder."""
    arrays = {}
    for split, (images, labels) in SPLIT_FILES.items():
        x, y = read_idx(find_idx(folder, images)), read_idx(find_idx(folder, labels))
        if x.ndim != 3 or len(x) != len(y):
            raise DataError(f"{folder}: {split} images {x.shape} do not match labels {y.shape}")
        if int(y.max()) >= SPECS[name].num_classes:
            raise DataError(f"{folder}: {split} labels go up to {int(y.max())}; {name} has "
                            f"{SPECS[name].num_classes} classes")
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y.astype(np.int64)
    return from_arrays(arrays, SPECS[name], str(folder))


# ---------------------------------------------------------------- Chinese MNIST


CHINESE_NAME = re.compile(r"input_(\d+)_(\d+)_(\d+)\.jpg$")


CHINESE_TRAIN_WRITERS = range(1, 81)  # suites 1-80 train, 81-100 test: test writers are unseen


def load_chinese_mnist(path: Path) -> Dataset:
    """Chinese MNIST: input_{suite}_{sample}_{code}.jpg files (code 1-15), from a folder or the .tar.gz.

    The split is by writer: suites 1-80 train, 81-100 test.
    """
    spec = SPECS["chinese-mnist"]
    found = [(m, data) for m, data in archive_members(path, CHINESE_NAME.search)]
    if not found:
        raise DataError(f"There are no Chinese MNIST images (input_<suite>_<sample>_<code>.jpg) in {path}.")
    splits: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    view = VIEWS[spec.view]
    for match, data in found:
        suite, code = int(match.group(1)), int(match.group(3))
        if not 1 <= code <= spec.num_classes:
            continue
        images, labels = splits["train" if suite in CHINESE_TRAIN_WRITERS else "test"]
        images.append(view(read_pixels(data), spec))
        labels.append(code - 1)
    arrays = {}
    for split, (images, labels) in splits.items():
        if not images:
            raise DataError(f"{path} has no {split} writers' images (suites 1-80 train, 81-100 test).")
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = np.stack(images), np.array(labels, np.int64)
    return from_arrays(arrays, spec, str(path))


# ---------------------------------------------------------------- CIFAR-10


CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte, then 1024 red, 1024 green, 1024 blue


CIFAR_BINARY = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}


def load_cifar10(path: Path) -> Dataset:
    """CIFAR-10 from its binary distribution (data_batch_*.bin) or an image folder (train/<class>/...)."""
    members = {Path(name).name: name for name, _ in archive_listing(path)}
    if all(f in members for files in CIFAR_BINARY.values() for f in files):
        return read_cifar_binary(path)
    return read_class_folders(path, SPECS["cifar10"], required_split=True)


def read_cifar_binary(path: Path) -> Dataset:
    wanted = {f for files in CIFAR_BINARY.values() for f in files}
    raw = {Path(name).name: data for name, data in archive_members(path, lambda n: Path(n).name in wanted)}
    arrays = {}
    for split, files in CIFAR_BINARY.items():
        blob = np.frombuffer(b"".join(raw[f] for f in files), np.uint8)
        if blob.size % CIFAR_RECORD:
            raise DataError(f"The CIFAR-10 {split} batches in {path} are not whole 3073-byte records.")
        records = blob.reshape(-1, CIFAR_RECORD)
        arrays[f"{split}_images"] = records[:, 1:].reshape(-1, 3, 32, 32).copy()
        arrays[f"{split}_labels"] = records[:, 0].astype(np.int64)
    return from_arrays(arrays, SPECS["cifar10"], str(path))


# ---------------------------------------------------------------- class folders (yours, CIFAR's JPGs)


def read_class_folders(path: Path, spec: DatasetSpec | None = None, required_split: bool = False,
                       seed: int = 0, limit: int | None = None) -> Dataset:
    """Images in <class>/ subfolders (or train/<class>/ and test/<class>/), as `spec`'s view.

    Without `spec`, the classes are the subfolder names. Files that cannot be read are skipped
    and counted in the notes; a class with fewer than MIN_PER_CLASS images, or a single class, is
    refused. At most `limit` images are read.
    """
    by_split: dict[str, dict[str, list[bytes]]] = {"train": {}, "test": {}, "": {}}
    count = 0
    for name, data in archive_members(path, is_image_name):
        parts = Path(name).parts
        if len(parts) < 2:
            continue  # a loose file beside the class folders
        split = parts[-3] if len(parts) >= 3 and parts[-3] in ("train", "test") else ""
        by_split[split].setdefault(parts[-2], []).append(data)
        count += 1
        if limit is not None and count >= limit:
            break
    own_negatives = [blob for per_class in by_split.values() for blob in per_class.pop(OWN_FOLDER, [])]
    if by_split["train"] and by_split["test"]:
        splits = {"train": by_split["train"], "test": by_split["test"]}
    elif required_split:
        raise DataError(f"{path} holds neither CIFAR-10's binary batches nor train/ and test/ class folders.")
    else:
        splits = split_classes({**by_split["train"], **by_split["test"], **by_split[""]}, seed)
    classes = sorted(set(splits["train"]) | set(splits["test"]))
    if spec is None:
        if len(classes) < 2:
            raise one_class(path, classes)
        spec = own_spec(path, classes)
    index = {label: i for i, label in enumerate(spec.labels)}
    unknown = [c for c in classes if c not in index]
    if unknown:
        raise DataError(f"{path} has class folders {unknown} that {spec.name} does not know; "
                        f"it has {list(spec.labels)}.")
    view, skipped, arrays = VIEWS[spec.view], 0, {}
    for split, per_class in splits.items():
        images, labels = [], []
        for label, blobs in sorted(per_class.items()):
            views, unread = read_views(blobs, view, spec)
            images += views
            labels += [index[label]] * len(views)
            skipped += unread
        if not images:
            raise DataError(f"{path} has no readable {split} images.", "data.no_images", path=path, split=split)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = np.stack(images), np.array(labels, np.int64)
    data = from_arrays(arrays, spec, str(path))
    check_classes(data, path)
    if own_negatives:
        views, unread = read_views(own_negatives, view, spec)
        skipped += unread
        if views:
            data.negatives, where = with_own(spec, torch.from_numpy(np.stack(views)))
            data.notes.append(note("data.own_folder", "{n} image(s) in {folder}/ are none of the classes: a run that "
                                   "learns to decline learns them so ({where})", n=len(views), folder=OWN_FOLDER,
                                   where=where))
    if skipped:
        data.notes.append(note("data.skipped", "{n} file(s) could not be read as images and were skipped.", n=skipped))
    return data


def read_views(blobs: list[bytes], view: Callable, spec: DatasetSpec) -> tuple[list[np.ndarray], int]:
    """The images as `spec`'s view, and how many could not be read."""
    views = []
    for data in blobs:
        try:
            views.append(view(read_pixels(data, DATASET_MAX_PIXELS), spec))
        except ImageError:
            continue
    return views, len(blobs) - len(views)


def is_image_name(name: str) -> bool:
    """An image file's name, not a hidden file or a macOS resource fork (._x.png, __MACOSX/)."""
    parts = Path(name).parts
    return Path(name).suffix.lower() in IMAGE_SUFFIXES and not any(p.startswith((".", "__MACOSX")) for p in parts)


def own_spec(path: Path, classes: list[str], view: str = "glyph", size: int | None = None) -> DatasetSpec:
    """The spec of your own images: glyph views are grey MNIST-style frames, photos RGB."""
    name = re.sub(r"[^\w.-]+", "-", path.stem if path.is_file() else path.name).strip("-") or "own"
    if view == "glyph":
        return glyph_spec(name, classes, size or 28)
    return DatasetSpec(name, tuple(classes), size=size or 32, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3,
                       view="photo", polarity="natural")


def split_classes(per_class: dict[str, list[bytes]], seed: int) -> dict[str, dict[str, list[bytes]]]:
    """TEST_SHARE of each class for testing (at least one image), seeded, the rest for training."""
    rng = np.random.default_rng(seed)
    splits: dict[str, dict[str, list[bytes]]] = {"train": {}, "test": {}}
    for label, blobs in per_class.items():
        order = rng.permutation(len(blobs))
        n_test = max(1, round(TEST_SHARE * len(blobs))) if len(blobs) >= 2 else 0
        splits["test"][label] = [blobs[i] for i in order[:n_test]]
        splits["train"][label] = [blobs[i] for i in order[n_test:]]
    return splits


def one_class(path: Path, classes: list[str]) -> DataError:
    """The refusal of a folder with fewer than 2 classes."""
    if classes:
        return DataError(f"{path} has only the class {classes[0]!r}: give at least 2 subfolders of images, one per "
                         "class.", "data.one_class", path=path, name=classes[0])
    return DataError(f"{path} has no class folders with images: give at least 2 subfolders of images, one per class.",
                     "data.no_classes", path=path)


def check_classes(data: Dataset, path: Path) -> None:
    """Refuse classes too small to learn and test."""
    counts = np.bincount(torch.cat([data.train_labels, data.test_labels]).numpy(), minlength=data.spec.num_classes)
    few = [(data.spec.labels[i], int(n)) for i, n in enumerate(counts) if n < MIN_PER_CLASS]
    if few and data.spec.name not in SPECS:
        listed = ", ".join(f"{label!r} has {n}" for label, n in few)
        raise DataError(f"Each class needs at least {MIN_PER_CLASS} readable images: {listed}.", "data.too_few",
                        most=MIN_PER_CLASS, counts=", ".join(f"{label}: {n}" for label, n in few))


def load_image_folder(path: str | Path, view: str = "glyph", size: int | None = None, seed: int = 0) -> Dataset:
    """Your own images: a folder or .zip with one subfolder per class (optionally under train/ and test/).

    `view` "glyph" reads handwriting (ink on paper, 28 px grey by default), "photo" pictures (32 px RGB).
    The spec's mean and std are measured on the training images.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"There is no folder or zip at {path}.", "data.missing", path=path)
    if view not in VIEWS:
        raise DataError(f"unknown view {view!r}; choose from {list(VIEWS)}")
    classes = sorted({Path(name).parts[-2] for name, _ in archive_listing(path)
                      if is_image_name(name) and len(Path(name).parts) >= 2
                      and Path(name).parts[-2] not in ("train", "test", OWN_FOLDER)})
    if len(classes) < 2:
        raise one_class(path, classes)
    data = read_class_folders(path, own_spec(path, classes, view, size), seed=seed, limit=MAX_OWN_IMAGES)
    pixels = data.train_images.float().div(255)
    mean = pixels.mean((0, 2, 3)).clamp(0.01, 0.99).tolist()
    std = pixels.std((0, 2, 3)).clamp_min(0.05).tolist()
    data.spec = data.spec.with_stats(mean, std)
    return data


LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "mnist": lambda path: load_idx_folder("mnist", path),
    "fashion-mnist": lambda path: load_idx_folder("fashion-mnist", path),
    "chinese-mnist": load_chinese_mnist,
    "cifar10": load_cifar10,
}

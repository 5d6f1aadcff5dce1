"""Datasets by name -> whole-split uint8 tensors plus their DatasetSpec.

Built in: `mnist`, `fashion-mnist` (idx files), `chinese-mnist` (a folder of JPGs with the label
in the file name, split by writer), `cifar10` (its binary distribution or an image folder; never
the pickled one), each from a local folder (or .tar.gz), a standard download where one exists,
or the small real sample shipped in digitlab/sample/. Your own images: a folder (or zip) with one
subfolder per class, as torchvision's ImageFolder reads it.

Images are stored as their views (digitlab.views): what a model of that spec reads, so training
data and a user's image go through the same recipe.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import re
import socket
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from digitlab.imageio import ImageError, read_pixels
from digitlab.spec import MNIST, DatasetSpec
from digitlab.views import VIEWS, VIEWS_VERSION

log = logging.getLogger(__name__)

SAMPLE_DIR = Path(__file__).parent / "sample"
CACHE_DIR = Path(os.environ.get("DIGITLAB_CACHE", Path.home() / ".cache" / "digitlab"))
DATA_ENV = "DIGITLAB_DATA_DIR"  # a dataset's folder, or a folder of them (mnist/, fashion_mnist/, ...)
SOURCES = ("auto", "sample", "download")  # or a folder / archive path
OWN = "folder"  # the dataset name for your own images
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MIN_PER_CLASS = 5  # images a class needs, at least, to be learned and tested
TEST_SHARE = 0.2  # of each class's images, when a folder has no train/ and test/ split
MAX_OWN_IMAGES = 20_000  # an own-images folder or zip: at most this many files are read
# What a folder or archive may unpack to: CIFAR-10's binary batches are 31 MB each and 184 MB in all.
MEMBER_MAX_BYTES = 64 * 2**20
ARCHIVE_MAX_BYTES = 512 * 2**20
DATASET_MAX_PIXELS = 16_000_000  # an image of a dataset larger than this is skipped: a phone photo fits


class DataError(ValueError):
    """Data that cannot be loaded or learned from; the message is one plain sentence for users."""


@dataclass
class Dataset:
    """Both splits in memory: images (N, C, S, S) uint8 as their spec's view, labels (N,) int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    spec: DatasetSpec
    source: str  # where it came from: "sample", a folder, "download"; logs always say
    notes: list[str] = field(default_factory=list)  # what a user should know: skipped files, a fallback

    @property
    def name(self) -> str:
        """The spec's name plus "sample" for a shipped sample: what records and cards say."""
        return f"{self.spec.name} sample" if self.source == "sample" else self.spec.name

    def __str__(self) -> str:
        return f"{self.name} ({len(self.train_labels):,} train / {len(self.test_labels):,} test)"


# ---------------------------------------------------------------- the built-in datasets


def glyph_spec(name: str, labels: Iterable[str], size: int, **kw) -> DatasetSpec:
    return DatasetSpec(name, tuple(labels), size=size, view="glyph", polarity="light-on-dark", **kw)


FASHION_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot")
CHINESE = (("零", "0"), ("一", "1"), ("二", "2"), ("三", "3"), ("四", "4"), ("五", "5"), ("六", "6"), ("七", "7"),
           ("八", "8"), ("九", "9"), ("十", "10"), ("百", "100"), ("千", "1000"), ("万", "10000"), ("亿", "100000000"))
CIFAR_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

SPECS: dict[str, DatasetSpec] = {
    "mnist": MNIST,
    "fashion-mnist": DatasetSpec(
        "fashion-mnist", FASHION_LABELS, size=28, channels=1, mean=(0.2860,), std=(0.3530,), view="photo",
        polarity="light-on-dark", notes={"source": "Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando)",
                                         "licence": "MIT"}),
    # Mean, std and stroke width as measured on the training writers' views (scripts/measure_specs.py).
    "chinese-mnist": glyph_spec(
        "chinese-mnist", (c for c, _ in CHINESE), 64, display=tuple(f"{c} ({v})" for c, v in CHINESE),
        mean=(0.0502,), std=(0.1675,), stroke=0.0432,
        notes={"source": "Chinese MNIST (Nazarpour & Chen, Newcastle University)", "licence": "CC0",
               "split": "writers (suites) 1-80 train, 81-100 test"}),
    "cifar10": DatasetSpec(
        "cifar10", CIFAR_LABELS, size=32, channels=3, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
        view="photo", polarity="natural", notes={"source": "CIFAR-10 (Krizhevsky, 2009)"}),
}
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
        return load_local(name, Path(source).expanduser())
    env = os.environ.get(DATA_ENV)
    if env:
        folder = Path(env).expanduser()
        return load_local(name, folder / SHARED_NAMES[name] if (folder / SHARED_NAMES[name]).exists() else folder)
    if name not in DOWNLOADS:
        data = load_sample(name)
        data.notes.append(f"{name} has no standard download: this is the shipped sample. "
                          "Give a folder of the full data (or set $DIGITLAB_DATA_DIR) to use all of it.")
        return data
    try:
        return download(name)
    except DataError as err:  # offline or blocked: the sample keeps the lab usable
        log.warning("%s", err)
        data = load_sample(name)
        data.notes.append(f"{err} Using the shipped sample of {len(data.train_labels):,} training images instead.")
        return data


def load_local(name: str, path: Path) -> Dataset:
    """A built-in dataset from its folder (or a .tar.gz / .zip of it)."""
    if not path.exists():
        raise DataError(f"The data folder {path} does not exist.")
    return cached(name, path, lambda: LOADERS[name](path))


def cached(name: str, path: Path, load: Callable[[], Dataset]) -> Dataset:
    """Load once, then from a .npz in the cache keyed by the path and its files' sizes and times."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())[:100_000]
    spec = SPECS[name]
    recipe = (spec.view, spec.size, spec.channels, spec.polarity, spec.stroke, VIEWS_VERSION)  # what views depend on
    stamp = hashlib.sha1(repr((str(path.resolve()), [(str(f), f.stat().st_size, f.stat().st_mtime_ns)
                                                      for f in files], recipe)).encode())
    cache = CACHE_DIR / f"{name}-{stamp.hexdigest()[:16]}.npz"
    if cache.is_file():
        try:
            return from_arrays(np.load(cache), SPECS[name], str(path))
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)  # a damaged cache is rebuilt
    data = load()
    if len(files) > 8 or name == "chinese-mnist":  # decoding many images is worth keeping; 4 idx files are not
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, **to_arrays(data))
            tmp.replace(cache)
        except OSError as err:
            log.warning("could not cache %s (%s)", name, err)
    return data


def to_arrays(data: Dataset) -> dict[str, np.ndarray]:
    return {k: getattr(data, k).numpy() for k in ("train_images", "train_labels", "test_images", "test_labels")}


def from_arrays(arrays, spec: DatasetSpec, source: str) -> Dataset:
    t = {k: torch.from_numpy(np.array(arrays[k])) for k in
         ("train_images", "train_labels", "test_images", "test_labels")}
    for k in ("train_labels", "test_labels"):
        t[k] = t[k].long()
    for k in ("train_images", "test_images"):
        if t[k].ndim == 3:  # (N, S, S): a grey sample saved before channels were stored
            t[k] = t[k].unsqueeze(1)
    return Dataset(t["train_images"], t["train_labels"], t["test_images"], t["test_labels"], spec, source)


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
    if by_split["train"] and by_split["test"]:
        splits = {"train": by_split["train"], "test": by_split["test"]}
    elif required_split:
        raise DataError(f"{path} holds neither CIFAR-10's binary batches nor train/ and test/ class folders.")
    else:
        splits = split_classes({**by_split["train"], **by_split["test"], **by_split[""]}, seed)
    classes = sorted(set(splits["train"]) | set(splits["test"]))
    if spec is None:
        if len(classes) < 2:
            found = f"only the class {classes[0]!r}" if classes else "no class folders with images"
            raise DataError(f"{path} has {found}: give at least 2 subfolders of images, one per class.")
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
            for data in blobs:
                try:
                    images.append(view(read_pixels(data, DATASET_MAX_PIXELS), spec))
                except ImageError:
                    skipped += 1
                    continue
                labels.append(index[label])
        if not images:
            raise DataError(f"{path} has no readable {split} images.")
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = np.stack(images), np.array(labels, np.int64)
    data = from_arrays(arrays, spec, str(path))
    check_classes(data, path)
    if skipped:
        data.notes.append(f"{skipped} file(s) could not be read as images and were skipped.")
    return data


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


def check_classes(data: Dataset, path: Path) -> None:
    """Refuse classes too small to learn and test."""
    counts = np.bincount(torch.cat([data.train_labels, data.test_labels]).numpy(), minlength=data.spec.num_classes)
    few = [(data.spec.labels[i], int(n)) for i, n in enumerate(counts) if n < MIN_PER_CLASS]
    if few and data.spec.name not in SPECS:
        listed = ", ".join(f"{label!r} has {n}" for label, n in few)
        raise DataError(f"Each class needs at least {MIN_PER_CLASS} readable images: {listed}.")


def load_image_folder(path: str | Path, view: str = "glyph", size: int | None = None, seed: int = 0) -> Dataset:
    """Your own images: a folder or .zip with one subfolder per class (optionally under train/ and test/).

    `view` "glyph" reads handwriting (ink on paper, 28 px grey by default), "photo" pictures (32 px RGB).
    The spec's mean and std are measured on the training images.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"There is no folder or zip at {path}.")
    if view not in VIEWS:
        raise DataError(f"unknown view {view!r}; choose from {list(VIEWS)}")
    classes = sorted({Path(name).parts[-2] for name, _ in archive_listing(path)
                      if is_image_name(name) and len(Path(name).parts) >= 2
                      and Path(name).parts[-2] not in ("train", "test")})
    if len(classes) < 2:
        found = f"only the class {classes[0]!r}" if classes else "no class folders with images"
        raise DataError(f"{path} has {found}: give at least 2 subfolders of images, one per class.")
    data = read_class_folders(path, own_spec(path, classes, view, size), seed=seed, limit=MAX_OWN_IMAGES)
    pixels = data.train_images.float().div(255)
    mean = pixels.mean((0, 2, 3)).clamp(0.01, 0.99).tolist()
    std = pixels.std((0, 2, 3)).clamp_min(0.05).tolist()
    data.spec = data.spec.with_stats(mean, std)
    return data


# ---------------------------------------------------------------- folders and archives, read alike


def archive_listing(path: Path) -> list[tuple[str, int]]:
    """(member name, size) of every file in a folder, .zip or .tar[.gz]."""
    if path.is_dir():
        return [(str(p.relative_to(path)), p.stat().st_size) for p in sorted(path.rglob("*")) if p.is_file()]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return [(i.filename, i.file_size) for i in z.infolist() if not i.is_dir()]
    try:
        with tarfile.open(path) as t:
            return [(m.name, m.size) for m in t.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{path} is neither a folder nor a zip or tar archive.") from err


def archive_members(path: Path, wanted: Callable[[str], object]) -> Iterable[tuple[object, bytes]]:
    """(what `wanted` said, bytes) of the files of a folder or archive that `wanted` accepts.

    Bounded, as an upload may be a zip bomb: a member larger than MEMBER_MAX_BYTES (by its declared
    size or by what it unpacks to) comes as b"" (unreadable, so skipped and counted), and more than
    ARCHIVE_MAX_BYTES in all is refused.
    """
    total = 0

    def bounded(size: int, read: Callable[[int], bytes]) -> bytes:
        nonlocal total
        data = b"" if size > MEMBER_MAX_BYTES else read(MEMBER_MAX_BYTES + 1)
        data = b"" if len(data) > MEMBER_MAX_BYTES else data
        total += len(data)
        if total > ARCHIVE_MAX_BYTES:
            raise DataError(f"{path.name} unpacks to more than {ARCHIVE_MAX_BYTES // 2**20} MB; "
                            "give fewer or smaller images.")
        return data

    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and (hit := wanted(str(p.relative_to(path)))):
                with p.open("rb") as f:
                    yield (str(p.relative_to(path)) if hit is True else hit), bounded(p.stat().st_size, f.read)
        return
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir() and (hit := wanted(info.filename)):
                    with z.open(info) as f:
                        yield (info.filename if hit is True else hit), bounded(info.file_size, f.read)
        return
    try:
        with tarfile.open(path) as t:
            for member in t:
                if member.isfile() and (hit := wanted(member.name)):
                    yield (member.name if hit is True else hit), bounded(member.size, t.extractfile(member).read)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{path} is neither a folder nor a zip or tar archive.") from err


LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "mnist": lambda path: load_idx_folder("mnist", path),
    "fashion-mnist": lambda path: load_idx_folder("fashion-mnist", path),
    "chinese-mnist": load_chinese_mnist,
    "cifar10": load_cifar10,
}


# ---------------------------------------------------------------- downloads


def download_mnist(name: str, root: Path) -> Path:
    from torchvision.datasets import MNIST as TorchMNIST
    from torchvision.datasets import FashionMNIST

    cls = TorchMNIST if name == "mnist" else FashionMNIST
    for train in (True, False):
        cls(str(root), train=train, download=True)
    return root


CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"


def download_cifar10(root: Path, url: str | None = None) -> Path:
    """The binary distribution (no pickle), fetched and checked with torchvision's download helper."""
    from torchvision.datasets.utils import download_url

    archive = root / "cifar-10-binary.tar.gz"
    if not archive.is_file():
        download_url(url or CIFAR_URL, str(root), archive.name, md5=CIFAR_MD5)
    return archive


DOWNLOADS: dict[str, Callable[[Path], Path]] = {
    "mnist": lambda root: download_mnist("mnist", root),
    "fashion-mnist": lambda root: download_mnist("fashion-mnist", root),
    "cifar10": download_cifar10,
}


def download(name: str, root: Path | None = None, timeout: float = 10.0) -> Dataset:
    """Fetch a built-in dataset with torchvision into the cache (once), then load it from there."""
    if name not in DOWNLOADS:
        raise DataError(f"{name} has no standard download; give a folder of its files.")
    root = root or CACHE_DIR / name
    root.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # no route to the internet should fail fast, not hang
    try:
        path = DOWNLOADS[name](root)
    except Exception as err:  # torchvision raises RuntimeError, URLError, OSError...
        raise DataError(f"Could not download {name}: {download_reason(err)}.") from err
    finally:
        socket.setdefaulttimeout(previous)
    data = load_local(name, path)
    data.source = "download"
    return data


def download_reason(err: BaseException) -> str:
    """The innermost cause of a download failure, in one line (torchvision's own message spans lines
    and names every mirror it tried: the first one's reason is kept)."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    reason = getattr(err, "reason", None) or err
    text = " ".join(str(reason).split()) or type(err).__name__
    quoted = re.search(r"<urlopen error (.+?)>", text)
    if quoted:
        text = quoted.group(1)
    return text[:160] + ("…" if len(text) > 160 else "")


def image_bytes_of(images: np.ndarray) -> list[bytes]:
    """PNG files of (N, C, S, S) uint8 views: the samples' and tests' own-images folders are made of these."""
    from PIL import Image

    out = []
    for view in images:
        buf = io.BytesIO()
        Image.fromarray(view[0] if view.shape[0] == 1 else view.transpose(1, 2, 0)).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def write_class_folders(folder: Path, data: Dataset, per_class: int | None = None) -> Path:
    """Write a dataset's training images as <label>/<n>.png (the own-images layout); for tests and exports."""
    folder.mkdir(parents=True, exist_ok=True)
    for c, label in enumerate(data.spec.labels):
        picks = (data.train_labels == c).nonzero().flatten()[:per_class].numpy()
        target = folder / safe_name(label)
        target.mkdir(exist_ok=True)
        for i, png in zip(picks, image_bytes_of(data.train_images[picks].numpy()), strict=True):
            (target / f"{i}.png").write_bytes(png)
    return folder


def safe_name(label: str) -> str:
    """A label as a folder name: path separators and dots replaced."""
    return re.sub(r"[/\\\0]", "-", label).strip(".") or "_"

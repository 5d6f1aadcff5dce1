"""Folders, zips and tars read alike, and bounded: an upload may be a zip bomb."""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from digitlab.data.dataset import DataError

# What a folder or archive may unpack to: CIFAR-10's binary batches are 31 MB each and 184 MB in all.
MAX_FILES = 200_000  # files a dataset's folder may hold (Chinese MNIST: 15,000; CIFAR-10 as images: 60,000)


MEMBER_MAX_BYTES = 64 * 2**20


ARCHIVE_MAX_BYTES = 512 * 2**20


def folder_files(path: Path) -> list[Path]:
    """The files under a folder, sorted; DataError past MAX_FILES (a folder like /tmp is not a dataset, and
    walking it whole would take minutes), counted as they are found, before anything is sorted or read."""
    found: list[Path] = []
    for top, folders, files in os.walk(path):
        folders.sort()
        found += [Path(top) / name for name in files]
        if len(found) > MAX_FILES:
            raise DataError(f"{path} holds more than {MAX_FILES:,} files: give the dataset's own folder.",
                            "data.too_many_files", path=path, most=MAX_FILES)
    return sorted(p for p in found if p.is_file())


def archive_listing(path: Path) -> list[tuple[str, int]]:
    """(member name, size) of every file in a folder, .zip or .tar[.gz]."""
    if path.is_dir():
        return [(str(p.relative_to(path)), p.stat().st_size) for p in folder_files(path)]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return [(i.filename, i.file_size) for i in z.infolist() if not i.is_dir()]
    try:
        with tarfile.open(path) as t:
            return [(m.name, m.size) for m in t.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{path} is neither a folder nor a zip or tar archive.", "data.not_archive",
                        path=path) from err


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
            raise DataError(f"{path.name} unpacks to more than {ARCHIVE_MAX_BYTES // 2**20} MB; give fewer or "
                            "smaller images.", "data.unpacks_too_much", name=path.name, mb=ARCHIVE_MAX_BYTES // 2**20)
        return data

    if path.is_dir():
        for p in folder_files(path):
            if hit := wanted(str(p.relative_to(path))):
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
        raise DataError(f"{path} is neither a folder nor a zip or tar archive.", "data.not_archive",
                        path=path) from err

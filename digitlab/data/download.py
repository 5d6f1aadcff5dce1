"""The standard downloads of the built-in datasets: fetched once into the cache, each file MD5-checked.

Plain HTTP with a timeout on every request (never a process-wide socket timeout: the server keeps
serving visitors while a download runs), each file written under a temporary name and renamed only
once its MD5 matches, so a broken download leaves nothing that looks whole.
"""

from __future__ import annotations

import hashlib
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from digitlab.data.cache import cache_dir
from digitlab.data.dataset import DataError

TIMEOUT = 10.0  # seconds without an answer before a mirror counts as unreachable
CHUNK = 2**20


@dataclass(frozen=True)
class Download:
    """A dataset's files (name, MD5) and the mirrors that serve them, tried in turn; `folder`: the result is
    the folder the files are in (idx files) rather than the one file (an archive)."""

    mirrors: tuple[str, ...]
    files: tuple[tuple[str, str], ...]
    folder: bool = True


IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
DOWNLOADS: dict[str, Download] = {  # the MD5s torchvision checks too
    "mnist": Download(("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
                      tuple(zip(IDX_NAMES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                                strict=True))),
    "fashion-mnist": Download(("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
                              tuple(zip(IDX_NAMES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                                    "25c81989df183df01b3e8a0aad5dffbe",
                                                    "bef4ecab320f06d8554ea6380940ec79",
                                                    "bb300cfdad3c16e7a12a480ee83cd310"), strict=True))),
    # The binary version: the Python version's batches are pickles, which digitlab never opens.
    "cifar10": Download(("https://www.cs.toronto.edu/~kriz/",),
                        (("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),), folder=False),
}


def fetch_dataset(name: str, root: Path | None = None, timeout: float = TIMEOUT) -> Path:
    """The downloaded files of a built-in dataset in `root` (default: the cache), fetched where missing."""
    if name not in DOWNLOADS:
        raise DataError(f"{name} has no standard download; give a folder of its files.")
    spec = DOWNLOADS[name]
    root = root or cache_dir() / name
    root.mkdir(parents=True, exist_ok=True)
    for file, md5 in spec.files:
        if not (root / file).is_file():
            fetch_file(spec.mirrors, file, md5, root / file, timeout, name)
    return root if spec.folder else root / spec.files[0][0]


def fetch_file(mirrors: tuple[str, ...], file: str, md5: str, target: Path, timeout: float, name: str) -> None:
    """One file from the first mirror that serves it whole; DataError naming the last one's failure."""
    failures: list[BaseException] = []
    for mirror in mirrors:
        partial = target.with_name(target.name + ".part")
        try:
            digest = hashlib.md5()
            with urllib.request.urlopen(mirror + file, timeout=timeout) as response, partial.open("wb") as out:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != md5:
                raise DataError(f"{file} from {mirror} is damaged (its MD5 does not match)")
            partial.replace(target)
            return
        except (OSError, ValueError) as err:  # URLError, timeouts, HTTP errors, a bad checksum
            failures.append(err)
        finally:
            partial.unlink(missing_ok=True)
    raise DataError(f"Could not download {name}: {download_reason(failures[-1])}.")  # the last mirror: the likeliest


def download_reason(err: BaseException) -> str:
    """The innermost cause of a download failure, in plain words (not "[Errno -2] Name or service not known")."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    reason = getattr(err, "reason", None) or err
    if isinstance(reason, socket.gaierror):
        return "the server's name could not be looked up (no internet connection here?)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "the server did not answer in time"
    if isinstance(reason, ConnectionRefusedError):
        return "the server refused the connection"
    if isinstance(err, urllib.error.HTTPError):
        return f"the server answered HTTP {err.code}"
    text = " ".join(str(reason).split()) or type(err).__name__
    return text[:160] + ("…" if len(text) > 160 else "")

"""Decoded datasets kept on disk, keyed by where they came from and how their views were made."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitlab.data.archives import folder_files
from digitlab.data.dataset import Dataset, from_arrays, to_arrays
from digitlab.data.specs import SPECS
from digitlab.vision.views import VIEWS_VERSION

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """digitlab's cache: $DIGITLAB_CACHE, else ~/.cache/digitlab (read at each call, never at import)."""
    return Path(os.environ.get("DIGITLAB_CACHE") or Path.home() / ".cache" / "digitlab").expanduser()


def cached(name: str, path: Path, load: Callable[[], Dataset]) -> Dataset:
    """Load once, then from a .npz in the cache keyed by the path and its files' sizes and times."""
    files = [path] if path.is_file() else folder_files(path)
    spec = SPECS[name]
    recipe = (spec.view, spec.size, spec.channels, spec.polarity, spec.stroke, VIEWS_VERSION)  # what views depend on
    stamp = hashlib.sha1(repr((str(path.resolve()), [(str(f), f.stat().st_size, f.stat().st_mtime_ns)
                                                      for f in files], recipe)).encode())
    cache = cache_dir() / f"{name}-{stamp.hexdigest()[:16]}.npz"
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

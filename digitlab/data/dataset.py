"""A dataset in memory: both splits as uint8 views plus the DatasetSpec they were made for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch

from digitlab.note import Note
from digitlab.spec import DatasetSpec


class DataError(ValueError):
    """Data that cannot be loaded or learned from; the message is one plain sentence for users, in English. `key`
    and `params` name the sentences a visitor's upload can meet, so that the app says them in their language."""

    def __init__(self, message: str, key: str = "", **params: object):
        super().__init__(message)
        self.key, self.params = key, {k: v if isinstance(v, int | float) else str(v) for k, v in params.items()}


@dataclass
class Dataset:
    """Both splits in memory: images (N, C, S, S) uint8 as their spec's view, labels (N,) int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    spec: DatasetSpec
    source: str  # where it came from: "sample", a folder, "download"; logs always say
    notes: list[Note] = field(default_factory=list)  # what a user should know: skipped files, a fallback
    # Views of what is none of its classes, for a run that learns to decline (a visitor's own, from corrections or a
    # _none-of-these/ folder, among the shipped ones); None: the shipped ones, where they ship (data.negatives).
    negatives: torch.Tensor | None = None

    @property
    def name(self) -> str:
        """The spec's name plus "sample" for a shipped sample: what records and cards say."""
        return f"{self.spec.name} sample" if self.source == "sample" else self.spec.name

    def __str__(self) -> str:
        return f"{self.name} ({len(self.train_labels):,} train / {len(self.test_labels):,} test)"


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


def safe_name(label: str) -> str:
    """A label as a folder name: path separators and dots replaced."""
    return re.sub(r"[/\\\0]", "-", label).strip(".") or "_"

"""Marks that are none of a handwriting model's classes, shipped so that a model trained here can learn to say
"not one of mine" (outlier exposure: training pulls them towards an even answer over all classes).

They are letters, shapes, doodles and scribbles (scripts/negatives.py's "train" family, as the app reads a
canvas, a layer, coloured ink or a photo), stored in MNIST's 28 px glyph view: they serve MNIST and your own
handwriting. Other views have none: resized for the Chinese numerals' 64 px view they taught a 3-epoch model to
decline 27.6 % of non-numerals at a cost of 2 to 5.5 points on drawn numerals, so that model is not taught.

    python scripts/negatives.py --family train --n 3000 --seed 30 --out digitlab/data/sample/negatives.npz
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch

from digitlab.note import Note, note
from digitlab.spec import DatasetSpec

NEGATIVES = Path(__file__).resolve().parent / "sample" / "negatives.npz"  # beside the samples
SIZE = 28  # px: the glyph view they are stored in
OWN_FOLDER = "_none-of-these"  # beside class folders: images that are none of the classes (Teach exports them so)
# Of the negatives a run declines from, a visitor's own (corrections saying "none of these", OWN_FOLDER) make up this
# much. Chosen on seeds 0 and 1 of scripts/bench_teach_decline.py: at 0.4 a few crowded out the shipped ones (3
# marked: the other marks declined 82 -> 77 %), at 0.1 only 5 of 10 marked were declined. At 0.2 (--seed 2): 3 of 3
# and 9 of 10 declined, the other marks 81 -> 81 % and 82 -> 86 %, the MNIST test split 99.47 -> 99.57 / 99.52 %.
OWN_SHARE = 0.2


def has_negatives(spec: DatasetSpec) -> bool:
    """Whether models of `spec` can learn to decline from the shipped negatives: grey 28 px glyph views."""
    return spec.view == "glyph" and spec.channels == 1 and spec.size == SIZE


@cache
def stored() -> torch.Tensor:
    """(N, 1, 28, 28) uint8 light-on-dark views, read once per process (read only: every run shares them)."""
    with np.load(NEGATIVES) as arrays:
        return torch.from_numpy(arrays["images"])


def negatives_for(spec: DatasetSpec) -> torch.Tensor | None:
    """(N, 1, 28, 28) uint8 views of things that are not `spec`'s classes; None where there are none."""
    return stored() if has_negatives(spec) else None


def with_own(spec: DatasetSpec, own: torch.Tensor) -> tuple[torch.Tensor, Note]:
    """The shipped negatives for `spec` (where they ship) and `own` repeated to OWN_SHARE of them, so that a visitor's
    marks count without crowding the shipped ones out; and where they went, in words for the run's log."""
    shipped = negatives_for(spec)
    if shipped is None:
        return own, note("own.alone", "nothing of the kind ships for this model's view: only these")
    times = max(1, round(OWN_SHARE / (1 - OWN_SHARE) * len(shipped) / max(len(own), 1)))
    return (torch.cat([shipped, own.repeat(times, 1, 1, 1)]),
            note("own.among", "each seen {times:,}x among {shipped:,} shipped examples of what is none of them",
                 times=times, shipped=len(shipped)))

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

import numpy as np
import torch

from digitlab.data.registry import SAMPLE_DIR
from digitlab.spec import DatasetSpec

NEGATIVES = SAMPLE_DIR / "negatives.npz"
SIZE = 28  # px: the glyph view they are stored in


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

"""Render the most typical test digit of a few classes in the shipped sample as pen-on-paper images for gr.Examples.

Run once from the repo root: python scripts/make_examples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.datasets import sample_path  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "examples"
PICKS = {"2": "png", "3": "jpg", "5": "png", "7": "png", "9": "webp"}  # label -> file format


def render(view: np.ndarray, size: int = 112, margin: int = 16) -> Image.Image:
    """28x28 ink-high -> black ink on white, smoothly enlarged like a pen stroke."""
    big = Image.fromarray(view).resize((size, size), Image.Resampling.BICUBIC)
    return ImageOps.expand(ImageOps.invert(big), border=margin, fill=255)


def main() -> None:
    with np.load(sample_path("mnist")) as z:
        images, labels = z["test_images"].astype(np.float32), z["test_labels"]
    for label, fmt in PICKS.items():
        digits = images[labels == int(label)]
        typical = np.argmin(((digits - digits.mean(0)) ** 2).sum((1, 2)))  # nearest the class mean
        render(digits[typical].astype(np.uint8)).save(OUT / f"digit_{label}.{fmt}", quality=90, optimize=True)


if __name__ == "__main__":
    main()

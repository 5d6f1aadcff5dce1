"""The Upload tab's samples, from the samples shipped in the package.

MNIST: the most typical test digit of a few classes, rendered as pen on paper (examples/digit_<label>.*).
Fashion-MNIST, Chinese MNIST, CIFAR-10: the first test image of five classes spread over the labels
that the shipped model reads right, enlarged to 128 px (examples/<dataset>/<class index>.png);
handwriting as people write it (dark ink on light paper), photos as they are.

Run once from the repo root: python scripts/make_examples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.data.registry import load_sample, sample_path  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "examples"
SIZE, PER_DATASET = 128, 5
PICKS = {"2": "png", "3": "jpg", "5": "png", "7": "png", "9": "webp"}  # label -> file format


def render(view: np.ndarray, size: int = 112, margin: int = 16) -> Image.Image:
    """28x28 ink-high -> black ink on white, smoothly enlarged like a pen stroke."""
    big = Image.fromarray(view).resize((size, size), Image.Resampling.BICUBIC)
    return ImageOps.expand(ImageOps.invert(big), border=margin, fill=255)


def picture(view: np.ndarray, glyph: bool) -> Image.Image:
    """A (C, S, S) uint8 view as an image someone would upload."""
    pixels = view[0] if view.shape[0] == 1 else view.transpose(1, 2, 0)
    if glyph:
        pixels = 255 - pixels  # the view is light ink on dark; paper is the other way round
    return Image.fromarray(pixels).resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def other_datasets() -> None:
    for name in ("fashion-mnist", "chinese-mnist", "cifar10"):
        predictor = Predictor.from_pretrained(str(OUT.parent / "weights" / name))
        data = load_sample(name)
        spec, out = data.spec, OUT / name
        out.mkdir(parents=True, exist_ok=True)
        for c in np.linspace(0, spec.num_classes - 1, PER_DATASET).round().astype(int):
            for i in (data.test_labels == int(c)).nonzero().flatten().tolist():
                image = picture(data.test_images[i].numpy(), spec.view == "glyph")
                if next(iter(predictor.predict(np.asarray(image.convert("RGB")), 1))) == spec.display[c]:
                    image.save(out / f"{c}.png", optimize=True)
                    print(f"{name}: {spec.display[c]} (test image {i})")
                    break


def main() -> None:
    with np.load(sample_path("mnist")) as z:
        images, labels = z["test_images"].astype(np.float32), z["test_labels"]
    for label, fmt in PICKS.items():
        digits = images[labels == int(label)]
        typical = np.argmin(((digits - digits.mean(0)) ** 2).sum((1, 2)))  # nearest the class mean
        render(digits[typical].astype(np.uint8)).save(OUT / f"digit_{label}.{fmt}", quality=90, optimize=True)
    other_datasets()


if __name__ == "__main__":
    main()

"""Model views of MNIST *training* digits in the styles the shipped model read worst.

  hollow   the digit's strokes made broad, then only their outline inked (bubble letters, a traced outline)
  slanted  the digit leaning 0.3-0.75 of its height to either side
  flagged  a 1 given the flag (and now and then the foot) that much of the world writes, which MNIST's
           mostly plain 1s lack: the shipped model read such a 1 as 7

Each is written on a Sketchpad canvas (sketches.sketchpad; a flagged 1 also on a layer or in a photo) and read
with the model's own preprocessing, for scripts/train_decline.py --views. The benchmark's hollow digits are
handwriting fonts (eval_sketch.py font-hollow), its slanted ones MNIST *test* digits, its flagged 1s pen strokes
of bench_numbers.py's own stroke model: none is drawn here.

    python scripts/styled_views.py --data-dir ../shared/data/mnist --n 6000 --out /tmp/styled.npz
    python scripts/styled_views.py --data-dir ../shared/data/mnist --styles flagged --n 4000 --out /tmp/flagged.npz
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sketches import mnist_glyph, photo, place, sketchpad, slant, transparent_layer  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402

STYLES = ("hollow", "slanted", "flagged")
SEED = 6000  # apart from the benchmarks' seeds and the other views'


def hollow(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Only the outline of the glyph's strokes, broadened first: a ring 3-7 px wide around 9-21 px strokes."""
    mask = Image.fromarray(((glyph > 0.5) * 255).astype(np.uint8))
    broad = mask.filter(ImageFilter.MaxFilter(int(rng.choice([9, 13, 17, 21]))))
    ring = int(rng.choice([3, 5, 7]))
    outer, inner = broad.filter(ImageFilter.MaxFilter(ring)), broad.filter(ImageFilter.MinFilter(ring))
    return (np.asarray(outer, bool) & ~np.asarray(inner, bool)).astype(np.float32)


def stem_ends(image28: np.ndarray) -> tuple[tuple[float, float], tuple[float, float], np.ndarray]:
    """The (x, y) of a stroke's top and bottom in a 28x28 uint8 digit, and its ink's rows."""
    ys, xs = np.nonzero(image28 > 127)
    return (xs[ys <= ys.min() + 1].mean(), ys.min()), (xs[ys >= ys.max() - 1].mean(), ys.max()), ys


def upright(image28: np.ndarray) -> bool:
    """Whether a stroke stands up: its top within 0.2 of its height left or right of its bottom (and it has ink)."""
    if np.count_nonzero(image28 > 127) < 8:
        return False
    top, bottom, _ = stem_ends(image28)
    return abs(top[0] - bottom[0]) < 0.2 * (bottom[1] - top[1] + 1)


def flag_one(image28: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST 1 (28x28 uint8, ink high) with a flag from the top of its stem down to the left, 25-65 degrees
    below the horizontal and 0.15-0.45 of its height long, in the digit's own stroke width; a fifth also get a
    foot across the bottom. Give it an upright() 1: on a 1 leaning hard, a flag is a 7's bar."""
    top, bottom, ys = stem_ends(image28)
    height = bottom[1] - top[1] + 1
    angle = np.radians(rng.uniform(25, 65))
    length = height * rng.uniform(0.15, 0.45)
    lines = [(top, (top[0] - length * np.cos(angle), top[1] + length * np.sin(angle)))]
    if rng.random() < 0.2:
        half = height * rng.uniform(0.15, 0.3)
        lines.append(((bottom[0] - half, bottom[1]), (bottom[0] + half, bottom[1])))
    width = max(1.5, len(ys) / height)  # ink area over its height: the stroke's width
    scale = 4  # drawn large, then shrunk: anti-aliased like the scan
    pen = Image.new("L", (28 * scale, 28 * scale), 0)
    draw = ImageDraw.Draw(pen)
    r = width * scale / 2
    for a, b in lines:
        draw.line([(a[0] * scale, a[1] * scale), (b[0] * scale, b[1] * scale)], fill=255, width=round(2 * r))
        for x, y in (a, b):  # round ends
            draw.ellipse([x * scale - r, y * scale - r, x * scale + r, y * scale + r], fill=255)
    stroke = pen.resize((28, 28), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(0.4))
    return np.maximum(image28, np.asarray(stroke, np.uint8))


def on_page(glyph: np.ndarray, kind: str, rng: np.random.Generator):
    """The glyph as the app receives it: on the Sketchpad's canvas, alone on its layer, or in a phone photo."""
    if kind == "photo":
        return photo(glyph, rng)
    page = place(glyph, rng)
    return transparent_layer(page) if kind == "layer" else sketchpad(page)


WORKER: dict = {}


def start_worker(data_dir: str) -> None:
    import torch

    torch.set_num_threads(1)
    data = load_dataset("mnist", data_dir)
    WORKER.update(images=data.train_images[:, 0].numpy(), labels=data.train_labels.numpy(),
                  predictor=Predictor.from_pretrained())
    WORKER["upright_ones"] = [i for i in np.flatnonzero(WORKER["labels"] == 1)
                              if upright(WORKER["images"][i])]


def make(job: tuple[int, int, tuple[str, ...]]) -> tuple[list[np.ndarray], list[int]]:
    start, count, styles = job
    images, labels, predictor = WORKER["images"], WORKER["labels"], WORKER["predictor"]
    ones = WORKER["upright_ones"]
    views, kept = [], []
    for i in range(start, start + count):
        rng = np.random.default_rng([SEED, i])
        style = styles[i % len(styles)]
        j = int(rng.choice(ones)) if style == "flagged" else int(rng.integers(len(images)))
        kind = "canvas"
        if style == "hollow":
            size = int(rng.integers(160, 400))
            glyph = hollow(mnist_glyph(images[j], size, size * rng.uniform(0.06, 0.12)), rng)
        elif style == "slanted":
            size = int(rng.integers(120, 600))
            glyph = slant(mnist_glyph(images[j], size, size * rng.uniform(0.04, 0.12)),
                          rng.choice([-1, 1]) * rng.uniform(0.3, 0.75))
        else:
            size = int(rng.integers(80, 600))
            glyph = slant(mnist_glyph(flag_one(images[j], rng), size, size * rng.uniform(0.03, 0.14)),
                          rng.uniform(-0.15, 0.15))
            kind = str(rng.choice(["canvas", "layer", "photo"], p=[0.6, 0.2, 0.2]))
        try:
            views.append(predictor.prepare(on_page(glyph, kind, rng)))
        except ImageError:
            continue
        kept.append(int(labels[j]))
    return views, kept


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="auto", help="MNIST folder (its training split is used)")
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--styles", nargs="+", choices=STYLES, default=["hollow", "slanted"],
                   help="the styles, in turn (default: hollow slanted)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    jobs = [(s, min(250, args.n - s), tuple(args.styles)) for s in range(0, args.n, 250)]
    views, labels = [], []
    with ProcessPoolExecutor(args.workers, initializer=start_worker, initargs=(args.data_dir,)) as pool:
        for v, k in pool.map(make, jobs):
            views += v
            labels += k
    np.savez_compressed(args.out, images=np.stack(views), labels=np.array(labels, np.int64))
    print(f"{len(views)} styled views of training digits -> {args.out}")


if __name__ == "__main__":
    main()

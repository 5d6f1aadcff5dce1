"""Model views of MNIST *training* digits in the styles the shipped model read worst: hollow and leaning hard.

  hollow   the digit's strokes made broad, then only their outline inked (bubble letters, a traced outline)
  slanted  the digit leaning 0.3-0.75 of its height to either side

Each is written on a Sketchpad canvas (sketches.sketchpad) and read with the model's own preprocessing, for
scripts/train_decline.py --views. The benchmark's hollow digits are handwriting fonts (eval_sketch.py
font-hollow), its slanted ones MNIST *test* digits: neither is drawn here.

    python scripts/styled_views.py --data-dir ../shared/data/mnist --n 6000 --out /tmp/styled.npz
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sketches import mnist_glyph, place, sketchpad, slant  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402

STYLES = ("hollow", "slanted")
SEED = 6000  # apart from the benchmarks' seeds and the other views'


def hollow(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Only the outline of the glyph's strokes, broadened first: a ring 3-7 px wide around 9-21 px strokes."""
    mask = Image.fromarray(((glyph > 0.5) * 255).astype(np.uint8))
    broad = mask.filter(ImageFilter.MaxFilter(int(rng.choice([9, 13, 17, 21]))))
    ring = int(rng.choice([3, 5, 7]))
    outer, inner = broad.filter(ImageFilter.MaxFilter(ring)), broad.filter(ImageFilter.MinFilter(ring))
    return (np.asarray(outer, bool) & ~np.asarray(inner, bool)).astype(np.float32)


WORKER: dict = {}


def start_worker(data_dir: str) -> None:
    import torch

    torch.set_num_threads(1)
    data = load_dataset("mnist", data_dir)
    WORKER.update(images=data.train_images[:, 0].numpy(), labels=data.train_labels.numpy(),
                  predictor=Predictor.from_pretrained())


def make(job: tuple[int, int]) -> tuple[list[np.ndarray], list[int]]:
    start, count = job
    images, labels, predictor = WORKER["images"], WORKER["labels"], WORKER["predictor"]
    views, kept = [], []
    for i in range(start, start + count):
        rng = np.random.default_rng([SEED, i])
        j = int(rng.integers(len(images)))
        if STYLES[i % len(STYLES)] == "hollow":
            size = int(rng.integers(160, 400))
            glyph = hollow(mnist_glyph(images[j], size, size * rng.uniform(0.06, 0.12)), rng)
        else:
            size = int(rng.integers(120, 600))
            glyph = slant(mnist_glyph(images[j], size, size * rng.uniform(0.04, 0.12)),
                          rng.choice([-1, 1]) * rng.uniform(0.3, 0.75))
        try:
            views.append(predictor.prepare(sketchpad(place(glyph, rng))))
        except ImageError:
            continue
        kept.append(int(labels[j]))
    return views, kept


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="auto", help="MNIST folder (its training split is used)")
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    jobs = [(s, min(250, args.n - s)) for s in range(0, args.n, 250)]
    views, labels = [], []
    with ProcessPoolExecutor(args.workers, initializer=start_worker, initargs=(args.data_dir,)) as pool:
        for v, k in pool.map(make, jobs):
            views += v
            labels += k
    np.savez_compressed(args.out, images=np.stack(views), labels=np.array(labels, np.int64))
    print(f"{len(views)} styled views of training digits -> {args.out}")


if __name__ == "__main__":
    main()

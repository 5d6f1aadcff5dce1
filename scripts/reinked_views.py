"""Model views of MNIST *training* digits as the app receives them: re-inked as brush strokes, on
canvases, transparent layers and phone photos, alone and written in a row as numbers (with --dataset
chinese-mnist: training numerals, alone).

MNIST's own digits are pen scans; what the app reads are Sketchpad brush strokes and photos. This
renders training digits the way scripts/eval_sketch.py renders test digits (the same renderers,
never a test digit), reads each with the app's own preprocessing (Predictor.prepare for one
digit, Predictor.read_number for a number: the view of each digit it found, kept only when it
found as many digits as were written) and saves the views with their labels, for
scripts/finetune_reinked.py to fine-tune the shipped model on.

    python scripts/reinked_views.py --numbers 2500 --digits 1500 --out /tmp/reinked.npz
    python scripts/reinked_views.py --dataset chinese-mnist --weights weights/chinese-mnist --digits 1000 \
        --data-dir ../shared/data/chinese_mnist/chinese_mnist_jpg.tar.gz --out /tmp/reinked-zh.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_sketch import MNIST_KINDS, NUMBER_KINDS, mnist_examples, number_examples  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402

DIGIT_KINDS = tuple(k for k in MNIST_KINDS if k != "tight")  # tight crops are the digits as they are
SEED = 1000  # far from the benchmark's seeds (0, 1, ...): other renders, and train digits besides


def start_worker(dataset: str, data_dir: str, weights: str) -> None:
    """Each worker process loads the model and the dataset's training split once, for all its jobs."""
    import torch

    global PREDICTOR, IMAGES, LABELS
    torch.set_num_threads(1)
    PREDICTOR = Predictor.from_pretrained(weights or None)
    data = load_dataset(dataset, data_dir)
    IMAGES, LABELS = data.train_images[:, 0].numpy(), data.train_labels.numpy()


def views_of(job: tuple[str, int, int]) -> tuple[list[np.ndarray], list[int], int]:
    """(views, labels, renders skipped) of `n` renders of one kind."""
    kind, n, seed = job
    predictor, images, labels = PREDICTOR, IMAGES, LABELS
    views, answers, skipped = [], [], 0
    if kind in NUMBER_KINDS:
        for source, number in number_examples(kind, images, labels, n, seed):
            try:
                found = predictor.read_number(source).digits
            except ImageError:
                found = []
            if len(found) != len(number):
                skipped += 1
                continue
            views += [d.view for d in found]
            answers += [int(c) for c in number]
    else:
        for source, label in mnist_examples(kind, images, labels, n, seed):
            try:
                views.append(predictor.prepare(source))
            except ImageError:
                skipped += 1
                continue
            answers.append(label)
    return views, answers, skipped


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", choices=("mnist", "chinese-mnist"))
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--weights", default="", help="the model whose preprocessing reads them (default: shipped)")
    p.add_argument("--numbers", type=int, default=3000, help="numbers per number kind (default: 3000)")
    p.add_argument("--digits", type=int, default=2000, help="single digits per digit kind (default: 2000)")
    p.add_argument("--kinds", default=",".join(NUMBER_KINDS + DIGIT_KINDS), help="comma-separated kinds (default: all)")
    p.add_argument("--seed", type=int, default=SEED, help=f"first seed (default: {SEED})")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    chunk = 250
    kinds = [k for k in args.kinds.split(",") if k and (args.dataset == "mnist" or k in DIGIT_KINDS)]
    chunks = [(kind, min(chunk, total - start), args.seed + i)
              for i, (kind, total) in enumerate([(k, args.numbers) for k in NUMBER_KINDS if k in kinds]
                                                + [(k, args.digits) for k in DIGIT_KINDS if k in kinds])
              for start in range(0, total, chunk)]
    jobs = [(kind, n, seed * 1000 + j) for j, (kind, n, seed) in enumerate(chunks)]  # a seed of its own each
    start = time.perf_counter()
    views, labels, skipped = [], [], 0
    setup = (args.dataset, args.data_dir, args.weights)
    with ProcessPoolExecutor(args.jobs, initializer=start_worker, initargs=setup) as pool:
        for v, a, s in pool.map(views_of, jobs):
            views += v
            labels += a
            skipped += s
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=np.stack(views).astype(np.uint8), labels=np.asarray(labels, np.int64))
    print(f"{len(labels):,} views ({skipped} renders skipped: not read as written) in "
          f"{time.perf_counter() - start:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()

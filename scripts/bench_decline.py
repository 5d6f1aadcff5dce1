"""Does the model say "not one of mine" to what is not a digit, and still read the digits?

Negatives from the family the model was NOT taught on (scripts/negatives.py --family test: handwriting-font
letters, parametric shapes, Lissajous loops and hatching; each as a canvas, a layer, coloured ink or a phone
photo): the share declined, per kind. Digits: MNIST's test split and the sketch-realism kinds of
scripts/eval_sketch.py (MNIST test digits drawn as canvases, layers, inverted, coloured, photos, tight crops;
handwriting-font digits): the share accepted *and* right, next to the same figure for a baseline model that
answers everything. Goal: >= 90 % declined, at most 0.3 points lost on every digit kind. With --dataset
chinese-mnist: the same negatives read as the numerals model reads, and its test split (unseen writers), as it
is and drawn as the same sketch kinds. With --dataset fashion-mnist or cifar10: that model, on its test split.

    python scripts/bench_decline.py --data-dir ../shared/data/mnist [--weights weights/mnist]
        [--baseline OLD_FOLDER] [--n 300] [--negatives 1500]
    python scripts/bench_decline.py --dataset chinese-mnist --data-dir ../shared/data/chinese_mnist \
        --weights weights/chinese-mnist
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import negatives  # noqa: E402
from eval_sketch import MNIST_KINDS, font_examples, mnist_examples  # noqa: E402
from sketches import find_fonts  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402


def accepted_and_right(predictor: Predictor, views: list[np.ndarray], labels: list[int]) -> float:
    """Percent of views answered (not declined) with the right label."""
    right = 0
    for i in range(0, len(views), 256):
        for answer, label in zip(predictor.answers(views[i:i + 256], [1] * len(views[i:i + 256])),
                                 labels[i:i + 256], strict=True):
            right += answer.label == predictor.names[label]
    return 100.0 * right / max(1, len(views))


def declined(predictor: Predictor, views: np.ndarray) -> float:
    answers = predictor.answers(list(views), [1] * len(views))
    return 100.0 * sum(a.declined for a in answers) / max(1, len(answers))


def prepared(predictor: Predictor, examples) -> tuple[list[np.ndarray], list[int]]:
    views, labels = [], []
    for source, label in examples:
        try:
            views.append(predictor.prepare(source))
        except ImageError:
            continue
        labels.append(label)
    return views, labels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", choices=("mnist", "chinese-mnist", "fashion-mnist", "cifar10"))
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--weights", default="", help="the model that declines (default: the shipped MNIST model)")
    p.add_argument("--baseline", default="", help="a model that answers everything, to compare with")
    p.add_argument("--n", type=int, default=300, help="digits per sketch kind (default: 300)")
    p.add_argument("--negatives", type=int, default=1500, help="negatives of the test family (default: 1500)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(2)
    model = Predictor.from_pretrained(args.weights or None)
    baseline = Predictor.from_pretrained(args.baseline) if args.baseline else None
    print(f"model: decline below {model.decline}; baseline: {args.baseline or '(none)'}")
    data = load_dataset(args.dataset, args.data_dir)
    images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()

    views, kinds = negatives.views(model, "test", args.negatives, args.seed)
    line = f"not digits (test family, {len(views)}): declined {declined(model, views):.1f} %"
    for what in dict.fromkeys(kinds):
        line += f"; {what}s {declined(model, views[kinds == what]):.1f} %"
    print(line)

    rows = [(f"{args.dataset} test", list(data.test_images.numpy()), labels.tolist())]
    for kind in MNIST_KINDS if model.spec.view == "glyph" else ():  # the test split drawn as the app receives it
        rows.append((kind, *prepared(model, mnist_examples(kind, images, labels, args.n, args.seed))))
    fonts = find_fonts()
    if fonts and args.dataset == "mnist":
        rows.append(("font", *prepared(model, font_examples("font", fonts, 3, args.seed))))
    for name, kind_views, kind_labels in rows:
        ours = accepted_and_right(model, kind_views, kind_labels)
        line = f"{name} ({len(kind_views)}): accepted and right {ours:.2f} %"
        if baseline is not None:
            theirs = accepted_and_right(baseline, kind_views, kind_labels)
            line += f" vs baseline {theirs:.2f} % ({ours - theirs:+.2f} points)"
        print(line, flush=True)


if __name__ == "__main__":
    main()

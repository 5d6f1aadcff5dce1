"""Insight benchmark: what the Evaluate tab and "Why this answer?" cost on this machine's CPU.

Evaluates the shipped model on the whole test split (as the Evaluate tab does, once per model and
session) at the batch size evaluate() picks for the device and at the former 1,000, then times one
explanation (Captum integrated gradients and the conv activations) of a test digit.

    python scripts/bench_insight.py --data-dir ../shared/data/mnist [--weights weights/mnist] [--explanations 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.explain import explain  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.training.evaluate import evaluate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="auto", help="the dataset's folder, 'sample' or 'auto' (default: auto)")
    ap.add_argument("--weights", default=None, help="model folder or Hub repo id (default: the shipped MNIST model)")
    ap.add_argument("--explanations", type=int, default=10, help="explanations to time (default: 10)")
    args = ap.parse_args()
    predictor = Predictor.from_pretrained(args.weights)
    data = load_dataset(predictor.spec.name, args.data_dir)
    images, labels = data.test_images, data.test_labels
    for name, batch in (("as evaluate() picks for the device", 0), ("1,000 at a time (before)", 1000)):
        start = time.perf_counter()
        result = evaluate(predictor.model, images, labels, batch)
        print(f"evaluate {len(labels):,} test images, {name}: {time.perf_counter() - start:.1f} s "
              f"(accuracy {result.accuracy:.2f} %)", flush=True)
    times = []
    for i in range(args.explanations):
        view = images[i].numpy()
        start = time.perf_counter()
        explain(predictor.model, view)
        times.append(time.perf_counter() - start)
    print(f"one explanation (integrated gradients + activations): p50 {1000 * np.median(times):.0f} ms "
          f"over {len(times)}")


if __name__ == "__main__":
    main()

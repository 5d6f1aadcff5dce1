"""Teaching a model what is not a digit, as the Teach tab does: marks it answered, saved as "not a digit" and
fine-tuned on (with a replay of its training data). Are they declined afterwards, and what of the others?

Marks of negatives.py's test family (letters, shapes, scribbles of another generator than the one the model learnt
to decline from) that the model answers; --marked of them are the visitor's corrections, the rest are measured
before and after, with the MNIST test split accepted *and* right.

    python scripts/bench_teach_decline.py --data-dir ../shared/data/mnist --marked 3 --seed 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import negatives  # noqa: E402
from bench_decline import accepted_and_right  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.hub import load_model  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.training.finetune import NOT_ONE, before_after, finetune_config, save_corrections, with_corrections  # noqa: E402
from digitlab.training.loop import TrainResult, train  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights/mnist")
    p.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST: the replay and the test split")
    p.add_argument("--marked", type=int, default=3, help="marks saved as not a digit (default: 3)")
    p.add_argument("--negatives", type=int, default=600, help="test-family marks drawn (default: 600)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    before = Predictor(load_model(args.weights))
    views, kinds = negatives.views(before, "test", args.negatives, args.seed)
    answered = [i for i, a in enumerate(before.answers(list(views), [1] * len(views))) if not a.declined]
    marked = np.random.default_rng(args.seed).choice(answered, args.marked, replace=False)
    rest = np.setdiff1d(np.arange(len(views)), marked)
    print(f"{len(answered)} of {len(views)} marks answered; saved as not a digit: {', '.join(kinds[marked])}")
    path = save_corrections(Path(tempfile.mkdtemp()) / "corrections.npz", [views[i] for i in marked],
                            [NOT_ONE] * args.marked)
    data = load_dataset("mnist", args.data_dir)
    tuning = with_corrections(data, path)
    cfg = finetune_config(args.weights, "mnist", args.data_dir, before.model.arch, decline=True)
    start = time.perf_counter()
    result = next(item for item in train(cfg, data=tuning) if isinstance(item, TrainResult))
    compared = before_after(before.model, result.model, tuning, path)
    print(f"fine-tuned in {time.perf_counter() - start:.1f} s: {compared}")
    after = Predictor(result.model)

    def declined(predictor: Predictor, which: np.ndarray) -> float:
        answers = predictor.answers([views[i] for i in which], [1] * len(which))
        return 100 * float(np.mean([a.declined for a in answers]))

    test = list(data.test_images.numpy()), data.test_labels.tolist()
    for name, predictor in (("before", before), ("after", after)):
        print(f"{name}: marked declined {declined(predictor, marked):.0f} %, the other marks "
              f"{declined(predictor, rest):.1f} %, MNIST test accepted and right "
              f"{accepted_and_right(predictor, *test):.2f} %")


if __name__ == "__main__":
    main()

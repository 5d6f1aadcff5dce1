"""Fit the softmax temperature of an already trained model and save it with the model.

For a model trained before digitlab held images out for calibration (the shipped MNIST digitnet,
99.74 %, trained on all 60,000 training images): the temperature is fitted on 3,000 of those
training images, so they were seen in training; the test ECE before and after says whether it holds.

    python scripts/calibrate_weights.py weights/mnist --dataset mnist --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.hub import load_model, save_model  # noqa: E402
from digitlab.hub.transport import TRAINING_NAME  # noqa: E402
from digitlab.training.evaluate import evaluate  # noqa: E402
from digitlab.training.loop import calibrate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", type=Path, help="the model folder; rewritten in place")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-dir", default="auto")
    ap.add_argument("--images", type=int, default=3000, help="training images to fit on (default: 3000)")
    args = ap.parse_args()
    model = load_model(str(args.weights)).eval()
    data = load_dataset(args.dataset, args.data_dir)
    picked = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(0))[:args.images]
    calibration = calibrate(model, data, picked, batch_size=1000)  # train's own: fit on `picked`, test ECE both ways
    calibration["fitted_on_training_images"] = calibration.pop("held_out")  # seen in training, not held out
    after = evaluate(model, data.test_images, data.test_labels)
    card = json.loads((args.weights / TRAINING_NAME).read_text())
    card.update(calibration={**calibration, "held_out": 0}, evaluation=after.summary(), test_acc=after.accuracy)
    log = args.weights / "training_log.jsonl"
    if log.is_file() and "records" not in card:
        card["records"] = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    save_model(model, args.weights, card, name=card.get("name"))
    print(f"accuracy {after.accuracy:.2f}%, temperature {model.temperature:.3f}, "
          f"test ECE {calibration['test_ece_before']:.2f}% -> {calibration['test_ece_after']:.2f}%")


if __name__ == "__main__":
    main()

"""Fine-tune a model on MNIST's training digits plus their re-inked views (scripts/reinked_views.py).

The shipped MNIST model learnt from pen scans; people write with the Sketchpad's round brush or
photograph paper. A short fine-tune on all 60,000 training images (so nothing MNIST taught is
dropped) and on the views of training digits re-inked the way the app receives them teaches it
those too. Calibrated on held-out images of the mix, as every training run is; saved with its card.

    python scripts/reinked_views.py --numbers 2500 --digits 1500 --out /tmp/reinked.npz
    python scripts/reinked_views.py --kinds number-photo --numbers 4000 --seed 2000 --out /tmp/reinked_photo.npz
    python scripts/finetune_reinked.py /tmp/reinked.npz /tmp/reinked_photo.npz --out weights/mnist
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.hub import save_model  # noqa: E402
from digitlab.training.config import TrainConfig  # noqa: E402
from digitlab.training.finetune import load_corrections  # noqa: E402
from digitlab.training.loop import Note, TrainResult, card_data, train  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("views", type=Path, nargs="+", help="the .npz files of reinked_views.py")
    p.add_argument("--init", default="weights/mnist", help="the model to start from (default: weights/mnist)")
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    data = load_dataset("mnist", args.data_dir)
    views = [load_corrections(path) for path in args.views]  # the same .npz layout as a visitor's corrections
    data = replace(data, train_images=torch.cat([data.train_images, *(images for images, _ in views)]),
                   train_labels=torch.cat([data.train_labels, *(labels for _, labels in views)]),
                   notes=[*data.notes, f"plus {sum(len(labels) for _, labels in views):,} re-inked views of "
                          f"training digits ({', '.join(path.name for path in args.views)})"])
    cfg = TrainConfig(init=args.init, dataset="mnist", data=args.data_dir, epochs=args.epochs, lr=args.lr,
                      batch_size=128, label_smoothing=0.1, calibration=0.05)
    for item in train(cfg, data):
        if isinstance(item, Note):
            print("note:", item.text, flush=True)
        elif isinstance(item, TrainResult):
            save_model(item.model, args.out, card=card_data(item, sys.argv[1:], "python scripts/finetune_reinked.py"))
            print(f"test {item.test_acc:.2f} %  calibration {item.calibration}  -> {args.out}")
        else:
            print(item.line(), flush=True)


if __name__ == "__main__":
    main()

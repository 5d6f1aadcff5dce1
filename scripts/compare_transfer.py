"""Transfer learning on Chinese MNIST, the tutorials' comparison: from scratch, or from the MNIST model
(fine-tune everything, or train only a new head), at 1 and 3 epochs: test accuracy on the unseen writers
and training seconds. Every run is digitnet on the same data, through train(); one seed.

    python scripts/compare_transfer.py --data ../shared/data/chinese_mnist/chinese_mnist_jpg.tar.gz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.hub import DEFAULT_WEIGHTS  # noqa: E402
from digitlab.training.config import preset  # noqa: E402
from digitlab.training.loop import EpochRecord, train  # noqa: E402

MODES = {"from scratch": dict(), "fine-tune everything": dict(init=str(DEFAULT_WEIGHTS), freeze="none"),
         "train only the new head": dict(init=str(DEFAULT_WEIGHTS), freeze="backbone")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/chinese_mnist/chinese_mnist_jpg.tar.gz",
                    help="Chinese MNIST folder or .tar.gz")
    ap.add_argument("--epochs", default="1,3", help="comma-separated epoch counts (default: 1,3)")
    args = ap.parse_args()
    data = load_dataset("chinese-mnist", args.data)
    print(f"data: {data}; starting model for transfer: {DEFAULT_WEIGHTS} (digitnet on MNIST)")
    print("| start | epochs | test accuracy | training seconds |\n|---|---|---|---|")
    for epochs in map(int, args.epochs.split(",")):
        for mode, extra in MODES.items():
            cfg = preset("accurate", dataset="chinese-mnist", data=args.data, epochs=epochs, **extra)
            records = [r for r in train(cfg, data=data) if isinstance(r, EpochRecord)]
            print(f"| {mode} | {epochs} | {records[-1].test_acc:.2f} % | {sum(r.seconds for r in records):.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()

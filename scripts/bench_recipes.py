"""The Train tab's recipes, measured: each dataset's recipe (training.config.RECIPES) trained on the full data,
its test accuracy and training seconds, as the form states them.

    python scripts/bench_recipes.py --data ../shared/data [--only mnist,cifar10] [--set augment=false]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.data.registry import SHARED_NAMES, load_dataset  # noqa: E402
from digitlab.training.config import RECIPES  # noqa: E402
from digitlab.training.loop import EpochRecord, train  # noqa: E402

FILES = {"chinese-mnist": "chinese_mnist_jpg.tar.gz", "cifar10": "cifar10_jpg.tar.gz"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="a folder of the datasets (mnist/, cifar10/, ...)")
    ap.add_argument("--only", default="mnist,fashion-mnist,chinese-mnist,cifar10")
    ap.add_argument("--set", action="append", default=[], help="a setting to change, e.g. augment=false")
    args = ap.parse_args()
    changes = {}
    for item in args.set:
        key, value = item.split("=", 1)
        try:
            changes[key] = json.loads(value.lower() if value.lower() in ("true", "false") else value)
        except json.JSONDecodeError:  # a word: precision=fp32, arch=digitnet
            changes[key] = value
    for name in args.only.split(","):
        folder = Path(args.data) / SHARED_NAMES[name]
        data = load_dataset(name, folder / FILES[name] if name in FILES else folder)
        cfg = RECIPES[name].config(dataset=name, **changes)
        start = time.perf_counter()
        records = [r for r in train(cfg, data=data) if isinstance(r, EpochRecord)]
        print(json.dumps({"dataset": name, "changes": changes, "test_acc": round(records[-1].test_acc, 2),
                          "train_seconds": round(sum(r.seconds for r in records), 1),
                          "wall_seconds": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()

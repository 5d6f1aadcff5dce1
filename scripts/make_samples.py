"""Make the small real samples shipped in digitlab/data/sample/ from the full datasets (seeded, stratified).

    python scripts/make_samples.py --data ../shared/data [--only fashion-mnist,chinese-mnist,cifar10]

MNIST's sample (2,000 train / 1,000 test) predates this script and is kept as it is. Images are
stored as their views (what a model of the spec reads); CIFAR-10's as JPEG files in a zip of
train/<class>/ and test/<class>/ folders, since its photos compress better that way.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.data.dataset import to_arrays  # noqa: E402
from digitlab.data.registry import SHARED_NAMES, load_dataset, sample_path  # noqa: E402

SIZES = {"fashion-mnist": (1000, 500), "chinese-mnist": (1500, 750), "cifar10": (600, 300)}
SOURCES = {"fashion-mnist": "fashion_mnist", "chinese-mnist": "chinese_mnist/chinese_mnist_jpg.tar.gz",
           "cifar10": "cifar10/cifar10_jpg.tar.gz"}


def stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices, as many of each class as possible, sorted."""
    classes = np.unique(labels)
    per = n // len(classes)
    picks = [rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in classes]
    return np.sort(np.concatenate(picks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="folder of the full datasets (default: ../shared/data)")
    ap.add_argument("--only", default=",".join(SIZES), help="comma-separated datasets (default: all three)")
    args = ap.parse_args()
    for name in args.only.split(","):
        data = load_dataset(name, Path(args.data) / SOURCES.get(name, SHARED_NAMES[name]))
        rng = np.random.default_rng(0)
        arrays = to_arrays(data)
        n_train, n_test = SIZES[name]
        train = stratified(arrays["train_labels"], n_train, rng)
        test = stratified(arrays["test_labels"], n_test, rng)
        picked = {"train_images": arrays["train_images"][train], "train_labels": arrays["train_labels"][train],
                  "test_images": arrays["test_images"][test], "test_labels": arrays["test_labels"][test]}
        if name == "cifar10":
            write_cifar_zip(picked, data.spec.labels, sample_path(name).with_suffix(".zip"))
            out = sample_path(name).with_suffix(".zip")
        else:
            out = sample_path(name)
            np.savez_compressed(out, **{k: v.astype(np.uint8) for k, v in picked.items()})
        print(f"{name}: {len(train)} train / {len(test)} test -> {out} ({out.stat().st_size / 1e6:.2f} MB)")


def write_cifar_zip(arrays: dict[str, np.ndarray], labels: tuple[str, ...], out: Path) -> None:
    from PIL import Image

    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:  # JPEGs do not deflate
        for split in ("train", "test"):
            for i, (view, label) in enumerate(zip(arrays[f"{split}_images"], arrays[f"{split}_labels"], strict=True)):
                buf = io.BytesIO()
                Image.fromarray(view.transpose(1, 2, 0)).save(buf, "JPEG", quality=90)
                z.writestr(f"{split}/{labels[label]}/{i:04d}.jpg", buf.getvalue())


if __name__ == "__main__":
    main()

"""Measure what a glyph dataset's spec says of its data: the median stroke width, then mean and std.

The stroke width (as a share of the glyph's long side at the fine scale) is measured on the raw
training glyphs, before any normalisation; the views are then made with it and their pixel mean
and std measured. For Chinese MNIST's training writers (suites 1-80):

    python scripts/measure_specs.py --data ../shared/data/chinese_mnist/chinese_mnist_jpg.tar.gz
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitlab.data import archives, formats  # noqa: E402
from digitlab.data.specs import SPECS  # noqa: E402
from digitlab.vision.glyph import Frame, find_page, read_digit, stroke_width  # noqa: E402
from digitlab.vision.imageio import read_pixels  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/chinese_mnist/chinese_mnist_jpg.tar.gz")
    ap.add_argument("--n", type=int, default=1500, help="glyphs to measure the stroke on (default: 1500)")
    args = ap.parse_args()
    spec = SPECS["chinese-mnist"]
    frame = Frame(spec.size)
    found = [(m, data) for m, data in archives.archive_members(Path(args.data), formats.CHINESE_NAME.search)
             if int(m.group(1)) in formats.CHINESE_TRAIN_WRITERS]
    rng = np.random.default_rng(0)
    widths = []
    for i in rng.choice(len(found), min(args.n, len(found)), replace=False):
        pixels = read_pixels(found[i][1])
        widths.append(stroke_width(read_digit(pixels, find_page(pixels), frame.fine)) / frame.fine)
    stroke = float(np.median(widths))
    print(f"stroke: median {stroke:.4f} of the fine long side (10th-90th percentile "
          f"{np.percentile(widths, 10):.4f}-{np.percentile(widths, 90):.4f}), over {len(widths)} training glyphs")
    SPECS["chinese-mnist"] = replace(spec, stroke=round(stroke, 4))
    data = formats.load_chinese_mnist(Path(args.data))
    pixels = data.train_images.float() / 255
    print(f"views with that stroke: mean {pixels.mean():.4f}, std {pixels.std():.4f} "
          f"({len(data.train_labels):,} training views)")


if __name__ == "__main__":
    main()

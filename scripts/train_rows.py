"""Train the row reader (digitlab.models.rows) that travels with a digit model and reads its numbers whole.

Rows are written here from MNIST *training* digits (the last 6,000 kept apart to validate on), by a writer of
this script's own: each digit scanned (enlarged, its strokes thickened or thinned by where the ink is cut, slanted)
or redrawn with a round pen (sketches.redraw), sized unevenly, spaced from overlapping to wide, on a sloping or
wavy baseline; each row then put on a canvas or in a phone photo and found by the app's own page pass
(digitlab.vision.numbers.written_digits), so the reader learns from the row views the app will give it.
bench_numbers.py measures it on what it never saw: MNIST test digits, fonts and a pen model, its own layout. With
--negatives a third of the rows also hold a mark that is no digit (letters, shapes, scribbles of negatives.py's
train family), which it learns to read as "none of them": a letter in a number stays "?" when read whole.

With --flagged some of the 1s get a flag first (styled_views.flag_one), as much of the world writes them.

The shipped digit model's row reader (rows: 9.5 + 9.7 + 6 + 9 min, training ~20 min, on 2 cores):

    python scripts/train_rows.py --data-dir ../shared/data/mnist --rows 24000 --seed 0 --out /tmp/rows.npz
    python scripts/train_rows.py --data-dir ../shared/data/mnist --rows 24000 --seed 1 --out /tmp/rows1.npz
    python scripts/negatives.py --family train --n 9000 --seed 1 --out /tmp/neg-1.npz
    python scripts/train_rows.py --data-dir ../shared/data/mnist --rows 16000 --seed 2 --negatives /tmp/neg-1.npz \
        --out /tmp/rows2.npz
    python scripts/train_rows.py --data-dir ../shared/data/mnist --rows 12000 --seed 3 --flagged 0.6 --workers 1 \
        --out /tmp/rows3.npz
    python scripts/train_rows.py --rows-file /tmp/rows2.npz /tmp/rows.npz /tmp/rows1.npz /tmp/rows3.npz \
        --weights weights/mnist --epochs 8 --out weights/mnist
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sketches import photo, redraw  # noqa: E402
from styled_views import flag_one, upright  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.hub import load_model, read_card_data, save_model  # noqa: E402
from digitlab.models.rows import RowNet  # noqa: E402
from digitlab.vision.imageio import ImageError, read_pixels  # noqa: E402
from digitlab.vision.numbers import ROW_STEP, best_path, row_view, written_digits  # noqa: E402

VALIDATION = 6000  # the last training digits: rows to validate on
NONE = "?"  # a mark in a row that is none of the digits: the reader's class after the ten
NOT_DIGITS = 0.35  # of rows, with --negatives, hold one or two such marks


# ---------------------------------------------------------------- writing rows


def scanned(image28: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """A digit enlarged smoothly; where its grey is cut sets how broad its strokes are."""
    big = Image.fromarray(image28).resize((height, height), Image.Resampling.BICUBIC)
    big = big.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0) * height / 28))
    grey = np.asarray(big, np.float32) / 255
    cut = rng.uniform(0.1, 0.45) * grey.max()  # cut higher, a faint digit falls apart
    return np.clip((grey - cut) / 0.12, 0, 1)


def penned(image28: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    return redraw(image28.astype(np.float32) / 255, height, rng.uniform(0.04, 0.16) * height)


def leaned(ink: np.ndarray, shear: float) -> np.ndarray:
    h, w = ink.shape
    pad = math.ceil(abs(shear) * h) + 1
    img = Image.fromarray(np.pad(ink, ((0, 0), (pad, pad))))
    return np.asarray(img.transform(img.size, Image.Transform.AFFINE, (1, shear, -shear * h / 2, 0, 1, 0),
                                    Image.Resampling.BILINEAR))


def cropped(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.max(1) > 0.2), np.flatnonzero(ink.max(0) > 0.2)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def row_ink(images: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Digits written in a row by one writer: a float ink map with a margin."""
    height = int(rng.integers(40, 170))
    shear, pen = rng.uniform(-0.45, 0.45), rng.random() < 0.3
    glyphs = []
    for image in images:
        h = max(12, round(height * rng.uniform(0.8, 1.15)))
        ink = penned(image, h, rng) if pen else scanned(image, h, rng)
        g = cropped(leaned(ink, shear + rng.uniform(-0.08, 0.08)))
        scale = h / g.shape[0]
        glyphs.append(np.asarray(Image.fromarray(g).resize((max(2, round(g.shape[1] * scale)), h),
                                                           Image.Resampling.BILINEAR)))
    gap = rng.uniform(-0.25, 0.7) * height * 0.6  # this writer's spacing: from overlapping to wide
    slope, wave, period = math.tan(math.radians(rng.uniform(-7, 7))), rng.uniform(0, 0.1) * height, \
        rng.uniform(2, 8) * height
    margin = height // 2 + 4
    x, placed = float(margin), []
    for i, g in enumerate(glyphs):
        y = margin + height * 0.3 + slope * (x - margin) + wave * math.sin(x / period * 2 * math.pi) \
            + (height - g.shape[0]) + rng.normal(0, 0.04) * height
        placed.append((round(x), round(y), g))
        if i + 1 < len(glyphs):
            step = g.shape[1] + gap + rng.normal(0, 0.08) * height
            x += max(step, 0.45 * g.shape[1], 0.45 * glyphs[i + 1].shape[1])
    top = min(y for _, y, _ in placed)
    placed = [(px, py - top + margin, g) for px, py, g in placed]
    page = np.zeros((max(py + g.shape[0] for _, py, g in placed) + margin,
                     max(px + g.shape[1] for px, _, g in placed) + margin), np.float32)
    for px, py, g in placed:
        np.maximum(page[py:py + g.shape[0], px:px + g.shape[1]], g, out=page[py:py + g.shape[0], px:px + g.shape[1]])
    return page


def on_paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The row in a phone photo (a few: they are slow to make), on grey paper blurred and noisy, or on a canvas
    of its own size or larger: RGB uint8."""
    if rng.random() < 0.08:
        return read_pixels(photo(ink, rng, fill=(0.5, 0.95)))
    h, w = ink.shape
    canvas = np.zeros((max(h, int(rng.integers(h, 2 * h + 300))), max(w, int(rng.integers(w, w + 400)))), np.float32)
    y, x = int(rng.integers(0, canvas.shape[0] - h + 1)), int(rng.integers(0, canvas.shape[1] - w + 1))
    canvas[y:y + h, x:x + w] = ink
    grey = 1 - canvas
    if rng.random() < 0.3:
        paper, pen = rng.uniform(0.6, 1.0), rng.uniform(0.0, 0.35)
        page = Image.fromarray(np.clip((paper - (paper - pen) * canvas) * 255, 0, 255).astype(np.uint8))
        grey = np.asarray(page.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5))), np.float32) / 255
        grey = grey + rng.normal(0, rng.uniform(0.005, 0.04), grey.shape).astype(np.float32)
    return np.repeat(np.clip(grey * 255 + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


WRITER: dict = {}  # the digits rows are written from: set before the pool forks, so no job carries them


def write_rows(job: tuple[int, int]) -> list[tuple[np.ndarray, str]]:
    """(row view, digits) for n rows of 1-8 digits, as the app finds them."""
    n, seed = job
    images, labels, others, flagged = WRITER["images"], WRITER["labels"], WRITER["negatives"], WRITER["flagged"]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        length = int(rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8]))
        picks = [int(i) for i in rng.integers(0, len(labels), length)]
        glyphs, digits = [images[i] for i in picks], [str(int(labels[i])) for i in picks]
        for at, i in enumerate(picks):  # a 1 written with a flag, as much of the world writes it
            if labels[i] == 1 and rng.random() < flagged and upright(images[i]):
                glyphs[at] = flag_one(images[i], rng)
        if len(others) and rng.random() < NOT_DIGITS:  # a mark that is no digit, somewhere in the row
            for at in rng.choice(length, min(length, int(rng.integers(1, 3))), replace=False):
                glyphs[at], digits[at] = others[int(rng.integers(len(others)))], NONE
        try:
            found = written_digits(on_paper(row_ink(glyphs, rng), rng))
        except ImageError:
            continue
        if found is None:
            continue
        view = row_view(found[4], found[5])
        if view is not None:
            out.append((view.ink, "".join(digits)))
    return out


def make_rows(images, labels, negatives, n: int, seed: int, workers: int = 2,
              flagged: float = 0.0) -> list[tuple[np.ndarray, str]]:
    WRITER.update(images=images, labels=labels, negatives=negatives, flagged=flagged)
    chunk = 250
    jobs = [(min(chunk, n - i), seed * 100003 + i) for i in range(0, n, chunk)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return [row for part in pool.map(write_rows, jobs) for row in part]


def save_rows(path: Path, rows: list[tuple[np.ndarray, str]]) -> None:
    widths = np.array([v.shape[1] for v, _ in rows])
    np.savez_compressed(path, ink=np.concatenate([v for v, _ in rows], axis=1), widths=widths,
                        digits=np.array([d for _, d in rows]))


def load_rows(path: Path) -> list[tuple[np.ndarray, str]]:
    data = np.load(path)
    ink, widths = data["ink"], data["widths"]
    return [(ink[:, e - w:e], str(d)) for e, w, d in zip(np.cumsum(widths), widths, data["digits"], strict=True)]


# ---------------------------------------------------------------- training


def batches(rows, size: int, rng: np.random.Generator | None):
    """Rows of similar width together (little padding), in shuffled batches when `rng` is given."""
    order = np.argsort([v.shape[1] for v, _ in rows], kind="stable")
    groups = [order[i:i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(groups)
    for g in groups:
        width = max(rows[i][0].shape[1] for i in g)
        x = np.zeros((len(g), 1, rows[g[0]][0].shape[0], width), np.float32)
        for j, i in enumerate(g):
            x[j, 0, :, :rows[i][0].shape[1]] = rows[i][0] / 255
        yield torch.from_numpy(x), [rows[i][1] for i in g]


def token(c: str) -> int:
    """A row's character as the CTC class: 0 is the blank, then the ten digits, then NONE."""
    return 11 if c == NONE else int(c) + 1


def read_batch(net: RowNet, x: torch.Tensor) -> list[str]:
    with torch.inference_mode():
        lp = net(x).numpy()
    return ["".join(NONE if c == 10 else str(c) for c, _, _ in best_path(row)) for row in lp]


def exact(net: RowNet, rows) -> float:
    net.eval()
    right = sum(r == d for x, ds in batches(rows, 128, None) for r, d in zip(read_batch(net, x), ds, strict=True))
    return 100 * right / len(rows)


def train(rows, valid, epochs: int, seed: int) -> RowNet:
    torch.manual_seed(seed)
    net = RowNet(10)
    steps = epochs * math.ceil(len(rows) / 64)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        net.train()
        start, total, n = time.time(), 0.0, 0
        for x, digits in batches(rows, 64, rng):
            shift = int(rng.integers(0, ROW_STEP))  # where the columns fall on the digits
            x = F.pad(x, (shift, ROW_STEP - shift))
            lp = net(x).transpose(0, 1)  # (T, B, C)
            targets = torch.tensor([token(c) for d in digits for c in d])
            loss = F.ctc_loss(lp, targets, torch.full((len(digits),), lp.shape[0], dtype=torch.long),
                              torch.tensor([len(d) for d in digits]), zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(digits), n + len(digits)
        print(f"epoch {epoch + 1}: loss {total / n:.4f}  validation rows read exactly {exact(net, valid):.2f} %  "
              f"({time.time() - start:.0f} s)", flush=True)
    return net.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="auto", help="MNIST folder (its training split is used)")
    p.add_argument("--rows", type=int, default=40000, help="rows to write (and 10 %% more to validate on)")
    p.add_argument("--rows-file", type=Path, nargs="+",
                   help="rows written before (--out of runs without --weights); the first one's are validated on")
    p.add_argument("--negatives", type=Path, help="views of marks that are no digit (scripts/negatives.py "
                   "--family train): a third of the rows hold one or two, which the reader learns to call none")
    p.add_argument("--flagged", type=float, default=0.0, help="the share of upright 1s given a flag "
                   "(styled_views.flag_one; default: none)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--weights", help="the digit model to give the reader to (a folder); without: only write rows")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="the rows (.npz), or the model's folder")
    args = p.parse_args()
    if args.rows_file is None:
        data = load_dataset("mnist", args.data_dir)
        images, labels = data.train_images[:, 0].numpy(), data.train_labels.numpy()
        start = time.time()
        negatives = np.load(args.negatives)["images"][:, 0] if args.negatives else np.zeros((0, 28, 28), np.uint8)
        cut = len(negatives) * 9 // 10
        rows = make_rows(images[:-VALIDATION], labels[:-VALIDATION], negatives[:cut], args.rows, args.seed,
                         args.workers, args.flagged)
        valid = make_rows(images[-VALIDATION:], labels[-VALIDATION:], negatives[cut:], args.rows // 10, args.seed + 1,
                          args.workers, args.flagged)
        print(f"wrote {len(rows)} rows and {len(valid)} to validate on in {time.time() - start:.0f} s")
        path = args.out if args.weights is None else args.out / "rows.npz"
        save_rows(path, rows)
        save_rows(path.with_suffix(".valid.npz"), valid)
        if args.weights is None:
            return
        args.rows_file = [path]
    rows = [row for path in args.rows_file for row in load_rows(path)]
    valid = load_rows(args.rows_file[0].with_suffix(".valid.npz"))
    net = train(rows, valid, args.epochs, args.seed)
    model = load_model(args.weights)
    model.rows = net
    card = read_card_data(args.weights)
    card["rows"] = {"command": " ".join(sys.argv), "rows": len(rows), "validation_exact": round(exact(net, valid), 2)}
    save_model(model, args.out, card)
    print(f"saved to {args.out}")


if __name__ == "__main__":
    main()

"""Numbers from sources the number reader was never tuned on, next to the same digits read alone.

The reader's own benchmark (eval_sketch.py's number kinds) writes MNIST test digits re-inked by
sketches.redraw in a row laid out by sketches.number_ink: the renderer its grouping rules were tuned
on and the shipped model was fine-tuned on (with training digits). This one writes numbers another way:

  mnist  MNIST *test* digits as scanned, enlarged smoothly and thickened or thinned with a morphological
         pen (no skeleton redraw), slanted and turned per writer
  font   digits typed in one of the handwriting fonts installed here, one font a number
  pen    digits drawn as pen strokes from a stroke model of each digit (wobbly, slanted, squashed, with
         or without a 7's bar or a 1's flag): what a mouse or a finger draws on the canvas

and lays them out with its own spacing: gaps measured in glyph widths (from touching, even slightly
overlapping, to wide), a tilted baseline, digits bobbing up and down and sized unevenly. Each number
becomes a Sketchpad canvas, a transparent layer or a phone photo (sketches.sketchpad / transparent_layer /
photo: the pages are the shared ones, the writing is new), and is read whole with Predictor.read_number.
Every digit of every number is also drawn alone on the same kind of page and read with Predictor.answer.

Reported per source and kind: numbers read exactly; digits read right inside numbers (aligned by edit
distance, so a lost or split digit costs one, not the rest of the number); the same digits read alone; the
singles' ceiling (the mean over numbers of singles-accuracy ** length: what numbers would score if each digit
were read as well as alone); the gap. A declined part ("?") counts as a miss.

With --marks, each number holds one letter, shape or scribble of scripts/negatives.py's test family (a hand no
model learnt to decline from) in place of a digit, sized as its neighbours: reported are how often it is read as a
"?" there, how often the whole number is read exactly so, and how often no "?" is read at all.

    python scripts/bench_numbers.py --data-dir ../shared/data/mnist [--numbers 150] [--seed 0] [--sheet DIR]
    python scripts/bench_numbers.py --data-dir ../shared/data/mnist --numbers 100 --seed 2 --marks
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_sketch import save_number_sheet, timed_number  # noqa: E402
from sketches import find_fonts, font_glyph, photo, sketchpad, slant, transparent_layer  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402

SOURCES = ("mnist", "font", "pen")
KINDS = ("canvas", "layer", "photo")

# ---------------------------------------------------------------- the pen model: each digit as strokes

# Points in a box 1 tall and about 0.7 wide, y down; each list is one stroke. Smoothed before drawing.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    2: [[(0.12, 0.28), (0.25, 0.07), (0.5, 0.0), (0.72, 0.08), (0.75, 0.3), (0.55, 0.55), (0.1, 0.98), (0.8, 0.98)]],
    3: [[(0.1, 0.12), (0.35, 0.0), (0.65, 0.05), (0.7, 0.25), (0.4, 0.46)],
        [(0.4, 0.46), (0.72, 0.58), (0.75, 0.83), (0.45, 1.0), (0.08, 0.88)]],
    5: [[(0.75, 0.0), (0.2, 0.0), (0.15, 0.45), (0.45, 0.38), (0.75, 0.52), (0.78, 0.8), (0.5, 1.0), (0.08, 0.9)]],
    6: [[(0.65, 0.02), (0.35, 0.2), (0.15, 0.55), (0.2, 0.9), (0.45, 1.0), (0.7, 0.88), (0.7, 0.62),
         (0.45, 0.5), (0.18, 0.65)]],
}


def loop(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turn: float = 1.0, n: int = 24):
    t = start + np.linspace(0, 2 * np.pi * turn, n)
    return list(zip(cx + rx * np.sin(t), cy - ry * np.cos(t), strict=True))


def digit_strokes(digit: int, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """One way of writing `digit`: its strokes, with the variants people use."""
    if digit == 0:
        return [loop(0.35, 0.5, 0.32, 0.5, rng.uniform(-0.4, 0.4), rng.uniform(1.0, 1.1))]
    if digit == 1:
        stem = [(0.4, 0.0), (0.35, 1.0)]
        return [[(0.15, 0.22), *stem]] if rng.random() < 0.5 else [stem]
    if digit == 4:
        if rng.random() < 0.5:  # closed: one stroke down-across, then the stem
            return [[(0.55, 0.0), (0.05, 0.66), (0.8, 0.66)], [(0.58, 0.3), (0.58, 1.0)]]
        return [[(0.15, 0.0), (0.1, 0.6), (0.78, 0.6)], [(0.62, 0.05), (0.62, 1.0)]]  # open
    if digit == 7:
        strokes = [[(0.05, 0.02), (0.75, 0.0), (0.3, 1.0)]]
        return strokes + [[(0.25, 0.52), (0.65, 0.5)]] if rng.random() < 0.3 else strokes
    if digit == 8:
        t = np.linspace(0, 2 * np.pi, 40) + rng.uniform(-0.3, 0.3)
        return [list(zip(0.35 + 0.28 * np.sin(2 * t) * rng.uniform(0.8, 1.1), 0.5 - 0.5 * np.cos(t), strict=True))]
    if digit == 9:
        return [loop(0.38, 0.27, 0.3, 0.27, 1.5, 1.0), [(0.68, 0.3), (0.6, 1.0)]]
    return STROKES[digit]


def smooth(points: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Chaikin's corner cutting: a hand's curve through the polyline, ends kept."""
    for _ in range(rounds):
        if len(points) < 3:
            return points
        a, b = points[:-1], points[1:]
        cut = np.empty((2 * len(a), 2))
        cut[0::2], cut[1::2] = 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b
        points = np.vstack([points[:1], cut, points[-1:]])
    return points


def pen_glyph(digit: int, height: int, writer: dict, rng: np.random.Generator) -> np.ndarray:
    """`digit` drawn with a round pen as strokes, in `writer`'s slant and width, float ink map `height` tall."""
    scale = 4  # drawn large, then shrunk: anti-aliased edges
    h = height * scale
    shear, squash = writer["slant"] + rng.uniform(-0.06, 0.06), writer["squash"] * rng.uniform(0.92, 1.08)
    turn = np.deg2rad(rng.uniform(-6, 6))
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    lines = []
    for stroke in digit_strokes(digit, rng):
        p = np.array(stroke, float)
        p += rng.normal(0, 0.025, p.shape)  # the hand is not a ruler
        p = smooth(p)
        p[:, 0] = p[:, 0] * squash - shear * (p[:, 1] - 0.5)
        p = (p - 0.5) @ rot.T + 0.5
        lines.append(p)
    allp = np.vstack(lines)
    pen = max(1.0, writer["pen"] * height) * scale
    lo = allp.min(0)
    size = np.ceil((allp.max(0) - lo) * h + 2 * pen + 4).astype(int)
    img = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(img)
    for p in lines:
        xy = [(float(x), float(y)) for x, y in (p - lo) * h + pen + 2]
        draw.line(xy, fill=255, width=max(1, round(pen)), joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    small = img.resize((max(1, img.width // scale), max(1, img.height // scale)), Image.Resampling.LANCZOS)
    return np.asarray(small, np.float32) / 255


# ---------------------------------------------------------------- the other hands


def scan_glyph(image28: np.ndarray, height: int, writer: dict) -> np.ndarray:
    """An MNIST test digit as scanned, enlarged smoothly, its strokes made broader or finer by a morphological
    pen, slanted: float ink map about `height` tall."""
    big = Image.fromarray(image28).resize((height, height), Image.Resampling.LANCZOS)
    big = big.transform(big.size, Image.Transform.AFFINE, (1, writer["slant"], -writer["slant"] * height / 2, 0, 1, 0),
                        Image.Resampling.BILINEAR)
    grow = writer["grow"] * height / 28  # MNIST strokes are ~2.5 px of 28: grow them by this many pixels
    k = 2 * round(abs(grow) / 2) + 1
    if k > 1:
        big = big.filter(ImageFilter.MaxFilter(k) if grow > 0 else ImageFilter.MinFilter(min(k, 3)))
    ink = np.asarray(big.filter(ImageFilter.GaussianBlur(height / 120)), np.float32) / 255
    return np.clip((ink - 0.25) / 0.5, 0, 1)


def typed_glyph(font: Path, digit: int, height: int, writer: dict) -> np.ndarray:
    """`digit` typed in `font`, leaning half as much as the writer's hand."""
    return slant(font_glyph(font, digit, height), writer["slant"] / 2)


def crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


# ---------------------------------------------------------------- writing a row


def write_row(glyphs: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The glyphs written left to right: gaps in glyph widths (touching to wide), a tilted baseline, digits
    bobbing. Float ink map with a margin."""
    height = max(g.shape[0] for g in glyphs)
    width = float(np.mean([g.shape[1] for g in glyphs]))
    habit = rng.choice([(-0.12, 0.05), (0.0, 0.25), (0.15, 0.6), (0.4, 1.0)])  # how far apart this writer writes
    tilt = np.tan(np.deg2rad(rng.uniform(-5, 5)))
    margin = height // 2
    x, placed = margin, []
    for g in glyphs:
        y = margin + round(tilt * (x - margin) + rng.uniform(-0.07, 0.07) * height) + (height - g.shape[0])
        placed.append((x, y, g))
        x += g.shape[1] + round(rng.uniform(*habit) * width)
    top = min(y for _, y, _ in placed)
    page = np.zeros((max(y - top + g.shape[0] for _, y, g in placed) + 2 * margin,
                     max(px + g.shape[1] for px, _, g in placed) + margin), np.float32)
    for px, py, g in placed:
        region = page[py - top + margin:py - top + margin + g.shape[0], px:px + g.shape[1]]
        np.maximum(region, g[:region.shape[0], :region.shape[1]], out=region)
    return page


def on_page(kind: str, ink: np.ndarray, rng: np.random.Generator, fill: tuple[float, float]):
    if kind == "photo":
        return photo(ink, rng, fill=fill)
    canvas = np.zeros((max(ink.shape[0] + 8, 300), max(ink.shape[1] + 8, 800)), np.float32)
    y, x = (canvas.shape[0] - ink.shape[0]) // 2, (canvas.shape[1] - ink.shape[1]) // 2
    canvas[y:y + ink.shape[0], x:x + ink.shape[1]] = ink
    return sketchpad(canvas) if kind == "canvas" else transparent_layer(canvas)


def numbers(source: str, kind: str, n: int, seed: int, test: tuple[np.ndarray, np.ndarray] | None,
            fonts: list[Path], singles: bool = True, marks: Iterator[tuple[str, np.ndarray]] | None = None):
    """(number page, [single pages] (none if not `singles`), "2026") for n numbers of 2-6 digits; with `marks`,
    one digit of each is that mark instead, a "?" in the number it should read as ("20?6")."""
    rng = np.random.default_rng([seed, SOURCES.index(source), KINDS.index(kind), 7919])
    for _ in range(n):
        length = int(rng.integers(2, 7))
        height = int(rng.integers(70, 190))
        writer = dict(slant=rng.uniform(-0.35, 0.35), squash=rng.uniform(0.7, 1.2), pen=rng.uniform(0.05, 0.14),
                      grow=rng.uniform(-0.7, 1.8))
        if source == "mnist":
            picks = rng.choice(len(test[1]), length, replace=False)
            digits = [int(test[1][i]) for i in picks]
            glyphs = [scan_glyph(test[0][i], height, writer) for i in picks]
        else:
            digits = [int(d) for d in rng.integers(0, 10, length)]
            font = fonts[int(rng.integers(len(fonts)))] if source == "font" else None
            glyphs = [typed_glyph(font, d, height, writer) if font else pen_glyph(d, height, writer, rng)
                      for d in digits]
        written = "".join(map(str, digits))
        if marks is not None:
            at = int(rng.integers(length))
            glyphs[at], written = next(marks)[1], written[:at] + "?" + written[at + 1:]
        glyphs = [crop(g) for g in glyphs]
        glyphs = [np.asarray(Image.fromarray(g).resize((max(2, round(g.shape[1] * s)), max(2, round(g.shape[0] * s))),
                                                       Image.Resampling.BILINEAR))
                  for g in glyphs for s in [height * rng.uniform(0.85, 1.1) / g.shape[0]]]
        row = write_row(glyphs, rng)
        alone = [on_page(kind, g, rng, (0.3, 0.7)) for g in glyphs] if singles else []
        yield on_page(kind, row, rng, (0.5, 0.95)), alone, written


def edits(a: str, b: str) -> int:
    """Levenshtein distance: digits lost, split or misread."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def measure(predictor: Predictor, examples, sheet: list | None) -> dict:
    exact = total = right_in = right_alone = wrong_count = declined = 0
    times, lengths = [], []
    for page, singles, number in examples:
        reading, seconds = timed_number(predictor, page)
        times.append(seconds)
        exact += reading == number
        wrong_count += len(reading) != len(number)
        declined += reading.count("?")
        right_in += max(0, len(number) - edits(reading, number))
        total += len(number)
        lengths.append(len(number))
        answers = []
        for single in singles:
            try:
                answers.append(predictor.answer(single, 1).label)
            except ImageError:
                answers.append(None)
        right_alone += sum(a == d for a, d in zip(answers, number, strict=True))
        if sheet is not None and reading != number and len(sheet) < 24:
            sheet.append((page, number, reading))
    alone = right_alone / max(total, 1)
    ceiling = float(np.mean([alone ** k for k in lengths])) if lengths else float("nan")
    n = len(lengths)
    return dict(n=n, exact=100 * exact / max(n, 1), in_numbers=100 * right_in / max(total, 1), alone=100 * alone,
                ceiling=100 * ceiling, wrong_count=wrong_count, declined=declined,
                ms=1000 * float(np.median(times)) if times else float("nan"))


def measure_marks(predictor: Predictor, examples) -> dict:
    """Of numbers holding one mark that is no digit: read with a "?" where the mark is, read exactly so (the "?"
    and every digit), and the mark read as a digit (no "?" anywhere)."""
    n = flagged = exact = guessed = 0
    for page, _, number in examples:
        reading, _ = timed_number(predictor, page)
        n += 1
        at = number.index("?")
        flagged += len(reading) == len(number) and reading[at] == "?"
        exact += reading == number
        guessed += "?" not in reading
    share = 100 / max(n, 1)
    return dict(n=n, flagged=flagged * share, exact=exact * share, guessed=guessed * share)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="model folder or Hub repo id (default: the shipped weights)")
    p.add_argument("--data-dir", default="auto", help="MNIST folder (its test split is used)")
    p.add_argument("--numbers", type=int, default=150, help="numbers per source and kind (default: 150)")
    p.add_argument("--sources", default=",".join(SOURCES))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sheet", type=Path, help="save the misread numbers of each source and kind here")
    p.add_argument("--marks", action="store_true", help="instead: numbers with one letter, shape or scribble of "
                   "negatives.py's test family among their digits; how often it is read as a \"?\"")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    predictor = Predictor.from_pretrained(args.weights)
    sources, kinds = args.sources.split(","), args.kinds.split(",")
    test = None
    if "mnist" in sources:
        data = load_dataset("mnist", args.data_dir)
        test = (data.test_images[:, 0].numpy(), data.test_labels.numpy())
    fonts = find_fonts()
    if "font" in sources and not fonts:
        sys.exit("no handwriting fonts found (apt-get install fonts-dkg-handwriting fonts-breip fonts-bwht ...)")
    print(f"weights: {args.weights or 'shipped'}  fonts: {len(fonts)}  seed {args.seed}")
    if args.marks:
        return report_marks(predictor, sources, kinds, args, test, fonts)
    print(f"{'source':<6} {'kind':<7} {'n':>4} {'exact %':>8} {'ceiling %':>9} {'gap':>6} {'digits in numbers %':>20} "
          f"{'alone %':>8} {'wrong count':>11} {'?':>3} {'ms p50':>7}")
    rows = []
    for source in sources:
        for kind in kinds:
            shown: list = []
            r = measure(predictor, numbers(source, kind, args.numbers, args.seed, test, fonts),
                        shown if args.sheet else None)
            rows.append(r)
            if args.sheet and shown:
                save_number_sheet(shown, args.sheet / f"{source}-{kind}.png")
            print(f"{source:<6} {kind:<7} {r['n']:>4} {r['exact']:>8.1f} {r['ceiling']:>9.1f} "
                  f"{r['exact'] - r['ceiling']:>+6.1f} {r['in_numbers']:>20.2f} {r['alone']:>8.2f} "
                  f"{r['wrong_count']:>11} {r['declined']:>3} {r['ms']:>7.1f}", flush=True)
    n = sum(r["n"] for r in rows)
    exact = sum(r["exact"] * r["n"] for r in rows) / max(n, 1)
    ceiling = sum(r["ceiling"] * r["n"] for r in rows) / max(n, 1)
    worst = min(r["exact"] for r in rows) if rows else float("nan")
    met = exact >= ceiling - 1.5 and worst >= 95
    print(f"all: {n} numbers, exact {exact:.1f} % vs the singles' ceiling {ceiling:.1f} % "
          f"(gap {exact - ceiling:+.1f}); worst kind {worst:.1f} %  "
          f"[goal: within 1.5 points of the ceiling and >= 95 % on every kind: {'met' if met else 'MISSED'}]")



def report_marks(predictor: Predictor, sources: list[str], kinds: list[str], args, test, fonts: list[Path]) -> None:
    from negatives import inks

    print(f"{'source':<6} {'kind':<7} {'n':>4} {'? at the mark %':>16} {'exact %':>8} {'mark read as a digit %':>23}")
    rows = []
    for source in sources:
        for kind in kinds:
            rng = np.random.default_rng([args.seed, SOURCES.index(source), KINDS.index(kind), 31])
            marks = inks("test", 10**6, rng)
            r = measure_marks(predictor, numbers(source, kind, args.numbers, args.seed, test, fonts, False, marks))
            rows.append(r)
            print(f"{source:<6} {kind:<7} {r['n']:>4} {r['flagged']:>16.1f} {r['exact']:>8.1f} {r['guessed']:>23.1f}",
                  flush=True)
    n = sum(r["n"] for r in rows)
    print(f"all: {n} numbers with a mark: a \"?\" at the mark {sum(r['flagged'] * r['n'] for r in rows) / n:.1f} %, "
          f"read exactly {sum(r['exact'] * r['n'] for r in rows) / n:.1f} %, "
          f"the mark read as a digit {sum(r['guessed'] * r['n'] for r in rows) / n:.1f} %")


if __name__ == "__main__":
    main()

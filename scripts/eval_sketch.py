"""Sketch-realism benchmark: digits as the app receives them, read naively and by digitlab.

Kinds (seeded; MNIST test digits redrawn with random pen widths, or handwriting fonts):
  sketchpad  800x800 Sketchpad value, black ink on white, digit 120-720 px, pen 8-40 px
  layer      the same drawn only on a transparent layer (alpha carries the ink)
  inverted   white ink on black, an RGB upload
  coloured   coloured ink on tinted (light or dark) paper
  photo      JPEG phone photo: lighting gradient, shadow, tilt, blur, noise, some EXIF-rotated
  font       handwriting-font digits on a white canvas
  font-photo the font digits as phone photos
  tight      MNIST test digits cut out close to their ink: 16-28 px, 0-2 px margin, both polarities, JPEG
  font-tight the font digits cut out the same way
  number-canvas / number-layer / number-photo
             numbers of 2-6 MNIST test digits re-inked as brush strokes and written in a row (gaps from
             wide to none, slight overlaps, a wavy baseline, mixed sizes) on a Sketchpad canvas, a
             transparent layer, a phone photo; read whole with Predictor.read_number
  font-hollow the font digits written hollow: only the outline of broad strokes inked
  font-thin  the font digits redrawn with a 1.5-3 px pen at 160-600 px: very thin handwriting
  tiny       MNIST test digits 24-60 px tall in a corner band of the canvas, far from its centre
  slanted    MNIST test digits leaning hard (sheared by 0.4-0.7 of their height, either way) on the canvas
"naive" is the tutorial pipeline: the whole image to greyscale, resized to 28x28, inverted.

    python scripts/eval_sketch.py --data-dir ../shared/data/mnist [--weights weights/mnist] [--kinds tight,...]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sketches import (  # noqa: E402
    CANVAS,
    coloured,
    find_fonts,
    font_glyph,
    hollow_glyph,
    inverted,
    mnist_glyph,
    number_ink,
    photo,
    place,
    place_far,
    redraw,
    sketchpad,
    slant,
    tight_crop,
    to_u8,
    transparent_layer,
)

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402

MNIST_KINDS = ("sketchpad", "layer", "inverted", "coloured", "photo", "tight")
FONT_KINDS = ("font", "font-photo", "font-tight")
NUMBER_KINDS = ("number-canvas", "number-layer", "number-photo")
RARE_KINDS = ("font-hollow", "font-thin", "tiny", "slanted")  # ways of writing reported on their own, not trained on
KINDS = MNIST_KINDS + FONT_KINDS + NUMBER_KINDS + RARE_KINDS  # new kinds go last: a kind's index seeds its renders
FROM_FONTS = FONT_KINDS + ("font-hollow", "font-thin")
FROM_MNIST = MNIST_KINDS + ("tiny", "slanted")


def mnist_examples(kind: str, images: np.ndarray, labels: np.ndarray, n: int, seed: int) -> Iterator[tuple]:
    """(source, label) pairs of one kind, from n random MNIST test digits."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    for i in rng.choice(len(images), min(n, len(images)), replace=False):
        if kind == "photo":
            size = 300
            glyph = mnist_glyph(images[i], size, size * rng.uniform(0.05, 0.2))
            yield photo(glyph, rng), int(labels[i])
            continue
        if kind == "tight":  # the digit as it is, not redrawn: scans keep the writer's own strokes
            yield tight_crop(images[i].astype(np.float32) / 255, rng), int(labels[i])
            continue
        if kind == "tiny":
            size = int(rng.integers(24, 61))
            glyph = mnist_glyph(images[i], size, max(2.0, size * rng.uniform(0.08, 0.14)))
            yield sketchpad(place_far(glyph, rng)), int(labels[i])
            continue
        size = int(rng.integers(120, 721))
        if kind == "slanted":
            glyph = mnist_glyph(images[i], size, float(np.exp(rng.uniform(np.log(8), np.log(30)))))
            yield sketchpad(place(slant(glyph, rng.choice([-1, 1]) * rng.uniform(0.4, 0.7)), rng)), int(labels[i])
            continue
        ink = place(mnist_glyph(images[i], size, float(np.exp(rng.uniform(np.log(8), np.log(40))))), rng)
        yield render(kind, ink, rng), int(labels[i])


def font_examples(kind: str, fonts: list[Path], reps: int, seed: int) -> Iterator[tuple]:
    """(source, label) pairs: every digit of every font, `reps` times at random sizes and places."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    for font in fonts:
        for digit in range(10):
            for _ in range(reps):
                if kind == "font-photo":
                    yield photo(font_glyph(font, digit, 300), rng), digit
                elif kind == "font-tight":
                    yield tight_crop(font_glyph(font, digit, 200), rng), digit
                else:
                    if kind == "font-hollow":
                        glyph = hollow_glyph(font, digit, int(rng.integers(160, 361)))
                    elif kind == "font-thin":
                        glyph = redraw(font_glyph(font, digit, 200), int(rng.integers(160, 601)), rng.uniform(1.5, 3))
                    else:
                        glyph = font_glyph(font, digit, int(rng.integers(120, 721)))
                    yield np.repeat(to_u8(1 - place(glyph, rng))[..., None], 3, axis=2), digit


def number_examples(kind: str, images: np.ndarray, labels: np.ndarray, n: int, seed: int) -> Iterator[tuple]:
    """(source, "2026") pairs: n numbers of 2-6 random MNIST test digits, re-inked and written in a row."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    for _ in range(n):
        picks = rng.choice(len(images), int(rng.integers(2, 7)), replace=False)
        height = int(rng.integers(90, 200))
        glyphs = [mnist_glyph(images[i], height, height * rng.uniform(0.07, 0.14)) for i in picks]
        ink = number_ink(glyphs, rng, height)
        number = "".join(str(int(labels[i])) for i in picks)
        if kind == "number-photo":
            yield photo(ink, rng, fill=(0.5, 0.95)), number
            continue
        canvas = np.zeros((max(ink.shape[0], 300), max(ink.shape[1], 800)), np.float32)
        y, x = (canvas.shape[0] - ink.shape[0]) // 2, (canvas.shape[1] - ink.shape[1]) // 2
        canvas[y:y + ink.shape[0], x:x + ink.shape[1]] = ink
        yield (sketchpad(canvas) if kind == "number-canvas" else transparent_layer(canvas)), number


def timed_number(predictor, source) -> tuple[str, float]:
    """The number read from `source` ("" where the reader refuses it) and the seconds the reading took."""
    start = time.perf_counter()
    try:
        reading = predictor.read_number(source).number
    except ImageError:
        reading = ""
    return reading, time.perf_counter() - start


def evaluate_numbers(predictor, examples: Iterator[tuple], sheet: Path | None, kind: str) -> dict:
    """Numbers read exactly, digits read right (in numbers of the right length), the time per number."""
    exact = n = digits = digits_right = wrong_length = 0
    times, shown = [], []
    for source, number in examples:
        reading, seconds = timed_number(predictor, source)
        times.append(seconds)
        n += 1
        exact += reading == number
        digits += len(number)
        if len(reading) == len(number):
            digits_right += sum(a == b for a, b in zip(reading, number, strict=True))
        else:
            wrong_length += 1
        if sheet is not None and reading != number and len(shown) < 24:
            shown.append((source, number, reading))
    if sheet is not None and shown:
        save_number_sheet(shown, sheet / f"{kind}.png")
    return dict(n=n, exact=100 * exact / max(n, 1), digits=100 * digits_right / max(digits, 1),
                wrong_length=wrong_length, ms=1000 * float(np.median(times)) if times else float("nan"))


def save_number_sheet(shown: list[tuple], path: Path) -> None:
    from PIL import ImageDraw

    sheet = Image.new("RGB", (2 * 420, ((len(shown) + 1) // 2) * 150), "grey")
    draw = ImageDraw.Draw(sheet)
    for k, (source, number, reading) in enumerate(shown):
        x, y = (k % 2) * 420, (k // 2) * 150
        img = thumbnail(source, (400, 120))
        sheet.paste(img, (x + 4, y + 24))
        draw.text((x + 6, y + 4), f"{number} -> {reading or '(nothing)'}", fill="red")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def render(kind: str, ink: np.ndarray, rng: np.random.Generator):
    if kind == "sketchpad":
        return sketchpad(ink)
    if kind == "layer":
        return transparent_layer(ink)
    if kind == "inverted":
        return inverted(ink)
    return coloured(ink, rng)


def naive_view(source) -> np.ndarray:
    """The tutorial pipeline: whole image, greyscale (alpha over white), 28x28, inverted."""
    if isinstance(source, dict):
        source = source["composite"] if source["composite"] is not None else source["layers"][0]
    img = Image.open(io.BytesIO(source)) if isinstance(source, bytes) else Image.fromarray(source)
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img)
    return 255 - np.asarray(img.convert("L").resize((28, 28), Image.Resampling.BILINEAR))


def classify(predictor, views: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The answers and their confidences for (1, 28, 28) views."""
    probs = predictor.probabilities(views)
    confidence, answer = probs.max(1)
    return answer.numpy(), confidence.numpy()


def evaluate(predictor, examples: Iterator[tuple], sheet: Path | None, kind: str, batch: int = 64) -> dict:
    """Accuracy of both pipelines over a stream of examples, digitlab's preprocessing time and confidence."""
    naive_ok = ours_ok = n = errors = 0
    confidences: list[float] = []
    times: list[float] = []
    shown: list[tuple] = []
    chunk: list[tuple] = []

    def flush() -> None:
        nonlocal naive_ok, ours_ok, n, errors
        sources, labels = zip(*chunk, strict=True)
        labels = np.array(labels)
        views, readable = [], []
        for source in sources:
            start = time.perf_counter()
            try:
                views.append(predictor.prepare(source))
                readable.append(True)
            except ImageError:
                views.append(np.zeros((1, 28, 28), np.uint8))
                readable.append(False)
            times.append(time.perf_counter() - start)
        answers, sure = classify(predictor, views)
        ours = np.where(readable, answers, -1)
        confidences.extend(sure[ours == labels].tolist())
        naive = classify(predictor, [naive_view(s)[None] for s in sources])[0]
        n += len(labels)
        errors += len(labels) - sum(readable)
        ours_ok += int((ours == labels).sum())
        naive_ok += int((naive == labels).sum())
        for s, v, y, p in zip(sources, [v[0] for v in views], labels, ours, strict=True):
            if len(shown) < 40 and (p != y or len(shown) < 20):
                shown.append((s, v, int(y), int(p)))
        chunk.clear()

    for example in examples:
        chunk.append(example)
        if len(chunk) == batch:
            flush()
    if chunk:
        flush()
    if sheet is not None and shown:
        save_sheet(shown, sheet / f"{kind}.png")
    return dict(n=n, naive=100 * naive_ok / max(n, 1), ours=100 * ours_ok / max(n, 1), errors=errors,
                ms=1000 * float(np.median(times)) if times else float("nan"),
                sure=100 * float(np.median(confidences)) if confidences else float("nan"))


def thumbnail(source, box: tuple[int, int] = (112, 112)) -> Image.Image:
    if isinstance(source, dict):
        source = source["composite"] if source["composite"] is not None else source["layers"][0][..., 3]
    img = Image.open(io.BytesIO(source)) if isinstance(source, bytes) else Image.fromarray(source)
    scale = min(box[0] / img.width, box[1] / img.height)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.NEAREST)
    return img.convert("RGB")


def save_sheet(shown: list[tuple], path: Path) -> None:
    """Input thumbnails beside the 28x28 views (first the first 20, then mistakes), for eyeballing."""
    from PIL import ImageDraw

    sheet = Image.new("RGB", (4 * 240, ((len(shown) + 3) // 4) * 120), "grey")
    draw = ImageDraw.Draw(sheet)
    for k, (source, view, label, pred) in enumerate(shown):
        x, y = (k % 4) * 240, (k // 4) * 120
        sheet.paste(thumbnail(source), (x + 2, y + 2))
        sheet.paste(Image.fromarray(view).resize((112, 112), Image.Resampling.NEAREST).convert("RGB"), (x + 120, y + 2))
        draw.text((x + 122, y + 4), f"{label}->{pred}", fill="red" if label != pred else "lime")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="model folder or Hub repo id (default: the shipped weights)")
    p.add_argument("--data-dir", default="auto", help="MNIST folder, 'sample' or 'auto' (default: auto)")
    p.add_argument("--n", type=int, default=1000, help="MNIST digits per kind (default: 1000)")
    p.add_argument("--font-reps", type=int, default=3, help="renders per font and digit (default: 3)")
    p.add_argument("--numbers", type=int, default=300, help="numbers per number kind (default: 300)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--sheet", type=Path, help="save a contact sheet per kind into this folder")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        p.error(f"unknown kinds {unknown}; choose from {list(KINDS)}")
    predictor = Predictor.from_pretrained(args.weights)
    needs_mnist = set(kinds) & set(FROM_MNIST + NUMBER_KINDS)
    data = load_dataset("mnist", args.data_dir) if needs_mnist else None
    fonts = find_fonts() if set(kinds) & set(FROM_FONTS) else []
    print(f"weights: {args.weights or 'shipped'}  data: {data or '-'}  fonts: {len(fonts)}  canvas: {CANVAS}px")
    print(f"{'kind':<13} {'n':>5} {'naive %':>8} {'digitlab %':>10} {'refused':>7} {'prep ms p50':>11} "
          f"{'sure % p50':>10}")
    images, labels = (data.test_images[:, 0].numpy(), data.test_labels.numpy()) if data else (None, None)
    for kind in kinds:
        if kind in NUMBER_KINDS:
            r = evaluate_numbers(predictor, number_examples(kind, images, labels, args.numbers, args.seed),
                                 args.sheet, kind)
            print(f"{kind:<13} {r['n']:>5} numbers read exactly {r['exact']:.1f} %, digits {r['digits']:.2f} %, "
                  f"wrong length {r['wrong_length']}, {r['ms']:.1f} ms per number p50", flush=True)
            continue
        if kind in FROM_FONTS:
            if not fonts:
                print(f"{kind:<13} skipped: no handwriting fonts found (apt-get install fonts-dkg-handwriting "
                      "fonts-breip fonts-femkeklaver fonts-rufscript fonts-sjfonts fonts-humor-sans ...)")
                continue
            examples = font_examples(kind, fonts, args.font_reps, args.seed)
        else:
            examples = mnist_examples(kind, images, labels, args.n, args.seed)
        r = evaluate(predictor, examples, args.sheet, kind)
        print(f"{kind:<13} {r['n']:>5} {r['naive']:>8.1f} {r['ours']:>10.1f} {r['errors']:>7} {r['ms']:>11.2f} "
              f"{r['sure']:>10.2f}", flush=True)


if __name__ == "__main__":
    main()

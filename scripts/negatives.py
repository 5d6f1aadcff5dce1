"""Things that are not digits, drawn the way the app receives digits: letters, shapes and scribbles.

Two families that share no code path and no font, so that a model taught on one is measured on the other:

- "train": letters typed in DejaVu, Liberation and Noto, slanted and turned, as typed or redrawn with a round pen;
  shapes drawn as polylines (squares, triangles, stars, crosses, arrows, hearts, zigzags, spirals, waves, turned
  any way) and doodles of two to four random strokes (lines, hooks, arcs); scribbles as random walks; and with
  --handwriting, real pen strokes that are not the model's classes, from training splits only: for a digit model
  Chinese MNIST characters (not 一 or 七, a dash and a barred 7) and MNIST 2s, 3s, 4s, 5s and 7s lying on their
  side (a 6 or 9 on its side can look like a 0, 6 or 9); for the numerals model MNIST digits (not 1, a turned 一);
  for the clothes model both, upright.
  A stroke the model starting out reads at >= 0.95 is left out: it may look like one of the classes; with
  --hollow, that share of them drawn hollow (scripts/styled_views.hollow), as the hollow digits it learns;
  with --strokes, only glyphs of Hershey's stroke fonts (pip install Hershey-Fonts: a dev tool, not a dependency
  of the app), their strokes drawn with a round pen, stretched, slanted and turned: LETTERS in script, cursive,
  gothic and plain hands, and uncurated Greek, Cyrillic, kana and symbols, left out where the model reads them at
  >= 0.95 as handwriting is;
- "test": letters of Debian's handwriting fonts (scripts/sketches.FONT_NAMES), shapes from parametric outlines
  with a wobbling hand (houses, suns, moons, clouds, lightning, flowers, fish, envelopes, trees), scribbles as
  Lissajous loops and hatching.

Letters that people write like a digit (O o D Q I l i j J Z z S s b G B g q T) are left out of both: a drawn O
*is* read as 0. Each ink map is rendered by scripts/sketches.py as a Sketchpad canvas, a transparent layer,
coloured ink on tinted paper or a phone photo, and read with the model's own preprocessing.

    python scripts/negatives.py --family test --n 600 --out /tmp/negatives-test.npz [--weights weights/mnist]
    python scripts/negatives.py --family train --n 9000 --handwriting ../shared/data --out /tmp/neg-written.npz
    python scripts/negatives.py --family train --strokes --n 4000 --seed 20 --out /tmp/neg-strokes.npz
"""

from __future__ import annotations

import argparse
import math
import string
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sketches import CANVAS, coloured, find_fonts, mnist_glyph, photo, place, redraw, sketchpad, transparent_layer  # noqa: E402
from styled_views import hollow  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402

LETTERS = "ACEFHKLMNPRUVWXYacdefhkmnprtuvwxy"
TYPEFACES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
             "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf", "LiberationSans-Regular.ttf",
             "LiberationSans-Italic.ttf", "LiberationSerif-Regular.ttf", "LiberationSerif-BoldItalic.ttf",
             "LiberationMono-Regular.ttf", "LiberationSansNarrow-Bold.ttf", "NotoSansCJK-Regular.ttc",
             "NotoSerifCJK-Regular.ttc")  # the train family's; the test family's are handwriting fonts
KINDS = ("sketchpad", "layer", "coloured", "photo")
SIDE = 400  # px of the square a shape is drawn in
Handwriting = list[tuple[np.ndarray, bool]]  # light-on-dark uint8 squares, and whether to lie each on its side


def typefaces() -> list[Path]:
    found = {p.name: p for p in Path("/usr/share/fonts").rglob("*") if p.name in TYPEFACES}
    return [found[name] for name in TYPEFACES if name in found]


def typed(font: Path, char: str, turn: float = 0.0, slant: float = 0.0) -> np.ndarray:
    """One character typed in `font`, turned `turn` degrees and slanted, cropped to its ink, float ink map."""
    face = ImageFont.truetype(str(font), 200)
    canvas = Image.new("L", (400, 400), 0)
    ImageDraw.Draw(canvas).text((100, 60), char, font=face, fill=255)
    if turn or slant:
        canvas = canvas.transform(canvas.size, Image.Transform.AFFINE, (1, slant, -slant * 200, 0, 1, 0),
                                  Image.Resampling.BILINEAR).rotate(turn, Image.Resampling.BILINEAR)
    ink = np.asarray(canvas, dtype=np.float32) / 255
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def drawn(lines: list[list[tuple[float, float]]], pen: float) -> np.ndarray:
    """Polylines in a SIDE x SIDE square, drawn with a round pen, as a float ink map."""
    image = Image.new("L", (SIDE, SIDE), 0)
    draw = ImageDraw.Draw(image)
    for line in lines:
        draw.line(line, fill=255, width=max(1, round(pen)), joint="curve")
        r = pen / 2
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(image, dtype=np.float32) / 255


# ---------------------------------------------------------------- the "train" family
def polyline_shape(rng: np.random.Generator, skip: tuple[str, ...] = ()) -> list[list[tuple[float, float]]]:
    c, r = SIDE / 2, SIDE * rng.uniform(0.3, 0.45)
    kind = rng.choice([k for k in ("square", "triangle", "star", "cross", "arrow", "heart", "zigzag", "spiral", "wave")
                       if k not in skip])
    if kind == "square":
        w, h = r, r * rng.uniform(0.5, 1.0)
        return [[(c - w, c - h), (c + w, c - h), (c + w, c + h), (c - w, c + h), (c - w, c - h)]]
    if kind == "triangle":
        return [[(c, c - r), (c + r, c + r), (c - r, c + r), (c, c - r)]]
    if kind == "star":
        points = int(rng.integers(5, 8))
        return [[(c + (r if j % 2 == 0 else r / 2.4) * math.sin(j * math.pi / points),
                  c - (r if j % 2 == 0 else r / 2.4) * math.cos(j * math.pi / points)) for j in range(2 * points + 1)]]
    if kind == "cross":
        return [[(c - r, c - r), (c + r, c + r)], [(c + r, c - r), (c - r, c + r)]]
    if kind == "arrow":
        return [[(c - r, c), (c + r, c)], [(c + r / 2, c - r / 2), (c + r, c), (c + r / 2, c + r / 2)]]
    if kind == "heart":
        t = np.linspace(0, 2 * math.pi, 80)
        return [list(zip(c + r / 17 * 16 * np.sin(t) ** 3,
                         c - r / 17 * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)),
                         strict=True))]
    if kind == "zigzag":
        teeth = int(rng.integers(3, 7))
        return [[(c - r + 2 * r * j / teeth, c + (r / 2 if j % 2 else -r / 2)) for j in range(teeth + 1)]]
    if kind == "spiral":
        t = np.linspace(0, rng.uniform(3, 5) * 2 * math.pi, 200)
        return [list(zip(c + r * t / t[-1] * np.cos(t), c + r * t / t[-1] * np.sin(t), strict=True))]
    t = np.linspace(-r, r, 60)
    return [list(zip(c + t, c + r / 3 * np.sin(t / r * math.pi * rng.uniform(1.5, 3)), strict=True))]


def turned(lines: list[list[tuple[float, float]]], rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """The lines turned about the square's centre by any angle."""
    a, c = rng.uniform(0, 2 * math.pi), SIDE / 2
    cos, sin = math.cos(a), math.sin(a)
    return [[(c + (x - c) * cos - (y - c) * sin, c + (x - c) * sin + (y - c) * cos) for x, y in line]
            for line in lines]


def doodle(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """Two to four strokes anywhere in the square: lines, hooks (3-5 point polylines) and arcs."""
    lines = []
    for _ in range(int(rng.integers(2, 5))):
        x, y = rng.uniform(0.2, 0.8, 2) * SIDE
        if rng.random() < 0.4:  # an arc of a circle
            r, start = rng.uniform(0.1, 0.3) * SIDE, rng.uniform(0, 2 * math.pi)
            t = np.linspace(start, start + rng.uniform(0.5, 1.6) * math.pi, 40)
            lines.append(list(zip(np.clip(x + r * np.cos(t), 20, SIDE - 20), np.clip(y + r * np.sin(t), 20, SIDE - 20),
                                  strict=True)))
            continue
        points = [(x, y)]
        for _ in range(int(rng.integers(1, 5))):
            x, y = np.clip((x, y) + rng.normal(0, 0.25 * SIDE, 2), 20, SIDE - 20)
            points.append((float(x), float(y)))
        lines.append(points)
    return lines


# Hershey's stroke fonts (the Hershey-Fonts package): letters as a pen draws them, in hands no TTF font here has,
# and glyphs of other scripts and symbols. The Latin ones are LETTERS; the others are not curated: a view the model
# reads surely is left out, as handwriting is (LOOKS_LIKE_ONE)
STROKE_LETTERS = ("scripts", "scriptc", "cursive", "futural", "rowmans", "timesi", "gothiceng")
STROKE_OTHERS = ("greek", "cyrillic", "japanese", "symbolic", "mathupp")
OTHER_CHARS = string.ascii_letters + "#$%&*+<>?@[]^{}~"


def stroked(rng: np.random.Generator) -> tuple[str, list[list[tuple[float, float]]]]:
    """("letter" or "symbol", its strokes in the SIDE square), stretched, slanted and turned a little: the font's own
    strokes, with no wobble (the test family's hand is its own)."""
    from HersheyFonts import HersheyFonts

    latin = rng.random() < 0.5
    font = HersheyFonts()
    font.load_default_font(str(rng.choice(STROKE_LETTERS if latin else STROKE_OTHERS)))
    chars = LETTERS if latin else OTHER_CHARS
    strokes = list(font.strokes_for_text(chars[int(rng.integers(len(chars)))]))
    points = np.concatenate([np.asarray(s, float) for s in strokes]) if strokes else np.zeros((1, 2))
    low, high = points.min(0), points.max(0)
    scale = SIDE * rng.uniform(0.55, 0.8) / max(float((high - low).max()), 1e-6) * np.array([rng.uniform(0.8, 1.2), -1])
    slant, turn = rng.uniform(-0.3, 0.3), rng.normal(0, 0.15)
    cos, sin = math.cos(turn), math.sin(turn)
    lines = []
    for s in strokes:
        xy = (np.asarray(s, float) - (low + high) / 2) * scale  # the font's y points up
        xy[:, 0] += slant * xy[:, 1]
        lines.append([tuple(p) for p in xy @ [[cos, sin], [-sin, cos]] + SIDE / 2])
    return ("letter" if latin else "symbol"), lines


def random_walk(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    x = y = SIDE / 2
    angle, points = rng.uniform(0, 2 * math.pi), [(x, y)]
    for _ in range(int(rng.integers(25, 90))):
        angle += rng.normal(0, 0.8)
        x = float(np.clip(x + 12 * math.cos(angle), 30, SIDE - 30))
        y = float(np.clip(y + 12 * math.sin(angle), 30, SIDE - 30))
        points.append((x, y))
    return [points]


def written(spec_name: str, data: Path) -> Handwriting:
    """(image, lie it on its side) of real handwriting that is not one of `spec_name`'s classes, from the training
    splits under `data` (../shared/data): light-on-dark uint8 squares."""
    mnist = load_dataset("mnist", data / "mnist")
    if spec_name == "chinese-mnist":
        keep = mnist.train_labels != 1
        return [(image[0].numpy(), False) for image in mnist.train_images[keep]]
    chinese = load_dataset("chinese-mnist", data / "chinese_mnist" / "chinese_mnist_jpg.tar.gz")
    if spec_name != "mnist":  # a photo model's classes (clothes): no handwriting is one of them
        both = (*chinese.train_images, *mnist.train_images[:len(chinese.train_images)])
        return [(image[0].numpy(), False) for image in both]
    labels = chinese.spec.labels
    keep = [labels[int(y)] not in "一七" for y in chinese.train_labels]
    sideways = torch.isin(mnist.train_labels, torch.tensor([2, 3, 4, 5, 7]))[:len(keep)]  # as many as characters
    return [(image[0].numpy(), False) for image in chinese.train_images[torch.tensor(keep)]] + \
        [(image[0].numpy(), True) for image in mnist.train_images[:len(keep)][sideways]]


def written_ink(handwriting: Handwriting, rng: np.random.Generator, pen: float) -> np.ndarray:
    """One of them, redrawn with a round pen; a digit lying on its side turned 90 degrees either way, +-15."""
    image, sideways = handwriting[int(rng.integers(len(handwriting)))]
    ink = mnist_glyph(image, int(rng.integers(160, 400)), pen)
    if sideways:
        turn = rng.choice([90.0, -90.0]) + rng.uniform(-15, 15)
        ink = np.asarray(Image.fromarray(ink).rotate(turn, Image.Resampling.BILINEAR, expand=True))
    return ink


# ---------------------------------------------------------------- the "test" family
def wobble(points: np.ndarray, rng: np.random.Generator, amount: float) -> list[tuple[float, float]]:
    """A hand's wobble: smooth noise along the outline."""
    n = len(points)
    noise = np.cumsum(rng.normal(0, amount, (n, 2)), axis=0)
    noise -= np.linspace(0, 1, n)[:, None] * noise[-1]  # a closed outline stays closed
    return [tuple(p) for p in points + noise]


def outline_shape(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    c, r = SIDE / 2, SIDE * rng.uniform(0.3, 0.42)
    t = np.linspace(0, 2 * math.pi, 120)
    kind = rng.choice(["house", "sun", "moon", "cloud", "lightning", "flower", "fish", "envelope", "tree"])

    def ring(scale: float, cx: float = c, cy: float = c, n: int = 120) -> np.ndarray:
        s = np.linspace(0, 2 * math.pi, n)
        return np.stack([cx + scale * np.cos(s), cy + scale * np.sin(s)], 1)

    if kind == "house":
        body = np.array([(c - r, c), (c - r, c + r), (c + r, c + r), (c + r, c), (c - r, c)])
        roof = np.array([(c - r * 1.1, c), (c, c - r), (c + r * 1.1, c)])
        door = np.array([(c - r / 4, c + r), (c - r / 4, c + r / 3), (c + r / 4, c + r / 3), (c + r / 4, c + r)])
        return [wobble(p, rng, 1.0) for p in (body, roof, door)]
    if kind == "sun":
        rays = [np.array([(c + r * 0.55 * math.cos(a), c + r * 0.55 * math.sin(a)),
                          (c + r * math.cos(a), c + r * math.sin(a))]) for a in np.linspace(0, 2 * math.pi, 9)[:-1]]
        return [wobble(ring(r * 0.4), rng, 0.8)] + [wobble(p, rng, 0.5) for p in rays]
    if kind == "moon":  # a crescent: an outer arc, and an inner arc of a circle moved aside
        s_out = np.linspace(-0.6 * math.pi, 0.6 * math.pi, 80)
        s_in = np.linspace(0.45 * math.pi, -0.45 * math.pi, 80)
        outer = np.stack([c + r * np.cos(s_out), c + r * np.sin(s_out)], 1)
        inner = np.stack([c - r * 0.45 + r * 0.8 * np.cos(s_in), c + r * 0.95 * np.sin(s_in)], 1)
        return [wobble(np.concatenate([outer, inner]), rng, 0.8)]
    if kind == "cloud":
        bumps = 5 + int(rng.integers(0, 3))
        radius = r * (0.75 + 0.25 * np.abs(np.sin(t * bumps / 2)))
        return [wobble(np.stack([c + radius * np.cos(t), c + 0.6 * radius * np.sin(t)], 1), rng, 0.8)]
    if kind == "lightning":
        return [wobble(np.array([(c + r * 0.2, c - r), (c - r * 0.4, c + r * 0.1), (c + r * 0.2, c + r * 0.1),
                                 (c - r * 0.3, c + r), (c + r * 0.6, c - r * 0.2), (c, c - r * 0.2),
                                 (c + r * 0.2, c - r)]), rng, 0.8)]
    if kind == "flower":
        petals = int(rng.integers(5, 9))
        radius = r * np.abs(np.cos(t * petals / 2))
        stem = np.array([(c, c + r * 0.3), (c, c + r * 1.6)])
        return [wobble(np.stack([c + radius * np.cos(t), c - r * 0.3 + radius * np.sin(t) * 0.7], 1), rng, 0.6),
                wobble(stem, rng, 0.5)]
    if kind == "fish":
        body = np.stack([c + r * 0.8 * np.cos(t), c + r * 0.45 * np.sin(t)], 1)
        tail = np.array([(c + r * 0.8, c), (c + r * 1.2, c - r * 0.4), (c + r * 1.2, c + r * 0.4), (c + r * 0.8, c)])
        return [wobble(body, rng, 0.8), wobble(tail, rng, 0.5)]
    if kind == "envelope":
        w, h = r, r * 0.65
        box = np.array([(c - w, c - h), (c + w, c - h), (c + w, c + h), (c - w, c + h), (c - w, c - h)])
        flap = np.array([(c - w, c - h), (c, c + h * 0.2), (c + w, c - h)])
        return [wobble(box, rng, 0.8), wobble(flap, rng, 0.5)]
    crown = np.array([(c - r * 0.8, c + r * 0.3), (c, c - r), (c + r * 0.8, c + r * 0.3), (c - r * 0.8, c + r * 0.3)])
    trunk = np.array([(c - r * 0.15, c + r * 0.3), (c - r * 0.15, c + r), (c + r * 0.15, c + r),
                      (c + r * 0.15, c + r * 0.3)])
    return [wobble(crown, rng, 0.8), wobble(trunk, rng, 0.5)]


def loops(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    c, r = SIDE / 2, SIDE * 0.4
    if rng.random() < 0.5:  # a Lissajous loop
        t = np.linspace(0, 2 * math.pi, 300)
        a = int(rng.integers(2, 6))
        b = a + int(rng.integers(1, 3))  # a == b would be an ellipse: a 0
        return [list(zip(c + r * np.sin(a * t + rng.uniform(0, math.pi)), c + r * np.sin(b * t), strict=True))]
    lines, angle = [], rng.uniform(0, math.pi)  # hatching: parallel strokes
    for k in np.linspace(-r, r, int(rng.integers(4, 9))):
        dx, dy = math.cos(angle), math.sin(angle)
        lines.append([(c + k * -dy - r * dx, c + k * dx - r * dy), (c + k * -dy + r * dx, c + k * dx + r * dy)])
    return lines


# ---------------------------------------------------------------- as the app receives them
def inks(family: str, n: int, rng: np.random.Generator, skip: tuple[str, ...] = (),
         handwriting: Handwriting | None = None, hollowed: float = 0.0,
         strokes: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """(what, float ink map) pairs: letters, shapes and scribbles in turn, and handwriting if given (or only
    stroke-font glyphs, `strokes`); `hollowed` of them drawn hollow."""
    for what, ink in plain_inks(family, n, rng, skip, handwriting, strokes):
        yield what, hollow(ink, rng) if hollowed and rng.random() < hollowed else ink


def plain_inks(family: str, n: int, rng: np.random.Generator, skip: tuple[str, ...] = (),
               handwriting: Handwriting | None = None, strokes: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    fonts = typefaces() if family == "train" else find_fonts()
    if not fonts:
        raise SystemExit(f"no fonts for the {family} family (see the docstring)")
    whats = ("stroked",) if strokes else ("letter", "shape", "scribble") + (("written",) if handwriting else ())
    for i in range(n):
        what = whats[i % len(whats)]
        pen = float(np.exp(rng.uniform(np.log(8), np.log(30))))
        if what == "stroked":
            what, lines = stroked(rng)
            yield what, drawn(lines, pen * SIDE / 300)
            continue
        if what == "written":
            yield what, written_ink(handwriting, rng, pen)
            continue
        if what == "letter":
            font, char = fonts[int(rng.integers(len(fonts)))], LETTERS[int(rng.integers(len(LETTERS)))]
            if family == "test":
                yield what, typed(font, char)
                continue
            glyph = typed(font, char, rng.normal(0, 10), rng.uniform(-0.4, 0.4))
            yield what, redraw(glyph, int(rng.integers(120, 500)), pen) if rng.random() < 0.7 else glyph
            continue
        if family == "train":
            lines = (turned(polyline_shape(rng, skip), rng) if rng.random() < 0.5 else doodle(rng)) if what == "shape" \
                else random_walk(rng)
        else:
            lines = outline_shape(rng) if what == "shape" else loops(rng)
        yield what, drawn(lines, pen * SIDE / 300)


def sources(family: str, n: int, seed: int, skip: tuple[str, ...] = (), handwriting: Handwriting | None = None,
            hollowed: float = 0.0, strokes: bool = False) -> Iterator[tuple[str, object]]:
    """(what, an input as the app receives it) pairs, each ink rendered as one of KINDS in turn."""
    rng = np.random.default_rng([seed, ("train", "test").index(family)])
    for i, (what, ink) in enumerate(inks(family, n, rng, skip, handwriting, hollowed, strokes)):
        kind = KINDS[i % len(KINDS)]
        if kind == "photo":
            yield what, photo(ink, rng)
            continue
        size = int(rng.integers(160, 640))
        scale = size / max(ink.shape)
        shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        glyph = np.asarray(Image.fromarray(ink).resize(shape, Image.Resampling.BILINEAR))
        page = place(glyph, rng, (CANVAS, CANVAS))
        yield what, {"sketchpad": sketchpad, "layer": transparent_layer}[kind](page) if kind != "coloured" else \
            coloured(page, rng)


LOOKS_LIKE_ONE = 0.95  # handwriting the model reads this surely may be one of its classes: left out
LOOK_ALIKES = {"chinese-mnist": ("cross",)}  # shapes that are one of a dataset's classes: a turned cross is 十


def views(predictor: Predictor, family: str, n: int, seed: int, handwriting: Handwriting | None = None,
          hollowed: float = 0.0, strokes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(views (N, C, S, S) uint8, what each is) read with the model's preprocessing; blank ones skipped."""
    out, kinds = [], []
    for what, source in sources(family, n, seed, LOOK_ALIKES.get(predictor.spec.name, ()), handwriting, hollowed,
                                strokes):
        try:
            view = predictor.prepare(source)
        except ImageError:
            continue
        if what in ("written", "symbol") and float(predictor.probabilities([view]).max()) >= LOOKS_LIKE_ONE:
            continue
        out.append(view)
        kinds.append(what)
    return np.stack(out), np.array(kinds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", choices=("train", "test"), required=True)
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="", help="whose preprocessing reads them (default: the shipped MNIST model; "
                   "weights/chinese-mnist for the numerals)")
    p.add_argument("--handwriting", type=Path, help="the data folder (../shared/data): add real handwriting that "
                   "is not the model's classes (train family only)")
    p.add_argument("--hollow", type=float, default=0.0, help="share of them drawn hollow (train family only)")
    p.add_argument("--strokes", action="store_true", help="only Hershey stroke-font letters and symbols (train "
                   "family only; needs pip install Hershey-Fonts)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if (args.handwriting or args.hollow or args.strokes) and args.family != "train":
        p.error("--handwriting, --hollow and --strokes belong to the train family")
    predictor = Predictor.from_pretrained(args.weights or None)
    handwriting = written(predictor.spec.name, args.handwriting) if args.handwriting else None
    images, kinds = views(predictor, args.family, args.n, args.seed, handwriting, args.hollow, args.strokes)
    np.savez_compressed(args.out, images=images, kinds=kinds)
    print(f"{len(images)} views of {args.family} negatives -> {args.out}")


if __name__ == "__main__":
    main()

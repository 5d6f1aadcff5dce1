"""Render digits the way the app receives them: Sketchpad values, uploads and phone photos.

Each renderer takes an ink map (float, 0 = paper, 1 = ink) and a seeded numpy Generator and
returns what the app would be handed (a Sketchpad dict, an RGB array, JPEG bytes). Glyphs
come from MNIST test digits redrawn with another pen width, or from handwriting fonts.
Used by scripts/eval_sketch.py; numpy + Pillow only.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CANVAS = 800  # the Sketchpad's default canvas_size
RENDER = 160  # px, digit long side while the pen width is changed
# Handwriting-like fonts from Debian (fonts-dkg-handwriting fonts-breip
# fonts-rufscript fonts-sjfonts fonts-humor-sans fonts-comic-neue fonts-bwht fonts-klee
# fonts-kaushanscript). Outline fonts (femkeklaver, CabinSketch) are left out: nobody writes
# hollow digits.
FONT_NAMES = ("dkg.ttf", "dkgBd.ttf", "dkgIt.ttf", "Breip.ttf", "Rufscript010.ttf",
              "Delphine.ttf", "SteveHand.ttf", "Humor-Sans.ttf", "ComicNeue-Regular.otf", "ComicNeue-Bold.otf",
              "ComicNeue-Light.otf", "BecauseWeBuild-Regular.otf", "BecauseWeConnect-Regular.otf",
              "BecauseWeCreate-Regular.otf", "BecauseWeLearn-Regular.otf", "BecauseWeMentor-Regular.otf",
              "BecauseWeOrganize-Regular.otf", "KleeOne-Regular.ttf", "KleeOne-SemiBold.ttf",
              "KaushanScript-Regular.otf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts")


# ---------------------------------------------------------------- glyphs


def shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """a moved by (dy, dx) with zeros coming in."""
    out = np.zeros_like(a)
    h, w = a.shape
    src = a[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = src
    return out


def dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary dilation by `steps` octagon steps (alternating cross and square): a round-ish pen."""
    for i in range(steps):
        grown = mask | shift(mask, 1, 0) | shift(mask, -1, 0) | shift(mask, 0, 1) | shift(mask, 0, -1)
        if i % 2:
            grown |= shift(mask, 1, 1) | shift(mask, 1, -1) | shift(mask, -1, 1) | shift(mask, -1, -1)
        mask = grown
    return mask


def erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion by `steps` octagon steps."""
    return ~dilate(~mask, steps)


def width_of(mask: np.ndarray) -> float:
    """Mean stroke width: area over half the outline length."""
    m = np.pad(mask, 1)
    outline = np.count_nonzero(m[1:] != m[:-1]) + np.count_nonzero(m[:, 1:] != m[:, :-1])
    return float(mask.sum()) / max(outline / 2, 1.0)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning (vectorised): the 1-px path a pen would have followed."""
    mask = np.pad(mask, 1).astype(np.uint8)
    while True:
        changed = False
        for step in (0, 1):
            p = [mask[:-2, 1:-1], mask[:-2, 2:], mask[1:-1, 2:], mask[2:, 2:],  # N, NE, E, SE
                 mask[2:, 1:-1], mask[2:, :-2], mask[1:-1, :-2], mask[:-2, :-2]]  # S, SW, W, NW
            count = sum(q.astype(np.int32) for q in p)
            turns = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            n, e, s_, w = p[0], p[2], p[4], p[6]
            if step == 0:
                side = (n * e * s_ == 0) & (e * s_ * w == 0)
            else:
                side = (n * e * w == 0) & (n * s_ * w == 0)
            drop = (mask[1:-1, 1:-1] == 1) & (count >= 2) & (count <= 6) & (turns == 1) & side
            if drop.any():
                mask[1:-1, 1:-1][drop] = 0
                changed = True
        if not changed:
            return mask[1:-1, 1:-1].astype(bool)


def neighbours(mask: np.ndarray) -> np.ndarray:
    """How many of the 8 neighbours of each pixel are set."""
    m = mask.astype(np.int32)
    return sum(shift(m, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


def prune(path: np.ndarray, length: int) -> np.ndarray:
    """Drop side branches shorter than `length` (thinning leaves them at thick corners)."""
    trimmed = path.copy()
    for _ in range(length):
        trimmed &= ~(neighbours(trimmed) == 1)
    tips = trimmed & (neighbours(trimmed) <= 1)
    for _ in range(length):  # grow the real stroke ends back along the original path
        tips = (tips | (neighbours(tips) > 0)) & path
    return trimmed | tips


def redraw(ink: np.ndarray, size: int, pen: float) -> np.ndarray:
    """A glyph (float ink map) redrawn with a pen `pen` px wide, long side `size` px, anti-aliased."""
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = RENDER / max(ink.shape)
    pad = 12
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    big = np.asarray(Image.fromarray(ink.astype(np.float32)).resize(shape, Image.Resampling.BILINEAR))
    mask = np.pad(big > 0.3, pad)
    pen_here = pen * RENDER / size  # a round brush of this width along the digit's path
    natural = width_of(mask)
    path = dilate(prune(skeleton(mask), length=RENDER // 16), max(0, round((pen_here - 1) / 2)))
    # Where the digit is wider than the pen (a filled loop, a blob) keep its eroded body too,
    # so a thin pen never deletes what MNIST shows.
    mask = path | erode(mask, max(0, round((natural - pen_here) / 2)))
    out_shape = (max(1, round(mask.shape[1] * size / RENDER)), max(1, round(mask.shape[0] * size / RENDER)))
    soft = Image.fromarray(mask.astype(np.uint8) * 255).resize(out_shape, Image.Resampling.BILINEAR)
    soft = soft.point(lambda v: 255 if v >= 128 else 0).filter(ImageFilter.GaussianBlur(0.7))
    return np.asarray(soft, dtype=np.float32) / 255


def mnist_glyph(image28: np.ndarray, size: int, pen: float) -> np.ndarray:
    """An MNIST digit (28x28 uint8, ink high) redrawn at `size` px with a `pen` px pen."""
    return redraw(image28.astype(np.float32) / 255, size, pen)


def find_fonts() -> list[Path]:
    """The handwriting fonts of FONT_NAMES installed on this machine."""
    found: dict[str, Path] = {}
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            for path in root.rglob("*"):
                if path.name in FONT_NAMES:
                    found.setdefault(path.name, path)
    return [found[name] for name in FONT_NAMES if name in found]


def font_glyph(font: Path, digit: int, size: int) -> np.ndarray:
    """One digit typed in `font`, long side `size` px, float ink map."""
    face = ImageFont.truetype(str(font), 200)
    canvas = Image.new("L", (400, 400), 0)
    ImageDraw.Draw(canvas).text((100, 60), str(digit), font=face, fill=255)
    ink = np.asarray(canvas, dtype=np.float32) / 255
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = size / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return np.asarray(Image.fromarray(ink).resize(shape, Image.Resampling.BILINEAR))


def font_mask(font: Path, digit: int, size: int) -> Image.Image:
    """One digit typed in `font` as a binary ink mask (mode L, 0 or 255)."""
    return Image.fromarray((font_glyph(font, digit, size) * 255).astype(np.uint8)).point(lambda v: 255 * (v > 100))


def outline(ink: Image.Image) -> np.ndarray:
    """The outline of an ink mask drawn with a broad pen (so the outline has two clear edges), as a bool array."""
    outer, inner = ink.filter(ImageFilter.MaxFilter(7)), ink.filter(ImageFilter.MinFilter(7))
    return np.asarray(outer, bool) & ~np.asarray(inner, bool)


def hollow_glyph(font: Path, digit: int, size: int) -> np.ndarray:
    """One digit of `font` written hollow: its strokes made broad, then only their outline inked (float map)."""
    return outline(font_mask(font, digit, size).filter(ImageFilter.MaxFilter(15))).astype(np.float32)


def slant(glyph: np.ndarray, shear: float) -> np.ndarray:
    """The glyph leaning right (shear > 0) or left by `shear` of its height, on a canvas wide enough for it."""
    h, w = glyph.shape
    wide = w + int(np.ceil(abs(shear) * h))
    img = Image.fromarray(glyph.astype(np.float32)).transform(
        (wide, h), Image.Transform.AFFINE, (1, shear, -max(shear, 0) * h, 0, 1, 0), Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32)


# ---------------------------------------------------------------- pages


def place(glyph: np.ndarray, rng: np.random.Generator, shape: tuple[int, int] = (CANVAS, CANVAS),
          margin: int = 4) -> np.ndarray:
    """The glyph at a random position of an empty (H, W) ink map."""
    page = np.zeros(shape, np.float32)
    h, w = glyph.shape
    y = int(rng.integers(margin, max(margin + 1, shape[0] - h - margin)))
    x = int(rng.integers(margin, max(margin + 1, shape[1] - w - margin)))
    h, w = min(h, shape[0] - y), min(w, shape[1] - x)
    page[y:y + h, x:x + w] = glyph[:h, :w]
    return page


def place_far(glyph: np.ndarray, rng: np.random.Generator, shape: tuple[int, int] = (CANVAS, CANVAS),
              band: float = 0.2) -> np.ndarray:
    """The glyph in a random corner band of an empty (H, W) ink map, far from the centre."""
    page = np.zeros(shape, np.float32)
    h, w = glyph.shape
    y = int(rng.integers(4, max(5, int(band * shape[0]))))
    x = int(rng.integers(4, max(5, int(band * shape[1]))))
    y = y if rng.random() < 0.5 else shape[0] - h - y
    x = x if rng.random() < 0.5 else shape[1] - w - x
    page[y:y + h, x:x + w] = glyph
    return page


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)


def sketchpad(ink: np.ndarray) -> dict:
    """What gr.Sketchpad(type="numpy") hands over: composite black on white, layer ink on clear."""
    h, w = ink.shape
    composite = np.full((h, w, 4), 255, np.uint8)
    composite[..., :3] = to_u8(1 - ink)[..., None]
    layer = np.zeros((h, w, 4), np.uint8)
    layer[..., 3] = to_u8(ink)
    return {"background": None, "layers": [layer], "composite": composite}


def transparent_layer(ink: np.ndarray) -> dict:
    """Only a layer whose alpha carries the strokes (RGB all black), no composite."""
    value = sketchpad(ink)
    return {"background": None, "layers": value["layers"], "composite": None}


def inverted(ink: np.ndarray) -> np.ndarray:
    """White ink on black, as an RGB upload."""
    return np.repeat(to_u8(ink)[..., None], 3, axis=2)


def coloured(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coloured ink on tinted paper (light or dark), contrast of at least 0.35 in RGB."""
    paper = rng.uniform(0.55, 1.0, 3) if rng.random() < 0.7 else rng.uniform(0.0, 0.4, 3)
    while True:
        pen = rng.uniform(0, 1, 3)
        if np.sqrt(((pen - paper) ** 2).mean()) >= 0.35:
            break
    page = paper * (1 - ink[..., None]) + pen * ink[..., None]
    return to_u8(page)


def number_ink(glyphs: list[np.ndarray], rng: np.random.Generator, height: int) -> np.ndarray:
    """Glyph ink maps written in a row as a person writes a number: gaps from wide to none (boxes
    overlapping a little), a wavy baseline and mixed sizes. Float ink map with a margin around it."""
    spacing = rng.choice(["wide", "normal", "tight", "none", "overlap"])
    gap = {"wide": (0.35, 0.7), "normal": (0.1, 0.35), "tight": (0.02, 0.1), "none": (-0.02, 0.02),
           "overlap": (-0.12, -0.03)}[spacing]
    wave, period, phase = rng.uniform(0, 0.12) * height, rng.uniform(2, 6) * height, rng.uniform(0, 2 * np.pi)
    scaled = []
    for g in glyphs:
        h = max(8, round(height * rng.uniform(0.8, 1.2)))
        w = max(2, round(g.shape[1] * h / g.shape[0]))
        scaled.append(np.asarray(Image.fromarray(g).resize((w, h), Image.Resampling.BILINEAR)))
    margin = height // 3
    x, placed = margin, []
    for g in scaled:
        y = margin + round(wave * np.sin(2 * np.pi * x / period + phase)) + (round(1.2 * height) - g.shape[0])
        placed.append((x, y, g))
        x += g.shape[1] + round(rng.uniform(*gap) * height)
    width = max(px + g.shape[1] for px, _, g in placed) + margin
    page = np.zeros((round(1.2 * height) + 2 * margin + round(wave) + 2, width), np.float32)
    for px, py, g in placed:
        py = max(0, py)
        region = page[py:py + g.shape[0], px:px + g.shape[1]]
        np.maximum(region, g[: region.shape[0], : region.shape[1]], out=region)
    return page


def tight_crop(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray | bytes:
    """A glyph cut out close to its ink, as small scans are (USPS's 16x16, a box cut from a form).

    Cropped to the ink with a 0-2 px margin, its long side 16-28 px, centred on a square of paper;
    dark on light or light on dark; a third of them JPEG-compressed. RGB uint8, or JPEG bytes.
    """
    rows, cols = np.flatnonzero(glyph.max(1) > 0.1), np.flatnonzero(glyph.max(0) > 0.1)
    ink = glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    side, margin = int(rng.integers(16, 29)), int(rng.integers(0, 3))
    scale = (side - 2 * margin) / max(ink.shape)
    shape = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    small = np.asarray(Image.fromarray(ink.astype(np.float32)).resize(shape, Image.Resampling.BILINEAR))
    page = np.zeros((side, side), np.float32)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    page[y:y + small.shape[0], x:x + small.shape[1]] = np.clip(small, 0, 1)
    paper, pen = (rng.uniform(0.8, 1.0), rng.uniform(0.0, 0.3)) if rng.random() < 0.6 else \
        (rng.uniform(0.0, 0.2), rng.uniform(0.7, 1.0))
    grey = to_u8(paper * (1 - page) + pen * page)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if rng.random() < 1 / 3:
        out = io.BytesIO()
        Image.fromarray(rgb).save(out, "JPEG", quality=int(rng.integers(50, 91)))
        return out.getvalue()
    return rgb


def photo(glyph: np.ndarray, rng: np.random.Generator, fill: tuple[float, float] = (0.3, 0.8)) -> bytes:
    """A phone photo of the glyph on paper: light gradient, shadow, tilt, blur, noise, JPEG, EXIF.

    The glyph's long side is `fill` of the photo's short side: a digit, or a number framed as people
    frame one (wide ones get a landscape photo).
    """
    w, h = [(640, 480), (800, 600), (1024, 768), (1280, 960), (1600, 1200)][int(rng.integers(5))]
    if rng.random() < 0.5 and glyph.shape[1] < 1.5 * glyph.shape[0]:
        w, h = h, w
    scale = min(rng.uniform(*fill) * min(w, h) / max(glyph.shape), 0.9 * w / glyph.shape[1])
    shape = (max(1, round(glyph.shape[1] * scale)), max(1, round(glyph.shape[0] * scale)))
    glyph = np.asarray(Image.fromarray(glyph).resize(shape, Image.Resampling.BILINEAR))
    tilt = Image.fromarray(place(glyph, rng, (h, w), margin=max(h, w) // 12)).rotate(
        float(rng.uniform(-10, 10)), Image.Resampling.BILINEAR)
    ink = np.asarray(tilt)[..., None]
    paper = rng.uniform(0.82, 0.97) + rng.uniform(-0.03, 0.03, 3)
    pen = rng.uniform(0.02, 0.25, 3) * (1 if rng.random() < 0.6 else np.array([0.5, 0.7, 2.0]))
    yy, xx = np.mgrid[0:1:h * 1j, 0:1:w * 1j].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    light = 1 - rng.uniform(0.1, 0.45) * (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    # A soft shadow: a half-plane with a blurred edge (a hand or phone over the page).
    edge = rng.uniform(0.2, 0.8)
    theta = rng.uniform(0, 2 * np.pi)
    side = np.cos(theta) * (xx - 0.5) + np.sin(theta) * (yy - 0.5) + 0.5 - edge
    shadow = 1 - rng.uniform(0, 0.35) / (1 + np.exp(-side / rng.uniform(0.03, 0.12)))
    page = (paper * (1 - ink) + pen * ink) * (light * shadow)[..., None]
    img = Image.fromarray(to_u8(page)).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    noisy = np.asarray(img, dtype=np.float32) / 255 + rng.normal(0, rng.uniform(0.01, 0.04), (h, w, 3))
    img = Image.fromarray(to_u8(noisy))
    exif = Image.Exif()
    if rng.random() < 0.3:  # stored sideways, with the tag that tells viewers to turn it back
        orientation = int(rng.choice([3, 6, 8]))
        img = img.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                             8: Image.Transpose.ROTATE_270}[orientation])
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=int(rng.integers(40, 81)), exif=exif.tobytes())
    return out.getvalue()

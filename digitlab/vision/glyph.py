"""The glyph view: ink on paper (a digit, a Chinese numeral, a letter) -> MNIST-style model input.

The recipe is MNIST's own: ink high on black, the glyph fitted into a box of 20/28 of the frame
keeping its aspect ratio with anti-aliasing, centred by centre of mass. Real inputs break its
assumptions, so two passes read them:

1. the page, sampled down to ~128 px: the background colour (or, for photos, a smooth field
   that follows the lighting), ink as colour distance from it (so dark-on-light,
   light-on-dark, coloured and alpha-only ink are one case), an Otsu threshold, and the
   glyph's connected parts (specks away from it are dropped; a solid sheet of paper
   photographed on a desk is read from inside);
2. the glyph, re-read from full resolution at 3x the box: soft ink with anti-aliased edges,
   strokes thickened or thinned into the dataset's range, then MNIST's fit and centring.

numpy and Pillow, and lean: an 800x800 Sketchpad value takes about 1.3 ms once decoded, most of it
numpy's own call cost on small arrays, so the helpers below avoid its slower generic paths.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from digitlab.vision.imageio import EmptyImageError, ImageError, check_size, pixels_of, squeeze

PAGE = 128  # px, long side of the page pass (nearest sampling: cheap at any input size)
# Stroke width as stroke_width() measures MNIST test digits upscaled to 60 px (3x the 20 px box):
# median 5.5 px, 10th-90th percentile 4.0-7.7 px. Strokes outside that band are moved to the median.
MNIST_STROKE = 5.5 / 60  # the median as a fraction of the glyph's long side at the fine scale
BAND = (4.0 / 5.5, 7.7 / 5.5)  # the band around the median that is left alone
# Otsu splits background from ink, but where strokes differ in strength (a light second stroke of 二,
# a pen running dry) it splits faint ink from strong: ink is what lies this far out of that split.
# Chinese MNIST test, the same weights: 99.17 % at 1 (Otsu's own), 99.47 % at 0.6; sketch kinds unchanged.
FAINT_INK = 0.6
BLANK_IMAGE = "No ink found: the image looks blank."


@dataclass(frozen=True)
class Frame:
    """The output frame: side `size` px, the glyph fitted into `box`, strokes near `stroke`."""

    size: int = 28
    stroke: float = MNIST_STROKE

    @property
    def box(self) -> int:
        return max(4, round(self.size * 20 / 28))  # MNIST's 20 px box in its 28 px frame

    @property
    def fine(self) -> int:
        return 3 * self.box  # px, glyph long side in the stroke pass


MNIST_FRAME = Frame()


def read_glyph(a: np.ndarray, frame: Frame = MNIST_FRAME) -> np.ndarray:
    """The two passes on (H, W, C) uint8 pixels -> (size, size) uint8, ink high on black."""
    return fit_and_centre(glyph_ink(a, frame), frame)


def glyph_ink(a: np.ndarray, frame: Frame = MNIST_FRAME) -> np.ndarray:
    """Soft ink (0..1) of the glyph, long side frame.fine px, strokes normalised; before the fit."""
    page = find_page(a)
    if page.sheet:  # maybe a photo of a sheet on a desk: the "ink" found is the sheet; read inside it
        y0, y1, x0, x1 = (v * page.step for v in page.bbox)
        dy, dx = (y1 - y0) // 20, (x1 - x0) // 20  # clear of the sheet's edge and its shadow
        inside = a[y0 + dy:y1 - dy, x0 + dx:x1 - dx]
        try:
            check_size((inside.shape[1], inside.shape[0]))
            a, page = inside, find_page(inside)
        except EmptyImageError:
            pass  # nothing written inside: the solid block is the glyph itself (a thick 1 cut out close)
        except ImageError:
            pass  # too small to be a sheet with writing on it: the glyph itself, cut out close
    return normalise_strokes(read_digit(a, page, frame.fine), frame)


# ---------------------------------------------------------------- pass 1: the page


Matte = float | np.ndarray | None  # grey level or (3,) colour under transparent pixels


@dataclass
class Page:
    """What the page pass learned, reused when the digit is re-read at full resolution."""

    step: int  # input pixels per page pixel
    matte: Matte  # colour transparent pixels are laid on; None when opaque
    background: np.ndarray  # (C,) colour, or (H, W, C) field at page scale for uneven light
    light_ref: float  # paper brightness ink contrast is scaled to (field only)
    noise: float  # typical ink distance of background pixels
    threshold: float  # ink distance above which a pixel is ink
    keep: np.ndarray  # (gh, gw) bool: grid cells holding the digit's parts
    cell: int  # page pixels per grid cell
    bbox: tuple[int, int, int, int]  # y0, y1, x0, x1 of the digit in page pixels, ends exclusive
    stroke: float  # mean stroke width in page pixels
    sheet: bool  # the "digit" is a solid block: a sheet of paper on a desk, with the digit on it
    ink: np.ndarray  # (H, W) bool at page scale: every pixel over the threshold, specks included


def find_page(a: np.ndarray) -> Page:
    """The page pass on every step-th pixel (cheap at any size), or on block averages when
    strokes are thinner than the step and could slip between the samples."""
    step = max(1, math.ceil(max(a.shape[:2]) / PAGE))
    if step == 1:
        return read_page(a, step)
    try:
        page = read_page(every(a, step), step)
        if page.stroke >= 1.2:
            return page
    except EmptyImageError:
        pass  # maybe hairlines between the samples
    h, w = a.shape[0] // step * step, a.shape[1] // step * step
    return read_page(resample(a[:h, :w], (w // step, h // step)), step)


def every(a: np.ndarray, step: int) -> np.ndarray:
    """Every step-th pixel from step // 2: uint8 RGBA copied out as one 32-bit word a pixel (numpy copies a
    strided last axis of 4 bytes ~10x slower than one of words), anything else as a strided view."""
    if a.shape[2] != 4 or a.dtype != np.uint8 or not a.flags.c_contiguous:
        return a[step // 2::step, step // 2::step]
    words = a.view(np.uint32)[step // 2::step, step // 2::step, 0]
    return np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 4)


def read_page(pixels: np.ndarray, step: int, faint: float = FAINT_INK) -> Page:
    """Find background, ink threshold (`faint` of Otsu's split) and the digit's parts on a small (H, W, C) image."""
    a, matte = drop_alpha(as_float(pixels))
    background, light_ref = estimate_background(a)
    d = ink_distance(a, background, light_ref)
    # The paper's own spread, from the quarter of the border nearest the background: ink that
    # touches the border (a digit cut out close to it) must not pass for noise.
    noise = quantile(border(d), 0.25)
    if d.max() < 0.05 + 6 * noise:
        raise EmptyImageError(BLANK_IMAGE, "blank")
    threshold = max(faint * otsu(d), 0.03 + 3 * noise)
    mask = d > threshold
    cell = max(1, math.ceil(max(d.shape) / 48))
    keep = digit_cells(block_sum(np.where(mask, d, 0), cell))
    in_digit = mask & np.repeat(np.repeat(keep, cell, 0), cell, 1)[: d.shape[0], : d.shape[1]]
    rows, cols = np.flatnonzero(in_digit.any(1)), np.flatnonzero(in_digit.any(0))
    bbox = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    stroke = stroke_width(in_digit)
    inside = in_digit[bbox[0]:bbox[1], bbox[2]:bbox[3]]
    sheet = inside.size > 0.2 * d.size and inside.mean() > 0.85  # no digit fills its own box
    return Page(step, matte, background, light_ref, noise, threshold, keep, cell, bbox, stroke, sheet, mask)


def as_float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) * np.float32(1 / 255)


def drop_alpha(a: np.ndarray, matte: Matte = None) -> tuple[np.ndarray, Matte]:
    """(H, W, C) colour without alpha: transparent pixels laid on a matte that is background.

    When the opaque part is small it is the ink (a Sketchpad layer, maybe black RGB with the
    strokes only in alpha), so the matte contrasts with it; otherwise it is paper (an image
    with transparent margins) and the matte matches it.
    """
    if a.shape[-1] != 4:
        return a, None
    rgb, alpha = a[..., :3], a[..., 3:]
    if matte is None:
        if alpha.min() > 0.98:
            return rgb, None
        opaque = alpha[..., 0] > 0.5
        if not opaque.any():
            raise EmptyImageError(BLANK_IMAGE, "blank")
        colour = median(rgb[opaque])
        matte = (1.0 if colour.mean() < 0.5 else 0.0) if opaque.mean() < 0.5 else colour
    return rgb * alpha + matte * (1 - alpha), matte


def quantile(a: np.ndarray, q: float, float64: bool = False) -> float:
    """np.percentile(a, 100 * q) over all of `a` (numpy's linear method), without its call cost (~25 us).
    `float64`: as numpy computes it when asked for several percentiles at once (np.percentile(a, [25, 75]))."""
    a = a.ravel()
    pos = q * (a.size - 1)
    lo = int(pos)
    hi = min(lo + 1, a.size - 1)
    part = np.partition(a, [lo, hi])
    low, high = part[lo], part[hi]
    diff, t = high - low, pos - lo  # the difference in a's own type, as numpy takes it
    if float64:
        low, high, diff = float(low), float(high), float(diff)
    return float(high - diff * (1 - t) if t >= 0.5 else low + diff * t)


def median(a: np.ndarray) -> np.ndarray:
    """np.median(a, axis=0), the same numbers, without its call cost."""
    if a.dtype.kind != "f":
        a = a.astype(np.float64)  # as np.median takes whole numbers: no sums that wrap
    half = a.shape[0] // 2
    if a.shape[0] % 2:
        return np.partition(a, half, axis=0)[half]
    part = np.partition(a, [half - 1, half], axis=0)
    return (part[half - 1] + part[half]) / 2


def border(a: np.ndarray, width: int = 2) -> np.ndarray:
    """The pixels of a frame `width` wide around the image, (N[, C])."""
    tail = a.shape[2:]
    return np.concatenate([a[:width].reshape(-1, *tail), a[-width:].reshape(-1, *tail),
                           a[width:-width, :width].reshape(-1, *tail), a[width:-width, -width:].reshape(-1, *tail)])


SMALL = 64  # px: an image this small is a scan or a cut-out, not a photo with lighting to follow


def estimate_background(a: np.ndarray) -> tuple[np.ndarray, float]:
    """Background colour from the border; a smooth field instead when the border is uneven.

    A small image whose border is uneven is a glyph cut out close to its ink, not a photo: its
    paper is the side of the two tones its corners show (a glyph seldom fills a corner of its
    own box), or, where they disagree, the side most of its pixels show.
    """
    ring = border(a)
    lum = ring.mean(-1)
    if quantile(lum, 0.75, float64=True) - quantile(lum, 0.25, float64=True) < 0.04:  # canvas, scan, clean upload
        return median(ring).astype(np.float32), 1.0
    if max(a.shape[:2]) <= SMALL:
        lum = a.mean(-1)
        light = lum > otsu(lum)
        k = max(1, min(lum.shape) // 8)
        corners = np.concatenate([light[:k, :k].ravel(), light[:k, -k:].ravel(), light[-k:, :k].ravel(),
                                  light[-k:, -k:].ravel()])
        vote = corners.mean() if abs(corners.mean() - 0.5) > 0.1 else light.mean()
        paper = light if vote >= 0.5 else ~light
        return median(a[paper]).astype(np.float32), 1.0
    field = background_field(a)
    return field, max(float(median(field.mean(-1).ravel())), 0.15)


def background_field(a: np.ndarray) -> np.ndarray:
    """(H, W, C) paper colour under uneven light: block percentiles, grey closing, smoothing.

    Each block takes its paper-side percentile, and a closing over 5x5 blocks replaces blocks
    that thick strokes cover entirely.
    """
    h, w, c = a.shape
    b = max(3, math.ceil(max(h, w) / 24))
    gh, gw = math.ceil(h / b), math.ceil(w / b)
    padded = np.pad(a, ((0, gh * b - h), (0, gw * b - w), (0, 0)), mode="edge")
    blocks = padded.reshape(gh, b, gw, b, c).transpose(0, 2, 4, 1, 3).reshape(gh, gw, c, b * b)
    q25, q75 = int(0.25 * (b * b - 1)), int(0.75 * (b * b - 1))
    blocks = np.partition(blocks, [q25, q75], axis=-1)
    light_paper = ink_is_dark(a.mean(-1))
    grid = blocks[..., q75 if light_paper else q25]
    first, second = (np.max, np.min) if light_paper else (np.min, np.max)
    grid = sliding(sliding(sliding(grid, 2, first), 2, second), 1, np.mean)
    return upsample(grid, b, h, w)


def ink_is_dark(lum: np.ndarray) -> bool:
    """Whether the strongest local departure from the lighting (a fitted plane) is dark."""
    h, w = lum.shape
    ys, xs = np.mgrid[0:h:2, 0:w:2]
    design = np.stack([np.ones(ys.size), ys.ravel() / h, xs.ravel() / w], 1)
    coef = np.linalg.lstsq(design, lum[::2, ::2].ravel(), rcond=None)[0]
    yy, xx = np.arange(h)[:, None] / h, np.arange(w)[None, :] / w
    residual = sliding(lum - (coef[0] + coef[1] * yy + coef[2] * xx), 1, np.mean)  # 3x3: not noise
    return bool(-residual.min() > residual.max())


PAIRWISE = {np.max: np.maximum, np.min: np.minimum, np.mean: np.add}  # a window's reduce, two at a time


def sliding(a: np.ndarray, radius: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """Separable (2r+1)^2 window max / min / mean over the first two axes, edges replicated.

    Pairwise over shifted copies, in window order: the same numbers as reducing a stack of them,
    without the stack (most windows here are a few dozen pixels: numpy's call cost is the cost).
    """
    if radius < 1:
        return a
    combine = PAIRWISE[reduce]
    if reduce is np.mean and a.dtype.kind != "f":
        a = a.astype(np.float64)  # as np.mean takes whole numbers and truth values: no sums that wrap
    for axis in (0, 1):
        n = a.shape[axis]
        out = a.take(shifted(n, -radius), axis=axis)
        for k in range(1 - radius, radius + 1):
            combine(out, a.take(shifted(n, k), axis=axis), out=out)
        a = out / (2 * radius + 1) if reduce is np.mean else out
    return a


def shifted(n: int, k: int) -> np.ndarray:
    """Indices 0..n-1 moved by k, held at the ends (edges replicated)."""
    return np.minimum(np.maximum(np.arange(k, n + k), 0), n - 1)


def upsample(grid: np.ndarray, block: int, h: int, w: int) -> np.ndarray:
    """Bilinear (gh, gw, C) block centres -> (h, w, C) pixels."""
    def weights(n: int, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n) + 0.5) / block - 0.5, 0, g - 1)
        lo = np.floor(pos).astype(int)
        return lo, np.minimum(lo + 1, g - 1), (pos - lo).astype(np.float32)

    ylo, yhi, wy = weights(h, grid.shape[0])
    rows = grid[ylo] * (1 - wy)[:, None, None] + grid[yhi] * wy[:, None, None]
    xlo, xhi, wx = weights(w, grid.shape[1])
    return rows[:, xlo] * (1 - wx)[None, :, None] + rows[:, xhi] * wx[None, :, None]


def ink_distance(a: np.ndarray, background: np.ndarray, light_ref: float) -> np.ndarray:
    """(H, W) distance of each pixel's colour from the background, 0..~1: polarity-free ink.

    Under uneven light the difference is scaled by the local paper brightness, so a stroke
    in shadow counts as much as one in the light.
    """
    # Channel by channel: numpy broadcasting over a last axis of 3 costs 4x the arithmetic.
    if a.shape[-1] == 1:
        d = np.abs(a[..., 0] - background[..., 0])
    else:
        d = sum((a[..., c] - background[..., c]) ** 2 for c in range(3))
        d = np.sqrt(d * np.float32(1 / 3))
    if background.ndim == 3:
        d *= light_ref / np.maximum(background.mean(-1), 0.15)
    return d


def otsu(d: np.ndarray) -> float:
    """Otsu's threshold on ink distances (0..1, 256 bins)."""
    hist = np.bincount(np.minimum(d * 255, 255).astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    w0, m0 = np.cumsum(hist), np.cumsum(hist * levels)
    w1 = w0[-1] - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (m0 / w0 - (m0[-1] - m0) / w1) ** 2
    return (int(np.argmax(np.nan_to_num(between[:-1], nan=-1.0))) + 0.5) / 255


def block_sum(a: np.ndarray, cell: int) -> np.ndarray:
    """Sum over cell x cell blocks (zero-padded at the far edges)."""
    h, w = a.shape
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    padded = np.zeros((gh * cell, gw * cell), np.float32)
    padded[:h, :w] = a
    # Strided slices, 4x faster than a reshape-sum: each block row first, then the rows, as numpy's reduce adds
    # them, so that the page pass's cells (1-3 px: its page is at most 128 px) get numpy's very numbers.
    rows = sum(padded[:, j::cell] for j in range(cell))
    return sum(rows[i::cell] for i in range(cell))


def label_cells(on: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a small bool grid by row runs + union-find; (labels, count)."""
    framed = np.zeros((on.shape[0], on.shape[1] + 2), np.int8)
    framed[:, 1:-1] = on
    edges = np.diff(framed, axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # exclusive; same row-major order as starts
    rows, starts, ends = rows.tolist(), starts.tolist(), ends.tolist()
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prev_first = prev_end = cur_first = 0  # run index ranges of the previous and current row
    for i in range(len(rows)):
        if i == 0 or rows[i] != rows[i - 1]:
            touching = i > 0 and rows[i] == rows[i - 1] + 1
            prev_first, prev_end, cur_first = (cur_first, i, i) if touching else (i, i, i)
        for j in range(prev_first, prev_end):
            if starts[j] <= ends[i] and starts[i] <= ends[j]:  # overlapping or diagonal neighbours
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    labels = np.zeros(on.shape, np.int32)
    ids: dict[int, int] = {}
    for i in range(len(rows)):
        labels[rows[i], starts[i]:ends[i]] = ids.setdefault(root(i), len(ids) + 1)
    return labels, len(ids)


def digit_cells(mass: np.ndarray) -> np.ndarray:
    """Grid cells of the digit: the heaviest part, plus parts heavy or close enough to it.

    A detached stroke (the bar of a 5, the short top bar of 二 or 三, a stroke lifted off the
    body of 千, even the dot some writers make of 千's top slash) is kept; specks of noise or
    dirt away from the glyph are not, so they cannot stretch the bounding box.
    """
    labels, n = label_cells(mass > 0)
    masses = np.bincount(labels.ravel(), weights=mass.ravel(), minlength=n + 1)[1:]
    r, c = np.nonzero(labels)
    part = labels[r, c] - 1
    boxes = np.empty((n, 4), np.int64)  # y0, y1, x0, x1 per part, inclusive
    boxes[:, [0, 2]], boxes[:, [1, 3]] = labels.size, -1
    np.minimum.at(boxes[:, 0], part, r)
    np.maximum.at(boxes[:, 1], part, r)
    np.minimum.at(boxes[:, 2], part, c)
    np.maximum.at(boxes[:, 3], part, c)
    order = np.argsort(-masses)
    main = int(order[0])
    kept, (y0, y1, x0, x1) = [main], boxes[main]
    for k in order[1:]:
        share = masses[k] / masses[main]
        r0, r1, c0, c1 = boxes[k]
        gap = max(r0 - y1, y0 - r1, c0 - x1, x0 - c1, 0)
        extent = max(y1 - y0, x1 - x0)
        near, strokes_away = gap <= 1 + 0.25 * extent, gap <= 1 + 0.75 * extent
        # A dot a little farther off, but never one at the image's edge: that is the frame (a sheet's corner).
        dot = gap <= 1 + 0.5 * extent and r0 > 0 and c0 > 0 and r1 < mass.shape[0] - 1 and c1 < mass.shape[1] - 1
        if share >= 0.25 or (share >= 0.02 and near) or (share >= 0.01 and dot) or (share >= 0.06 and strokes_away):
            kept.append(int(k))
            y0, y1, x0, x1 = min(y0, r0), max(y1, r1), min(x0, c0), max(x1, c1)
    in_digit = np.zeros(n + 1, bool)
    in_digit[np.array(kept) + 1] = True
    return in_digit[labels]


# ---------------------------------------------------------------- pass 2: the digit


def resample(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Anti-aliased resize of (H, W, C) uint8 to size (w, h). RGBA goes as RGBX: Pillow would
    premultiply alpha over the whole image first (2 ms at 800x800); straight averaging is fine."""
    h, w, c = pixels.shape
    factor = min(w // size[0], h // size[1]) // 2
    if factor >= 2:  # integer box reduction first: exact and much cheaper than a wide filter
        pixels = pixels[: h // factor * factor, : w // factor * factor]
    pixels = np.ascontiguousarray(pixels)
    shape = (pixels.shape[1], pixels.shape[0])
    if c == 4:
        img = Image.frombuffer("RGBX", shape, pixels, "raw", "RGBX", 0, 1)
    else:
        img = Image.fromarray(squeeze(pixels))
    if factor >= 2:
        img = img.reduce(factor)
    return pixels_of(img.resize(size, Image.Resampling.BILINEAR))


def read_digit(pixels: np.ndarray, page: Page, fine: int = MNIST_FRAME.fine) -> np.ndarray:
    """Soft ink (0..1) of the glyph's region, re-read at full resolution, long side `fine` px."""
    y0, y1, x0, x1 = page.bbox
    step, margin = page.step, 2  # margin in page px: anti-aliased edges just outside the box
    top, left = max(y0 - margin, 0) * step, max(x0 - margin, 0) * step
    bottom, right = min((y1 + margin) * step, pixels.shape[0]), min((x1 + margin) * step, pixels.shape[1])
    zoom = fine / (max(y1 - y0, x1 - x0) * step)
    size = (max(1, round((right - left) * zoom)), max(1, round((bottom - top) * zoom)))
    a, _ = drop_alpha(as_float(resample(pixels[top:bottom, left:right], size)), page.matte)
    # Page pixel of each region pixel, to look up the background field and the digit's cells.
    page_h, page_w = page.keep.shape[0] * page.cell, page.keep.shape[1] * page.cell
    ys = np.minimum((top + (np.arange(size[1]) + 0.5) * (bottom - top) / size[1]) / step, page_h - 1).astype(int)
    xs = np.minimum((left + (np.arange(size[0]) + 0.5) * (right - left) / size[0]) / step, page_w - 1).astype(int)
    background = page.background
    if background.ndim == 3:
        background = background[np.minimum(ys, background.shape[0] - 1)][:, np.minimum(xs, background.shape[1] - 1)]
    d = ink_distance(a, background, page.light_ref)
    if page.noise > 0.005:  # a photo: average the noise down before choosing levels
        d = sliding(d, 1, np.mean)
    strong = d > page.threshold
    hi = quantile(d[strong], 0.9) if strong.any() else float(d.max())
    # Soft ink from just above the paper's own spread (0 on a clean canvas: edges stay soft).
    paper = d[~strong] if (~strong).any() else d
    centre = float(median(paper))
    lo = min(centre + 4.5 * float(median(np.abs(paper - centre))), 0.5 * hi)
    ink = np.clip((d - lo) / max(hi - lo, 1e-6), 0, 1)
    near = sliding(page.keep, 1, np.max)  # the digit's cells and one around
    return ink * near[ys // page.cell][:, xs // page.cell]


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in px: ink area over half the outline length of the >= 0.5 mask (ink 0..1, or a mask)."""
    mask = ink >= 0.5
    edges = mask[0], mask[-1], mask[:, 0], mask[:, -1]  # against the paper around the image
    outline = (np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
               + sum(np.count_nonzero(edge) for edge in edges))
    return float(ink.sum()) / max(outline / 2, 1.0)


def normalise_strokes(ink: np.ndarray, frame: Frame = MNIST_FRAME) -> np.ndarray:
    """Thicken hairlines and thin marker strokes into MNIST's range (grey dilation / erosion)."""
    width = stroke_width(ink)
    target = frame.stroke * frame.fine
    if width < target * BAND[0]:
        radius = round((target - width) / 2)
        return sliding(np.pad(ink, radius), radius, np.max)
    if width > target * BAND[1]:
        thinned = sliding(ink, round((width - target) / 2), np.min)
        if thinned.max() >= 0.5:  # never erase the digit
            return thinned
    return ink


def fit_and_centre(ink: np.ndarray, frame: Frame = MNIST_FRAME) -> np.ndarray:
    """MNIST's last step: long side to the box, centre of mass to the frame's middle; uint8 with max 255."""
    rows, cols = np.flatnonzero(ink.max(1) > 0.05), np.flatnonzero(ink.max(0) > 0.05)
    if rows.size == 0:
        raise EmptyImageError(BLANK_IMAGE, "blank")
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    size = frame.size
    step = max(ink.shape) / frame.box  # ink pixels per output pixel
    total = float(ink.sum())
    cy = float(ink.sum(1) @ np.arange(ink.shape[0])) / total + 0.5  # continuous coordinates
    cx = float(ink.sum(0) @ np.arange(ink.shape[1])) / total + 0.5
    # Output pixel i spans [i, i + 1): MNIST's centre of mass 14.0 is the middle of pixel 14.
    y0, x0 = cy - (size / 2 + 0.5) * step, cx - (size / 2 + 0.5) * step
    span = size * step
    pad = math.ceil(max(0.0, -y0, -x0, y0 + span - ink.shape[0], x0 + span - ink.shape[1])) + 1
    padded = np.zeros((ink.shape[0] + 2 * pad, ink.shape[1] + 2 * pad), np.float32)
    padded[pad:-pad, pad:-pad] = ink
    canvas = Image.fromarray(padded)  # mode F
    box = (x0 + pad, y0 + pad, x0 + pad + span, y0 + pad + span)
    out = np.asarray(canvas.resize((size, size), Image.Resampling.BOX, box=box))
    peak = float(out.max())
    if peak <= 0:
        raise EmptyImageError(BLANK_IMAGE, "blank")
    return np.clip(out * (255 / peak) + 0.5, 0, 255).astype(np.uint8)

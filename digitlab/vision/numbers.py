"""A row of handwritten digits -> the number: each digit found, boxed and read by the model.

The page is read once (digitlab.vision.glyph's background and ink threshold, at a resolution that keeps
strokes of small digits), the ink's connected parts are grouped into digits (parts that share most
of their width are one digit: a 5's flag, a 4 or a 7 written in two strokes; but two digit-tall parts
that each read surely are two digits, as a 1 standing under the bar of a 7), and a part wider than
a digit is tall is tried whole and cut at the valleys of its ink, keeping the reading the model is
surest of (touching digits). Each digit is then re-read at full resolution with only its own ink,
through the model's glyph view, and all of them go through the model in one batch.

A model with a row reader (digitlab.models.rows) also reads the row whole (row_view), and its reading is the answer
where the two differ and it is at least as sure of its least sure digit (prefers_row): digits that touch, a
piece of a neighbour. Each reader also checks the other where the model declines: digits the cutter made of one
written part that the row reader does not read so are one "?" (unconfirmed), and marks the row reader reads
unsurely in a part the model declined leave its "?" (overreads, keeping_declined).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import reduce
from itertools import pairwise

import numpy as np
from PIL import Image

from digitlab.spec import DatasetSpec
from digitlab.vision.glyph import (
    Frame,
    Page,
    fit_and_centre,
    label_cells,
    normalise_strokes,
    read_digit,
    read_page,
    resample,
)
from digitlab.vision.imageio import EmptyImageError, ImageError

NUMBER_PAGE = 256  # px, long side of the page pass for a number: digits stay ~40 px wide at 6 in a row
NUMBER_INK = 1.0  # of Otsu's split: a number keeps the strict threshold, as faint edges bridge digits that
# nearly touch (at glyph.FAINT_INK 0.6, numbers on a canvas read exactly 97.5 -> 96.5 %, on a layer 98.5 -> 97.0 %)
SPECK = 0.04  # parts with less ink than this share of the largest are dirt, not strokes
# What reading a number may cost: each part is a mask over the page, and each digit a pass of the model.
MAX_PARTS = 64  # separate marks on the page (after specks are dropped)
MAX_DIGITS = 24
SAME_DIGIT = 0.5  # parts that share this much of the narrower one's width belong to one digit
FRAGMENT = 0.5  # parts less tall than this share of a digit's height are pieces of the digit beside them
WIDE = 1.1  # a part this much wider than a digit is tall may be digits that touch...
PAIR_WIDE = 0.6  # ...and so may a narrower one (a 1 against a 7) that does not read as one digit:
UNSURE = 0.5  # read less surely than this as one digit (most digits alone read at 0.8 and more)
SLIM_PIECE = 0.04  # and such a part may be cut into pieces this slim (of a digit's height): a 1 against a 0,
UNSURE_PIECE = 0.9  # but each piece must read this surely: cut anywhere, a letter A gives a 1 and a 7 of sorts
SURE_PIECE = 0.15  # a part read surely whole is cut more warily: into pieces no slimmer than this
MIN_SURE = 0.5  # a piece cut off must read as a digit at least this surely
CUT_COST = 0.02  # log-confidence a cut must gain: of two readings as sure, the one with fewer digits
DIGIT_ASPECT = 1.0  # a digit is rarely wider than this share of its height...
TOO_WIDE = 2.0  # ...and a piece pays this much log-confidence per height of width beyond that: a model
# reads a 4 with half an 8 stuck to it as a 4 about as surely as the 4 alone
TALL_PART = 0.6  # parts of a group this tall (of the digits' height) may be digits side by side...
APART_SURE = 0.8  # ...and are read apart when each reads at least this surely, and together about as surely
APART_GAIN = 0.2  # as the group: log-confidence granted per extra digit, as a label-smoothed model reads a clean
# digit at ~0.93 before calibration, so two clean digits would always lose to the one blob they make
# The row view, which a model's row reader (digitlab.models.rows) reads whole:
ROW_HEIGHT = 32  # px: the row view's height
ROW_DIGIT = 20  # px: a digit's height in it, as in MNIST's 28 px frame
ROW_STEP = 4  # px of the row view per column the reader answers for
ROW_SURE = 0.95  # digits the row reader finds in a part the model declined: each read at least this surely
BLANK = 0  # the CTC "nothing new here" class; the model's classes are 1..n


@dataclass
class DigitReading:
    label: str  # the class's label ("7", "七"): what the number is made of
    name: str  # its display name ("7", "七 (7)")
    confidence: float
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the input's pixels, ends exclusive
    top: dict[str, float] = field(default_factory=dict)  # the top-k, by display name
    view: np.ndarray | None = field(default=None, repr=False)  # what the model read
    declined: bool = False  # a part the model does not take for one of its classes

    @property
    def shown(self) -> str:
        """What a screen shows for it: its name, or "?" where the model declined it."""
        return "?" if self.declined else self.name

    def as_dict(self) -> dict:
        return {"label": None if self.declined else self.label, "confidence": round(self.confidence, 6),
                "box": list(self.box), **({"declined": True} if self.declined else {})}


@dataclass
class NumberReading:
    number: str  # the digits' labels in reading order, "" when nothing was written
    confidence: float  # the product of the digits' confidences: how sure the whole reading is
    digits: list[DigitReading]
    whole: bool = False  # read by the model's row reader, the row as a whole, not cut into digits first

    def as_dict(self) -> dict:
        return {"number": self.number, "confidence": round(self.confidence, 6),
                "digits": [d.as_dict() for d in self.digits], **({"whole": True} if self.whole else {})}

    def flagged(self, below: float | None) -> NumberReading:
        """The reading with each part the model is less sure of than `below` flagged (none when None)."""
        return self.declining([below is not None and d.confidence < below for d in self.digits])

    def declining(self, flags: Sequence[bool]) -> NumberReading:
        """The reading with the flagged parts declined, and "?" in the number in their place: a part that is
        not one of the model's classes is not guessed."""
        digits = [replace(d, declined=bool(f)) for d, f in zip(self.digits, flags, strict=True)]
        number = "".join("?" if d.declined else d.label for d in digits)
        return NumberReading(number, self.confidence, digits, self.whole)


@dataclass(eq=False)
class Region:
    """A candidate digit: its mask at page scale within the page, and its box there."""

    mask: np.ndarray  # (h, w) bool at page scale, whole page
    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def number_page(a: np.ndarray) -> Page:
    """The page pass at NUMBER_PAGE px (box-averaged, so thin strokes of small digits stay)."""
    step = max(1, math.ceil(max(a.shape[:2]) / NUMBER_PAGE))
    h, w = a.shape[0] // step * step, a.shape[1] // step * step
    return read_page(a if step == 1 else resample(a[:h, :w], (w // step, h // step)), step, NUMBER_INK)


def writing(a: np.ndarray) -> tuple[np.ndarray, int, int, Page]:
    """Where on the image the number is written: a first page pass finds the ink, then, if it is small
    in a large image (a number in a photo of a page), the pass runs again on that part alone, so every
    digit keeps enough page pixels. Returns (the part, its y and x offset, its page pass)."""
    page = number_page(a)
    rows, cols = np.flatnonzero(page.ink.any(1)), np.flatnonzero(page.ink.any(0))
    y0, y1, x0, x1 = (int(v) * page.step for v in (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1))
    if page.step == 1 or max(y1 - y0, x1 - x0) > 0.6 * max(a.shape[:2]):
        return a, 0, 0, page
    margin = max(y1 - y0, x1 - x0) // 4
    y0, x0 = max(0, y0 - margin), max(0, x0 - margin)
    part = a[y0:min(a.shape[0], y1 + margin), x0:min(a.shape[1], x1 + margin)]
    return part, y0, x0, number_page(part)


def parts(mask: np.ndarray) -> list[Region]:
    """The mask's connected parts, specks dropped, left to right."""
    labels, n = label_cells(mask)
    if n == 0:
        return []
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    kept = np.flatnonzero(sizes >= SPECK * sizes.max())
    if len(kept) > MAX_PARTS:
        raise ImageError(f"This has {len(kept)} separate marks; a number is read from at most {MAX_PARTS}.",
                         "marks", n=len(kept), most=MAX_PARTS)
    out = []
    for i in kept:
        m = labels == i + 1
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        out.append(Region(m, int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1))
    return left_to_right(out)


def left_to_right(regions: list[Region]) -> list[Region]:
    return sorted(regions, key=lambda r: (r.x0 + r.x1) / 2)


def group(regions: list[Region]) -> list[Region]:
    """Parts that share most of the narrower one's width are strokes of one digit."""
    out: list[Region] = []
    for r in regions:
        for i, g in enumerate(out):
            shared = min(g.x1, r.x1) - max(g.x0, r.x0)
            if shared >= SAME_DIGIT * min(g.width, r.width):
                out[i] = merge(g, r)
                break
        else:
            out.append(r)
    return left_to_right(out)


def merge(a: Region, b: Region) -> Region:
    return Region(a.mask | b.mask, min(a.x0, b.x0), max(a.x1, b.x1), min(a.y0, b.y0), max(a.y1, b.y1))


def gap_between(a: Region, b: Region) -> float:
    """How far apart two boxes are, sideways mostly (page px; 0 when they overlap)."""
    return max(a.x0 - b.x1, b.x0 - a.x1, 0) + 0.25 * max(a.y0 - b.y1, b.y0 - a.y1, 0)


def join_nearest(digits: list[Region], regions: list[Region]) -> list[Region]:
    """The digits, each with those of the other regions nearest to it, left to right."""
    others = [r for r in regions if all(r is not d for d in digits)]  # before any digit grows
    digits = list(digits)
    for r in others:
        nearest = min(range(len(digits)), key=lambda i, r=r: gap_between(digits[i], r))
        digits[nearest] = merge(digits[nearest], r)
    return left_to_right(digits)


def attach_fragments(groups: list[Region]) -> tuple[list[Region], float]:
    """Pieces of a digit (a broken stroke, a 5's flag off to the side, a speck) join the digit
    nearest to them; returns the digits and their typical height (page px).

    A piece is much shorter than a digit, or short, narrow and right beside another part: a 1 is
    as tall as its neighbours.
    """
    tallest = max(g.height for g in groups)
    height = float(np.median([g.height for g in groups if g.height >= 0.5 * tallest]))

    def fragment(g: Region) -> bool:
        if g.height < FRAGMENT * height:
            return True
        close = any(o is not g and gap_between(g, o) <= 0.1 * height for o in groups)
        return g.height < 0.8 * height and g.width < 0.4 * height and close

    digits = [g for g in groups if not fragment(g)] or [max(groups, key=lambda g: g.mask.sum())]
    return join_nearest(digits, groups), height


@dataclass
class RowView:
    """A row as the row reader reads it, and where its columns lie on the page."""

    ink: np.ndarray  # (ROW_HEIGHT, W) uint8, W a multiple of ROW_STEP
    x0: float  # page x of the view's column 0
    scale: float  # view px per page px

    def page_x(self, column: float) -> float:
        return self.x0 + column / self.scale


ROW_MARGIN = 4  # px of blank view left and right of the ink
MAX_ROW = 1024  # px: a row view wider than this (over ~40 digits) is not read whole


def row_view(regions: Sequence[Region], height: float) -> RowView | None:
    """The regions' ink as one row, digits ROW_DIGIT px tall (or the whole row ROW_HEIGHT - 2 px tall, when it
    slopes or bobs more than that allows); None when it would be wider than MAX_ROW."""
    mask = np.logical_or.reduce([r.mask for r in regions])
    y0, y1 = min(r.y0 for r in regions), max(r.y1 for r in regions)
    x0, x1 = min(r.x0 for r in regions), max(r.x1 for r in regions)
    scale = min(ROW_DIGIT / max(height, 1.0), (ROW_HEIGHT - 2) / (y1 - y0))
    w, h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    width = math.ceil((w + 2 * ROW_MARGIN) / ROW_STEP) * ROW_STEP
    if width > MAX_ROW:
        return None
    small = np.asarray(Image.fromarray(mask[y0:y1, x0:x1].astype(np.float32)).resize((w, h),
                                                                                     Image.Resampling.BILINEAR))
    ink = np.zeros((ROW_HEIGHT, width), np.uint8)
    top = (ROW_HEIGHT - h) // 2
    ink[top:top + h, ROW_MARGIN:ROW_MARGIN + w] = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
    return RowView(ink, x0 - ROW_MARGIN / scale, scale)


def tall_parts(region: Region, height: float) -> list[Region] | None:
    """The parts of a group that are digit-tall, each with the short parts nearest to it, left to right;
    None when the group has fewer than two (a 5 and its flag, a 7 and its bar stay one digit)."""
    found = parts(region.mask)
    tall = [r for r in found if r.height >= TALL_PART * height]
    return join_nearest(tall, found) if len(tall) >= 2 else None


def piece(region: Region, x0: int, x1: int) -> Region | None:
    """The part of a region between columns x0 and x1 (page scale), with its own ink and box."""
    m = np.zeros_like(region.mask)
    m[:, x0:x1] = region.mask[:, x0:x1]
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    if rows.size == 0:
        return None
    return Region(m, int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1)


def valleys(region: Region, height: float, most: int = 6, slimmest: float = 0.2) -> list[int]:
    """Columns where digits that touch may meet: the lowest valleys of the ink's column sums, at least
    `slimmest` of a digit's height from either end."""
    profile = region.mask[:, region.x0:region.x1].sum(0).astype(np.float32)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    edge = max(1, int(slimmest * height))
    found = [x for x in range(edge, region.width - edge) if smooth[x] <= smooth[x - 1] and smooth[x] <= smooth[x + 1]]
    found.sort(key=lambda x: smooth[x])
    apart = max(2, int(0.15 * height))  # one cut per valley: a flat valley's columns are all minima
    chosen: list[int] = []
    for x in found:
        if len(chosen) < most and all(abs(x - c) >= apart for c in chosen):
            chosen.append(x)
    return sorted(region.x0 + x for x in chosen)


def written_digits(a: np.ndarray) -> tuple[np.ndarray, int, int, Page, list[Region], float] | None:
    """Where the digits are: (the part of the image written on, its y and x offset, its page pass, the digits'
    regions left to right before any is cut, their typical height in page px); None when nothing is written."""
    try:
        a, dy, dx, page = writing(a)
    except EmptyImageError:
        return None
    regions = group(parts(page.ink))
    if not regions:
        return None
    regions, height = attach_fragments(regions)
    if len(regions) > MAX_DIGITS:
        raise ImageError(f"This reads as {len(regions)} characters; a number may have at most {MAX_DIGITS}.",
                         "characters", n=len(regions), most=MAX_DIGITS)
    return a, dy, dx, page, regions, height


def between(ink: np.ndarray, left: int, right: int) -> int:
    """Where two digits the row reader read at columns `left` and `right` part: the column of least ink between
    them (blank, where they do not touch), the one nearest the middle of those."""
    if right - left < 2:
        return right
    columns = ink[left + 1:right]
    least = np.flatnonzero(columns == columns.min()) + left + 1
    return int(least[np.argmin(np.abs(least - (left + right) / 2))])


def best_path(log_probs: np.ndarray) -> list[tuple[int, int, int]]:
    """Greedy CTC decoding of one row's (T, classes + 2) log-probabilities: (class index 0..n, where n is "none of
    them", first column, last column) of each mark read, left to right. Repeats without a blank between are one."""
    best = log_probs.argmax(1)
    out: list[tuple[int, int, int]] = []
    previous = BLANK
    for t, c in enumerate(best.tolist()):
        if c != BLANK and c == previous:
            out[-1] = (out[-1][0], out[-1][1], t)
        elif c != BLANK:
            out.append((c - 1, t, t))
        previous = c
    return out


def prefers_row(row: NumberReading, cut: NumberReading) -> bool:
    """Whether the row reader's reading is the answer rather than the one cut and read digit by digit: where they
    differ (digits that touch read as one, a piece of a neighbour read as a digit) and the row reader is at least
    as sure of its least sure digit. On bench_numbers' seeds 0 and 1 (720 numbers by hands neither reader saw):
    93.8 % read exactly, against 92.5 % cut and read alone and 91.7 % read whole alone."""
    return row.number != cut.number and min(d.confidence for d in row.digits) >= min(d.confidence for d in cut.digits)


def inside(row: NumberReading, x0: float, x1: float) -> list[int]:
    """The row reader's digits (their indices) whose middle lies between x0 and x1 (input px)."""
    return [i for i, d in enumerate(row.digits) if x0 <= (d.box[0] + d.box[2]) / 2 < x1]


def under_declined(row: NumberReading, cut: NumberReading) -> list[list[int]]:
    """For each part the cut reading declined, the row reader's digits (their indices) whose middle lies in it."""
    return [inside(row, d.box[0], d.box[2]) for d in cut.digits if d.declined]


def overreads(row: NumberReading, cut: NumberReading, sure: float = ROW_SURE) -> bool:
    """Whether the row reader reads two or more digits inside a part the cut reading declined without being sure
    of each: a letter, a shape or a scribble among digits, which it knows only as digits (a ladder as 51), where
    digits run together read surely."""
    return any(len(found) >= 2 and min(row.digits[i].confidence for i in found) < sure
               for found in under_declined(row, cut))


def unconfirmed(row: NumberReading, cut: NumberReading, origin: Sequence[int],
                sure: float = ROW_SURE) -> list[list[int]]:
    """The runs of the cut reading's digits made of one written part (cut at its valleys, or its tall parts read
    apart; `origin`: each digit's part) that the row reader does not read so: it declines some of that ink, or reads
    another count of digits there without being sure of each. A scribble or hatching cut into 1s, each surely a
    1 alone; digits that touch, the row reader reads as the cutter does."""
    runs: dict[int, list[int]] = {}
    for i, part in enumerate(origin):
        runs.setdefault(part, []).append(i)
    out = []
    for run in runs.values():
        if len(run) < 2:
            continue
        found = [row.digits[i] for i in inside(row, min(cut.digits[i].box[0] for i in run),
                                               max(cut.digits[i].box[2] for i in run))]
        if any(d.declined for d in found) or (len(found) != len(run)
                                              and min((d.confidence for d in found), default=0.0) < sure):
            out.append(run)
    return out


def keeping_declined(row: NumberReading, cut: NumberReading) -> NumberReading:
    """The row reader's reading with a part the cut reading declined declined again where the row reader reads it
    as one digit: the row reader knows only the model's classes, so where the model read that ink alone as none of
    them, the row reader's guess is no answer (a letter A it took for a 1 stays "?"). Where it reads two or more
    digits there, they are digits run together, which the model cannot read as one."""
    refused = {i for found in under_declined(row, cut) if len(found) == 1 for i in found}
    return row.declining([d.declined or i in refused for i, d in enumerate(row.digits)]) if refused else row


class NumberReader:
    """Reads numbers with a model: `probabilities` (views -> probabilities), its spec's glyph frame, its decision
    to decline, and where the model has one, its row reader (`rows`: a row view -> per-column log-probabilities,
    CTC blank first)."""

    def __init__(self, spec: DatasetSpec, probabilities: Callable[[Sequence[np.ndarray]], np.ndarray],
                 temperature: float = 1.0, rows: Callable[[np.ndarray], np.ndarray] | None = None,
                 decline: float | None = None):
        if spec.view != "glyph":
            raise ValueError(f"reading a number needs a handwriting model; {spec.name} reads photos")
        self.spec, self.probabilities, self.temperature, self.rows = spec, probabilities, temperature, rows
        self.decline = decline  # a digit read less surely than this is declined ("?"), where the model declines
        self.frame = Frame(spec.size, spec.stroke)

    def view(self, a: np.ndarray, page: Page, region: Region) -> np.ndarray:
        """One digit re-read at full resolution with only its own ink: (channels, size, size) uint8."""
        digit_page = replace(page, keep=region.mask, cell=1, bbox=(region.y0, region.y1, region.x0, region.x1))
        glyph = fit_and_centre(normalise_strokes(read_digit(a, digit_page, self.frame.fine), self.frame), self.frame)
        return np.repeat(glyph[None], self.spec.channels, axis=0)

    def quick_view(self, region: Region) -> np.ndarray:
        """A cheap view from the page-scale ink alone: good enough to weigh where to cut, not to answer."""
        ink = region.mask[region.y0:region.y1, region.x0:region.x1].astype(np.float32)
        scale = self.frame.fine / max(ink.shape)
        size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        soft = np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BILINEAR))
        glyph = fit_and_centre(normalise_strokes(np.pad(soft, 2), self.frame), self.frame)
        return np.repeat(glyph[None], self.spec.channels, axis=0)

    def read(self, a: np.ndarray, k: int = 3) -> NumberReading:
        """(H, W, C) uint8 pixels -> the number written on them; an empty page reads as ""."""
        found = written_digits(a)
        if found is None:
            return NumberReading("", 0.0, [])
        a, dy, dx, page, regions, height = found
        whole = [(i, part) for i, region in enumerate(regions) for part in self.apart(region, height)]
        unsure = self.doubted([part for _, part in whole], height)
        digits: list[Region] = []
        origin: list[int] = []  # each digit's written part
        for (i, part), doubt in zip(whole, unsure, strict=True):
            pieces = self.split(a, page, part, height, doubt)
            digits += pieces
            origin += [i] * len(pieces)
        views = [self.view(a, page, r) for r in digits]
        probs = np.asarray(self.probabilities(views))
        cut = self.reading(a, (dy, dx, page.step), digits, views, probs, k).flagged(self.decline)
        row = self.row_reading(a, (dy, dx, page), regions, height, k) if self.rows is not None else None
        if row is not None and self.decline is not None:  # a mark cut into digits the row reader does not see
            cut = self.declined_whole(a, (dy, dx, page), cut, digits, unconfirmed(row[0], cut, origin), k)
        if row is not None and overreads(row[0], cut):  # a mark among digits read as digits: the cut reading's "?"
            row = None
        if row is not None:
            row = (keeping_declined(row[0], cut), row[1])
        if row is None or not prefers_row(row[0], cut) or not all(r.mask.any() for r in row[1]):
            return cut
        reading, pieces = row  # what the model saw of each digit, made only for the reading that is the answer
        return replace(reading, digits=[replace(d, view=self.view(a, page, r))
                                        for d, r in zip(reading.digits, pieces, strict=True)])

    def declined_whole(self, a: np.ndarray, where: tuple[int, int, Page], cut: NumberReading,
                       digits: Sequence[Region], runs: list[list[int]], k: int) -> NumberReading:
        """The cut reading with each run of digits made one part again, read by the model whole and declined."""
        if not runs:
            return cut
        dy, dx, page = where
        merged = [reduce(merge, [digits[i] for i in run]) for run in runs]
        views = [self.view(a, page, r) for r in merged]
        marks = self.reading(a, (dy, dx, page.step), merged, views, np.asarray(self.probabilities(views)), k).digits
        first = {run[0]: replace(mark, declined=True) for run, mark in zip(runs, marks, strict=True)}
        gone = {i for run in runs for i in run[1:]}
        kept = [first.get(i, d) for i, d in enumerate(cut.digits) if i not in gone]
        return NumberReading("", float(np.prod([d.confidence for d in kept])), kept).declining(
            [d.declined for d in kept])

    def reading(self, a: np.ndarray, where: tuple[int, int, int], digits: Sequence[Region],
                views: Sequence[np.ndarray | None], probs: np.ndarray, k: int) -> NumberReading:
        """The number these digits' probabilities read; `where`: the part's (y, x) offset and page step."""
        dy, dx, step = where
        readings = []
        for region, view, p in zip(digits, views, probs, strict=True):
            order = np.argsort(-p)
            top = {self.spec.display[i]: round(float(p[i]), 6) for i in order[:max(1, k)]}
            box = (dx + region.x0 * step, dy + region.y0 * step, dx + min(region.x1 * step, a.shape[1]),
                   dy + min(region.y1 * step, a.shape[0]))
            readings.append(DigitReading(self.spec.labels[order[0]], self.spec.display[order[0]], float(p[order[0]]),
                                         box, top, view))
        number = "".join(d.label for d in readings)
        return NumberReading(number, float(np.prod([d.confidence for d in readings])), readings)

    def row_reading(self, a: np.ndarray, where: tuple[int, int, Page], regions: Sequence[Region], height: float,
                    k: int) -> tuple[NumberReading, list[Region]] | None:
        """The number as the row reader reads the whole row (without the digits' views), and each digit's piece of
        ink: between the least inked columns between it and its neighbours. None where the row is too long for it,
        or it reads nothing or more than MAX_DIGITS marks. A piece may hold no ink (then it is not the answer)."""
        dy, dx, page = where
        view = row_view(regions, height)
        if view is None:
            return None
        log_probs = np.asarray(self.rows(view.ink))
        path = best_path(log_probs)
        if not path or len(path) > MAX_DIGITS:  # each digit read costs a view: as many as the cutter may read
            return None
        peaks = [t0 + int(np.argmax(log_probs[t0:t1 + 1, c + 1])) for c, t0, t1 in path]
        centres = [round(view.page_x((t + 0.5) * ROW_STEP)) for t in peaks]
        whole = reduce(merge, regions)
        ink = whole.mask.sum(0)
        inked = np.flatnonzero(ink)  # a mark is read where there is ink: CTC may answer a column or two beside it
        centres = [int(inked[np.argmin(np.abs(inked - c))]) for c in centres]
        bounds = [whole.x0, *(between(ink, left, right) for left, right in pairwise(centres)), whole.x1]
        # A mark read where its columns hold no ink (CTC's peaks are not always over their ink) keeps its place,
        # with no ink: such a reading still tells what the row holds, but cannot be the answer (read())
        digits = [piece(whole, x0, x1) or Region(np.zeros_like(whole.mask), x0, max(x1, x0 + 1), whole.y0, whole.y1)
                  for x0, x1 in pairwise(bounds)]
        n = self.spec.num_classes
        probs = np.exp(log_probs[peaks, 1:])
        probs /= probs.sum(1, keepdims=True)  # at its peak: which class, or none of them, given a mark is there
        reading = self.reading(a, (dy, dx, page.step), digits, [None] * len(digits), probs[:, :n], k)
        # Declined as the cutter declines (read less surely than the model's decision), or read as none of them.
        flagged = reading.flagged(self.decline).digits
        declined = [d.declined or c == n for d, (c, _, _) in zip(flagged, path, strict=True)]
        return replace(reading.declining(declined), whole=True), digits

    def sureness(self, regions: Sequence[Region]) -> np.ndarray:
        """How surely the model reads each region's quick view as its top class, before calibration
        (p ** T, renormalised), so that where to cut does not change with a model's temperature."""
        raw = np.asarray(self.probabilities([self.quick_view(r) for r in regions]), np.float64) ** self.temperature
        return (raw / raw.sum(1, keepdims=True)).max(1)

    def doubted(self, regions: Sequence[Region], height: float) -> list[bool]:
        """Which regions, wide enough for two digits that touch but not wider than one digit, the model does not
        read surely whole (one batch; narrower and wider ones are not asked: split() knows what to do with them)."""
        asked = [i for i, r in enumerate(regions)
                 if PAIR_WIDE * max(r.height, height) <= r.width < WIDE * max(r.height, height)]
        doubt = [False] * len(regions)
        if asked:
            for i, sure in zip(asked, self.sureness([regions[i] for i in asked]), strict=True):
                doubt[i] = bool(sure < UNSURE)
        return doubt

    def apart(self, region: Region, height: float) -> list[Region]:
        """A group as its digit-tall parts when each reads surely: grouping keeps parts that share most of
        their width as one digit (a 5 and its flag), but a 1 standing under the bar of a 7 is a digit of its own."""
        tall = tall_parts(region, height)
        if tall is None:
            return [region]
        whole, *each = self.sureness([region, *tall])
        if min(each) >= APART_SURE and float(np.log(each).sum()) + APART_GAIN * (len(tall) - 1) >= math.log(whole):
            return tall
        return [region]

    def split(self, a: np.ndarray, page: Page, region: Region, height: float, unsure: bool = False) -> list[Region]:
        """A part as one digit, or as the digits it holds when they touch: of every way to cut it at
        its valleys into pieces of a digit's width, the one the model reads surest (the product of its
        digits' confidences, none below MIN_SURE, less for pieces wider than a digit); the whole part
        unless a cut reads surer. A part is tried so when it is wider than a digit, or, being `unsure`ly
        read whole, wide enough for two: then into pieces as slim as a 1, each read at least UNSURE_PIECE."""
        tall = max(region.height, height)
        if region.width < (PAIR_WIDE if unsure else WIDE) * tall:
            return [region]
        slimmest = SLIM_PIECE if unsure else SURE_PIECE
        least = UNSURE_PIECE if unsure else MIN_SURE
        bounds = [region.x0, *valleys(region, tall, slimmest=slimmest + 0.05), region.x1]
        spans = [(i, j) for i in range(len(bounds)) for j in range(i + 1, len(bounds))
                 if (i, j) == (0, len(bounds) - 1) or slimmest * tall <= bounds[j] - bounds[i] <= 1.3 * tall]
        pieces = {span: piece(region, bounds[span[0]], bounds[span[1]]) for span in spans}
        pieces = {span: r for span, r in pieces.items() if r is not None}
        spans = list(pieces)
        sure = self.sureness([pieces[span] for span in spans])
        whole = (0, len(bounds) - 1)
        score = {span: math.log(max(p, 1e-9)) - (span != whole) * TOO_WIDE * max(0.0, pieces[span].width / tall
                                                                                  - DIGIT_ASPECT)
                 if p >= least or span == whole else -math.inf
                 for span, p in zip(spans, sure, strict=True)}
        best: dict[int, tuple[float, list[tuple[int, int]]]] = {0: (0.0, [])}  # bound -> (log score, spans)
        for j in range(1, len(bounds)):
            options = [(best[i][0] + score[(i, j)] - CUT_COST * bool(best[i][1]), best[i][1] + [(i, j)])
                       for i in range(j) if i in best and (i, j) in score]
            if options:
                best[j] = max(options, key=lambda o: o[0])
        chosen = best.get(len(bounds) - 1, (0.0, [(0, len(bounds) - 1)]))[1]
        return [pieces[span] for span in chosen]

"""What the lab's pages show about models and runs: the model's view, curve frames, sample grids, boxed numbers."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from digitlab.vision.pictures import png_bytes, view_image

CURVE_COLUMNS = ["epoch", "split", "loss", "accuracy"]


def view_html(view: np.ndarray, size: int = 224, alt: str = "the model's input") -> str:
    """The model's view as an inline PNG enlarged pixel by pixel, as the model sees it.

    Inline, so a prediction is one response: no file in gradio's cache, no second request to fetch it.
    """
    data = base64.b64encode(png_bytes(view_image(view))).decode()  # a few hundred bytes, ~0.1 ms
    return (f'<img src="data:image/png;base64,{data}" width="{size}" height="{size}" alt="{alt}" '
            'style="image-rendering: pixelated; display: block; margin: 28px auto 4px">')


def curves(records: Sequence, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Long format for gr.LinePlot: one row per (epoch, split), `split` picks the colour.

    `records` are EpochRecords or their dicts; `names` says "train" and "test" in the visitor's language.
    """
    def get(r, key):
        return r[key] if isinstance(r, dict) else getattr(r, key)

    names = names or {}
    rows = [(get(r, "epoch"), names.get(split, split), get(r, f"{split}_loss"), get(r, f"{split}_acc"))
            for r in records for split in ("train", "test")]
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return frame.astype({"epoch": "int64", "split": "str", "loss": "float64", "accuracy": "float64"})


def sample_grid(images: torch.Tensor, labels: torch.Tensor, n: int = 5, scale: int = 3) -> np.ndarray:
    """An n x n grid of the first image of each class in turn, uint8 (grey or RGB).

    Cycling through the classes shows every class the model learns, not 25 random ones.
    """
    picks: list[int] = []
    classes = sorted(set(labels.tolist()))
    per_class = {c: (labels == c).nonzero().flatten().tolist() for c in classes}
    for i in range(n * n):
        pool = per_class[classes[i % len(classes)]]
        if pool:
            picks.append(pool[(i // len(classes)) % len(pool)])
    tiles = images[picks].numpy().transpose(0, 2, 3, 1)  # (k, S, S, C)
    size = tiles.shape[1] + 2  # a 1-px grey frame separates the tiles
    grid = np.full((n * size, n * size, tiles.shape[-1]), 128, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, n)
        grid[r * size + 1:(r + 1) * size - 1, c * size + 1:(c + 1) * size - 1] = tile
    grid = grid.repeat(scale, 0).repeat(scale, 1)
    return grid[..., 0] if grid.shape[-1] == 1 else grid


def number_html(pixels: np.ndarray, reading, width: int = 640) -> str:
    """The image with a box around each digit found and its answer above it, inline (PNG + SVG)."""

    h, w = pixels.shape[:2]
    scale = min(1.0, width / w)
    img = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3])
    img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    data = base64.b64encode(png_bytes(np.asarray(img))).decode()
    marks = []
    for d in reading.digits:
        x0, y0, x1, y1 = (round(v * scale) for v in d.box)
        colour = "#dc2626" if d.declined else "#16a34a" if d.confidence >= 0.9 else \
            "#d97706" if d.confidence >= 0.5 else "#dc2626"
        marks.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"/><text x="{x0}" y="{max(12, y0 - 4)}" fill="{colour}" '
                     f'font-size="14" font-family="sans-serif">{html.escape(d.shown)} '
                     f'{d.confidence:.0%}</text>')
    return (f'<svg class="number-boxes" viewBox="0 0 {img.width} {img.height}" width="{img.width}" '
            f'height="{img.height}" style="max-width: 100%; height: auto" role="img" '
            f'aria-label="the number read: {html.escape(reading.number)}"><image href="data:image/png;base64,{data}" '
            f'width="{img.width}" height="{img.height}"/>{"".join(marks)}</svg>')

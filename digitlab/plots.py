"""What the lab shows about a training run: log lines, curve frames, a grid of samples."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from digitlab.train import EpochRecord

CURVE_COLUMNS = ["epoch", "split", "loss", "accuracy"]


def view_html(view: np.ndarray, size: int = 224) -> str:
    """The 28x28 view as an inline PNG enlarged pixel by pixel, white ink on black as the model sees it.

    Inline, so a prediction is one response: no file in gradio's cache, no second request to fetch it.
    """
    buf = io.BytesIO()
    Image.fromarray(view).save(buf, format="PNG")  # a few hundred bytes, ~0.1 ms
    data = base64.b64encode(buf.getvalue()).decode()
    return (f'<img src="data:image/png;base64,{data}" width="{size}" height="{size}" alt="the 28x28 model input" '
            'style="image-rendering: pixelated; display: block; margin: 28px auto 4px">')


def curves(records: Sequence[EpochRecord]) -> pd.DataFrame:
    """Long format for gr.LinePlot: one row per (epoch, split), `split` picks the colour."""
    rows = [(r.epoch, split, getattr(r, f"{split}_loss"), getattr(r, f"{split}_acc"))
            for r in records for split in ("train", "test")]
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    # Typed even when empty: the plot fixes its axes' kinds from the first frame it gets.
    return frame.astype({"epoch": "int64", "split": "str", "loss": "float64", "accuracy": "float64"})


def sample_grid(images: torch.Tensor, labels: torch.Tensor, n: int = 5, scale: int = 3) -> np.ndarray:
    """An n x n grid of the first image of each class in turn, black ink on white, uint8.

    Cycling through the classes shows every digit the model learns, not 25 random ones.
    """
    picks: list[int] = []
    classes = sorted(set(labels.tolist()))
    per_class = {c: (labels == c).nonzero().flatten().tolist() for c in classes}
    for i in range(n * n):
        pool = per_class[classes[i % len(classes)]]
        if pool:
            picks.append(pool[(i // len(classes)) % len(pool)])
    tiles = 255 - images[picks].numpy()  # (k, 28, 28), paper-white background
    size = tiles.shape[-1] + 2  # a 1-px grey frame separates the tiles
    grid = np.full((n * size, n * size), 200, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, n)
        grid[r * size + 1:(r + 1) * size - 1, c * size + 1:(c + 1) * size - 1] = tile
    return grid.repeat(scale, 0).repeat(scale, 1)

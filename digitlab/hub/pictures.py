"""The model card's pictures: training curves and the confusion matrix, drawn with matplotlib's Agg canvas
(no pyplot, no process-wide backend switch)."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np

MAX_DRAWN_CLASSES = 40  # a confusion matrix of more classes is left out of the card: unreadable, and slow to draw


def new_figure(width: float, height: float):
    """A matplotlib Figure on its own Agg canvas: no pyplot state, no backend switch for the process."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def curves_png(records: Sequence[dict]) -> bytes:
    """Loss and accuracy per epoch, train and test, as one PNG for the model card."""
    fig = new_figure(8, 3)
    axes = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in records]
    for ax, measure, title in ((axes[0], "loss", "Loss"), (axes[1], "acc", "Accuracy (%)")):
        for split in ("train", "test"):
            ax.plot(epochs, [r[f"{split}_{measure}"] for r in records], marker="o", label=split)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure_png(fig)


def drawable_names(names: list[str], longest: int = 12) -> list[str]:
    """Class names as the plotting font can draw them: where it lacks a glyph (Chinese numerals and no
    CJK font on the server), the part in brackets ("七 (7)" -> "7"), else the class index; long names
    shortened with an ellipsis."""

    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(font_manager.FontProperties()))

    def drawn(text: str) -> bool:
        return all(font.get_char_index(ord(ch)) for ch in text if not ch.isspace())

    out = []
    for i, name in enumerate(names):
        inner = re.search(r"\(([^)]*)\)", name)
        name = name if drawn(name) else inner.group(1) if inner and drawn(inner.group(1)) else str(i)
        out.append(name if len(name) <= longest else name[:longest - 1] + "…")
    return out


def confusion_png(confusion: Sequence[Sequence[int]], names: list[str]) -> bytes:
    """The confusion matrix (rows true, columns answered) as a heatmap with counts, for the model card."""
    m = np.asarray(confusion)
    k = len(m)
    fig = new_figure(1.2 + 0.45 * k, 1.0 + 0.45 * k)
    ax = fig.subplots()
    shown = np.log1p(m)
    ax.imshow(shown, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > 0.6 * shown.max() else "black")
    names = drawable_names(names)
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("answered")
    ax.set_ylabel("true")
    return figure_png(fig)

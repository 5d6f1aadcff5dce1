"""What a visitor's browser keeps for them across a reload (or a Space restart): their corrections and the
Hub repos they loaded or pushed. It lives in the browser's localStorage (gr.BrowserState), so it is the
visitor's to change: everything read back is checked and bounded like any other input.

Models themselves stay on the Hub (a repo id reloads one); the server keeps nothing after a session ends.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from digitlab.serve.sessions import Correction, Visitor
from digitlab.spec import MAX_CLASSES, MAX_NAME, MAX_SIZE
from digitlab.training.finetune import NOT_ONE

STORE_KEY = "digitlab-lab"
MAX_REPOS = 30


def empty() -> dict:
    return {"corrections": [], "repos": []}


def png_of(view: np.ndarray) -> str:
    image = view[0] if view.shape[0] == 1 else view.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def view_of(data: str) -> np.ndarray | None:
    """A stored view back as (C, S, S) uint8, or None when it is not one (damaged, too large, another mode)."""
    try:
        raw = base64.b64decode(data, validate=True)
        if len(raw) > 64 * 2**10:
            return None
        image = Image.open(io.BytesIO(raw))
        if image.format != "PNG" or image.size[0] != image.size[1] or not 8 <= image.size[0] <= MAX_SIZE \
                or image.mode not in ("L", "RGB"):
            return None
        pixels = np.asarray(image)
    except Exception:
        return None
    return pixels[None] if pixels.ndim == 2 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


def remember_corrections(visitor: Visitor) -> dict:
    """The store's value for this visitor now: their corrections and the repos they used."""
    with visitor.lock:
        corrections = [{"view": png_of(c.view), "label": c.label, "answer": c.answer, "model": c.model_key,
                        "names": list(c.names)} for c in visitor.corrections]
        return {"corrections": corrections, "repos": list(visitor.repos)}


def restore(visitor: Visitor, stored: Any) -> int:
    """Put the stored corrections and repos into a new session, each checked; returns the corrections taken."""
    if not isinstance(stored, dict):
        return 0
    repos = stored.get("repos")
    if isinstance(repos, list):
        visitor.repos = [r for r in repos if isinstance(r, str) and 3 <= len(r) <= 96 and r.count("/") == 1][
            -MAX_REPOS:]
    items = stored.get("corrections")
    if not isinstance(items, list):
        return 0
    taken = 0
    for item in items[-visitor.policy.corrections_kept:]:
        correction = correction_of(item)
        if correction is not None:
            visitor.add_correction(correction)
            taken += 1
    return taken


def correction_of(item: Any) -> Correction | None:
    if not isinstance(item, dict):
        return None
    names, label, answer = item.get("names"), item.get("label"), item.get("answer")
    if not (isinstance(names, list) and 2 <= len(names) <= MAX_CLASSES
            and all(isinstance(n, str) and len(n) <= MAX_NAME for n in names)):
        return None
    if type(answer) is not int or not 0 <= answer < len(names):
        return None
    if type(label) is not int or not (0 <= label < len(names) or label == NOT_ONE):  # NOT_ONE: none of them
        return None
    view = view_of(item.get("view")) if isinstance(item.get("view"), str) else None
    model = item.get("model")
    if view is None or not isinstance(model, str) or len(model) > 200:
        return None
    return Correction(view, label, answer, model, tuple(names))

"""Views as pictures: a (C, S, S) model input as an image people see, and as PNG bytes."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def view_image(view: np.ndarray) -> np.ndarray:
    """A (C, S, S) model input as people see it: (S, S) grey or (S, S, 3) RGB."""
    return view[0] if view.shape[0] == 1 else np.ascontiguousarray(view.transpose(1, 2, 0))


def data_url(image: np.ndarray) -> str:
    """An image as an inline PNG data URL."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()

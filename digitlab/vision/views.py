"""Pixels -> model input, one recipe per kind of data, chosen by the model's DatasetSpec.

- "glyph": ink on paper (MNIST, Chinese numerals, your own handwriting): digitlab.vision.glyph's two
  passes find the ink whatever its colour or the lighting, and fit it MNIST's way.
- "photo": a picture as it is (CIFAR-10, Fashion-MNIST's product photos, your own photos): fit
  and normalise. Datasets of objects on a plain background ("light-on-dark" polarity, as
  Fashion-MNIST) are trimmed to the object, fitted, and turned light-on-dark if their
  background is light; natural photos are centre-cropped to a square.

The Predictor is the one caller for users' images (and the loaders for training data), so a
model always reads images the way its data was prepared. A view is (C, S, S) uint8.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from digitlab.spec import MNIST, DatasetSpec
from digitlab.vision.glyph import Frame, read_glyph
from digitlab.vision.imageio import (
    EMPTY_CANVAS,
    SKETCH_MAX_LAYERS,
    SKETCH_MAX_PIXELS,
    EmptyImageError,
    ImageError,
    flatten,
    is_sketch,
    pixels_of,
    read_image,
    read_pixels,
    squeeze,
)

View = Callable[[np.ndarray, DatasetSpec], np.ndarray]
UNIFORM = "Nothing found: the image is a single colour."


def glyph_view(pixels: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """(H, W, C) uint8 -> (channels, size, size): the glyph, ink high on black."""
    glyph = read_glyph(pixels, Frame(spec.size, spec.stroke))
    return np.repeat(glyph[None], spec.channels, axis=0)


def photo_view(pixels: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """(H, W, C) uint8 -> (channels, size, size): fitted to the frame, in the data's polarity."""
    rgb = on_white(shrink(pixels, 16 * spec.size))
    if float(rgb.std()) < 1.0:
        raise EmptyImageError(UNIFORM, "uniform")
    if spec.polarity == "light-on-dark":
        rgb, light_background = trim_to_object(rgb)
    else:
        h, w = rgb.shape[:2]
        side = min(h, w)
        rgb, light_background = rgb[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2], False
    img = Image.fromarray(rgb).resize((spec.size, spec.size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if spec.channels == 1:
        img = img.convert("L")
    view = pixels_of(img).transpose(2, 0, 1)
    return 255 - view if light_background else np.ascontiguousarray(view)


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """Pixels with the long side at most `side` (box-averaged): a big photo costs no more than a small one."""
    h, w = pixels.shape[:2]
    factor = max(h, w) // side
    if factor < 2:
        return pixels
    return pixels_of(Image.fromarray(squeeze(np.ascontiguousarray(pixels))).reduce(factor))


def on_white(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: grey spread to RGB, transparency laid on white."""
    if pixels.shape[-1] == 1:
        return np.repeat(pixels, 3, axis=2)
    if pixels.shape[-1] == 4:
        alpha = pixels[..., 3:].astype(np.float32) / 255
        return (pixels[..., :3] * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)
    return pixels


def trim_to_object(rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """The object's box, padded square with the background colour, and whether that colour is light.

    Fashion-MNIST was made this way: trim the product photo, fit its long side, centre it.
    """
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    background = np.median(border, axis=0)
    distance = np.abs(rgb.astype(np.float32) - background).max(-1)
    spread = float(np.percentile(np.abs(border - background).max(-1), 90))
    mask = distance > max(24.0, 2 * spread)
    if mask.any():
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        rgb = rgb[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = rgb.shape[:2]
    side = max(h, w)
    square = np.empty((side, side, 3), np.uint8)
    square[:] = background.round().astype(np.uint8)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = rgb
    return square, float(background.mean()) > 127


VIEWS_VERSION = 5  # bump when a view changes what it makes of the same image: cached datasets are remade

VIEWS: dict[str, View] = {"glyph": glyph_view, "photo": photo_view}


def prepare(source: Any, spec: DatasetSpec) -> np.ndarray:
    """Any image a user can give -> the (channels, size, size) uint8 input `spec`'s model reads.

    `source`: a PIL image, a numpy array (HxW[x1|3|4]; uint8, uint16 or float in [0, 1]),
    a file path, raw bytes, or a Gradio Sketchpad value {"background", "layers", "composite"}.
    Raises ImageError (EmptyImageError when there is nothing to read) with a message for users.
    """
    view = VIEWS[spec.view]
    if is_sketch(source):
        return read_sketch(source, lambda pixels: view(pixels, spec))
    return view(read_pixels(source), spec)


def read_sketch(value: dict, view: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """A Sketchpad value: the composite when it shows something, else the layers flattened."""
    composite = value.get("composite")
    if composite is not None:
        try:
            return view(read_pixels(composite, SKETCH_MAX_PIXELS))
        except EmptyImageError:
            pass  # a blank composite next to inked layers: read the layers
    given = [layer for layer in value.get("layers") or [] if layer is not None]
    if len(given) > SKETCH_MAX_LAYERS:  # gradio's API takes any list: thousands would stall the server
        raise ImageError(f"A sketch may have at most {SKETCH_MAX_LAYERS} layers; this one has {len(given)}.",
                         "layers", most=SKETCH_MAX_LAYERS, n=len(given))
    layers = [read_image(layer, SKETCH_MAX_PIXELS) for layer in given]
    if not layers:
        raise EmptyImageError(EMPTY_CANVAS, "empty_canvas")
    background = value.get("background")
    flat = flatten(None if background is None else read_image(background, SKETCH_MAX_PIXELS), layers)
    try:
        return view(pixels_of(flat))
    except EmptyImageError:
        raise EmptyImageError(EMPTY_CANVAS, "empty_canvas") from None


def to_mnist(source: Any) -> np.ndarray:
    """The glyph view at MNIST's size: (28, 28) uint8, ink high on black."""
    return prepare(source, MNIST)[0]

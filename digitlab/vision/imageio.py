"""Untrusted input -> pixels: the one place that opens files and bytes.

Paths, bytes, data URLs, file objects, PIL images and arrays all become (H, W, C) uint8 pixels,
upright, with limits checked before anything is decoded: files over MAX_BYTES, images over
MAX_PIXELS (from the header), files that are not regular files. Failures are ImageError, whose
message is one plain sentence for users.
"""

from __future__ import annotations

import base64
import io
import math
import os
import stat
from functools import partial
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from digitlab.vision.fastpng import decode_png

MAX_BYTES = 20 * 2**20  # larger files are refused before decoding
MAX_PIXELS = 40_000_000  # decompression-bomb guard, checked from the header before decoding
# A Sketchpad value is a canvas, read on the server's event loop (lab.py): 2000x2000 at most, so
# that no sketch holds up the others. Photos go through uploads, under MAX_PIXELS.
SKETCH_MAX_PIXELS = 4_000_000
SKETCH_MAX_LAYERS = 4  # each layer is decoded and flattened; this app's canvases send one
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}  # files read as images
MIN_SIDE = 8  # px; anything smaller cannot hold a readable image
EXIF_ORIENTATION = 0x0112

UNREADABLE = "This file is not an image we can read (PNG, JPEG, WebP, GIF or BMP)."
EMPTY_CANVAS = "The canvas is empty: draw something."


class ImageError(ValueError):
    """An input that cannot be read; the message is one plain sentence for users, in English. `key` and
    `params` name the sentence, so that an interface can say it in its visitor's language."""

    def __init__(self, message: str, key: str = "", **params: object):
        super().__init__(message)
        self.key, self.params = key, params


class EmptyImageError(ImageError):
    """A readable image or canvas with nothing on it."""


# ---------------------------------------------------------------- decoding


def read_pixels(source: Any, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported source -> (H, W, C) uint8, C = 1 (grey), 3 (RGB) or 4 (RGBA), upright.

    Encoded images over `max_pixels` are refused from their header, before decoding.
    """
    if isinstance(source, np.ndarray) or (hasattr(source, "__array__") and not isinstance(source, Image.Image)):
        return array_pixels(as_array(source))
    data = encoded_bytes(source)
    if data is None:
        return pixels_of(read_image(source, max_pixels))
    check_bytes(data)
    pixels = decode_png(data, partial(check_size, max_pixels=max_pixels))  # 3x faster than Pillow; None: not plain
    return pixels_of(open_bytes(data, max_pixels)) if pixels is None else pixels


def as_array(source: Any) -> np.ndarray:
    """np.asarray, with array-likes that refuse (a CUDA tensor, one that needs grad) explained."""
    try:
        return np.asarray(source)
    except Exception as err:
        raise ImageError(f"Cannot read a {type(source).__name__} as an image: give a CPU array without "
                         "gradients, a PIL image or an image file.") from err


def read_image(source: Any, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A PIL image / array / path / bytes / file object -> upright PIL image, mode L, RGB or RGBA."""
    if isinstance(source, Image.Image):
        return normalise_mode(source)
    data = encoded_bytes(source)
    if data is not None:
        return open_bytes(data, max_pixels)
    if isinstance(source, np.ndarray) or hasattr(source, "__array__"):
        return Image.fromarray(squeeze(array_pixels(as_array(source))))
    raise ImageError(f"Cannot read a {type(source).__name__} as an image: "
                     "give an image file, a PIL image or a numpy array.")


def encoded_bytes(source: Any) -> bytes | None:
    """The encoded image of a path, Gradio FileData, data URL, bytes or file object; None for others."""
    if isinstance(source, dict) and "path" in source:  # a Gradio FileData
        source = source["path"]
    if isinstance(source, str) and source.startswith("data:image"):
        return data_url_bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return read_file(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if hasattr(source, "read"):
        return source.read(MAX_BYTES + 1)
    return None


def pixels_of(img: Image.Image) -> np.ndarray:
    """(H, W, C) uint8 of a mode L / RGB / RGBA image."""
    a = np.asarray(img)
    return a[..., None] if a.ndim == 2 else a


def squeeze(a: np.ndarray) -> np.ndarray:
    return a[..., 0] if a.shape[-1] == 1 else a


def read_file(path: str | os.PathLike) -> bytes:
    """A regular file's bytes, at most MAX_BYTES: missing, special (a device, a pipe), empty and
    oversized files are refused before anything is read."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ImageError(f"There is no file at {os.fspath(path)!s}.") from None
    except (OSError, ValueError, TypeError) as err:  # a folder, no permission, a NUL in the name...
        raise ImageError(f"The file {os.fspath(path)!s} cannot be opened.") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{os.fspath(path)!s} is not a regular file.")
        if info.st_size > MAX_BYTES:
            raise too_large()
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_BYTES + 1)  # the size can lie (/proc) or grow: never more than the limit
    except OSError as err:
        raise ImageError(f"The file {os.fspath(path)!s} cannot be read.") from err
    finally:
        os.close(fd)


def flatten(background: Image.Image | None, layers: list[Image.Image]) -> Image.Image:
    """Stack Sketchpad layers over the background; a lone layer keeps its transparency."""
    if background is None and len(layers) == 1:
        return layers[0]
    base = (background or Image.new("RGBA", layers[0].size, (0, 0, 0, 0))).convert("RGBA")
    for layer in layers:
        layer = layer.convert("RGBA")
        if layer.size != base.size:
            layer = layer.resize(base.size, Image.Resampling.BILINEAR)
        base.alpha_composite(layer)
    return base


def is_sketch(source: Any) -> bool:
    """Whether `source` is a Sketchpad value {"background", "layers", "composite"}."""
    return isinstance(source, dict) and bool({"composite", "layers", "background"} & source.keys())


def data_url_bytes(url: str) -> bytes:
    """The payload of a data:image/...;base64 URL (what browsers send)."""
    try:
        return base64.b64decode(url.split(",", 1)[1])
    except (IndexError, ValueError) as err:
        raise ImageError(UNREADABLE, "unreadable") from err


def open_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an encoded image, checking byte and pixel limits before any pixels are decoded."""
    check_bytes(data)
    try:
        # Pillow warns of a header beyond its own limit (once, in the server log) and check_size refuses it; no
        # catch_warnings to hush it: that swaps the process's one list of filters while the pool's threads decode.
        img = Image.open(io.BytesIO(data))
        check_size(img.size, max_pixels)
        if img.format in ("JPEG", "MPO") and max(img.size) > 1000:
            scale = 1000 / max(img.size)  # JPEG decodes at 1/2..1/8 scale almost for free
            img.draft(img.mode, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        img.load()
        return normalise_mode(img)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise too_many_pixels() from None
    except Exception as err:  # Pillow raises many types for broken files (OSError, SyntaxError, ...)
        raise ImageError(UNREADABLE, "unreadable") from err


def check_bytes(data: bytes) -> None:
    """Refuse empty and oversized files before decoding them."""
    if not data:
        raise ImageError("The file is empty.", "empty_file")
    if len(data) > MAX_BYTES:
        raise too_large()


def too_many_pixels(max_pixels: int = MAX_PIXELS) -> ImageError:
    mp = max_pixels // 1_000_000
    return ImageError(f"The image is too large: the limit is {mp} megapixels.", "too_many_pixels", mp=mp)


def too_large() -> ImageError:
    mb = MAX_BYTES // 2**20
    return ImageError(f"The file is too large: the limit is {mb} MB.", "too_large", mb=mb)


def check_size(size: tuple[int, int], max_pixels: int = MAX_PIXELS) -> None:
    """Refuse images too large to process safely or too small to hold anything readable; size is (w, h)."""
    width, height = size
    if width * height > max_pixels:
        raise too_many_pixels(max_pixels)
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"The image is too small ({width}x{height} pixels): it needs at least "
                         f"{MIN_SIDE}x{MIN_SIDE}.", "too_small", width=width, height=height, side=MIN_SIDE)


def normalise_mode(img: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, mode L / RGB / RGBA with 8-bit channels."""
    check_size(img.size)
    try:
        if getattr(img, "n_frames", 1) > 1 and img.tell() != 0:
            img.seek(0)
        if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
            img = ImageOps.exif_transpose(img)
        mode = img.mode
        if mode in ("L", "RGB", "RGBA"):
            return img
        if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
            return Image.fromarray(squeeze(array_pixels(np.asarray(img))))
        if mode in ("LA", "La", "PA", "RGBa") or "transparency" in img.info:
            return img.convert("RGBA")
        return img.convert("L" if mode == "1" else "RGB")
    except ImageError:
        raise
    except Exception as err:  # a lazily decoded file that turns out to be broken
        raise ImageError(UNREADABLE, "unreadable") from err


def array_pixels(a: np.ndarray) -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 (or channels first) of any numeric dtype -> (H, W, C) uint8."""
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # CxHxW, as tensors come
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ImageError(f"An image array must be HxW, HxWx1, HxWx3 or HxWx4; this one is {a.shape}.")
    check_size((a.shape[1], a.shape[0]))
    return as_uint8(a)


def as_uint8(a: np.ndarray) -> np.ndarray:
    """Scale by dtype: uint8 as is, uint16 / 257, floats in [0, 1] (or [0, 255]), bools 0/255."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ImageError(f"An image array must hold numbers, not {a.dtype}.")
    floating = np.issubdtype(a.dtype, np.floating)
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ImageError("The image array holds NaN or infinite values.")
    lo, hi = float(a.min()), float(a.max())
    if floating and lo >= 0 and hi <= 1:
        a = a * 255
    elif lo < 0 or hi > 255:
        a = a / 257 if lo >= 0 and hi <= 65535 else (a - lo) * (255 / max(hi - lo, 1e-12))
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)



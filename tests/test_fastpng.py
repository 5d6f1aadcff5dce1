"""fastpng gives Pillow's pixels for every PNG it takes, and hands the rest back to Pillow."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from digitlab.vision.fastpng import decode_png
from digitlab.vision.imageio import ImageError, check_size
from tests.pngs import SIGNATURE, chunk, png_header

RNG = np.random.default_rng(0)
# A sketch-like picture: flat paper, a few strokes, noise; filters differ row to row on it.
PAPER = np.full((61, 47, 4), 255, np.uint8)
PAPER[20:40, 10:35, :3] = RNG.integers(0, 80, (20, 25, 3), dtype=np.uint8)
PAPER[::7, :, 3] = RNG.integers(0, 255, (9, 47), dtype=np.uint8)


def png(img: Image.Image, **save) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **save)
    return out.getvalue()


def pillow(data: bytes) -> np.ndarray:
    a = np.asarray(Image.open(io.BytesIO(data)))
    return a[..., None] if a.ndim == 2 else a


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("save", [{}, {"optimize": True}, {"compress_level": 0}, {"compress_level": 9}],
                         ids=["default", "optimize", "stored", "level9"])
def test_plain_8bit_pngs_decode_to_pillows_pixels(mode, save):
    data = png(Image.fromarray(PAPER).convert(mode), **save)
    pixels = decode_png(data)
    assert pixels is not None, "this PNG should take the fast path"
    np.testing.assert_array_equal(pixels, pillow(data))


def test_a_png_split_over_many_idat_chunks_and_with_text_chunks_decodes():
    raw = b"".join(b"\x00" + row.tobytes() for row in PAPER)  # filter 0 on every row
    stream = zlib.compress(raw)
    pieces = [stream[i:i + 100] for i in range(0, len(stream), 100)]

    data = (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 47, 61, 8, 6, 0, 0, 0))
            + chunk(b"tEXt", b"Software\0test") + b"".join(chunk(b"IDAT", p) for p in pieces) + chunk(b"IEND", b""))
    np.testing.assert_array_equal(decode_png(data), PAPER)


@pytest.mark.parametrize("mode", ["LA", "P", "1", "I;16"])
def test_other_pngs_are_left_to_pillow(mode):
    img = Image.fromarray(PAPER).convert("RGBA" if mode == "LA" else "L").convert(mode)
    assert decode_png(png(img)) is None


@pytest.mark.parametrize("extra", [{"transparency": 0}, {"exif": Image.Exif()}], ids=["tRNS", "eXIf"])
def test_pngs_whose_chunks_change_the_pixels_are_left_to_pillow(extra):
    img = Image.fromarray(PAPER[..., 0])
    if "exif" in extra:
        extra["exif"][0x0112] = 6  # rotated: Pillow turns it upright
    assert decode_png(png(img, **extra)) is None


def test_interlaced_pngs_are_left_to_pillow():
    data = bytearray(png(Image.fromarray(PAPER)))
    data[28] = 1  # IHDR interlace method: Adam7 (the stream no longer matches: never decoded)
    assert decode_png(bytes(data)) is None


def test_damaged_pngs_are_left_to_pillow():
    data = png(Image.fromarray(PAPER))
    assert decode_png(data[:len(data) // 2]) is None
    assert decode_png(data[:-12]) is None  # no IEND: maybe more data was meant to follow
    corrupt = bytearray(data)
    corrupt[60] ^= 0xFF  # inside the compressed stream
    assert decode_png(bytes(corrupt)) is None


def test_not_a_png_is_none():
    assert decode_png(b"GIF89a...") is None and decode_png(b"") is None


def test_the_size_check_runs_before_anything_is_inflated():
    # 60000 x 60000 declared, a 64-byte stream: inflating would mean a 3.6 GB buffer
    with pytest.raises(ImageError, match="too large"):
        decode_png(png_header(60000, 60000), check_size)

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


def filtered_png(rows: np.ndarray, filters: list[int]) -> bytes:
    """An RGBA PNG whose scanlines use the given filters, each encoded here: 0 None, 1 Sub, 2 Up, 3 Average,
    4 Paeth."""
    above = np.zeros(rows[0].size, np.int16)
    lines = []
    for row, kind in zip(rows, filters, strict=True):
        flat = row.reshape(-1).astype(np.int16)
        left = np.concatenate([np.zeros(4, np.int16), flat[:-4]])
        corner = np.concatenate([np.zeros(4, np.int16), above[:-4]])
        if kind == 4:
            p = left + above - corner
            pa, pb, pc = np.abs(p - left), np.abs(p - above), np.abs(p - corner)
            guess = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, corner))
        else:
            guess = [0, left, above, (left + above) // 2][kind]
        lines.append(bytes([kind]) + ((flat - guess) % 256).astype(np.uint8).tobytes())
        above = flat
    height, width = rows.shape[:2]
    return (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(lines))) + chunk(b"IEND", b""))


def test_rows_that_repeat_the_row_above_are_copied_and_the_rows_after_them_still_read():
    """Up-filtered rows with nothing to add skip libspng; the row after a run of them is filtered against the
    last row that was written, which they repeat."""
    ink = RNG.integers(0, 256, (3, 40, 4), dtype=np.uint8)
    rows = np.stack([ink[0], ink[0], ink[0], ink[1], ink[1], ink[2], ink[2], ink[2], ink[0]])
    filters = [1, 2, 2, 2, 2, 0, 2, 2, 2]  # repeats after a Sub row and a None row; Up deltas after repeats
    np.testing.assert_array_equal(decode_png(filtered_png(rows, filters)), rows)
    filters = [4, 2, 2, 3, 2, 4, 2, 2, 3]  # Paeth and Average rows after repeats read the row they repeat
    np.testing.assert_array_equal(decode_png(filtered_png(rows, filters)), rows)
    same = np.repeat(ink[:1], 5, axis=0)
    np.testing.assert_array_equal(decode_png(filtered_png(same, [1, 2, 2, 2, 2])), same)  # one row written
    clear = np.concatenate([np.zeros((2, 40, 4), np.uint8), ink])  # the first row "repeats" the zeros above it
    np.testing.assert_array_equal(decode_png(filtered_png(clear, [2, 2, 1, 1, 1])), clear)


def test_a_canvas_whose_written_rows_fill_many_stored_blocks_decodes_to_pillows_pixels():
    canvas = np.full((400, 300, 4), 255, np.uint8)
    canvas[100:300, 140:160, :3] = 0  # a vertical stroke: its rows repeat
    canvas[180:260, :, :3] = RNG.integers(0, 256, (80, 300, 3), dtype=np.uint8)  # 80 rows that do not: 96 kB
    data = png(Image.fromarray(canvas))
    np.testing.assert_array_equal(decode_png(data), canvas)

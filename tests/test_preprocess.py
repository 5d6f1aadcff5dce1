"""Whatever a user hands over becomes an MNIST-like 28x28 view, or a plain-worded ImageError."""

import io
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from digitlab.data.registry import load_sample
from digitlab.vision.glyph import block_sum, label_cells, median, quantile, read_glyph, sliding
from digitlab.vision.imageio import MAX_BYTES, EmptyImageError, ImageError
from digitlab.vision.views import to_mnist
from tests.pngs import png_header

DIGITS = load_sample().test_images[:12, 0].numpy()  # real MNIST test digits: 7 2 1 0 4 1 4 9 5 9 0 6
SEVEN, TWO, ONE, ZERO, FOUR = DIGITS[0], DIGITS[1], DIGITS[2], DIGITS[3], DIGITS[4]


# ---------------------------------------------------------------- helpers


def draw(digit: np.ndarray, size: int = 400, at: tuple[int, int] = (200, 200), canvas: int = 800,
         ink=(0, 0, 0), paper=(255, 255, 255), pen: int = 0) -> Image.Image:
    """The 28x28 digit drawn `size` px wide at `at` on a canvas; pen > 0 thickens, < 0 thins."""
    glyph = Image.fromarray(digit)
    if pen:
        small = glyph.resize((112, 112), Image.Resampling.BILINEAR)
        glyph = small.filter(ImageFilter.MaxFilter(pen) if pen > 0 else ImageFilter.MinFilter(-pen))
    glyph = glyph.resize((size, size), Image.Resampling.BILINEAR)
    page = Image.new("RGB", (canvas, canvas), paper)
    page.paste(Image.new("RGB", (size, size), ink), at, mask=glyph)
    return page


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def stroke_width(view: np.ndarray) -> float:
    """Ink area over half the outline of the >= 50 % mask, in 28x28 pixels."""
    mask = np.pad(view >= 128, 1)
    outline = np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    return view.sum() / 255 / (outline / 2)


def assert_mnist_like(view: np.ndarray) -> None:
    """The contract: 28x28 uint8, ink high on black, fitted into 20x20, centred by mass."""
    assert view.shape == (28, 28) and view.dtype == np.uint8
    assert view.max() == 255
    assert np.median(view) == 0, "background must be black (ink high)"
    ys, xs = np.mgrid[:28, :28]
    mass = view.astype(float)
    cy, cx = (mass * ys).sum() / mass.sum(), (mass * xs).sum() / mass.sum()
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1, (cy, cx)
    rows, cols = np.flatnonzero(view.max(1) > 30), np.flatnonzero(view.max(0) > 30)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in range(17, 22)  # MNIST's box is 20


def png_bytes(img: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **kw)
    return out.getvalue()


def reference(digit: np.ndarray) -> np.ndarray:
    return to_mnist(digit)


# ---------------------------------------------------------------- what comes out


def test_a_plain_mnist_digit_passes_through_almost_unchanged():
    for digit in DIGITS:
        view = to_mnist(digit)
        assert_mnist_like(view)
        assert corr(view, digit) > 0.8


def test_an_mnist_digit_drawn_on_the_800px_sketchpad_reads_back_as_itself():
    for digit in DIGITS:
        page = np.asarray(draw(digit).convert("RGBA"))
        view = to_mnist({"background": None, "layers": [], "composite": page})
        assert_mnist_like(view)
        assert corr(view, reference(digit)) > 0.93
        assert corr(view, digit) > 0.8


def test_different_digits_stay_different():
    views = [to_mnist(draw(d)) for d in DIGITS[:5]]
    for i in range(5):
        for j in range(i + 1, 5):
            assert corr(views[i], views[j]) < 0.75


# ---------------------------------------------------------------- every input kind

SKETCH = draw(TWO)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "CMYK", "1", "I", "I;16"])
def test_every_pil_mode_reads_the_same_digit(mode):
    if mode == "I":
        img = Image.fromarray(np.asarray(SKETCH.convert("L")).astype(np.int32) * 257)  # 16-bit range in int32
    elif mode == "I;16":
        img = Image.fromarray(np.asarray(SKETCH.convert("L")).astype(np.uint16) * 257)
    else:
        img = SKETCH.convert(mode)
    assert img.mode == mode
    view = to_mnist(img)
    assert_mnist_like(view)
    assert corr(view, reference(TWO)) > 0.9


@pytest.mark.parametrize("make", [
    lambda a: a,  # H x W x 3 uint8
    lambda a: a[..., 0],  # H x W
    lambda a: a[..., :1],  # H x W x 1
    lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]),  # H x W x 4
    lambda a: a.astype(np.float32) / 255,  # float in [0, 1]
    lambda a: a[..., 0].astype(np.float64) / 255,
    lambda a: a.astype(np.uint16) * 257,  # 16 bit
    lambda a: np.moveaxis(a, -1, 0),  # channels first, as tensors come
], ids=["hwc3", "hw", "hwc1", "hwc4", "float32", "float64-gray", "uint16", "chw"])
def test_numpy_arrays_of_any_common_shape_and_dtype(make):
    view = to_mnist(make(np.asarray(SKETCH)))
    assert_mnist_like(view)
    assert corr(view, reference(TWO)) > 0.9


def test_torch_tensors_from_the_dataset_and_a_plain_error_for_ones_that_need_grad():
    import torch

    view = to_mnist(torch.from_numpy(TWO))
    assert corr(view, reference(TWO)) > 0.99
    with pytest.raises(ImageError, match="Cannot read a Tensor"):
        to_mnist(torch.zeros(28, 28, requires_grad=True))


def test_paths_bytes_and_file_objects(tmp_path):
    data = png_bytes(SKETCH)
    path = tmp_path / "two.png"
    path.write_bytes(data)
    views = [to_mnist(str(path)), to_mnist(path), to_mnist(data), to_mnist(io.BytesIO(data)),
             to_mnist({"path": str(path)})]  # a Gradio FileData
    for view in views:
        assert_mnist_like(view)
        np.testing.assert_array_equal(view, views[0])
    assert corr(views[0], reference(TWO)) > 0.9


def test_webp_jpeg_gif_and_bmp_files():
    for fmt in ("WEBP", "JPEG", "GIF", "BMP"):
        out = io.BytesIO()
        SKETCH.save(out, fmt)
        assert corr(to_mnist(out.getvalue()), reference(TWO)) > 0.9, fmt


def test_an_animated_gif_is_read_from_its_first_frame():
    frames = [draw(SEVEN).convert("P"), draw(ZERO).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    view = to_mnist(out.getvalue())
    assert corr(view, reference(SEVEN)) > 0.9 > corr(view, reference(ZERO))


# ---------------------------------------------------------------- the Sketchpad


def layer_of(img: Image.Image) -> np.ndarray:
    """Ink on a transparent layer: RGB all black, the strokes only in alpha."""
    alpha = 255 - np.asarray(img.convert("L"))
    return np.dstack([np.zeros(alpha.shape + (3,), np.uint8), alpha])


def test_a_transparent_layer_alone_is_read_from_its_alpha():
    value = {"background": None, "layers": [layer_of(SKETCH)], "composite": None}
    view = to_mnist(value)
    assert_mnist_like(view)
    assert corr(view, reference(TWO)) > 0.9
    assert corr(to_mnist(layer_of(SKETCH)), reference(TWO)) > 0.9  # the same RGBA as a plain array


def test_layers_over_a_white_background_and_pil_or_path_entries(tmp_path):
    white = Image.new("RGBA", SKETCH.size, "white")
    layer = Image.fromarray(layer_of(SKETCH))
    path = tmp_path / "layer.png"
    layer.save(path)
    for value in ({"background": white, "layers": [layer], "composite": None},
                  {"background": None, "layers": [str(path)], "composite": None},
                  {"background": None, "layers": [], "composite": SKETCH.convert("RGBA")}):
        assert corr(to_mnist(value), reference(TWO)) > 0.9


def test_a_blank_composite_falls_back_to_the_inked_layer():
    blank = np.full((800, 800, 4), 255, np.uint8)
    value = {"background": None, "layers": [layer_of(SKETCH)], "composite": blank}
    assert corr(to_mnist(value), reference(TWO)) > 0.9


@pytest.mark.parametrize("value", [
    {"background": None, "layers": [], "composite": None},  # nothing drawn yet
    {"background": None, "layers": [np.zeros((800, 800, 4), np.uint8)], "composite": None},
    {"background": None, "layers": [None], "composite": np.full((800, 800, 4), 255, np.uint8)},
    {"background": np.full((800, 800, 4), 255, np.uint8), "layers": [np.zeros((800, 800, 4), np.uint8)],
     "composite": np.full((800, 800, 4), 255, np.uint8)},
], ids=["empty", "clear-layer", "white-composite", "white-background"])
def test_an_empty_canvas_says_so(value):
    with pytest.raises(EmptyImageError, match="The canvas is empty: draw something."):
        to_mnist(value)


@pytest.mark.parametrize("image", [
    np.full((800, 800, 3), 255, np.uint8), np.zeros((300, 200), np.uint8), np.zeros((800, 800, 4), np.uint8),
    np.full((64, 64, 3), (30, 120, 200), np.uint8),
], ids=["white", "black", "transparent", "flat-colour"])
def test_a_blank_image_is_an_empty_image_error(image):
    with pytest.raises(EmptyImageError, match="blank"):
        to_mnist(image)


# ---------------------------------------------------------------- hard but real drawings


def test_white_on_black_and_coloured_ink_on_coloured_paper():
    for ink, paper in [((255, 255, 255), (0, 0, 0)), ((200, 30, 30), (250, 240, 200)),
                       ((40, 40, 200), (60, 170, 60)), ((255, 230, 0), (20, 20, 90))]:
        view = to_mnist(draw(TWO, ink=ink, paper=paper))
        assert_mnist_like(view)
        assert corr(view, reference(TWO)) > 0.9, (ink, paper)


def test_red_on_green_of_the_same_brightness_is_still_found():
    page = draw(FOUR, ink=(180, 60, 60), paper=(60, 120, 90))  # luminance within a few percent
    assert corr(to_mnist(page), reference(FOUR)) > 0.9


def test_a_tiny_digit_in_the_corner_is_read_as_if_it_filled_the_canvas():
    view = to_mnist(draw(SEVEN, size=48, at=(748, 4)))
    assert_mnist_like(view)
    assert corr(view, reference(SEVEN)) > 0.85


def pen_drawing(width: int, shape: str) -> Image.Image:
    """A 7 or a 0 drawn with a round pen `width` px wide on the 800 px canvas."""
    img = Image.new("L", (800, 800), 255)
    pen = ImageDraw.Draw(img)
    if shape == "7":
        pen.line([(250, 150), (550, 150), (380, 650)], fill=0, width=width, joint="curve")
    else:
        pen.ellipse((250, 150, 550, 650), outline=0, width=width)
    return img


@pytest.mark.parametrize("shape", ["7", "0"])
@pytest.mark.parametrize("width", [1, 3, 10, 80])
def test_any_pen_width_gives_mnist_strokes_and_the_view_a_normal_pen_gives(shape, width):
    view = to_mnist(pen_drawing(width, shape))
    assert_mnist_like(view)
    assert 1.2 <= stroke_width(view) <= 2.9  # MNIST's 5th-95th percentile
    assert corr(view, to_mnist(pen_drawing(40, shape))) > 0.8


def test_a_huge_marker_digit_is_thinned():
    page = draw(FOUR, size=790, at=(5, 5), pen=15)
    naive = 255 - np.asarray(page.convert("L").resize((20, 20), Image.Resampling.BILINEAR))
    view = to_mnist(page)
    assert_mnist_like(view)
    assert stroke_width(view) < 0.8 * stroke_width(naive)
    assert corr(view, reference(FOUR)) > 0.8


def test_specks_away_from_the_digit_do_not_move_or_shrink_it():
    page = np.asarray(draw(ONE, size=300, at=(250, 250))).copy()
    rng = np.random.default_rng(0)
    for y, x in rng.integers(0, 790, (12, 2)):
        if not (230 < y < 570 and 230 < x < 570):
            page[y:y + 6, x:x + 6] = 0
    assert corr(to_mnist(page), reference(ONE)) > 0.93


def phone_photo(digit: np.ndarray, seed: int = 0) -> Image.Image:
    """Grey-blue pen on paper, a lighting gradient and a shadow, noise, blur."""
    rng = np.random.default_rng(seed)
    ink = np.asarray(draw(digit, size=300, at=(180, 120), canvas=640).convert("L"), dtype=np.float32)[:480] / 255
    yy, xx = np.mgrid[0:1:480j, 0:1:640j]
    light = (1 - 0.4 * xx) * (1 - 0.3 / (1 + np.exp(-(yy - 0.6) / 0.05)))
    paper = np.array([0.92, 0.9, 0.86])
    pen = np.array([0.15, 0.18, 0.35])
    page = (pen + (paper - pen) * ink[..., None]) * light[..., None] + rng.normal(0, 0.02, (480, 640, 3))
    img = Image.fromarray(np.clip(page * 255, 0, 255).astype(np.uint8))
    return img.filter(ImageFilter.GaussianBlur(1))


def test_a_phone_photo_with_shadow_and_noise():
    for digit in (TWO, SEVEN, FOUR):
        out = io.BytesIO()
        phone_photo(digit).save(out, "JPEG", quality=60)
        view = to_mnist(out.getvalue())
        assert_mnist_like(view)
        assert corr(view, reference(digit)) > 0.85


def test_a_photo_of_a_sheet_on_a_dark_desk_reads_the_digit_on_the_sheet():
    desk = Image.new("RGB", (800, 600), (70, 60, 55))
    sheet = draw(SEVEN, size=300, at=(100, 50), canvas=480).crop((0, 0, 480, 400)).rotate(
        3, Image.Resampling.BILINEAR, expand=True, fillcolor=(70, 60, 55))
    desk.paste(sheet, (150, 90))
    view = to_mnist(desk)
    assert_mnist_like(view)
    assert corr(view, reference(SEVEN)) > 0.85


def test_a_coloured_page_with_transparent_margins():
    page = np.asarray(draw(TWO, paper=(120, 200, 120), ink=(20, 20, 120)).convert("RGBA")).copy()
    page[:100, :, 3] = 0
    page[:, :80, 3] = 0
    assert corr(to_mnist(page), reference(TWO)) > 0.9


def test_a_jpeg_stored_sideways_is_turned_upright_by_its_exif_tag():
    stored = SKETCH.transpose(Image.Transpose.ROTATE_90)  # what the camera wrote
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=90, exif=exif.tobytes())
    view = to_mnist(out.getvalue())
    assert corr(view, reference(TWO)) > 0.9
    assert corr(to_mnist(stored), reference(TWO)) < 0.5  # without the tag it is sideways


# ---------------------------------------------------------------- bad input


def test_a_decompression_bomb_is_refused_from_its_header_alone():
    for side in (60000, 7000):  # beyond Pillow's own limit, and beyond ours (40 MP) but not Pillow's
        start = time.perf_counter()
        with pytest.raises(ImageError, match="too large"):
            to_mnist(png_header(side, side))
        assert time.perf_counter() - start < 0.5


def test_a_sketch_larger_than_any_canvas_is_refused_but_the_same_photo_as_a_file_is_read():
    photo = draw(SEVEN, size=1500, at=(400, 300), canvas=2400)  # 5.8 MP
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG")
    for data in (png_bytes(photo), jpeg.getvalue()):
        with pytest.raises(ImageError, match="too large: the limit is 4 megapixels"):
            to_mnist({"background": None, "layers": [], "composite": data})
        assert corr(to_mnist(data), SEVEN) > 0.8


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"hello, I am a text file renamed to .png\n", "not an image we can read"),
    (png_bytes(SKETCH)[:300], "not an image we can read"),  # truncated
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not an image we can read"),  # a broken header
], ids=["empty", "text", "truncated", "broken-header"])
def test_unreadable_bytes_and_files(tmp_path, data, words):
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(ImageError, match=words) as err:
            to_mnist(source)
        assert not isinstance(err.value, EmptyImageError)


def test_files_that_are_missing_or_too_big(tmp_path):
    with pytest.raises(ImageError, match="no file"):
        to_mnist(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="too large"):
        to_mnist(b"\0" * (MAX_BYTES + 1))
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: no 20 MB written
    with pytest.raises(ImageError, match="too large"):
        to_mnist(big)
    with pytest.raises(ImageError, match="not a regular file"):
        to_mnist(tmp_path)  # a folder


def test_special_files_are_refused_before_anything_is_read(tmp_path):
    """/dev/zero never ends and a FIFO blocks its reader: both are refused at once."""
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    start = time.monotonic()
    for special in ("/dev/zero", fifo):
        with pytest.raises(ImageError, match="not a regular file"):
            to_mnist(special)
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("source, words", [
    (np.zeros((1, 1), np.uint8), "too small"),
    (Image.new("L", (1, 1)), "too small"),
    (np.zeros((28, 28, 2), np.uint8), "must be HxW"),
    (np.zeros((4, 28, 28, 1), np.uint8), "must be HxW"),
    (np.full((28, 28), np.nan), "NaN"),
    (np.array([["a"] * 28] * 28), "numbers"),
    (42, "Cannot read a int"),
    ([1, 2, 3], "Cannot read a list"),
], ids=["1x1-array", "1x1-pil", "two-channels", "batch", "nan", "strings", "int", "list"])
def test_odd_values_get_a_plain_error(source, words):
    with pytest.raises(ImageError, match=words):
        to_mnist(source)


def test_error_messages_are_one_plain_sentence():
    for source in (b"", b"not an image", png_header(60000, 60000), np.zeros((2, 2)), {"layers": []}):
        with pytest.raises(ImageError) as err:
            to_mnist(source)
        message = str(err.value)
        assert message[0].isupper() and message.endswith(".") and "\n" not in message
        assert "Error" not in message and "PIL" not in message


def test_random_garbage_never_escapes_as_a_raw_exception():
    rng = np.random.default_rng(1)
    good = png_bytes(SKETCH)
    for _ in range(30):
        data = bytearray(good)
        for i in rng.integers(8, len(data), 20):
            data[i] = int(rng.integers(256))
        try:
            to_mnist(bytes(data))
        except ImageError:
            pass
    for shape in [(9, 9), (8, 500), (500, 8, 3), (33, 47, 4)]:
        try:
            assert_mnist_like(to_mnist(rng.integers(0, 256, shape).astype(np.uint8)))
        except ImageError:
            pass


def flood_fill_count(on: np.ndarray) -> int:
    """How many 8-connected parts a grid has, the slow obvious way."""
    seen, parts = np.zeros_like(on), 0
    for start in zip(*np.nonzero(on), strict=True):
        if seen[start]:
            continue
        parts += 1
        stack = [start]
        while stack:
            y, x = stack.pop()
            if 0 <= y < on.shape[0] and 0 <= x < on.shape[1] and on[y, x] and not seen[y, x]:
                seen[y, x] = True
                stack += [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return parts


def test_the_digit_parts_are_found_as_a_flood_fill_would():
    rng = np.random.default_rng(2)
    for _ in range(200):
        on = rng.random(tuple(rng.integers(1, 20, 2))) < rng.uniform(0.1, 0.7)
        labels, n = label_cells(on)
        assert n == flood_fill_count(on)
        assert (labels > 0).sum() == on.sum() and labels.max() == n


# ---------------------------------------------------------------- speed


def test_an_800px_sketch_is_preprocessed_in_milliseconds():
    value = {"background": None, "layers": [], "composite": np.asarray(draw(SEVEN).convert("RGBA"))}
    to_mnist(value)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        to_mnist(value)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.02  # ~1 ms on a laptop core; 20x headroom for busy CI machines


# ---------------------------------------------------------------- glyphs cut out close to their ink


def tight(digit: np.ndarray, side: int, margin: int = 0, dark_on_light: bool = True, bold: int = 0) -> np.ndarray:
    """A digit cropped to its ink (with `margin` px), its long side fitted to `side` on a square of paper."""
    ink = digit.astype(np.float32) / 255
    if bold:
        ink = np.asarray(Image.fromarray(ink).filter(ImageFilter.MaxFilter(bold)))
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = (side - 2 * margin) / max(ink.shape)
    small = np.asarray(Image.fromarray(ink).resize((max(1, round(ink.shape[1] * scale)),
                                                    max(1, round(ink.shape[0] * scale))), Image.BILINEAR))
    page = np.zeros((side, side), np.float32)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    page[y:y + small.shape[0], x:x + small.shape[1]] = np.clip(small, 0, 1)
    page = 1 - page if dark_on_light else page
    return (page * 255 + 0.5).astype(np.uint8)


def test_a_16px_one_cut_out_close_to_its_ink_is_read_not_refused():
    """A narrow 1 filling the height of a 16x16 scan once read as a 'sheet' and was cut to 4x16 px."""
    view = to_mnist(tight(ONE, 16))
    assert_mnist_like(view)
    assert corr(view, ONE) > 0.6


@pytest.mark.parametrize("dark_on_light", [True, False], ids=["dark-on-light", "light-on-dark"])
@pytest.mark.parametrize("side", [16, 20, 28])
def test_bold_digits_that_touch_every_edge_are_read_in_either_polarity(side, dark_on_light):
    """Thick strokes on the border once passed for the paper's noise: 'the image looks blank'."""
    for digit in (ZERO, DIGITS[7], TWO):  # 0, 9, 2: round, tall, a base that spans the width
        view = to_mnist(tight(digit, side, dark_on_light=dark_on_light, bold=5))
        assert_mnist_like(view)
        assert corr(view, digit) > 0.5


def test_a_dot_above_a_glyph_is_kept_as_part_of_it():
    """Some writers make 千's top slash a dot over 十: the page pass must not drop it as a speck."""
    img = Image.new("L", (240, 240), 255)
    pen = ImageDraw.Draw(img)
    pen.line([(120, 70), (120, 200)], fill=0, width=7)
    pen.line([(60, 125), (180, 125)], fill=0, width=7)
    pen.ellipse([(116, 14), (124, 22)], fill=0)  # the dot, 48 px above the stroke: a third of its height
    view = read_glyph(np.asarray(img.convert("RGB")))
    _, parts = label_cells(view > 64)
    assert parts == 2, "the dot and the cross should both be in the view"


def test_a_faint_stroke_beside_a_strong_one_stays_in_the_view():
    """二 written with a light top stroke (a pen running dry, as some Chinese MNIST writers do): Otsu's
    split falls between faint and strong ink, and the top stroke must not be taken for paper."""
    img = Image.new("L", (64, 64), 0)  # light strokes on black, as Chinese MNIST is
    pen = ImageDraw.Draw(img)
    pen.line([(22, 22), (42, 22)], fill=110, width=1)  # the short top stroke, faint
    pen.line([(12, 42), (52, 42)], fill=255, width=2)  # the long bottom one, strong
    view = read_glyph(np.asarray(img.convert("RGB")))
    _, parts = label_cells(view > 64)
    assert parts == 2, "both strokes of 二 should be in the view"


# ---------------------------------------------------------------- numpy's numbers, at a fraction of its call cost


def test_quantile_and_median_give_numpys_numbers():
    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 10, 101, 1000):
        flat = (rng.random(n) ** 3).astype(np.float32)
        for q in (0.25, 0.5, 0.75, 0.9):
            assert quantile(flat, q) == float(np.percentile(flat, 100 * q))
        assert [quantile(flat, 0.25, float64=True), quantile(flat, 0.75, float64=True)] == \
            np.percentile(flat, [25, 75]).tolist()  # several at once: numpy computes them in float64
        assert median(flat) == np.median(flat)
        colours = rng.random((n, 3)).astype(np.float32)
        np.testing.assert_array_equal(median(colours), np.median(colours, axis=0))
        grey = rng.integers(200, 256, (n, 3), dtype=np.uint8)  # whole numbers: their sums must not wrap
        np.testing.assert_array_equal(median(grey), np.median(grey, axis=0))


def stacked(a: np.ndarray, radius: int, reduce) -> np.ndarray:
    """The old sliding window: edges replicated by np.pad, the shifted copies stacked and reduced, axis by axis."""
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (radius, radius)
        p = np.pad(a, pad, mode="edge")
        n = a.shape[axis]
        a = reduce(np.stack([p.take(range(i, i + n), axis=axis) for i in range(2 * radius + 1)]), axis=0)
    return a


@pytest.mark.parametrize("reduce", [np.max, np.min, np.mean])
@pytest.mark.parametrize("radius", [1, 2, 4])
def test_sliding_windows_give_the_stacked_windows_numbers(reduce, radius):
    """The pairwise window equals the old stacked one: on float pixels, and on a mask (read_digit dilates the
    digit's cells)."""
    a = np.random.default_rng(radius).random((17, 23, 3)).astype(np.float32)
    np.testing.assert_array_equal(sliding(a, radius, reduce), stacked(a, radius, reduce))
    marks = a[..., 0] > 0.5
    np.testing.assert_array_equal(sliding(marks, radius, reduce), stacked(marks, radius, reduce))


@pytest.mark.parametrize("cell", [1, 2, 3, 4, 6])
def test_block_sums_add_each_block_and_give_numpys_numbers_at_the_page_pass_cells(cell):
    """Exactly numpy's sums where the page pass uses them (cells of 1-3 px): a share of exactly 1/4 between
    two parts must not tip one way or the other with the way the sum is taken. (A grid one cell wide, which
    numpy adds up as one run, may differ in the last bit.)"""
    rng = np.random.default_rng(cell)
    for _ in range(50):
        h, w = rng.integers(1, 130), rng.integers(cell + 1, 130)
        a = (rng.random((h, w)) * (rng.random((h, w)) > 0.6)).astype(np.float32)
        gh, gw = -(-h // cell), -(-w // cell)
        padded = np.zeros((gh * cell, gw * cell), np.float32)
        padded[:h, :w] = a
        expected = padded.reshape(gh, cell, gw, cell).sum((1, 3))
        if cell <= 3:
            np.testing.assert_array_equal(block_sum(a, cell), expected)
        else:
            np.testing.assert_allclose(block_sum(a, cell), expected, rtol=1e-6)

"""Whole numbers written in a row: each digit found, boxed and read; strokes of one digit kept together."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab.cli import main
from digitlab.data.registry import load_sample
from digitlab.data.specs import SPECS
from digitlab.inference.predictor import Predictor
from digitlab.models import Classifier
from digitlab.vision.imageio import ImageError, read_pixels
from digitlab.vision.numbers import group, number_page, parts

SAMPLE = load_sample()


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_pretrained()


def digit(label: str, nth: int = 0) -> np.ndarray:
    """A real MNIST test digit from the sample, (28, 28) ink high."""
    return SAMPLE.test_images[int((SAMPLE.test_labels == int(label)).nonzero()[nth, 0]), 0].numpy()


def written(number: str, gap: int = 40, height: int = 150, overlap: int = 0) -> np.ndarray:
    """`number` in sample digits side by side, black on white; `overlap` px pushes neighbours into each other."""
    glyphs = [np.asarray(Image.fromarray(digit(d, i)).resize((height, height), Image.BILINEAR)) for i, d in
              enumerate(number)]
    glyphs = [g[:, np.flatnonzero(g.max(0) > 40)[0]:np.flatnonzero(g.max(0) > 40)[-1] + 1] for g in glyphs]  # ink only
    width = sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) + 1) - overlap * (len(glyphs) - 1)
    ink = np.zeros((height + 2 * gap, width + gap), np.float32)
    x = gap
    for g in glyphs:
        region = ink[gap:gap + height, x:x + g.shape[1]]
        np.maximum(region, g / 255, out=region)
        x += g.shape[1] + gap - overlap
    return (255 - ink * 255).astype(np.uint8)


def strokes(*lines: list[tuple[int, int]], size: tuple[int, int] = (896, 320), width: int = 16) -> np.ndarray:
    """Pen strokes (polylines in canvas px) black on a white canvas, as the Number canvas draws them."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    for line in lines:
        draw.line(line, fill=0, width=width, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - width // 2, y - width // 2, x + width // 2, y + width // 2), fill=0)
    return np.asarray(img)


@pytest.mark.parametrize("number", ["2026", "07", "1234567", "90"])
def test_a_number_written_in_a_row_is_read_digit_by_digit_left_to_right(predictor, number):
    image = written(number)
    reading = predictor.read_number(image)
    assert reading.number == number
    boxes = [d.box for d in reading.digits]
    assert all(0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0] for x0, y0, x1, y1 in boxes)
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert 0 < reading.confidence <= min(d.confidence for d in reading.digits)


def test_digits_whose_strokes_touch_are_cut_apart(predictor):
    image = written("4837", gap=30, overlap=42)  # each pair of neighbours is pushed into one another
    touching = group(parts(number_page(read_pixels(image)).ink))
    assert len(touching) < 4, "the digits should touch for this test to mean anything"
    assert predictor.read_number(image).number == "4837"


def test_a_1_touching_a_0_is_two_digits_though_they_are_narrower_than_a_pair(predictor):
    """Glued together a 1 and a 0 are no wider than a broad 0; read whole they are no digit the model is sure of,
    so the reader tries them apart and cuts where a 1 is slim."""
    t = np.linspace(0, 2 * np.pi, 40)
    ten = strokes([(200, 60), (200, 270)], [(int(286 + 70 * np.sin(a)), int(165 - 100 * np.cos(a))) for a in t])
    (part,) = group(parts(number_page(read_pixels(ten)).ink))
    assert part.width < part.height, "the two should touch and be narrower than tall for this test to mean anything"
    assert predictor.read_number(ten).number == "10"


def test_a_5_whose_flag_does_not_touch_its_body_stays_one_digit(predictor):
    five = strokes([(200, 60), (185, 150), (240, 140), (270, 180), (265, 230), (230, 260), (185, 250)],  # body
                   [(215, 60), (285, 58)])  # the flag, lifted off the body
    reading = predictor.read_number(five)
    assert [d.label for d in reading.digits] == ["5"]


def test_a_4_written_in_two_strokes_that_do_not_touch_stays_one_digit(predictor):
    four = strokes([(230, 60), (190, 190), (290, 190)], [(262, 110), (262, 270)])
    reading = predictor.read_number(four)
    assert [d.label for d in reading.digits] == ["4"]
    seven_and_four = strokes([(150, 60), (260, 60), (190, 270)], [(190, 160), (250, 160)],  # a 7 with a bar
                             [(470, 60), (430, 190), (530, 190)], [(502, 110), (502, 270)])
    assert predictor.read_number(seven_and_four).number == "74"


def test_a_1_standing_under_the_bar_of_a_7_is_a_digit_of_its_own(predictor):
    seventy_one = strokes([(150, 60), (380, 60), (230, 270)], [(365, 120), (365, 270)])  # apart, but under the bar
    assert len(group(parts(number_page(read_pixels(seventy_one)).ink))) == 1, "the 1 should share the 7's width"
    assert predictor.read_number(seventy_one).number == "71"


def flagged_one(x: int, angle: float, length: float, foot: bool = False) -> list[list[tuple[int, int]]]:
    """A 1 drawn with a flag from the top of its stem down to the left, `angle` degrees below the horizontal and
    `length` of its 200 px height long (and with a foot): strokes at `x` for strokes()."""
    a = math.radians(angle)
    lines = [[(round(x - 200 * length * math.cos(a)), round(60 + 200 * length * math.sin(a))), (x, 60), (x - 4, 260)]]
    return lines + [[(x - 40, 260), (x + 36, 260)]] if foot else lines


@pytest.mark.parametrize("angle,length", [(30, 0.3), (30, 0.4), (45, 0.35), (60, 0.25)])
def test_a_1_written_with_a_flag_is_a_1_alone_and_in_a_number_and_a_7_stays_a_7(predictor, angle, length):
    """Much of the world writes a 1 with a flag; MNIST's 1s are mostly plain strokes, and the model of before read
    a long flag as a 7's bar."""
    one = strokes(*flagged_one(300, angle, length), size=(600, 320))
    assert predictor.answer(one, 2).label == "1"
    seven = [[(310, 64), (440, 60), (360, 260)]]
    number = strokes(*flagged_one(150, angle, length), *seven, *flagged_one(620, angle, length, foot=True),
                     size=(800, 320))
    assert predictor.read_number(number).number == "171"


def test_an_empty_canvas_reads_as_no_number_and_one_digit_as_a_number_of_one(predictor):
    blank = np.full((320, 896), 255, np.uint8)
    assert predictor.read_number(blank).number == "" and predictor.read_number(blank).digits == []
    assert predictor.read_number({"background": None, "layers": [], "composite": None}).number == ""
    single = written("3")
    assert predictor.read_number(single).number == "3"


def test_predict_number_json_gives_the_number_its_confidence_and_each_digits_box(tmp_path):
    Image.fromarray(written("2026")).save(tmp_path / "year.png")
    Image.fromarray(np.full((100, 300), 255, np.uint8)).save(tmp_path / "blank.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["predict", str(tmp_path), "--number", "--json"])
    rows = {json.loads(line)["file"].rsplit("/", 1)[1]: json.loads(line) for line in out.getvalue().splitlines()}
    assert code == 1 and set(rows) == {"year.png", "blank.png", "broken.png"}
    year = rows["year.png"]
    assert set(year) == {"file", "number", "confidence", "digits"} and year["number"] == "2026"
    assert [set(d) for d in year["digits"]] == [{"label", "confidence", "box"}] * 4
    assert [d["label"] for d in year["digits"]] == list("2026") and all(len(d["box"]) == 4 for d in year["digits"])
    assert rows["blank.png"]["number"] == "" and rows["blank.png"]["digits"] == []
    assert set(rows["broken.png"]) == {"file", "error"}


def test_a_photo_model_says_it_cannot_read_numbers():
    photos = Predictor(Classifier("lenet", SPECS["cifar10"].to_dict()))
    with pytest.raises(ImageError, match="needs a handwriting model"):
        photos.read_number(written("12"))

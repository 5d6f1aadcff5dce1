"""The row reader: a model's reader of whole numbers, beside cutting a number into digits; it travels with its model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from digitlab import hub
from digitlab.inference import predictor as predictor_module
from digitlab.inference.predictor import Predictor
from digitlab.models import Classifier
from digitlab.models.onnx import OnnxRows
from digitlab.models.transfer import start_from
from digitlab.spec import MNIST
from digitlab.vision.numbers import (
    ROW_HEIGHT,
    ROW_STEP,
    DigitReading,
    NumberReading,
    best_path,
    keeping_declined,
    overreads,
    row_view,
    unconfirmed,
    written_digits,
)
from tests.test_decline import EXAMPLES, NOT_DIGITS
from tests.test_numbers import strokes, written


@pytest.fixture(scope="module")
def shipped() -> Predictor:
    return Predictor.from_pretrained()


def without_rows(predictor: Predictor) -> Predictor:
    """The same model with its row reader taken away: numbers cut into digits and read one by one only."""
    model = hub.load_model(None)
    model.rows = None
    return Predictor(model)


def test_best_path_reads_each_run_of_a_class_once_and_a_blank_between_repeats_as_two():
    #            blank  0    0   blank  0   blank  3    3
    columns = [0, 1, 1, 0, 1, 0, 4, 4]
    log_probs = np.log(np.full((len(columns), 11), 0.01))
    log_probs[np.arange(len(columns)), columns] = 0.0
    assert best_path(log_probs) == [(0, 1, 2), (0, 4, 4), (3, 6, 7)]
    assert best_path(np.log(np.eye(11)[[0, 0, 0]] + 1e-9)) == []


def test_the_shipped_digit_model_has_a_row_reader_and_its_config_says_so():
    assert hub.load_model(None).rows is not None
    config = json.loads((hub.DEFAULT_WEIGHTS / "config.json").read_text())
    assert config["rows"] == {"arch": "rownet"}


def test_the_row_reader_travels_with_its_model_and_a_bad_config_is_refused(tmp_path):
    model = Classifier("lenet", MNIST.to_dict(), rows=True).eval()
    hub.save_model(model, tmp_path / "m")
    back = hub.load_model(tmp_path / "m")
    assert back.rows is not None
    ink = np.random.default_rng(0).random((1, 1, ROW_HEIGHT, 64), dtype=np.float32)
    import torch

    with torch.inference_mode():
        assert torch.allclose(model.rows(torch.from_numpy(ink)), back.rows(torch.from_numpy(ink)))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["rows"] = {"arch": "something-else"}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="rows must be"):
        hub.load_model(tmp_path / "m")


def test_a_config_without_a_row_reader_reads_numbers_by_cutting_them_as_before(tmp_path):
    hub.save_model(Classifier("lenet", MNIST.to_dict()), tmp_path / "old")
    assert "rows" not in json.loads((tmp_path / "old" / "config.json").read_text())
    old = Predictor.from_pretrained(tmp_path / "old")
    assert old.rows is None
    assert len(old.read_number(written("2026")).digits) == 4


def test_a_fine_tune_on_the_same_classes_keeps_the_row_reader_and_new_classes_drop_it():
    source = Classifier("lenet", MNIST.to_dict(), rows=True)
    kept = start_from(source, MNIST)
    assert kept.rows is not None
    theirs = source.rows.state_dict()
    assert all(torch_equal(tensor, theirs[name]) for name, tensor in kept.rows.state_dict().items())
    fewer = MNIST.to_dict() | {"labels": ["0", "1"], "display": ["0", "1"], "name": "two"}
    assert start_from(source, type(MNIST).from_dict(fewer)).rows is None


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_a_photo_model_never_has_a_row_reader():
    from digitlab.data.specs import SPECS

    assert Classifier("lenet", SPECS["cifar10"].to_dict(), rows=True).rows is None


@pytest.mark.parametrize("width", [8, 64, 196, 600])
def test_the_row_reader_serves_from_onnxruntime_with_pytorchs_numbers_at_any_width(shipped, width):
    ink = np.random.default_rng(width).integers(0, 256, (ROW_HEIGHT, width), dtype=np.uint8)
    assert isinstance(shipped.row_inference, OnnxRows)
    with torch.inference_mode():
        expected = shipped.rows(torch.from_numpy(ink).float().div_(255)[None, None])[0].numpy()
    np.testing.assert_allclose(shipped.read_row(ink), expected, atol=1e-4)
    assert expected.shape == (width // ROW_STEP, 12)


def test_a_row_reader_that_does_not_export_reads_with_pytorch_and_the_log_says_why(monkeypatch, caplog):
    def refuse(rows):
        raise RuntimeError("an operator torch.onnx cannot trace")

    monkeypatch.setattr(predictor_module, "OnnxRows", refuse)
    predictor = Predictor.from_pretrained()
    assert "row reader does not export" in caplog.text
    ink = np.random.default_rng(0).integers(0, 256, (ROW_HEIGHT, 96), dtype=np.uint8)
    with torch.inference_mode():
        expected = predictor.rows(torch.from_numpy(ink).float().div_(255)[None, None])[0].numpy()
    np.testing.assert_allclose(predictor.read_row(ink), expected, atol=1e-6)
    assert predictor.read_number(written("2026")).number == "2026"


def test_the_row_view_is_as_tall_as_the_reader_reads_and_a_whole_number_of_columns_wide():
    found = written_digits(np.repeat(written("2026")[..., None], 3, axis=2))
    view = row_view(found[4], found[5])
    assert view.ink.shape[0] == ROW_HEIGHT and view.ink.shape[1] % ROW_STEP == 0
    assert view.ink.max() == 255
    left, right = view.page_x(0), view.page_x(view.ink.shape[1])
    assert left <= min(r.x0 for r in found[4]) and right >= max(r.x1 for r in found[4])


@pytest.mark.parametrize("number", ["2026", "07", "1234567", "90", "4444", "118"])
def test_the_shipped_model_reads_numbers_of_unseen_digits(shipped, number):
    reading = shipped.read_number(written(number, gap=25))
    assert reading.number == number
    boxes = [d.box for d in reading.digits]
    assert all(a[2] <= b[0] + 5 for a, b in zip(boxes, boxes[1:], strict=False))  # left to right, apart


def canvas_strokes(*lines: list[tuple[float, float]]) -> np.ndarray:
    """Pen strokes given as fractions of the Number canvas (896 x 320, 5 % margin), black on white."""
    return strokes(*[[(int((0.05 + 0.9 * x) * 896), int((0.05 + 0.9 * y) * 320)) for x, y in line] for line in lines])


# "404" written quickly: the 0 runs into the bar of the first 4 and the stem of the second.
FOUR_O_FOUR = [[(0.12, 0.15), (0.06, 0.6), (0.26, 0.6)], [(0.22, 0.3), (0.22, 0.85)],
               [(0.36, 0.2), (0.27, 0.4), (0.28, 0.75), (0.37, 0.85), (0.46, 0.7), (0.46, 0.35), (0.36, 0.2)],
               [(0.52, 0.15), (0.44, 0.6), (0.64, 0.6)], [(0.60, 0.3), (0.60, 0.85)]]


def test_digits_that_run_into_each_other_are_read_whole_where_cutting_them_fails(shipped):
    page = canvas_strokes(*FOUR_O_FOUR)
    cut = without_rows(shipped).read_number(page)
    assert cut.number != "404" and not cut.whole  # one blob, declined or misread, when cut and read alone
    reading = shipped.read_number(page)
    assert (reading.number, reading.whole) == ("404", True)
    assert reading.as_dict()["whole"] is True and [d["label"] for d in reading.as_dict()["digits"]] == list("404")
    boxes = [d.box for d in reading.digits]
    assert boxes[0][0] < boxes[1][0] < boxes[2][0]


@pytest.mark.parametrize("mark", NOT_DIGITS, ids=lambda p: p.stem)
@pytest.mark.parametrize("first", [True, False], ids=["mark-first", "seven-first"])
def test_a_letter_a_star_or_a_scribble_in_a_number_is_a_question_mark_never_digits(shipped, mark, first):
    seven = np.asarray(Image.open(EXAMPLES / "digit_7.png").convert("L").resize((200, 200)))
    seven = 255 - seven if seven.mean() < 128 else seven
    other = np.asarray(Image.open(mark).convert("L").resize((200, 200)))
    row = np.full((240, 520), 255, np.uint8)
    row[20:220, 20:220], row[20:220, 300:500] = (other, seven) if first else (seven, other)
    reading = shipped.read_number(Image.fromarray(row))
    assert reading.number == ("?7" if first else "7?")



def reading_of(*parts: tuple[str, int, int, bool]) -> NumberReading:
    """A reading of (label, x0, x1, declined) parts, each 0.9 sure, on a 200 px tall row."""
    digits = [DigitReading(label, label, 0.9, (x0, 0, x1, 200), declined=declined) for label, x0, x1, declined in parts]
    return NumberReading("".join("?" if d.declined else d.label for d in digits), 0.9 ** len(digits), digits)


def test_a_part_the_model_declined_stays_declined_where_the_row_reader_reads_it_as_one_digit():
    cut = reading_of(("7", 20, 220, False), ("4", 300, 500, True))  # a letter A the model declined alone
    assert keeping_declined(reading_of(("7", 20, 220, False), ("1", 320, 480, False)), cut).number == "7?"
    # two digits run together, which the model declined as one blob: the row reader's reading stands
    assert keeping_declined(reading_of(("7", 20, 220, False), ("4", 300, 390, False), ("0", 410, 500, False)),
                            cut).number == "740"
    assert keeping_declined(reading_of(("7", 20, 220, False), ("1", 320, 480, False)),
                            reading_of(("7", 20, 220, False), ("1", 300, 500, False))).number == "71"


def test_digits_the_row_reader_finds_in_a_declined_part_must_each_be_sure():
    cut = reading_of(("7", 20, 220, False), ("4", 300, 500, True))  # hatching the model declined alone
    hatching = reading_of(("7", 20, 220, False), ("1", 300, 390, False), ("1", 410, 500, False))
    assert overreads(hatching, cut)  # each read 0.9 surely, below ROW_SURE
    assert not overreads(hatching, cut, sure=0.9)  # sure enough: digits run together
    # one digit there is keeping_declined's to judge
    assert not overreads(reading_of(("7", 20, 220, False), ("1", 320, 480, False)), cut)
    assert not overreads(hatching, reading_of(("7", 20, 220, False), ("4", 300, 500, False)))  # nothing declined


def test_a_ladder_between_two_digits_is_a_question_mark_not_the_digits_the_row_reader_makes_of_it(shipped):
    seven, four = [[(0.05, 0.15), (0.2, 0.15), (0.1, 0.85)]], [[(0.80, 0.15), (0.74, 0.6), (0.92, 0.6)],
                                                                [(0.88, 0.3), (0.88, 0.85)]]
    ladder = [[(0.32, 0.2), (0.32, 0.8)], [(0.6, 0.2), (0.6, 0.8)], *[[(0.32, y), (0.6, y)] for y in (0.35, 0.5, 0.65)]]
    assert shipped.read_number(canvas_strokes(*seven, *ladder, *four)).number == "7?4"  # the row reader: "7514"


def test_digits_cut_from_one_part_stand_only_where_the_row_reader_reads_as_many_there_or_is_sure():
    cut = reading_of(("7", 20, 220, False), ("1", 300, 340, False), ("1", 350, 390, False), ("1", 400, 440, False))
    origin = [0, 1, 1, 1]  # the three 1s are pieces of one written part: a zigzag cut at its valleys
    assert unconfirmed(reading_of(("7", 20, 220, False), ("1", 300, 440, True)), cut, origin) == [[1, 2, 3]]
    assert unconfirmed(reading_of(("7", 20, 220, False), ("1", 300, 440, False)), cut, origin) == [[1, 2, 3]]
    assert unconfirmed(reading_of(("7", 20, 220, False)), cut, origin) == [[1, 2, 3]]  # nothing read there
    # as many digits there, or another count each read surely: digits that touch
    assert unconfirmed(reading_of(("7", 20, 220, False), ("1", 300, 340, False), ("1", 350, 390, False),
                                  ("1", 400, 440, False)), cut, origin) == []
    assert unconfirmed(reading_of(("7", 20, 220, False), ("1", 300, 440, False)), cut, origin, sure=0.9) == []
    assert unconfirmed(reading_of(("7", 20, 220, False)), cut, [0, 1, 2, 3]) == []  # each its own part


@pytest.mark.parametrize("turns", [4, 6])
def test_a_zigzag_between_two_digits_is_one_question_mark_not_the_1s_it_cuts_into(shipped, turns):
    seven, four = [[(0.05, 0.15), (0.2, 0.15), (0.1, 0.85)]], [[(0.80, 0.15), (0.74, 0.6), (0.92, 0.6)],
                                                                [(0.88, 0.3), (0.88, 0.85)]]
    zigzag = [[(0.3 + 0.35 * i / turns, 0.2 if i % 2 == 0 else 0.8) for i in range(turns + 1)]]
    reading = shipped.read_number(canvas_strokes(*seven, *zigzag, *four))
    assert reading.number == "7?4"  # cut at its valleys: "711114", each 1 read 100 % surely alone
    assert reading.digits[0].box[2] < reading.digits[1].box[0] and reading.digits[1].box[2] < reading.digits[2].box[0]


def test_a_zigzag_drawn_in_chromium_is_one_question_mark_though_the_row_reader_answers_beside_its_ink(shipped):
    """The Number canvas as Chromium drew it (tests/samples): the row reader reads the zigzag as "none of them" and
    a 1, the first at columns with no ink; read where the ink is, its "?" falls on the zigzag, not in the gap."""
    drawn = Image.open(Path(__file__).parent / "samples" / "zigzag_between_7_and_4.png")
    assert shipped.read_number(drawn).number == "7?4"  # read at its columns: "7111114"


def test_a_long_hatched_scribble_is_declined_whole_as_it_is_cut():
    """Read whole, the row reader may take it for one digit, but less surely than the model's decision: a "?"."""
    img = Image.new("L", (4000, 300), 255)
    pen = ImageDraw.Draw(img)
    for x in range(20, 3980, 18):
        pen.line([(x, 60), (x + 30, 240)], fill=0, width=10)
    reading = Predictor.from_pretrained().read_number(img)
    assert reading.number.strip("?") == "" and all(d.declined for d in reading.digits)

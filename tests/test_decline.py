"""A model that knows what it cannot read: it declines a drawn letter, a star and a scribble with a reason, still
reads a clear digit, carries its decision in config.json (and ONNX metadata, and through a fine-tune), and a
model whose config has no decision answers everything, as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlab import hub
from digitlab.cli import main
from digitlab.inference.predictor import Predictor
from digitlab.models import Classifier
from digitlab.models.onnx import export_onnx, load_onnx
from digitlab.models.transfer import start_from
from digitlab.spec import MNIST

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOT_DIGITS = sorted((EXAMPLES / "not-digits").glob("*.png"))  # a drawn letter A, a star, a scribble


@pytest.fixture(scope="module")
def shipped() -> Predictor:
    return Predictor.from_pretrained()


def test_the_shipped_digit_model_carries_a_decision(shipped):
    assert shipped.decline is not None and 0 < shipped.decline < 1


@pytest.mark.parametrize("path", NOT_DIGITS, ids=lambda p: p.stem)
def test_a_drawn_letter_a_star_and_a_scribble_are_declined_with_a_reason(shipped, path):
    answer = shipped.answer(path)
    assert answer.declined and answer.label is None
    said = answer.as_dict()
    assert said["label"] is None and said["reason"] == "This doesn't look like a digit — the model reads 0–9."
    assert len(said["confidences"]) == 3  # its closest guesses are still there to see


@pytest.mark.parametrize("dataset", ["chinese-mnist", "fashion-mnist", "cifar10"])
def test_the_other_shipped_models_decline_them_too_and_still_read_their_samples(dataset):
    model = Predictor.from_pretrained(Path(__file__).resolve().parent.parent / "weights" / dataset)
    for path in NOT_DIGITS:
        answer = model.answer(path)
        assert answer.declined
        assert answer.reason.startswith(f"This doesn't look like anything this model reads ({model.names[0]}, ")
    for path in sorted((EXAMPLES / dataset).glob("*.png")):  # examples/<dataset>/<class index>.png
        answer = model.answer(path)
        assert not answer.declined and answer.label == model.names[int(path.stem)], path


def test_clear_digits_still_read(shipped):
    for path in sorted(EXAMPLES.glob("digit_*")):
        answer = shipped.answer(path)
        assert not answer.declined and answer.label == path.stem[-1], path


def test_predict_json_says_null_and_why_for_each_non_digit_and_reads_the_digit(capsys):
    assert main(["predict", *map(str, NOT_DIGITS), str(EXAMPLES / "digit_7.png"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["label"] for row in rows] == [None] * len(NOT_DIGITS) + ["7"]
    assert all(row["reason"].startswith("This doesn't look like a digit") for row in rows[:-1])
    assert "reason" not in rows[-1]


def test_a_config_without_a_decision_answers_everything_as_before(tmp_path):
    model = hub.load_model(None)
    model.decline = None
    hub.save_model(model, tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    assert "decline" not in config  # what every config before this release looks like
    old = Predictor.from_pretrained(tmp_path / "old")
    assert old.decline is None
    for path in NOT_DIGITS:
        answer = old.answer(path)
        assert not answer.declined and answer.label is not None and "reason" not in answer.as_dict()


def test_the_decision_travels_in_config_json_and_is_checked(tmp_path):
    model = Classifier("lenet", MNIST.to_dict(), decline=0.75)
    hub.save_model(model, tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["decline"] == {"below": 0.75}
    assert hub.load_model(tmp_path / "m").decline == 0.75
    for bad in (1.5, 0, "0.5", True, {"below": 0.5}):
        with pytest.raises(ValueError, match="decline"):
            Classifier("lenet", MNIST.to_dict(), decline=bad)


def test_a_config_json_with_a_bad_decision_is_refused_with_a_sentence(tmp_path):
    hub.save_model(Classifier("lenet", MNIST.to_dict()), tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["decline"] = {"below": 7}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="decline must be a probability"):
        hub.load_model(tmp_path / "m")


def test_an_onnx_export_keeps_the_decision(tmp_path):
    model = Classifier("lenet", MNIST.to_dict(), decline=0.6).eval()
    export_onnx(model, tmp_path / "model.onnx")
    assert load_onnx(tmp_path / "model.onnx").decline == pytest.approx(0.6)


def test_a_fine_tune_on_the_same_classes_keeps_the_decision_and_its_temperature_and_new_classes_drop_them():
    source = Classifier("lenet", MNIST.to_dict(), decline=0.6)
    source.temperature = 0.46  # the decision is a probability at this temperature: a fine-tune holds none out
    kept = start_from(source, MNIST)
    assert kept.decline == 0.6 and kept.temperature == 0.46
    fewer = MNIST.to_dict() | {"labels": ["0", "1"], "display": ["0", "1"], "name": "two"}
    new = start_from(source, type(MNIST).from_dict(fewer))
    assert new.decline is None and new.temperature == 1.0


def test_a_number_with_a_letter_in_it_shows_the_letter_as_a_question_mark(shipped):
    seven = np.asarray(Image.open(EXAMPLES / "digit_7.png").convert("L").resize((200, 200)))
    seven = 255 - seven if seven.mean() < 128 else seven  # black ink on white, as a canvas has it
    letter = np.asarray(Image.open(NOT_DIGITS[0]).convert("L").resize((200, 200)))
    row = np.full((240, 520), 255, np.uint8)
    row[20:220, 20:220], row[20:220, 300:500] = seven, letter
    reading = shipped.read_number(Image.fromarray(row))
    assert len(reading.digits) == 2
    assert [d.declined for d in reading.digits] == [False, True] and reading.number == "7?"


def test_the_upload_samples_offer_things_to_decline_only_for_a_model_that_declines(shipped, tmp_path):
    from digitlab.serve.sessions import ModelChoice
    from digitlab.ui.upload import is_not_digit, samples_of

    files = samples_of(ModelChoice("shipped:mnist", "MNIST", shipped, "shipped"))
    assert [Path(f).stem for f in files if is_not_digit(f)] == ["star", "letter_a", "scribble"]
    model = hub.load_model(None)
    model.decline = None  # a visitor's own MNIST model, which answers everything
    files = samples_of(ModelChoice("own", "own", Predictor(model), "trained"))
    assert files and not any(map(is_not_digit, files))


def test_wrong_offers_none_of_the_classes_only_for_a_model_that_declines_in_the_visitors_language(shipped):
    from digitlab.ui.answers import NOT_ONE_CHOICE, wrong_choices

    assert wrong_choices(shipped, "en")[-1] == ("not a digit", NOT_ONE_CHOICE)
    assert wrong_choices(shipped, "zh-CN")[-1] == ("不是数字", NOT_ONE_CHOICE)
    assert [value for _, value in wrong_choices(shipped, "en")[:10]] == shipped.names
    clothes = Predictor.from_pretrained(Path(__file__).resolve().parent.parent / "weights" / "fashion-mnist")
    assert wrong_choices(clothes, "en")[-1] == ("none of these", NOT_ONE_CHOICE)
    answers_all = Predictor(Classifier("lenet", MNIST.to_dict()))
    assert NOT_ONE_CHOICE not in [value for _, value in wrong_choices(answers_all, "en")]


def test_teach_says_a_none_correction_cannot_teach_a_model_that_answers_everything():
    """Saved with the shipped model, then another 0-9 model made active that never learnt to decline."""
    from types import SimpleNamespace

    from digitlab.serve.sessions import Correction
    from digitlab.training.finetune import NOT_ONE
    from digitlab.ui.teach import Teach

    names = tuple(MNIST.display)
    view = np.zeros((1, 28, 28), np.uint8)
    corrections = [Correction(view, NOT_ONE, 4, "shipped", names), Correction(view, 7, 1, "shipped", names)]
    teach = Teach.__new__(Teach)  # the list alone: no page
    teach.gallery, teach.status = "gallery", "status"
    answers_all = Predictor(Classifier("lenet", MNIST.to_dict()))
    visitor = SimpleNamespace(lang="en", corrections=corrections, active=SimpleNamespace(predictor=answers_all))
    listed = teach.listed(visitor)
    assert [caption for _, caption in listed["gallery"]] == ["not a digit (was read 4)", "7 (was read 1)"]
    assert listed["status"].startswith("2 correction(s) in your session; 1 of them fit the active model")
    assert "1 of them say it is none of the classes, and this model answers everything" in listed["status"]
    assert "another model's classes" not in listed["status"]
    assert teach.fit(visitor) == corrections[1:]
    visitor.active.predictor = Predictor.from_pretrained()  # the shipped model declines: both teach it
    assert teach.fit(visitor) == corrections and "answers everything" not in teach.listed(visitor)["status"]

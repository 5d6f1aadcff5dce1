"""The image reader's refusals reach a Chinese visitor in Chinese, an English one word for word."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.inference.predictor import Predictor
from digitlab.ui.text import IMAGE_ZH, said
from digitlab.vision.imageio import ImageError, read_pixels


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_pretrained()


def refusal(read) -> ImageError:
    with pytest.raises(ImageError) as caught:
        read()
    return caught.value


@pytest.mark.parametrize("case, key", [
    ("not an image", "unreadable"),
    ("an empty file", "empty_file"),
    ("a tiny image", "too_small"),
    ("a blank page", "blank"),
    ("a hundred dots as a number", "marks"),
])
def test_what_the_reader_refuses_is_said_in_the_visitors_language(predictor, case, key):
    dots = np.full((200, 2000), 255, np.uint8)
    for x in range(10, 1990, 19):
        dots[90:100, x:x + 8] = 0  # 105 separate marks
    read = {"not an image": lambda: read_pixels(b"GIF89a but not really"),
            "an empty file": lambda: read_pixels(b""),
            "a tiny image": lambda: read_pixels(np.zeros((3, 3), np.uint8)),
            "a blank page": lambda: predictor.prepare(np.full((64, 64), 255, np.uint8)),
            "a hundred dots as a number": lambda: predictor.read_number(dots[..., None])}[case]
    err = refusal(read)
    assert err.key == key
    assert said(err, "en") == str(err)  # English is the message itself
    chinese = said(err, "zh-CN")
    assert chinese != str(err) and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    for value in err.params.values():
        assert str(value) in chinese  # the numbers are kept: "(3x3 像素)", "105 块"


def test_every_chinese_sentence_fills_in_without_gaps():
    fields = {"mb": 20, "mp": 40, "width": 3, "height": 3, "side": 8, "most": 64, "n": 65, "name": "cifar10"}
    for key, sentence in IMAGE_ZH.items():
        assert "{" not in sentence.format(**fields), key


def test_a_checkbox_takes_true_or_false_and_refuses_the_rest_in_the_visitors_language():
    import gradio as gr

    from digitlab.ui.lab import Lab

    assert [Lab.flag(v, "decline") for v in (True, False, None, 0, 1, np.bool_(True))] == \
        [True, False, False, False, True, True]
    for odd in ("false", "true", 2, [], {"x": 1}, 0.5):
        with pytest.raises(gr.Error, match="ticked or not"):
            Lab.flag(odd, "decline")
    with pytest.raises(gr.Error, match="只有勾选与不勾选两种"):
        Lab.flag("false", "decline", "zh-CN")


def notes_a_run_can_say(tmp_path, monkeypatch) -> list:
    """A run's notes as the code makes them: the sample fallbacks, a folder's own negatives and unreadable files, a
    fine-tune's replay and corrections, no negatives for a photo view, torch.compile failing."""
    import torch
    from PIL import Image, ImageDraw

    from digitlab.data import registry
    from digitlab.data.dataset import DataError
    from digitlab.data.formats import load_image_folder
    from digitlab.data.negatives import OWN_FOLDER
    from digitlab.training.config import preset
    from digitlab.training.finetune import NOT_ONE, save_corrections, with_corrections
    from digitlab.training.loop import Note, train, try_compile

    def offline(name):
        raise DataError(f"Could not download {name}: no internet here.")

    monkeypatch.setattr(registry, "download", offline)
    notes = [*registry.load_dataset("mnist", "auto").notes, *registry.load_dataset("chinese-mnist", "auto").notes]
    for folder, count in (("zero", 5), ("one", 5), (OWN_FOLDER, 2)):
        (tmp_path / "mine" / folder).mkdir(parents=True)
        for i in range(count):
            mark = Image.new("L", (30, 30), 255)
            ImageDraw.Draw(mark).line([(5, 5 + 4 * i), (25, 25)], fill=0, width=3)
            mark.save(tmp_path / "mine" / folder / f"{i}.png")
    (tmp_path / "mine" / "one" / "broken.png").write_bytes(b"not an image")
    notes += load_image_folder(tmp_path / "mine").notes + load_image_folder(tmp_path / "mine", view="photo").notes
    mnist = registry.load_sample("mnist")
    for labels in ([4, NOT_ONE], [NOT_ONE]):
        path = save_corrections(tmp_path / f"{len(labels)}.npz", [np.full((1, 28, 28), 200, np.uint8)] * len(labels),
                                labels)
        notes += with_corrections(mnist, path, seed=0).notes
    run = train(preset("fast", dataset="fashion-mnist", data="sample", decline=True),
                data=registry.load_sample("fashion-mnist"))
    notes.append(next(item for item in run if isinstance(item, Note)))  # said before the first batch
    run.close()

    def broken(model, **kwargs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(torch, "compile", broken)
    notes.append(try_compile(torch.nn.Linear(2, 2), torch.zeros(1, 2))[1])
    return notes


def test_a_runs_notes_are_said_in_the_visitors_language_and_cross_the_workers_pipe(tmp_path, monkeypatch):
    from digitlab.training import protocol
    from digitlab.ui.text import NOTE_ZH

    notes = notes_a_run_can_say(tmp_path, monkeypatch)
    clauses = [v for n in notes for v in n.params.values() if hasattr(v, "key")]
    assert {n.key for n in notes + clauses} == set(NOTE_ZH), "every note the code makes, once"
    for note in notes:
        assert said(note, "en") == note.text
        chinese = said(note, "zh-CN")
        assert chinese != note.text and any("\u4e00" <= ch <= "\u9fff" for ch in chinese) and "{" not in chinese
        for value in note.params.values():
            if isinstance(value, int):
                assert f"{value:,}" in chinese, (note.key, value)  # the counts are kept
        piped = protocol.from_json(protocol.to_json(note))
        assert said(piped, "zh-CN") == chinese and said(piped, "en") == note.text


def test_every_note_the_package_makes_has_chinese_words():
    """A note made anywhere in the package (note("key", ...)) is said in Chinese too: a new one without its words
    would reach a Chinese visitor's log in English."""
    import re
    from pathlib import Path

    import digitlab
    from digitlab.ui.text import NOTE_ZH

    made = {key for path in Path(digitlab.__file__).parent.rglob("*.py")
            for key in re.findall(r"\bnote\(\s*\"([\w.]+)\"", path.read_text(encoding="utf-8"))}
    assert made == set(NOTE_ZH)


def test_what_the_loader_refuses_in_an_upload_is_said_in_the_visitors_language(tmp_path, monkeypatch):
    """A Chinese visitor whose zip of their own images cannot be learnt from reads why in Chinese, as the training
    worker's Failed event carries it."""
    from PIL import Image, ImageDraw

    from digitlab.data import archives
    from digitlab.data.dataset import DataError
    from digitlab.data.formats import load_image_folder
    from digitlab.training import protocol
    from digitlab.ui.text import DATA_ZH

    def folder(name: str, classes: dict[str, int]):
        (tmp_path / name).mkdir()
        for label, count in classes.items():
            (tmp_path / name / label).mkdir(parents=True)
            for i in range(count):
                mark = Image.new("L", (30, 30), 255)
                ImageDraw.Draw(mark).line([(5, 5 + 4 * i), (25, 25)], fill=0, width=3)
                mark.save(tmp_path / name / label / f"{i}.png")
        return tmp_path / name

    (tmp_path / "notes.txt").write_text("not an archive")
    unreadable = folder("unreadable", {"a": 0, "b": 0})
    for label in "ab":
        (unreadable / label / "0.png").write_bytes(b"not an image")
    attempts = {"data.missing": lambda: load_image_folder(tmp_path / "nowhere"),
                "data.one_class": lambda: load_image_folder(folder("one", {"seven": 6})),
                "data.no_classes": lambda: load_image_folder(folder("none", {})),
                "data.not_archive": lambda: load_image_folder(tmp_path / "notes.txt"),
                "data.too_few": lambda: load_image_folder(folder("few", {"zero": 6, "one": 3})),
                "data.no_images": lambda: load_image_folder(unreadable)}
    refusals = {}
    for key, attempt in attempts.items():
        with pytest.raises(DataError) as caught:
            attempt()
        refusals[key] = caught.value
    monkeypatch.setattr(archives, "ARCHIVE_MAX_BYTES", 100)
    with pytest.raises(DataError) as caught:
        load_image_folder(folder("big", {"zero": 6, "one": 6}))
    refusals["data.unpacks_too_much"] = caught.value
    monkeypatch.setattr(archives, "MAX_FILES", 3)
    with pytest.raises(DataError) as caught:
        load_image_folder(tmp_path / "few")
    refusals["data.too_many_files"] = caught.value
    assert {key: err.key for key, err in refusals.items()} == {key: key for key in refusals}
    assert set(refusals) == set(DATA_ZH), "every refusal a visitor's upload can meet, once"
    for err in refusals.values():
        failed = protocol.from_json(protocol.to_json(protocol.Failed(str(err), err.key, err.params)))
        assert said(failed, "en") == str(err)
        chinese = said(failed, "zh-CN")
        assert chinese != str(err) and any("\u4e00" <= ch <= "\u9fff" for ch in chinese) and "{" not in chinese
    few, unread = said(refusals["data.too_few"], "zh-CN"), said(refusals["data.no_images"], "zh-CN")
    assert "one: 3" in few and "'" not in few  # counts as they are, not as Python writes a string
    assert "训练图片" in unread and "train" not in unread  # the split named in Chinese too


def test_a_refused_fields_name_is_said_in_the_visitors_language_wherever_a_handler_checks_one():
    import re
    from pathlib import Path

    import gradio as gr

    from digitlab.ui.lab import FIELDS_ZH, Lab

    with pytest.raises(gr.Error) as caught:
        Lab.whole("many", "number of answers (top-k)", 1, 50, lang="zh-CN")
    assert caught.value.message == "答案个数（top-k）必须是 1 到 50 的整数，而不是 'many'。"
    with pytest.raises(gr.Error) as caught:
        Lab.flag("yes", "augment", lang="en")
    assert "augment" in caught.value.message
    ui = Path(__file__).resolve().parent.parent / "digitlab" / "ui"
    named = {what for path in ui.glob("*.py")
             for what in re.findall(r"\.(?:text|whole|flag|positive)\([^,()]+, \"([^\"]+)\"", path.read_text())}
    assert named and named <= set(FIELDS_ZH), named - set(FIELDS_ZH)

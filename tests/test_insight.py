"""Seeing inside the model and teaching it, through the app's API: /evaluate and its cells, /explain,
/correct, /finetune, /push_corrections; each visitor's corrections are their own."""

from __future__ import annotations

import contextlib
import io
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

import app
from digitlab.cli import main
from digitlab.data import registry as datasets
from digitlab.data.registry import load_sample
from digitlab.data.specs import SPECS
from tests.conftest import free_port
from tests.idx import write_mnist_folder

pytest_plugins = ["tests.hub_server"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The sample as MNIST's idx files: what $DIGITLAB_DATA_DIR points the app's Evaluate tab at."""
    return write_mnist_folder(load_sample(), tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def url(data_dir):
    patch = pytest.MonkeyPatch()
    patch.setenv(datasets.DATA_ENV, str(data_dir))
    demo = app.launch(None, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url.rstrip("/")
    finally:
        demo.close()
        patch.undo()


def cli_confusion(data_dir: Path) -> np.ndarray:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["eval", "--data-dir", str(data_dir)]) == 0
    lines = out.getvalue().splitlines()
    return np.array([list(map(int, line.split()[1:])) for line in lines[-10:]])


def test_evaluate_shows_per_class_accuracy_and_a_confusion_matrix_whose_cells_hold_their_images(url, data_dir):
    client = Client(url, verbose=False)
    summary, per_class, confusion, gallery, hint, why = client.predict(api_name="/evaluate")
    assert re.search(r"accuracy \*\*\d+\.\d\d %\*\*", summary) and "calibration error" in summary
    assert [row[0] for row in per_class["data"]] == [str(d) for d in range(10)]
    matrix = np.array([row[1:] for row in confusion["data"]], dtype=int)
    expected = cli_confusion(data_dir)
    assert (matrix == expected).all()  # the app counts what the CLI's eval counts
    data = load_sample()
    wrong = [(t, a) for t in range(10) for a in range(10) if t != a and expected[t, a]]
    assert wrong, "the shipped model makes no mistake on the sample: nothing to compare"
    from digitlab.inference.predictor import Predictor

    answers = Predictor.from_pretrained().probabilities(list(data.test_images.numpy())).argmax(1).numpy()
    for true, answer in wrong:
        items, text, _ = client.predict(true, answer, api_name="/evaluation_cell")
        n = expected[true, answer]
        assert f"**{n}** test image{'s' if n != 1 else ''} of **{true}** read wrong as **{answer}**" in text
        shown = sorted(np.asarray(Image.open(item["image"]).convert("L"))[::4, ::4].tobytes() for item in items)
        behind = (data.test_labels.numpy() == true) & (answers == answer)
        assert shown == sorted(img[0].tobytes() for img in data.test_images.numpy()[behind])
    client.close()


def sketch_file(path: Path, strokes: list[list[tuple[int, int]]], width: int = 22) -> dict:
    img = Image.new("RGB", (448, 448), "white")
    draw = ImageDraw.Draw(img)
    for line in strokes:
        draw.line(line, fill="black", width=width, joint="curve")
    img.save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


SEVEN = [[(120, 100), (330, 100), (200, 360)]]


def test_why_shows_which_pixels_made_the_answer_and_every_conv_layer(url, tmp_path):
    client = Client(url, verbose=False)
    why = client.predict(sketch_file(tmp_path / "seven.png", SEVEN), api_name="/explain")
    assert 'Why "7"?' in why and why.count("<img") == 1 + 6  # the heatmap, then digitnet's six conv layers
    with pytest.raises(AppError, match="Draw or upload something first"):  # nothing drawn yet in this session
        client.predict({"background": None, "layers": [], "composite": None}, api_name="/explain")
    client.close()


BOLT = [[(260, 60), (150, 230), (280, 230), (170, 400)]]  # a lightning bolt: the shipped model reads a 4
FOUR = [[(250, 60), (120, 280), (330, 280)], [(250, 60), (250, 400)]]
ZERO = [[(224 + 90 * np.sin(t), 224 - 130 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 24)]]


def test_corrections_are_kept_per_visitor_and_one_fine_tune_teaches_a_new_label_and_to_decline_a_non_digit(
        url, tmp_path):
    """A 7 saved three times as a "1" (a quirk of this writer) and a lightning bolt saved three times as not a digit:
    after one fine-tune (the slow step, so both kinds of correction share it) that 7 reads 1, the bolt is declined,
    and digits nobody corrected still read."""
    me, other = Client(url, verbose=False), Client(url, verbose=False)
    seven = sketch_file(tmp_path / "seven.png", SEVEN)
    bolt = sketch_file(tmp_path / "bolt.png", BOLT)
    assert me.predict(bolt, api_name="/predict_sketch")[0]["label"] == "4"  # answered, not declined
    with pytest.raises(AppError, match="Pick what it really is"):
        me.predict(seven, "eleven", api_name="/correct")
    for i in range(3):
        variant = sketch_file(tmp_path / f"seven-{i}.png", [[(120 + 9 * i, 100), (330, 100 + 6 * i), (200, 360)]])
        saved = me.predict(variant, "1", api_name="/correct")
        assert "Saved: a 1 (read as 7)" in saved and f"{i + 1} correction(s) in your session" in saved
    for i in range(3):
        variant = sketch_file(tmp_path / f"bolt-{i}.png", [[(260 + 8 * i, 60), (150, 230 + 6 * i), (280, 230),
                                                            (170 - 5 * i, 400)]])
        saved = me.predict(variant, "none of these", api_name="/correct")
        assert f"Saved: not a digit (read as 4). {i + 4} correction(s)" in saved, saved
    assert other.predict(api_name="/clear_corrections")[1] == "No corrections yet."
    with pytest.raises(AppError, match="Save a correction first"):
        other.predict(api_name="/finetune")  # the other visitor has none: mine are not theirs
    start = time.monotonic()
    log, status = me.predict(api_name="/finetune")  # (the Use button is not part of the API)
    assert "Fine-tuned" in status and "your corrections 0% -> 100% right" in status, status
    assert "1,000 test images" in status  # the sample's whole test split (a fine-tune judges on at most 2,000)
    assert "learning to decline 3 correction(s) that are none of the classes" in log
    assert time.monotonic() - start < 180
    assert me.predict(seven, api_name="/predict_sketch")[0]["label"] == "7"  # not theirs until Use
    me.predict(api_name="/use_finetuned")
    assert me.predict(seven, api_name="/predict_sketch")[0]["label"] == "1"
    label, _, hint = me.predict(bolt, api_name="/predict_sketch")
    assert label["label"] == "?" and "doesn't look like a digit" in hint
    for name, strokes, digit in (("four", FOUR, "4"), ("zero", ZERO, "0")):  # learning to decline left digits be
        assert me.predict(sketch_file(tmp_path / f"{name}.png", strokes), api_name="/predict_sketch")[0]["label"] == \
            digit, name
    assert other.predict(seven, api_name="/predict_sketch")[0]["label"] == "7"
    assert other.predict(bolt, api_name="/predict_sketch")[0]["label"] == "4"
    with zipfile.ZipFile(me.predict(api_name="/export_corrections")) as z:
        assert sorted(n for n in z.namelist() if n.endswith(".png")) == [
            *(f"corrections/1/{i:04d}.png" for i in range(3)),
            *(f"corrections/_none-of-these/{i:04d}.png" for i in range(3, 6))]
        assert "none of the classes" in z.read("corrections/README.md").decode()
    for odd in ("abc", "", 9):  # a stranger's values: a plain message, not a bare "Error"
        with pytest.raises(AppError, match="correction number"):
            me.predict(odd, api_name="/remove_correction")
    gallery, status, _ = me.predict(1, api_name="/remove_correction")
    assert len(gallery) == 5 and status.startswith("5 correction(s)")
    me.close(), other.close()


def test_corrections_go_to_the_hub_as_a_dataset_repo_as_the_visitor(url, local_hub, tmp_path):
    client = Client(url, verbose=False)
    client.predict(sketch_file(tmp_path / "seven.png", SEVEN), "7", api_name="/correct")
    message = client.predict("alice/my-corrections", local_hub.token, True, api_name="/push_corrections")
    assert "alice/my-corrections" in message
    files = local_hub.files("datasets/alice/my-corrections")
    assert "7/0000.png" in files and "README.md" in files
    client.close()


def test_a_confusion_matrix_of_chinese_numerals_draws_every_class_name_it_shows():
    import warnings

    from digitlab.hub.pictures import confusion_png

    names = list(SPECS["chinese-mnist"].display)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = confusion_png(np.eye(len(names), dtype=int) * 200, names)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing[:2]  # no empty boxes where a glyph is missing from the font
    assert Image.open(io.BytesIO(png)).size[0] > 300

"""The command line: JSON epoch lines, eval's report, predict that never falls over."""

import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from digitlab.cli import JSON_KEYS, main
from digitlab.data.registry import load_sample
from tests.idx import write_mnist_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A lenet trained for 2 epochs on the sample through the CLI, with its stdout."""
    out, stdout = tmp_path_factory.mktemp("run") / "lenet", io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["train", "--arch", "lenet", "--epochs", "2", "--data-dir", "sample", "--lr", "0.005",
                     "--no-augment", "--out", str(out), "--json"])
    assert code == 0
    return out, stdout.getvalue().splitlines()


def test_train_json_prints_one_object_per_epoch(trained):
    out, lines = trained
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [1, 2]
    assert all(tuple(r) == JSON_KEYS for r in records)
    assert all(r["seconds"] > 0 and 0 <= r["test_acc"] <= 100 for r in records)
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in out.iterdir()}


def test_eval_reports_accuracy_first_then_classes_and_confusion(trained, tmp_path, capsys):
    out, _ = trained
    folder = write_mnist_folder(load_sample(), tmp_path / "mnist")
    assert main(["eval", "--weights", str(out), "--data-dir", str(folder)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("accuracy: ") and text[0].endswith("%")
    accuracy = float(text[0].split()[1].rstrip("%"))
    assert 70 < accuracy <= 100
    assert "per-class accuracy:" in text and any(line.startswith("confusion matrix") for line in text)
    matrix = [list(map(int, line.split()[1:])) for line in text[-10:]]
    assert sum(map(sum, matrix)) == 1000  # every sample test image counted once
    assert abs(100 * sum(matrix[i][i] for i in range(10)) / 1000 - accuracy) < 0.01


def test_predict_json_reads_good_files_and_reports_broken_ones(tmp_path, capsys):
    sample = load_sample()
    folder = tmp_path / "mixed"
    folder.mkdir()
    expected = {}
    for i in range(4):
        label = int(sample.test_labels[i])
        digit = Image.fromarray(255 - sample.test_images[i, 0].numpy()).resize((280, 280), Image.LANCZOS)
        digit.save(folder / f"good_{i}.png")
        expected[f"good_{i}.png"] = str(label)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image")
    (folder / "truncated.png").write_bytes((folder / "good_0.png").read_bytes()[:120])
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(folder / "blank.png")
    code = main(["predict", str(folder), str(tmp_path / "missing.png"), "--json", "--top-k", "2"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    rows = {json.loads(line)["file"].split("/")[-1]: json.loads(line) for line in captured.out.splitlines()}
    assert len(rows) == 9 and code == 1
    for name, label in expected.items():
        assert rows[name]["label"] == label and len(rows[name]["confidences"]) == 2
    for name in ("empty.png", "text.png", "truncated.png", "blank.png", "missing.png"):
        assert rows[name]["error"] and "\n" not in rows[name]["error"]


def test_bad_arguments_give_one_line_errors(capsys):
    assert main(["train", "--epochs", "0", "--data-dir", "sample"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "error: epochs must be from 1 to 1000, got 0"
    assert main(["eval", "--weights", "/nonexistent/weights"]) == 2
    assert capsys.readouterr().err.startswith("error: ")

"""The lab through its HTTP API, as a gradio_client visitor sees it; the app launches once per module.

The app runs on the weights in $DIGITLAB_WEIGHTS when set, else the shipped ones.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import app
from digitlab import hub
from digitlab.data.registry import load_sample
from digitlab.models import Classifier
from digitlab.ui.upload import built_in_samples
from tests.conftest import train_args

pytest_plugins = ["tests.hub_server"]

EMPTY_SKETCH = {"background": None, "layers": [], "composite": None}

EXAMPLES = list(built_in_samples()["mnist"])  # the MNIST model's Upload samples


def expected(path: str) -> str:
    """What a sample reads as: its digit (digit_7.png), or "?" for a letter, a star, a scribble (declined)."""
    return "?" if Path(path).parent.name == "not-digits" else Path(path).stem.split("_")[1]


@pytest.fixture(scope="module")
def sketch_of_a_7(tmp_path_factory) -> dict:
    """A sample test-set 7, drawn 800x800 black on white as the Sketchpad composite comes."""
    data = load_sample()
    digit = data.test_images[int((data.test_labels == 7).nonzero()[0]), 0].numpy()
    big = Image.fromarray(255 - digit).resize((560, 560), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (800, 800), "white")
    canvas.paste(big, (120, 120))
    path = tmp_path_factory.mktemp("sketch") / "seven.png"
    canvas.save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def labels(label_value: dict) -> list[str]:
    return [c["label"] for c in label_value["confidences"]]


def view_pixels(view_html: str) -> np.ndarray:
    """The model's view inlined in the HTML output."""
    data = re.search(r'src="data:image/png;base64,([^"]+)"', view_html).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


def test_a_sketched_7_is_read_as_7_and_the_model_view_comes_back(client, sketch_of_a_7):
    label, view, hint = client.predict(sketch_of_a_7, api_name="/predict_sketch")
    assert label["label"] == "7"
    assert len(label["confidences"]) == 3  # top-k defaults to 3
    assert label["confidences"][0]["confidence"] >= 0.99  # calibrated: a clear digit reads as sure
    pixels = view_pixels(view)  # the model's own view, enlarged only in the browser
    assert pixels.shape == (28, 28) and pixels.max() == 255 and pixels[0, 0] == 0  # white ink on black
    assert hint == ""


def test_top_k_is_adjustable_and_checked(client, sketch_of_a_7):
    label, _, _ = client.predict(sketch_of_a_7, 5, api_name="/predict_sketch")
    assert len(label["confidences"]) == 5 and labels(label)[0] == "7"
    with pytest.raises(AppError, match="whole number from 1 to 50"):
        client.predict(sketch_of_a_7, -5, api_name="/predict_sketch")


def test_an_empty_canvas_clears_the_answer_and_asks_for_a_drawing(client):
    label, view, hint = client.predict(EMPTY_SKETCH, api_name="/predict_sketch")
    assert not label or not label.get("confidences")
    assert view == ""
    assert "Draw on the canvas" in hint


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).name)
def test_every_bundled_example_is_read_correctly(client, path):
    label, _, hint, *_ = client.predict(handle_file(path), api_name="/predict_upload")
    assert label["label"] == expected(path)
    assert ("doesn't look like a digit — the model reads 0–9" in hint) == (expected(path) == "?")


@pytest.mark.parametrize("dataset", ["fashion-mnist", "chinese-mnist", "cifar10"])
def test_each_shipped_model_has_upload_samples_of_its_own_classes_that_it_reads(dataset):
    from digitlab.inference.predictor import Predictor
    from digitlab.serve.sessions import ModelChoice
    from digitlab.ui.upload import samples_of

    predictor = Predictor.from_pretrained(str(Path(app.__file__).parent / "weights" / dataset))
    files = samples_of(ModelChoice(dataset, dataset, predictor, "shipped"))
    own = [f for f in files if Path(f).parent.name == dataset]
    assert len(own) == 5 and files[:5] == tuple(own)
    for f in own:  # examples/<dataset>/<class index>.png
        assert next(iter(predictor.predict(f, 1))) == predictor.spec.display[int(Path(f).stem)]
    others = files[5:]  # a model that declines: then a letter, a star and a scribble, declined
    assert len(others) == (0 if predictor.decline is None else 3)
    assert all(predictor.answer(f).declined for f in others)


def test_a_downloaded_models_dataset_name_never_names_a_folder_to_offer_samples_from():
    from digitlab.inference.predictor import Predictor
    from digitlab.serve.sessions import ModelChoice
    from digitlab.spec import MNIST
    from digitlab.ui.upload import samples_of

    for name in ("../weights/mnist", "/etc", "folder"):  # a config.json from the Hub says what it likes
        model = Classifier("mlp", {**MNIST.to_dict(), "name": name})
        assert samples_of(ModelChoice(name, name, Predictor(model), "hub")) == ()


def test_the_json_endpoint_beside_the_ui_reads_the_same_examples(url):
    request = urllib.request.Request(f"{url}/api/predict?top_k=2", data=Path(EXAMPLES[0]).read_bytes())
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["label"] == Path(EXAMPLES[0]).stem.split("_")[1] and len(body["confidences"]) == 2


def test_the_json_endpoint_answers_a_letter_a_star_and_a_scribble_with_label_null_and_a_reason(url):
    for path in [p for p in EXAMPLES if expected(p) == "?"]:
        request = urllib.request.Request(f"{url}/api/predict", data=Path(path).read_bytes())
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        assert body["label"] is None and len(body["confidences"]) == 3, path
        assert body["reason"] == "This doesn't look like a digit — the model reads 0–9.", path


def test_a_broken_file_gets_a_plain_reason_that_stays_and_the_next_upload_works(client, tmp_path):
    broken = tmp_path / "digit.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    label, view, hint, picture, *_ = client.predict(handle_file(str(broken)), api_name="/predict_upload")
    assert "not an image we can read" in hint and not label.get("confidences") and picture is None
    label, *_ = client.predict(handle_file(EXAMPLES[0]), api_name="/predict_upload")
    assert label["label"] == Path(EXAMPLES[0]).stem.split("_")[1]


def test_a_bad_weights_source_is_refused_plainly_and_the_old_model_keeps_answering(client, tmp_path, sketch_of_a_7):
    with pytest.raises(AppError, match="has no model.safetensors"):
        client.predict(str(tmp_path), "", "", api_name="/load_weights")
    mismatched = tmp_path / "mismatched"
    hub.save_model(Classifier(arch="lenet"), mismatched)
    config = json.loads((mismatched / "config.json").read_text())
    (mismatched / "config.json").write_text(json.dumps({**config, "arch": "speednet"}))
    with pytest.raises(AppError, match="do not fit"):
        client.predict(str(mismatched), "", "", api_name="/load_weights")
    assert client.predict(sketch_of_a_7, api_name="/predict_sketch")[0]["label"] == "7"


def test_training_streams_epochs_keeps_predicting_and_stops_on_request(url, source, sketch_of_a_7):
    client = Client(url, verbose=False)  # a visitor of its own: training is one per session
    job = client.submit(*train_args(epochs=30), api_name="/train")

    def epochs_logged() -> int:
        outputs = job.outputs()
        return sum(line.startswith("epoch ") for line in outputs[-1][0].splitlines()) if outputs else 0

    deadline = time.monotonic() + 90
    while epochs_logged() < 2 and time.monotonic() < deadline and not job.done():
        assert client.predict(sketch_of_a_7, api_name="/predict_sketch")[0]["label"] == "7"  # while training
    assert epochs_logged() >= 2, "two epoch updates should have streamed in"
    curves = job.outputs()[-1][1]
    assert {row[1] for row in curves["data"]} == {"train", "test"}  # long format: one series per split
    assert client.predict(api_name="/stop_training") == "Stopping after the current batch…"
    stopped = time.monotonic()
    log, _, _, status, download, summary, grid, *_ = job.result(timeout=60)
    assert time.monotonic() - stopped < 60  # a batch, then calibration and saving; the speed is bench_train's
    assert "Stopped after" in status and "/30 epochs" in status
    assert Path(download).suffix == ".zip" and "lenet" in summary and Path(grid).is_file()
    assert client.predict(api_name="/stop_training") == "Nothing is training right now."
    # The new model is not active until asked for; then it is.
    active = client.predict(api_name="/use_trained")[0]
    assert "trained here" in active and "lenet" in active
    assert client.predict(sketch_of_a_7, api_name="/predict_sketch")[0]["confidences"]
    client.close()


def test_bad_training_settings_are_refused_plainly(client):
    for over, words in [(dict(epochs="many"), "number of epochs must be a whole number"),
                        (dict(lr="fast"), "learning rate must be a number"),
                        (dict(seed=1.5), "seed must be a whole number"),
                        (dict(arch="resnet9000"), "Unknown architecture"),
                        (dict(dataset="folder"), "Upload a zip of your images first")]:
        with pytest.raises(AppError, match=words):
            client.predict(*train_args(**over), api_name="/train")


def test_a_model_pushed_to_the_hub_loads_back_by_repo_id(client, local_hub, sketch_of_a_7):
    message = client.predict("alice/lab-demo", local_hub.token, False, "active model", api_name="/push_to_hub")
    assert "alice/lab-demo" in message and local_hub.commits("alice/lab-demo")
    active = client.predict("alice/lab-demo", "", "", api_name="/load_weights")[0]
    assert "alice/lab-demo" in active
    assert client.predict(sketch_of_a_7, api_name="/predict_sketch")[0]["label"] == "7"
    blocks = app.build_app("alice/lab-demo")  # what `python app.py --weights alice/lab-demo` builds
    assert any("alice/lab-demo" in str(getattr(b, "value", "")) for b in blocks.blocks.values())


def test_hub_failures_are_plain_errors_and_leave_the_active_model(client, local_hub, monkeypatch, sketch_of_a_7):
    with pytest.raises(AppError, match="alice/missing"):
        client.predict("alice/missing", "", "", api_name="/load_weights")
    with pytest.raises(AppError, match=r"(?i)token"):
        client.predict("alice/lab-bad-token", "hf_not_a_real_token", True, "active model", api_name="/push_to_hub")
    with pytest.raises(AppError, match="needs a Hub token: paste"):
        client.predict("alice/lab-no-token", "", True, "active model", api_name="/push_to_hub")
    monkeypatch.setenv("HF_TOKEN", local_hub.token)  # locally, an empty token field falls back to $HF_TOKEN
    assert "alice/lab-env" in client.predict("alice/lab-env", "", True, "active model", api_name="/push_to_hub")
    local_hub.stop()
    with pytest.raises(AppError, match="alice/lab-env"):
        client.predict("alice/lab-env", "", "", api_name="/load_weights")
    assert client.predict(sketch_of_a_7, api_name="/predict_sketch")[0]["label"] == "7"


def test_the_app_refuses_bad_weights_at_start_up_with_one_line(capsys):
    assert app.main(["--weights", "/no/such/folder"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_number_canvas_and_the_json_endpoint_read_whole_numbers(client, url, tmp_path):
    from tests.test_numbers import written

    path = tmp_path / "year.png"
    Image.fromarray(written("2026")).convert("RGB").save(path)
    number, boxes, hint = client.predict({"background": None, "layers": [], "composite": handle_file(str(path))},
                                         api_name="/predict_number")
    assert number.startswith("## 2026") and boxes.count("<rect") == 4 and hint == ""
    request = urllib.request.Request(f"{url}/api/predict?number=1", data=path.read_bytes())
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert set(body) == {"number", "confidence", "digits"} and body["number"] == "2026"
    assert [d["label"] for d in body["digits"]] == list("2026") and all(len(d["box"]) == 4 for d in body["digits"])
    label, view, hint, _, number, boxes, *_ = client.predict(handle_file(str(path)), 3, "number",
                                                             api_name="/predict_upload")
    assert number.startswith("## 2026") and not label.get("confidences")

"""How the house holds together: the layers import only downwards, a training run is defined once (the CLI,
the form and the API are TrainConfig's fields), an ONNX model says what it cannot do, and operators can
read what went wrong while visitors read one sentence and no token ever reaches a log."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from digitlab.training.config import form_settings, settings
from tests.conftest import free_port, train_args

pytest_plugins = ["tests.hub_server"]
PACKAGE = Path(__file__).resolve().parent.parent / "digitlab"
# Each layer may import from itself and the layers before it; nothing runs back up.
LAYERS = ["spec", "note", "policy", "assets", "vision", "data", "models", "hub", "training", "inference", "serve", "ui",
          "cli", "__main__"]


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("digitlab."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("digitlab.")}
    return found


@pytest.mark.unit
def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        own = parts[0]
        if own == "__init__":
            continue
        for module in imports_of(path):
            theirs = layer_of(module)
            if LAYERS.index(theirs) > LAYERS.index(own):
                upward.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not upward, upward


@pytest.mark.unit
def test_the_cli_has_one_option_per_setting_and_the_form_shows_the_form_settings():
    from tests.test_config import NOT_SETTINGS, train_parser

    assert {a.dest for a in train_parser()._actions} - NOT_SETTINGS == {f.name for f in settings()}
    from digitlab.ui.lab import Lab

    demo = app.build_app()
    train = demo.page.train
    assert list(train.form) == [f.name for f in form_settings()]
    api = demo.get_api_info()["named_endpoints"]["/train"]["parameters"]
    assert [p["parameter_name"] for p in api] == [f.name for f in form_settings()] + ["images_zip"]
    assert isinstance(demo.lab, Lab)


@pytest.fixture(scope="module")
def url():
    demo = app.launch(None, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url.rstrip("/")
    finally:
        demo.close()


@pytest.mark.app
def test_an_onnx_model_reads_and_says_plainly_what_it_cannot_do(url, tmp_path):
    from digitlab.hub import load_model
    from digitlab.models.onnx import export_onnx

    export_onnx(load_model(), tmp_path / "digits.onnx")
    client = Client(url, verbose=False)
    assert "onnx" in client.predict(str(tmp_path / "digits.onnx"), "", "", api_name="/load_weights")[0].lower()
    with pytest.raises(AppError, match="ONNX file: it reads, but it cannot explain"):
        client.predict(None, api_name="/explain")
    with pytest.raises(AppError, match="ONNX file"):
        client.predict(*train_args(init="active", epochs=1), api_name="/train")
    with pytest.raises(AppError, match="ONNX file"):
        client.predict("alice/x", "hf_token", False, "active model", api_name="/push_to_hub")
    client.close()


@pytest.mark.app
def test_an_unexpected_failure_leaves_its_traceback_in_the_log_and_one_sentence_for_the_visitor(url, monkeypatch,
                                                                                               caplog):
    from digitlab.ui.evaluate import Evaluate

    def broken(*args, **kwargs):
        raise RuntimeError("the evaluation broke in a way nobody planned for")

    monkeypatch.setattr(Evaluate, "evaluation", broken)
    client = Client(url, verbose=False)
    with caplog.at_level(logging.ERROR), pytest.raises(AppError) as err:
        client.predict(api_name="/evaluate")
    assert str(err.value) == "Something went wrong on our side; it is in the server's log. Try again."
    assert err.value.title == "Error"
    assert "Traceback" in caplog.text and "the evaluation broke in a way nobody planned for" in caplog.text
    client.close()
    chinese = Client(url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    with pytest.raises(AppError) as err:  # the pop-up's heading as well as its sentence
        chinese.predict(api_name="/evaluate")
    assert (err.value.title, str(err.value)) == ("出错了", "服务器这边出了问题，已记录在服务器日志中。请再试一次。")
    chinese.close()


@pytest.mark.app
def test_a_token_never_appears_in_the_log(url, local_hub, caplog):
    from tests.test_public import lenet_files

    local_hub.seed_repo("alice/private-model", lenet_files(), private=True)
    client = Client(url, verbose=False)
    with caplog.at_level(logging.DEBUG):
        client.predict("alice/private-model", "", local_hub.token, api_name="/load_weights")
        client.predict("alice/pushed", local_hub.token, True, "active model", api_name="/push_to_hub")
        with pytest.raises(AppError):
            client.predict("alice/nothing-here", "", local_hub.token + "x", api_name="/load_weights")
    assert local_hub.token not in caplog.text
    client.close()


@pytest.mark.unit
def test_whatever_sets_the_canvas_sets_the_mode_radio_and_the_tools_to_the_same_mode():
    """A page's load computed before a click on "a whole number" may arrive after it: it must set the radio back
    with the canvas (the screen agrees with itself), never leave a square canvas under a ticked "whole number"."""
    from digitlab.serve.sessions import Visitor
    from digitlab.ui.sketch import DIGIT, NUMBER, Sketch

    demo = app.build_app()
    page = demo.page
    sketch = next(values.__self__ for _, values in page.followers if isinstance(getattr(values, "__self__", None),
                                                                                Sketch))
    visitor = Visitor("s", demo.lab.default, demo.lab.policy)
    for mode in (NUMBER, DIGIT):
        visitor.canvas["mode"] = mode
        out = page.model_changed(visitor)  # the load's, a language switch's, a change of model's outputs
        assert out[sketch.mode] == mode
        assert out[sketch.pad].props["mode"] == mode
        assert out[sketch.digit_tools].visible == (mode == DIGIT)

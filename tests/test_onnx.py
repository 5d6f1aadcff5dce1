"""ONNX: every architecture exports, onnxruntime answers as PyTorch does, and the file carries its spec."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from digitlab import hub
from digitlab.cli import main
from digitlab.data.registry import load_sample
from digitlab.data.specs import SPECS
from digitlab.inference.predictor import Predictor
from digitlab.models import Classifier, list_models
from digitlab.models.onnx import export_onnx, load_onnx

pytest_plugins = ["tests.hub_server"]


def trained_looking(arch: str, spec) -> Classifier:
    """A model whose batch norms hold statistics of their own, as after training."""
    torch.manual_seed(0)
    model = Classifier(arch, spec.to_dict())
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2)
    model.temperature = 0.5
    return model.eval()


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
@pytest.mark.parametrize("arch", list_models())
def test_onnxruntime_gives_pytorchs_logits_for_every_architecture(arch, dataset, tmp_path):
    data = load_sample(dataset)
    model = trained_looking(arch, data.spec)
    export_onnx(model, tmp_path / "model.onnx")
    onnx = load_onnx(tmp_path / "model.onnx")
    x = data.test_images[:32].float() / 255
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(onnx(x), expected, atol=1e-4, rtol=1e-4)
    assert onnx.spec == data.spec and onnx.arch == arch and onnx.temperature == 0.5
    assert onnx(x[:1]).shape == (1, data.spec.num_classes)  # any batch size


def test_a_predictor_reads_an_onnx_file_as_it_reads_the_weights(tmp_path):
    export_onnx(hub.load_model(), tmp_path / "digits.onnx")
    torch_predictor, onnx_predictor = Predictor.from_pretrained(), Predictor.from_pretrained(tmp_path / "digits.onnx")
    views = list(load_sample().test_images.numpy()[:64])
    a, b = torch_predictor.probabilities(views), onnx_predictor.probabilities(views)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert onnx_predictor.names == torch_predictor.names


def test_int8_weights_make_a_smaller_file_that_still_reads_digits(tmp_path):
    model = hub.load_model()
    plain, small = export_onnx(model, tmp_path / "f.onnx"), export_onnx(model, tmp_path / "i8.onnx", int8=True)
    assert small["bytes"] < 0.4 * plain["bytes"]
    data = load_sample()
    answers = Predictor.from_pretrained(tmp_path / "i8.onnx").probabilities(list(data.test_images.numpy())).argmax(1)
    assert (answers == data.test_labels).float().mean() > 0.97


def test_the_cli_exports_predicts_and_evaluates_with_onnx(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path / "m.onnx")]) == 0
    assert "exported digitnet (mnist)" in capsys.readouterr().out
    assert main(["eval", "--weights", str(tmp_path / "m.onnx"), "--data-dir", "sample"]) == 0
    assert capsys.readouterr().out.startswith("accuracy: ")
    (tmp_path / "not.onnx").write_bytes(b"not an onnx model")
    assert main(["predict", "examples", "--weights", str(tmp_path / "not.onnx")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_push_onnx_uploads_the_exported_model_beside_the_weights(local_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["push", "alice/with-onnx", "--onnx"]) == 0
    files = local_hub.files("alice/with-onnx")
    assert {"model.onnx", "model.safetensors", "config.json"} <= set(files)
    (tmp_path / "pulled.onnx").write_bytes(files["model.onnx"])
    assert load_onnx(tmp_path / "pulled.onnx").spec == SPECS["mnist"]
    assert np.isfinite(load_onnx(tmp_path / "pulled.onnx")(torch.zeros(1, 1, 28, 28)).numpy()).all()

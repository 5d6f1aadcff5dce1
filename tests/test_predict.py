"""The Predictor answers as its model does, on the lean inference copy it serves with (onnxruntime's)."""

import threading

import numpy as np
import pytest
import torch

from digitlab.data.registry import load_sample
from digitlab.data.specs import SPECS
from digitlab.inference import predictor as predictor_module
from digitlab.inference.predictor import Predictor
from digitlab.models import Classifier, list_models
from digitlab.models.onnx import OnnxClassifier
from digitlab.models.threads import TORCH_THREADS
from digitlab.training.config import TrainConfig
from digitlab.training.loop import train

VIEWS = list(load_sample().test_images.numpy()[:6])  # (1, 28, 28) views of 7 2 1 0 4 1


def trained_looking(arch: str) -> Classifier:
    """A model whose batch norms hold statistics of their own, as after training: folding them must count."""
    torch.manual_seed(0)
    model = Classifier(arch=arch)
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-1, 1)
            layer.running_var.uniform_(0.5, 2)
            layer.weight.data.uniform_(0.5, 2)
            layer.bias.data.uniform_(-1, 1)
    return model.eval()


@pytest.mark.parametrize("arch", list_models())
def test_the_inference_graph_gives_the_models_own_probabilities(arch):
    model = trained_looking(arch)
    predictor = Predictor(model)
    pixels = torch.from_numpy(np.stack(VIEWS)).float() / 255
    with torch.no_grad():
        expected = model(pixels).softmax(1)
    torch.testing.assert_close(predictor.probabilities(VIEWS), expected, atol=1e-5, rtol=1e-4)
    assert isinstance(predictor.inference, OnnxClassifier), "every architecture serves from onnxruntime"


@pytest.mark.parametrize("arch", ["airnet", "digitnet"])
def test_a_photo_models_copy_averages_over_the_mirror_image_as_the_model_does(arch):
    """In eval mode a photo-view model averages its logits over the image and its mirror image: the export
    keeps that."""
    torch.manual_seed(0)
    model = Classifier(arch, SPECS["cifar10"].to_dict()).eval()
    views = [np.random.default_rng(i).integers(0, 256, (3, 32, 32), dtype=np.uint8) for i in range(3)]
    with torch.no_grad():
        expected = (model(torch.from_numpy(np.stack(views)).float() / 255) / model.temperature).softmax(1)
    predictor = Predictor(model)
    assert isinstance(predictor.inference, OnnxClassifier)
    torch.testing.assert_close(predictor.probabilities(views), expected, atol=1e-5, rtol=1e-4)


def test_a_model_that_does_not_export_predicts_with_pytorch_and_the_log_says_why(monkeypatch, caplog):
    def refuse(model):
        raise RuntimeError("an operator torch.onnx cannot trace")

    monkeypatch.setattr(predictor_module, "runtime_copy", refuse)
    model = trained_looking("digitnet")
    predictor = Predictor(model)
    assert not isinstance(predictor.inference, OnnxClassifier)
    assert "does not export to onnxruntime" in caplog.text and "cannot trace" in caplog.text
    pixels = torch.from_numpy(np.stack(VIEWS)).float() / 255
    with torch.no_grad():
        expected = model(pixels).softmax(1)
    torch.testing.assert_close(predictor.probabilities(VIEWS), expected, atol=1e-5, rtol=1e-4)


def test_rank_answers_each_view_with_its_own_k():
    predictor = Predictor.from_pretrained()
    answers = predictor.rank(VIEWS[:3], [1, 3, 10])
    assert [len(a) for a in answers] == [1, 3, 10]
    assert [next(iter(a)) for a in answers] == ["7", "2", "1"]
    assert predictor.rank([], []) == []


def test_predictions_on_many_threads_leave_torch_its_thread_count():
    predictor = Predictor.from_pretrained()
    threads = [threading.Thread(target=lambda: [predictor.probabilities(VIEWS[:1]) for _ in range(20)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = []
    fresh = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    fresh.start()
    fresh.join()
    assert seen == [TORCH_THREADS] and torch.get_num_threads() == TORCH_THREADS


def test_training_runs_on_all_threads_even_where_a_thread_was_left_at_one():
    cfg = TrainConfig(arch="lenet", data="sample", epochs=1, batch_size=256, augment=False, calibration=0)
    counts = []

    def run():
        torch.set_num_threads(1)  # a worker thread that first ran torch inside a prediction
        for _ in train(cfg, data=load_sample(), on_batch=lambda step, steps: counts.append(torch.get_num_threads())):
            pass
        torch.set_num_threads(TORCH_THREADS)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert counts and set(counts) == {TORCH_THREADS}

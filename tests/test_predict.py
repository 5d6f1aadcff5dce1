"""The Predictor answers as its model does, on the lean inference graph it serves with."""

import numpy as np
import pytest
import torch

from digitlab.data import load_sample
from digitlab.models import DigitClassifier, list_models
from digitlab.predict import Predictor

VIEWS = list(load_sample().test_images.numpy()[:6])  # 7 2 1 0 4 1


def trained_looking(arch: str) -> DigitClassifier:
    """A model whose batch norms hold statistics of their own, as after training: folding them must count."""
    torch.manual_seed(0)
    model = DigitClassifier(arch=arch)
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
    pixels = torch.from_numpy(np.stack(VIEWS)).unsqueeze(1).float() / 255
    with torch.no_grad():
        expected = model(pixels).softmax(1)
    torch.testing.assert_close(predictor.probabilities(VIEWS), expected, atol=1e-5, rtol=1e-4)


def test_rank_answers_each_view_with_its_own_k():
    predictor = Predictor.from_pretrained()
    answers = predictor.rank(VIEWS[:3], [1, 3, 10])
    assert [len(a) for a in answers] == [1, 3, 10]
    assert [next(iter(a)) for a in answers] == ["7", "2", "1"]
    assert predictor.rank([], []) == []

"""Every registered architecture builds, learns and round-trips through save/load."""

import pytest
import torch

from digitlab.hub import load_local, save_model
from digitlab.models import DigitClassifier, create_backbone, list_models, summary


@pytest.mark.parametrize("arch", list_models())
def test_architecture_gives_logits_and_gradients(arch):
    torch.manual_seed(0)
    model = DigitClassifier(arch=arch)
    logits = model(torch.rand(4, 1, 28, 28))
    assert logits.shape == (4, 10)
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.arange(4)).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("arch", list_models())
def test_save_and_load_round_trip_gives_same_outputs(arch, tmp_path):
    torch.manual_seed(1)
    model = DigitClassifier(arch=arch).eval()
    x = torch.rand(3, 1, 28, 28)
    save_model(model, tmp_path / arch, card={"arch": arch, "test_acc": 12.5})
    assert (tmp_path / arch / "model.safetensors").is_file()
    loaded = load_local(tmp_path / arch)
    assert loaded.arch == arch and loaded.labels == model.labels
    torch.testing.assert_close(loaded(x), model(x))


def test_unknown_architecture_names_the_valid_choices():
    with pytest.raises(ValueError, match="choose from .*digitnet"):
        create_backbone("resnet9000")


def test_summary_lists_layers_and_total():
    model = DigitClassifier(arch="lenet")
    text = summary(model)
    assert text.splitlines()[0] == f"lenet: {model.num_params:,} parameters"
    assert "Conv2d" in text and "Linear" in text
    assert sum(int(line.split()[-1].replace(",", "")) for line in text.splitlines()[2:]) == model.num_params

"""Every registered architecture takes its shape from the spec, learns, and round-trips through save/load."""

import json

import pytest
import torch

from digitlab.hub import load_local, save_model
from digitlab.models import Classifier, create_backbone, list_models, summary
from digitlab.spec import DatasetSpec

SHAPES = {  # (channels, size, classes): MNIST's, and a colour 32 px dataset with 15 classes, and Chinese MNIST's
    "grey-28px-10": (1, 28, 10),
    "rgb-32px-15": (3, 32, 15),
    "grey-64px-15": (1, 64, 15),
}


def spec_of(channels: int, size: int, classes: int) -> dict:
    return DatasetSpec("test", tuple(f"c{i}" for i in range(classes)), size=size, channels=channels,
                       mean=(0.5,) * channels, std=(0.25,) * channels).to_dict()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("arch", list_models())
def test_architecture_takes_channels_size_and_classes_from_the_spec(arch, shape):
    channels, size, classes = SHAPES[shape]
    torch.manual_seed(0)
    model = Classifier(arch=arch, spec=spec_of(channels, size, classes))
    logits = model(torch.rand(4, channels, size, size))
    assert logits.shape == (4, classes)
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.arange(4)).backward()
    trained = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    missing = [name for name, p in trained if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("arch", list_models())
def test_save_and_load_round_trip_gives_same_outputs_spec_and_temperature(arch, tmp_path):
    torch.manual_seed(1)
    model = Classifier(arch=arch, spec=spec_of(3, 32, 15)).eval()
    model.temperature = 0.42  # set after training, as calibration does
    x = torch.rand(3, 3, 32, 32)
    save_model(model, tmp_path / arch, card={"arch": arch, "test_acc": 12.5})
    config = json.loads((tmp_path / arch / "config.json").read_text())
    assert config["spec"]["labels"][14] == "c14" and config["temperature"] == 0.42
    loaded = load_local(tmp_path / arch)
    assert loaded.arch == arch and loaded.spec == model.spec and loaded.temperature == 0.42
    torch.testing.assert_close(loaded(x), model(x))


def test_a_config_from_before_specs_loads_as_mnist_glyphs(tmp_path):
    model = Classifier("lenet")
    save_model(model, tmp_path / "old")
    (tmp_path / "old" / "config.json").write_text(json.dumps(
        {"arch": "lenet", "input_size": 28, "labels": None, "mean": 0.1307, "std": 0.3081}))
    loaded = load_local(tmp_path / "old")
    assert loaded.spec.name == "mnist" and loaded.spec.view == "glyph" and loaded.labels == [str(d) for d in range(10)]


def test_unknown_architecture_names_the_valid_choices():
    with pytest.raises(ValueError, match="choose from .*digitnet"):
        create_backbone("resnet9000")


@pytest.mark.parametrize("field,value,words", [
    ("labels", ("only",), "2 to 1,000 classes"), ("labels", tuple(map(str, range(1001))), "2 to 1,000 classes"),
    ("labels", ("a", "b" * 65), "up to 64 characters"), ("size", 256, "8 to 128 px"),
    ("channels", 2, "channels must be 1 or 3"), ("view", "sketchy", "unknown view"),
    ("mean", (0.1, 0.2), "one value per channel"),
])
def test_a_spec_that_cannot_describe_data_is_refused_plainly(field, value, words):
    fields = dict(name="x", labels=("a", "b"))
    fields[field] = value
    with pytest.raises(ValueError, match=words):
        DatasetSpec(**fields)


@pytest.mark.parametrize("arch", list_models())
def test_each_architecture_names_its_first_layer_and_its_head(arch):
    from digitlab.models import architecture

    spec = DatasetSpec("x", tuple("abcdefg"), size=32, channels=3, mean=(0.5,) * 3, std=(0.2,) * 3)
    model = Classifier(arch, spec.to_dict())
    layers = dict(model.backbone.named_modules())
    first, head = layers[architecture(arch).first], layers[architecture(arch).head]
    linears = [m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear)]
    assert isinstance(head, torch.nn.Linear) and head.out_features == 7 and head is linears[-1]
    assert getattr(first, "in_channels", None) == 3 or getattr(first, "in_features", None) == 3 * 32 * 32


@pytest.mark.parametrize("arch", list_models())
def test_summary_lists_layers_and_total(arch):
    model = Classifier(arch=arch)
    text = summary(model)
    assert text.splitlines()[0] == f"{arch}: {model.num_params:,} parameters"
    assert sum(int(line.split()[-1].replace(",", "")) for line in text.splitlines()[2:]) == model.num_params


def test_a_photo_model_answers_for_the_photo_and_its_mirror_a_glyph_model_for_the_glyph_alone():
    from digitlab.data.specs import SPECS

    torch.manual_seed(0)
    for name, mirrored in (("cifar10", True), ("mnist", False)):
        model = Classifier("lenet", SPECS[name].to_dict()).eval()
        x = torch.rand(4, model.spec.channels, model.spec.size, model.spec.size)
        plain = model.backbone((x - model.mean) / model.std)
        mirror = model.backbone((x.flip(-1) - model.mean) / model.std)
        expected = (plain + mirror) / 2 if mirrored else plain
        assert torch.allclose(model(x), expected, atol=1e-5), name
        assert not torch.allclose(plain, mirror, atol=1e-3)  # the mirror image does read differently
        model.train()
        assert torch.allclose(model(x), model.backbone((x - model.mean) / model.std), atol=1e-5)  # training: as is

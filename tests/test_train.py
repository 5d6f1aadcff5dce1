"""The training generator streams per-epoch records, stops on its flag, learns, calibrates and transfers."""

import math
import threading
from dataclasses import replace

import pytest
import torch

from digitlab.data.augment import augment_glyphs, augment_photos
from digitlab.data.registry import load_sample
from digitlab.hub import save_model
from digitlab.training.config import TrainConfig, preset
from digitlab.training.loop import EpochRecord, Note, TrainResult, train

FAST = TrainConfig(arch="lenet", data="sample", epochs=2, batch_size=64, lr=5e-3, augment=False)


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def records_and_result(items):
    items = [i for i in items if not isinstance(i, Note)]
    return items[:-1], items[-1]


def test_generator_yields_one_record_per_epoch_then_a_model(sample):
    records, result = records_and_result(train(FAST, data=sample))
    assert [r.epoch for r in records] == [1, 2]
    assert all(isinstance(r, EpochRecord) and r.data == "mnist sample" for r in records)
    assert isinstance(result, TrainResult) and not result.stopped
    assert records[-1].test_acc > 80  # lenet learns the sample in two epochs
    assert records[-1].train_loss < records[0].train_loss
    assert all(r.seconds > 0 and r.samples_per_s > 0 and r.lr >= 0 for r in records)
    assert result.model.spec == sample.spec  # the model is built from the data's spec


@pytest.mark.parametrize("steps", [1, 3, 4, 5])
def test_a_run_of_only_a_few_steps_trains(sample, steps):
    # The one-cycle schedule once divided by zero at exactly 4 steps (e.g. 2 epochs of 2 batches).
    n = len(sample.train_labels)
    cfg = replace(FAST, epochs=1, calibration=0.0, batch_size=math.ceil(n / steps))
    assert math.ceil(n / cfg.batch_size) == steps
    records, result = records_and_result(train(cfg, data=sample))
    assert len(records) == 1 and isinstance(result, TrainResult) and not result.stopped


def test_the_model_is_calibrated_on_held_out_training_images(sample):
    records, result = records_and_result(train(replace(FAST, label_smoothing=0.2), data=sample))
    calibration = result.calibration
    assert abs(calibration["held_out"] - 100) <= 5  # 5 % of each class of the 2,000 sample images
    assert 0.05 <= result.model.temperature < 1  # label smoothing makes a model underconfident: T < 1 sharpens
    assert calibration["test_ece_after"] < calibration["test_ece_before"]


def test_stop_flag_ends_training_between_batches(sample):
    stop, steps_seen = threading.Event(), []

    def on_batch(step, steps):
        steps_seen.append(step)
        if step == 3:
            stop.set()

    _, result = records_and_result(train(replace(FAST, epochs=5), data=sample, stop=stop, on_batch=on_batch))
    assert steps_seen == [1, 2, 3]
    assert result.stopped and not result.records  # no record for a partial epoch


def test_same_seed_gives_same_model(sample):
    cfg = replace(FAST, epochs=1, augment=True)
    a, b = (records_and_result(train(cfg, data=sample))[1].model for _ in range(2))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


@pytest.mark.parametrize("field,value,message", [
    ("epochs", 0, "epochs"), ("lr", -1.0, "learning rate"), ("batch_size", 0, "batch size"),
    ("optimizer", "adagrad", "optimizer"), ("freeze", "backbone", "needs a model to start from"),
])
def test_invalid_settings_are_refused_plainly(field, value, message):
    with pytest.raises(ValueError, match=message):
        next(train(replace(FAST, **{field: value}), data=None))


def test_sgd_trains_too(sample):
    cfg = replace(FAST, optimizer="sgd", lr=0.1, epochs=3)
    assert records_and_result(train(cfg, data=sample))[0][-1].test_acc > 70


def test_a_bfloat16_run_learns_as_a_float32_one_and_auto_asks_the_chip(sample, monkeypatch):
    """precision="bf16" computes the forward pass under autocast (the weights stay float32); "auto" does so
    only where the chip has bfloat16 in hardware, and never on a chip that would emulate it."""
    from digitlab.training import precision

    cfg = replace(FAST, arch="speednet", epochs=2, batch_size=128, lr=1e-2)
    fp32 = records_and_result(train(replace(cfg, precision="fp32"), data=sample))
    bf16 = records_and_result(train(replace(cfg, precision="bf16"), data=sample))
    assert bf16[0][-1].test_acc > 80 and abs(bf16[0][-1].test_acc - fp32[0][-1].test_acc) < 3
    assert all(p.dtype == torch.float32 for p in bf16[1].model.parameters())
    weights = zip(fp32[1].model.state_dict().values(), bf16[1].model.state_dict().values(), strict=True)
    assert any((a != b).any() for a, b in weights)  # it did compute otherwise
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not precision.uses_bf16("auto", cpu) and precision.uses_bf16("bf16", cpu)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert precision.uses_bf16("auto", cpu) and not precision.uses_bf16("fp32", cpu)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert not precision.uses_bf16("auto", cpu)


@pytest.mark.parametrize("name", ["chinese-mnist", "cifar10", "fashion-mnist"])
def test_every_dataset_trains_a_model_of_its_own_shape(name):
    data = load_sample(name)
    cfg = TrainConfig(arch="lenet", dataset=name, data="sample", epochs=1, batch_size=128, lr=3e-3)
    _, result = records_and_result(train(cfg, data=data))
    spec = result.model.spec
    assert spec == data.spec and result.model(torch.rand(2, spec.channels, spec.size, spec.size)).shape[1] == len(
        spec.labels)


def test_glyph_augmentation_keeps_shape_and_ink(sample):
    x = sample.train_images[:16].float() / 255
    y = augment_glyphs(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert (y.sum((1, 2, 3)) > 0.3 * x.sum((1, 2, 3))).all()  # the digit stays in frame


def test_photo_augmentation_flips_and_shifts_without_changing_colours():
    x = load_sample("cifar10").train_images[:64].float() / 255
    y = augment_photos(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.equal(x, y)
    flipped = [torch.equal(y[i, :, 2:-2, 2:-2], x[i].flip(-1)[:, 2:-2, 2:-2]) for i in range(64)]
    assert torch.allclose(y.mean((0, 2, 3)), x.mean((0, 2, 3)), atol=0.02) and isinstance(flipped[0], bool)


def every(data, step: int):
    """Every `step`-th image of both splits: for a test of what a run keeps and changes, not of how well it learns."""
    return replace(data, train_images=data.train_images[::step], train_labels=data.train_labels[::step],
                   test_images=data.test_images[::step], test_labels=data.test_labels[::step])


@pytest.fixture(scope="module")
def mnist_digitnet(tmp_path_factory, sample):
    """A digitnet trained one epoch on a quarter of the MNIST sample, saved as a folder: a model to start from."""
    cfg = TrainConfig(arch="digitnet", data="sample", epochs=1, batch_size=64, lr=3e-3, augment=False)
    result = records_and_result(train(cfg, data=every(sample, 4)))[1]
    return save_model(result.model, tmp_path_factory.mktemp("init") / "digitnet"), result.model


@pytest.mark.parametrize("freeze", ["backbone", "none"])
def test_a_model_starts_from_another_with_a_new_head_for_new_classes(mnist_digitnet, freeze):
    folder, source = mnist_digitnet
    chinese = every(load_sample("chinese-mnist"), 4)  # 375 images of 64 px: what the new head and freeze do
    cfg = TrainConfig(arch="lenet", dataset="chinese-mnist", data="sample", epochs=1, batch_size=128, lr=3e-3,
                      init=str(folder), freeze=freeze)
    _, result = records_and_result(train(cfg, data=chinese))
    model = result.model
    assert model.arch == "digitnet" and result.config.arch == "digitnet"  # the starting model's architecture
    assert model.backbone[-1].out_features == 15 and model.spec.name == "chinese-mnist"
    first_conv = model.backbone[0].weight
    if freeze == "backbone":  # only the head learned: the backbone is the MNIST model's, to the bit
        assert torch.equal(first_conv, source.backbone[0].weight)
    else:
        assert not torch.equal(first_conv, source.backbone[0].weight)


def test_starting_from_a_model_that_cannot_take_the_data_is_explained(mnist_digitnet, tmp_path, sample):
    lenet = records_and_result(train(FAST, data=sample))[1].model
    folder = save_model(lenet, tmp_path / "lenet")
    cfg = TrainConfig(dataset="cifar10", data="sample", epochs=1, init=str(folder))
    with pytest.raises(ValueError, match="cannot start from this lenet model"):
        list(train(cfg, data=load_sample("cifar10")))


def test_compile_falls_back_with_one_note_where_it_cannot_run(sample, monkeypatch):
    def broken_compile(model, **kwargs):
        raise RuntimeError("no C++ compiler found\nsecond line of a long message")

    monkeypatch.setattr(torch, "compile", broken_compile)
    items = list(train(replace(FAST, epochs=1, compile=True), data=sample))
    notes = [i.text for i in items if isinstance(i, Note)]
    assert len(notes) == 1 and notes[0].startswith("torch.compile could not run here (RuntimeError: no C++ "
                                                   "compiler found second line")
    assert items[-1].records[-1].test_acc > 50 and [n.text for n in items[-1].notes] == notes


def test_presets_apply_overrides():
    cfg = preset("accurate", epochs=2, lr=None)
    assert cfg.arch == "digitnet" and cfg.epochs == 2 and cfg.lr == TrainConfig().lr
    with pytest.raises(ValueError, match="choose from"):
        preset("turbo")


def test_a_runs_standalone_script_needs_only_torch_and_repeats_the_run(tmp_path):
    """The Train tab's "standalone PyTorch script" of a 1-epoch fast run on the shipped sample: it imports no
    digitlab (nor gradio, nor huggingface_hub), reaches the run's test accuracy within a point, and the folder
    it saves reads examples/digit_7.png as 7 through `digitlab predict`."""
    import ast
    import contextlib
    import io
    import json
    import subprocess
    import sys
    from pathlib import Path

    from digitlab.cli import main
    from digitlab.training import standalone
    from digitlab.training.config import preset, train_argv

    root = Path(__file__).resolve().parent.parent
    cfg = preset("fast", data="sample", epochs=1, decline=False)  # the script leaves learning to decline out
    run = subprocess.run([sys.executable, "-m", "digitlab", *train_argv(cfg), "--out", str(tmp_path / "cli"), "--json"],
                         capture_output=True, text=True, timeout=300, cwd=root)
    assert run.returncode == 0, run.stderr[-2000:]
    cli_acc = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")][-1]["test_acc"]

    code = standalone.script(cfg)
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(code))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - set(sys.stdlib_module_names) <= {"torch", "torchvision", "safetensors", "numpy"}, imported
    (tmp_path / "train.py").write_text(code)
    blocked = "import sys; [sys.modules.__setitem__(m, None) for m in ('digitlab', 'gradio', 'huggingface_hub')]"
    runner = f"{blocked}; import runpy; runpy.run_path('train.py', run_name='__main__')"
    data = root / "digitlab" / "data" / "sample" / "mnist_sample.npz"
    alone = subprocess.run([sys.executable, "-c", runner, "--data", str(data), "--out", "script-model"],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr[-2000:]
    script_acc = float(alone.stdout.split("test accuracy ")[-1].split("%")[0])
    assert abs(script_acc - cli_acc) <= 1.0, (script_acc, cli_acc)

    read = io.StringIO()  # `digitlab predict` in-process, as tests/test_cli.py runs it: a third python costs ~8 s
    with contextlib.redirect_stdout(read):
        code = main(["predict", str(root / "examples" / "digit_7.png"), "--weights", str(tmp_path / "script-model"),
                     "--json"])
    assert code == 0, read.getvalue()[-2000:]
    assert json.loads(read.getvalue().splitlines()[-1])["label"] == "7"

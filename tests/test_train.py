"""The training generator streams per-epoch records, stops on its flag and learns."""

import threading
from dataclasses import replace

import pytest
import torch

from digitlab.config import TrainConfig, preset
from digitlab.data import load_sample
from digitlab.train import EpochRecord, TrainResult, augment, train

FAST = TrainConfig(arch="lenet", data="sample", epochs=2, batch_size=64, lr=5e-3, augment=False)


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def test_generator_yields_one_record_per_epoch_then_a_model(sample):
    items = list(train(FAST, data=sample))
    records, result = items[:-1], items[-1]
    assert [r.epoch for r in records] == [1, 2]
    assert all(isinstance(r, EpochRecord) and r.data == "sample" for r in records)
    assert isinstance(result, TrainResult) and not result.stopped
    assert records[-1].test_acc > 80  # lenet learns the sample in two epochs
    assert records[-1].train_loss < records[0].train_loss
    assert all(r.seconds > 0 and r.samples_per_s > 0 and r.lr >= 0 for r in records)


def test_stop_flag_ends_training_between_batches(sample):
    stop, steps_seen = threading.Event(), []

    def on_batch(step, steps):
        steps_seen.append(step)
        if step == 3:
            stop.set()

    items = list(train(replace(FAST, epochs=5), data=sample, stop=stop, on_batch=on_batch))
    assert steps_seen == [1, 2, 3]
    assert items == [items[-1]] and items[-1].stopped  # no record for a partial epoch


def test_same_seed_gives_same_model(sample):
    cfg = replace(FAST, epochs=1, augment=True)
    a, b = (list(train(cfg, data=sample))[-1].model for _ in range(2))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


@pytest.mark.parametrize("field,value,message", [
    ("epochs", 0, "epochs"), ("lr", -1.0, "learning rate"), ("batch_size", 0, "batch size"),
    ("optimizer", "adagrad", "optimizer"),
])
def test_invalid_settings_are_refused_plainly(field, value, message):
    with pytest.raises(ValueError, match=message):
        next(train(replace(FAST, **{field: value}), data=None))


def test_sgd_trains_too(sample):
    cfg = replace(FAST, optimizer="sgd", lr=0.1)
    assert list(train(cfg, data=sample))[-2].test_acc > 70


def test_augmentation_keeps_shape_and_ink(sample):
    x = sample.train_images[:16].unsqueeze(1).float() / 255
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert (y.sum((1, 2, 3)) > 0.3 * x.sum((1, 2, 3))).all()  # the digit stays in frame


def test_presets_apply_overrides():
    cfg = preset("accurate", epochs=2, lr=None)
    assert cfg.arch == "digitnet" and cfg.epochs == 2 and cfg.lr == TrainConfig().lr
    with pytest.raises(ValueError, match="choose from"):
        preset("turbo")

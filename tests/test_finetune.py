"""The fine-tuning set: a replay of the model's data, the corrections repeated, a fixed judging sample."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from digitlab.data.registry import load_sample
from digitlab.training.finetune import JUDGE, REPLAY, SHARE, save_corrections, with_corrections


def test_corrections_are_mixed_with_a_replay_and_judged_on_a_seeded_test_sample(tmp_path):
    data = load_sample("mnist")
    big = torch.cat([data.test_images] * 3), torch.cat([data.test_labels] * 3)  # 3,000 test images
    data.test_images, data.test_labels = big
    views = [np.full((1, 28, 28), 200, np.uint8)] * 3
    path = save_corrections(tmp_path / "set.npz", views, [4, 4, 4])
    tuned = with_corrections(data, path, seed=0)
    replay = min(REPLAY, len(data.train_labels))
    corrections = len(tuned.train_labels) - replay
    assert corrections % 3 == 0 and abs(corrections / len(tuned.train_labels) - SHARE) < 0.01
    assert (tuned.train_images[replay:] == 200).all() and (tuned.train_labels[replay:] == 4).all()
    assert len(tuned.test_labels) == JUDGE < len(data.test_labels)
    again = with_corrections(data, path, seed=0)
    assert torch.equal(again.test_images, tuned.test_images)  # the same sample: before and after compare
    assert any("judged on 2,000 of the 3,000 test images" in note for note in tuned.notes)


def test_a_fine_tune_keeps_the_models_calibration_and_its_decision(tmp_path):
    """A fine-tune holds nothing out, so it cannot refit them: it keeps the temperature its decision is a
    probability at (it once came back at temperature 1, declining at the old model's threshold)."""
    from digitlab.hub import save_model
    from digitlab.models import Classifier
    from digitlab.spec import MNIST
    from digitlab.training.finetune import finetune_config
    from digitlab.training.loop import TrainResult, train

    source = Classifier("lenet", MNIST.to_dict(), decline=0.4)
    source.temperature = 0.5
    save_model(source, tmp_path / "source")
    path = save_corrections(tmp_path / "set.npz", [np.full((1, 28, 28), 200, np.uint8)], [4])
    cfg = finetune_config(str(tmp_path / "source"), "mnist", "sample", "lenet")
    data = with_corrections(load_sample("mnist"), path)
    result = next(i for i in train(replace(cfg, epochs=1), data=data) if isinstance(i, TrainResult))
    assert result.model.temperature == 0.5 and result.model.decline == 0.4

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
    assert any("judged on 2,000 of the 3,000 test images" in str(note) for note in tuned.notes)


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


def test_a_correction_that_is_none_of_the_classes_joins_the_negatives_not_the_classes(tmp_path):
    from digitlab.data.negatives import OWN_SHARE, stored
    from digitlab.training.finetune import NOT_ONE

    data = load_sample("mnist")
    views = [np.full((1, 28, 28), 200, np.uint8), np.full((1, 28, 28), 90, np.uint8), np.full((1, 28, 28), 7, np.uint8)]
    tuned = with_corrections(data, save_corrections(tmp_path / "set.npz", views, [4, NOT_ONE, NOT_ONE]), seed=0)
    assert (tuned.train_labels >= 0).all() and not (tuned.train_images == 90).all((1, 2, 3)).any()
    assert (tuned.train_images == 200).all((1, 2, 3)).sum() > 0  # the 4 is taught as a 4
    shipped = len(stored())
    assert torch.equal(tuned.negatives[:shipped], stored())  # the shipped ones stay, the visitor's join them
    mine = tuned.negatives[shipped:]
    assert {int(v[0, 0, 0]) for v in mine} == {90, 7} and (mine[:, :, 0, 0] == 90).sum() == len(mine) // 2
    assert abs(len(mine) / len(tuned.negatives) - OWN_SHARE) < 0.01
    assert any("learning to decline 2 correction(s)" in str(note) for note in tuned.notes)
    only_classes = with_corrections(data, save_corrections(tmp_path / "four.npz", views[:1], [4]), seed=0)
    assert only_classes.negatives is None  # a run then declines from the shipped ones, as before


def test_a_none_correction_is_answered_right_only_when_the_model_declines_it():
    from digitlab.models import Classifier
    from digitlab.spec import MNIST
    from digitlab.training.finetune import NOT_ONE, answered_as_corrected

    model = Classifier("lenet", MNIST.to_dict(), decline=0.5)
    images = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    with torch.no_grad():  # a model whose every answer is an even 0.1 over the classes: it declines everything
        for p in model.parameters():
            p.zero_()
    assert answered_as_corrected(model, images, torch.tensor([NOT_ONE, NOT_ONE])) == 100.0
    assert answered_as_corrected(model, images, torch.tensor([NOT_ONE, 0])) == 100.0  # argmax of a tie: 0
    model.decline = None  # a model that answers everything never declines what it was shown
    assert answered_as_corrected(model, images, torch.tensor([NOT_ONE, 3])) == 0.0


def test_where_no_negatives_ship_the_none_corrections_are_the_only_ones_and_the_log_says_so(tmp_path):
    from digitlab.training.finetune import NOT_ONE

    data = load_sample("fashion-mnist")  # photos: nothing of the kind ships for them
    views = [np.full((1, 28, 28), 60, np.uint8)] * 2
    tuned = with_corrections(data, save_corrections(tmp_path / "set.npz", views, [NOT_ONE, NOT_ONE]), seed=0)
    assert len(tuned.negatives) == 2 and (tuned.negatives == 60).all()
    assert any("nothing of the kind ships for this model's view: only these" in str(note) for note in tuned.notes)


def test_corrections_that_are_all_none_of_the_classes_tune_on_the_replay_and_join_the_shipped_negatives(tmp_path):
    """A visitor whose every correction is "not a digit": the set is the replay alone and the corrections join the
    negatives that ship for MNIST (test_insight's one fine-tune holds both kinds; this is the other case)."""
    from digitlab.data.negatives import stored
    from digitlab.training.finetune import NOT_ONE

    data = load_sample("mnist")
    views = [np.full((1, 28, 28), 90, np.uint8)] * 3
    tuned = with_corrections(data, save_corrections(tmp_path / "set.npz", views, [NOT_ONE] * 3), seed=0)
    assert len(tuned.train_labels) == min(REPLAY, len(data.train_labels)) and (tuned.train_labels >= 0).all()
    mine = tuned.negatives[len(stored()):]
    assert torch.equal(tuned.negatives[:len(stored())], stored()) and len(mine) and (mine == 90).all()
    assert any(str(note).startswith("fine-tuning on a replay of") for note in tuned.notes)
    assert any("learning to decline 3 correction(s)" in str(note) for note in tuned.notes)

"""Teaching a model its mistakes: a short fine-tune on a visitor's corrections, with replay of its data.

Corrections are the views the model read (as it read them) with the label it should have given.
Fine-tuning on them alone would teach the new style and forget the old one; mixed with a replay
of the model's own training data it learns one without losing the other. The result is judged on
the corrections and on a fixed sample of the test split, before and after: a fine-tune is meant to
take seconds, and the full test split (the Evaluate tab's) costs more than the training does.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from digitlab.data.dataset import Dataset
from digitlab.data.negatives import with_own
from digitlab.models import Classifier
from digitlab.note import note
from digitlab.training.config import TrainConfig
from digitlab.training.evaluate import evaluate

# Measured on hollow digits (scripts/personal_style.py): the share is what teaches the style, the replay
# what keeps the old one (1,500 images cost MNIST 0.24 points, 2,000 0.15, 3,000 at a share of 0.25 0.10).
# More steps teach more: 4 epochs of a 3,000 replay read 89.2 % of unseen hollow digits (mean of 3 seeds, 3 epochs
# of 2,000: 86.3 %) at the same MNIST cost, but took 33 s through the app instead of 22 s: over the 30 s goal.
NOT_ONE = -1  # a correction's label for what is none of the model's classes: it should have declined
REPLAY = 2000  # images of the model's own training data mixed in
SHARE = 0.4  # of the fine-tuning set: the corrections (repeated) make up this much
JUDGE = 2000  # test images a fine-tune is judged on, each epoch and before -> after (a seeded sample)
# The settings of a fine-tune: a few epochs at a low rate, augmented (each correction seen many ways).
FINETUNE = dict(epochs=3, lr=1e-3, optimizer="adamw", batch_size=64, augment=True, label_smoothing=0.1,
                calibration=0.0, weight_decay=5e-4)


def save_corrections(path: Path, views: list[np.ndarray], labels: list[int]) -> Path:
    """The corrections as one .npz (views (N, C, S, S) uint8, labels (N,)), for the worker to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=np.stack(views).astype(np.uint8), labels=np.asarray(labels, np.int64))
    return path


def load_corrections(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with np.load(path) as z:
        return torch.from_numpy(z["images"].copy()), torch.from_numpy(z["labels"].copy())


def with_corrections(data: Dataset, path: Path, seed: int = 0) -> Dataset:
    """The fine-tuning set: a replay of `data`'s training images plus the corrections repeated to SHARE of it.
    Corrections that are none of the classes (NOT_ONE) join the negatives the run learns to decline from,
    repeated to negatives.OWN_SHARE of them (a run that does not learn to decline leaves them out)."""
    images, labels = load_corrections(path)
    spec = data.spec
    if images.shape[1:] != (spec.channels, spec.size, spec.size):
        raise ValueError(f"the corrections are {tuple(images.shape[1:])} views; this model reads "
                         f"{(spec.channels, spec.size, spec.size)}")
    none = labels == NOT_ONE
    images, labels, others = images[~none], labels[~none], images[none]
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(data.train_labels), generator=gen)[:REPLAY]
    replay_x, replay_y = data.train_images[pick], data.train_labels[pick]
    times = max(1, round(SHARE / (1 - SHARE) * len(pick) / max(len(labels), 1)))
    train_x = torch.cat([replay_x, images.repeat(times, 1, 1, 1)])
    train_y = torch.cat([replay_y, labels.repeat(times)])
    judged = torch.randperm(len(data.test_labels), generator=gen)[:JUDGE]
    replay = note("finetune.replay", "a replay of {replay:,} of the model's own training images; judged on {judged:,} "
                  "of the {test:,} test images (the Evaluate tab uses all)", replay=len(pick), judged=len(judged),
                  test=len(data.test_labels))
    tuning = note("finetune.taught", "fine-tuning on {n} correction(s) (each seen {times:,}x) and {replay}",
                  n=len(labels), times=times, replay=replay) if len(labels) else \
        note("finetune.replay_only", "fine-tuning on {replay}", replay=replay)
    notes = [*data.notes, tuning]
    negatives = None
    if len(others):
        negatives, where = with_own(spec, others)
        notes.append(note("finetune.decline", "learning to decline {n} correction(s) that are none of the classes "
                          "({where})", n=len(others), where=where))
    return replace(data, train_images=train_x, train_labels=train_y, test_images=data.test_images[judged],
                   test_labels=data.test_labels[judged], notes=notes, negatives=negatives)


def finetune_config(init: str, dataset: str, source: str, arch: str, seed: int = 0,
                    decline: bool = True) -> TrainConfig:
    """A fine-tune of the model saved at `init` (its `arch`, so that the log names it). `decline`: whether that model
    declines; a fine-tune keeps it doing so, and teaches a model that answers everything (whose classes may be
    letters or shapes) nothing of the kind."""
    return TrainConfig(init=init, dataset=dataset, data=source, arch=arch, seed=seed, decline=decline,
                       **FINETUNE).validate()


def before_after(before: Classifier, after: Classifier, data: Dataset, corrections: Path,
                 after_test: float | None = None) -> dict:
    """Accuracy (percent) on the corrections and on `data`'s test split, of the model before and after;
    `after_test`: the after model's, when the training has just measured it (one evaluation less)."""
    images, labels = load_corrections(corrections)
    out = {"test_images": len(data.test_labels)}
    for name, model in (("before", before), ("after", after)):
        out[f"corrections_{name}"] = round(answered_as_corrected(model, images, labels), 2)
        if name == "after" and after_test is not None:
            out["test_after"] = round(after_test, 3)
        else:
            out[f"test_{name}"] = round(evaluate(model, data.test_images, data.test_labels).accuracy, 3)
    return out


def answered_as_corrected(model: Classifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Percent of the corrections the model answers as they say: with their class (declined or not, as the
    accuracy everywhere), or, for one that is none of its classes, by declining."""
    probabilities = evaluate(model, images, labels).probabilities
    top = probabilities.max(1).values
    declined = top < model.decline if model.decline is not None else torch.zeros_like(top, dtype=torch.bool)
    right = torch.where(labels == NOT_ONE, declined, probabilities.argmax(1) == labels)
    return 100.0 * right.float().mean().item() if len(labels) else 0.0

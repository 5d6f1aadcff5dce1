"""A training run is defined once, in TrainConfig: the command line is made from its fields, the argv that
repeats a run reads back as the same run, and the learning rate never rises again after its peak."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from digitlab import cli
from digitlab.training.config import PRESETS, TrainConfig, preset, settings, train_argv
from digitlab.training.loop import one_cycle

NOT_SETTINGS = {"help", "preset", "out", "json", "dry_run", "trace_shards"}


def train_parser():
    parser = cli.build_parser()
    return next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(" train"))


def test_the_cli_has_exactly_one_option_per_setting():
    dests = {action.dest for action in train_parser()._actions} - NOT_SETTINGS
    assert dests == {f.name for f in settings()}


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("change", [{}, dict(epochs=7, lr=0.02, augment=False), dict(betas=(0.8, 0.95), view="photo",
                                                                                 dataset="folder", data="x.zip"),
                                    dict(compile=True, cycle_momentum=False, init="weights/mnist", freeze="backbone")])
def test_the_argv_that_repeats_a_run_reads_back_as_the_same_run(name, change):
    cfg = replace(preset(name), **change)
    argv = train_argv(cfg)
    assert cli.config_from(cli.build_parser().parse_args(argv)) == cfg, argv


def test_a_config_travels_as_a_dict_and_comes_back_whole():
    cfg = preset("fast", betas=(0.5, 0.6), dataset="fashion-mnist")
    import json

    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("setting,value,words", [
    ("epochs", 0, "epochs must be from 1"), ("arch", "resnet", "choose from"),
    ("optimizer", "lion", "unknown optimizer"),
    ("lr", 0, "learning rate must be"), ("freeze", "backbone", "needs a model to start from")])
def test_settings_out_of_bounds_are_refused_by_name(setting, value, words):
    with pytest.raises(ValueError, match=words):
        replace(TrainConfig(), **{setting: value}).validate()


@pytest.mark.parametrize("steps", range(1, 51))
def test_the_learning_rate_never_rises_again_after_its_peak(steps):
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([weight], lr=0.01)
    schedule = one_cycle(optimizer, steps, cycle_momentum=True)
    rates = []
    for _ in range(steps):  # as training does: a step, then the rate a record reports
        optimizer.step()
        schedule.step()
        rates.append(schedule.get_last_lr()[0])
    after = rates[rates.index(max(rates)):]
    assert all(b <= a for a, b in zip(after, after[1:], strict=False)), after

"""Training under torchrun: two processes (gloo, CPU) share every batch, rank 0 alone reports and saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from digitlab.data.registry import load_sample
from digitlab.inference.predictor import Predictor


def test_two_processes_train_on_disjoint_shards_and_rank_0_alone_writes(tmp_path):
    trace = tmp_path / "shards"
    trace.mkdir()
    out = tmp_path / "model"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "digitlab",
         "train", "--preset", "accurate", "--arch", "lenet", "--epochs", "2", "--batch-size", "64",
         "--data-dir", "sample", "--no-augment", "--out", str(out), "--json", "--trace-shards", str(trace)],
        env=env, capture_output=True, text=True, timeout=240, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["epoch"] for r in records] == [1, 2]  # one process reported, not two
    assert done.stderr.count("saved to") == 1 and "on 2 processes" in done.stderr
    shards = {rank: [json.loads(line) for line in (trace / f"rank-{rank}.jsonl").read_text().splitlines()]
              for rank in (0, 1)}
    train_images = len(load_sample().train_labels)
    for epoch in (0, 1):
        a, b = set(shards[0][epoch]["indices"]), set(shards[1][epoch]["indices"])
        assert not a & b, "the processes trained on the same images"
        assert len(a) + len(b) == len(a | b) >= 0.94 * train_images  # the epoch, less the calibration hold-out
        assert abs(len(a) - len(b)) <= 64  # each half of every batch
    assert shards[0][0]["indices"] != shards[0][1]["indices"]  # a new permutation each epoch
    predictor = Predictor.from_pretrained(out)
    views = list(load_sample().test_images.numpy()[:200])
    accuracy = (predictor.probabilities(views).argmax(1) == load_sample().test_labels[:200]).float().mean()
    assert accuracy > 0.8

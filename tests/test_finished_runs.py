"""A finished run becomes a model off the event loop: loading it, zipping it and building its Predictor
(an onnxruntime copy) take 0.1-0.2 s that every other visitor's page would otherwise wait on."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from digitlab.training.protocol import Done
from digitlab.ui import runs


class FinishedTicket:
    job = SimpleNamespace(config={"epochs": 1})

    async def watch(self):
        yield Done(out="run-1", stopped=False, arch="lenet", data="sample", config={})


def test_a_finished_run_is_kept_on_a_thread_not_on_the_event_loop(monkeypatch):
    threads = {}

    def keep(visitor, number, folder, records, done, kind):
        threads["keep"] = threading.current_thread()
        return "the run"

    monkeypatch.setattr(runs, "keep", keep)
    monkeypatch.setattr(runs, "finish", lambda state, visitor, done, epochs: None)

    async def follow():
        threads["loop"] = threading.current_thread()
        return [state async for state in runs.follow(SimpleNamespace(lang="en"), FinishedTicket(), 1)]

    states = asyncio.run(follow())
    assert states[-1].run == "the run" and states[-1].ended
    assert threads["keep"] is not threads["loop"]

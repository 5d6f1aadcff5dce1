"""Following a run (ui.runs.follow): its log speaks the visitor's language, and its end becomes a model off
the event loop (loading, zipping and building its Predictor's onnxruntime copy take 0.1-0.2 s that every
other visitor's page would otherwise wait on); meanwhile its session is not ended as idle or surplus, and a
tab that closes meanwhile ends it quietly."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from digitlab.policy import Policy
from digitlab.serve.sessions import Sessions
from digitlab.training.protocol import Done, Failed, Started
from digitlab.ui import runs


class FinishedTicket:
    job = SimpleNamespace(config={"epochs": 1})

    async def watch(self):
        yield Done(out="run-1", stopped=False, arch="lenet", data="sample", config={})


def follow(visitor) -> list:
    async def states():
        return [state async for state in runs.follow(visitor, FinishedTicket(), 1)]
    return asyncio.run(states())


def test_a_finished_run_is_kept_on_a_thread_not_on_the_event_loop(monkeypatch):
    threads = {}

    def keep(visitor, number, folder, records, done, kind):
        threads["keep"] = threading.current_thread()
        assert visitor.keeping, "the session is marked while its run is kept"
        return "the run"

    async def on_loop():
        threads["loop"] = threading.current_thread()
        return [state async for state in runs.follow(visitor, FinishedTicket(), 1)]

    monkeypatch.setattr(runs, "keep", keep)
    monkeypatch.setattr(runs, "finish", lambda state, visitor, done, epochs: None)
    visitor = SimpleNamespace(lang="en", closed=False, keeping=False)
    states = asyncio.run(on_loop())
    assert states[-1].run == "the run" and states[-1].ended
    assert threads["keep"] is not threads["loop"]
    assert not visitor.keeping


@pytest.mark.parametrize("then", ["fails", "returns"])
def test_a_tab_that_closes_while_its_run_is_kept_ends_quietly(monkeypatch, then):
    """Its files went with it (loading them fails), or the run was made just before: either way nothing is
    shown and nothing is raised, since no one is there."""
    def keep(visitor, number, folder, records, done, kind):
        visitor.closed = True  # Sessions.end, from the page's unload, on another thread
        if then == "fails":
            raise FileNotFoundError(folder)
        return "the run"

    finished = []
    monkeypatch.setattr(runs, "keep", keep)
    monkeypatch.setattr(runs, "finish", lambda *args: finished.append(args))
    visitor = SimpleNamespace(lang="en", closed=False, keeping=False)
    assert follow(visitor) == [] and finished == [] and not visitor.keeping


def test_an_error_while_keeping_a_run_of_an_open_session_still_reaches_it(monkeypatch):
    def keep(visitor, number, folder, records, done, kind):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(runs, "keep", keep)
    with pytest.raises(RuntimeError, match="disk is full"):
        follow(SimpleNamespace(lang="en", closed=False, keeping=False))


def test_a_session_whose_run_is_being_kept_is_not_ended_to_make_room_and_an_ended_one_keeps_nothing(tmp_path):
    sessions = Sessions(Policy(public=True, max_sessions=1), default=object(), root=tmp_path)
    keeping = sessions.visitor("keeping")
    keeping.keeping = True
    for n in range(5):  # strangers arrive while its run is made into a model
        sessions.visitor(f"stranger-{n}")
    assert "keeping" in sessions._visitors and not keeping.closed
    keeping.keeping = False
    sessions.visitor("one-more")
    assert keeping.closed, "once kept, it is a session like any other"
    assert keeping.add_run(SimpleNamespace(number=1)) is None and keeping.runs == []


class StartedTicket:
    job = SimpleNamespace(config={"epochs": 3, "arch": "speednet"})

    async def watch(self):
        yield Started("mnist sample", 2000, 1000, {"labels": [str(d) for d in range(10)]}, [])


@pytest.mark.parametrize("lang, expected", [
    ("en", "training speednet on mnist sample (2,000 train / 1,000 test) for 3 epoch(s)"),
    ("zh-CN", "在 mnist sample（训练图 2,000 张，测试图 1,000 张）上训练 speednet，共 3 轮"),
])
def test_the_runs_first_log_line_counts_its_images_in_the_visitors_language(lang, expected):
    async def states():
        return [state async for state in runs.follow(SimpleNamespace(lang=lang), StartedTicket(), 1)]
    assert asyncio.run(states())[-1].log == [expected]


class FailedTicket:
    job = SimpleNamespace(config={"epochs": 3, "arch": "speednet"})

    async def watch(self):
        yield Failed("/tmp/x.zip has only the class '**big** <b>x</b>': give at least 2 subfolders of images, one "
                     "per class.", "data.one_class", {"path": "/tmp/x.zip", "name": "**big** <b>x</b>"})


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_failed_runs_reason_names_a_visitors_folder_as_text_not_markdown(lang):
    """A class folder's name comes from the visitor's zip: the status (Markdown) shows it as written."""
    async def states():
        return [state async for state in runs.follow(SimpleNamespace(lang=lang, folder=Path("/srv/s1")),
                                                     FailedTicket(), 1)]
    status = asyncio.run(states())[-1].status
    assert r"\*\*big\*\* &lt;b&gt;x&lt;/b&gt;" in status and "<b>" not in status

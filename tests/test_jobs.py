"""The job service: everyone who presses Train gets a place and sees it, one place per visitor, the line
keeps moving (a public run's cap shrinks when many wait), and a run that fails at any step gives its place
back. Worker processes are stand-ins here that say what a real worker says."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from digitlab.training import jobs
from digitlab.training.jobs import AlreadyTraining, Begun, Capped, Jobs, Left, LineFull, Queued
from digitlab.training.protocol import Done, Failed, Job, Record, Started


class Process:
    """A worker that emits `script` (events, or the string "die"/"raise"/"silent"), a little apart."""

    def __init__(self, script=(), gap: float = 0.01):
        self.script, self.gap = list(script), gap
        self.stopped = self.killed = False
        self.jobs: list[Job] = []
        self.proc = self  # poll() is asked of .proc, as of a Popen

    def poll(self):
        return 0 if self.killed else None

    def run(self, job: Job) -> None:
        self.jobs.append(job)

    def events(self):
        for item in self.script:
            time.sleep(self.gap)
            if self.killed:
                return
            if item == "die":
                yield Failed("The training process ended unexpectedly; try fewer epochs or a smaller batch.")
                return
            if item == "raise":
                raise RuntimeError("a bug in the plumbing")
            if item == "silent":
                while not self.killed:
                    yield None
                return
            yield item

    def stop(self) -> None:
        self.stopped = True

    def kill(self) -> None:
        self.killed = True


FINE = [Started("mnist sample", 10, 5, {"labels": ["0", "1"]}, []), Record({"epoch": 1}),
        Done("/out", False, "lenet", "mnist sample", {})]


def job() -> Job:
    return Job({"epochs": 1, "arch": "lenet"}, "/out")


def events_of(ticket, timeout: float = 10) -> list:
    async def collect():
        return [event async for event in ticket.watch()]

    return asyncio.run(asyncio.wait_for(collect(), timeout))


@pytest.mark.parametrize("failure", ["spawn", "worker says so", "worker dies", "plumbing raises"])
def test_a_run_that_fails_at_any_step_gives_its_place_back(failure):
    made: list[Process] = []

    def spawn():
        if failure == "spawn" and not made:
            made.append(None)
            raise OSError("no more processes")
        script = {"worker says so": [Failed("Your upload has no readable train images.")], "worker dies": ["die"],
                  "plumbing raises": ["raise"]}.get(failure, FINE)
        made.append(Process(script if len(made) < 1 else FINE))
        return made[-1]

    service = Jobs(spawn)
    first = service.submit("me", job())
    assert isinstance(events_of(first)[-1], Failed)
    assert not service.has("me")  # free again: a second press trains
    second = service.submit("me", job())
    assert isinstance(events_of(second)[-1], Done)
    service.close()


def test_everyone_who_presses_train_gets_a_place_and_sees_it_one_place_each():
    service = Jobs(lambda: Process(FINE, gap=0.02), max_line=64)
    tickets = [service.submit(f"visitor-{i}", job()) for i in range(12)]
    with pytest.raises(AlreadyTraining):
        service.submit("visitor-3", job())
    waits = [next(e for e in t.history if isinstance(e, Queued)) for t in tickets[1:]]
    assert [w.ahead for w in waits][:3] == [1, 2, 3] or all(w.ahead >= 1 for w in waits)
    ends = [events_of(t)[-1] for t in tickets]
    assert all(isinstance(e, Done) for e in ends)  # all twelve trained, none turned away
    assert not any(service.has(f"visitor-{i}") for i in range(12))
    service.close()


def test_busy_only_beyond_a_large_line():
    gate = threading.Event()

    class Blocked(Process):
        def events(self):
            gate.wait(5)
            yield from FINE

    service = Jobs(lambda: Blocked(), max_line=3)
    service.submit("running", job())
    time.sleep(0.1)
    for i in range(3):
        service.submit(f"waiting-{i}", job())
    with pytest.raises(LineFull, match="busy"):
        service.submit("one-too-many", job())
    gate.set()
    service.close()


def test_a_public_runs_cap_shrinks_when_the_line_is_long_so_the_line_keeps_moving():
    service = Jobs(lambda: Process(FINE), public_cap=240, line_seconds=600, min_cap=45)
    assert service.cap_for(0) == 240 and service.cap_for(1) == 240
    assert service.cap_for(11) == 50  # 12 in line: ten minutes shared
    assert service.cap_for(63) == 45  # never below the floor
    assert Jobs(lambda: Process(FINE)).cap_for(50) is None  # locally: no cap
    service.close()


def test_leaving_the_line_and_ending_a_session_release_the_place():
    gate = threading.Event()

    class Blocked(Process):
        def events(self):
            gate.wait(5)
            yield from FINE

    made = []
    service = Jobs(lambda: made.append(Blocked()) or made[-1])
    running = service.submit("a", job())
    time.sleep(0.1)
    waiting = service.submit("b", job())
    assert service.stop("b") == "left" and isinstance(events_of(waiting)[-1], Left)
    service.end("a")  # the tab closed: the run is killed
    assert made[0].killed
    gate.set()
    events_of(running)
    assert not service.has("a") and not service.has("b")
    service.close()


def test_a_run_that_will_not_stop_at_its_cap_is_ended_and_the_next_one_runs(monkeypatch):
    clock = iter(range(0, 10**6, 7))  # seconds pass 7 at a time: the cap and the grace go by in a few events
    monkeypatch.setattr(jobs, "clock", lambda: next(clock))
    made: list[Process] = []
    service = Jobs(lambda: made.append(Process(["silent"] if not made else FINE)) or made[-1], public_cap=25,
                   grace=60)
    stuck = service.submit("stuck", job())
    after = service.submit("next", job())
    events = events_of(stuck)
    capped = [e for e in events if isinstance(e, Capped)]
    assert capped[0].cap == 25 and not capped[0].ended and capped[-1].ended
    assert made[0].stopped and made[0].killed and isinstance(events[-1], Failed)
    assert isinstance(next(e for e in events if isinstance(e, Begun)), Begun)
    assert isinstance(events_of(after)[-1], Done)
    service.close()

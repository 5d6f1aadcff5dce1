"""Every visitor's training, served by one owner: a fair line, one worker process at a time, events out.

A visitor submits a Job and gets a Ticket: their one place in the line (a second submit while they hold
one is refused), released when the run ends, however it ends. A scheduler thread takes the line in order,
runs each job in a worker process (one started ahead of time while others wait, so the next run skips
torch's import), stops it at its time cap and kills it if it will not stop, and publishes what happens
as events: Queued (place and estimated wait), Begun, the worker's own (Started, Progress, Note, Record),
then exactly one of Done, Failed or Left. The Train and Teach tabs only present a ticket's events.

In public mode a run's cap shrinks when the line is long (LINE_SECONDS shared among those waiting, never
under MIN_CAP), so everyone who presses Train gets a turn within minutes; "busy" only beyond max_line.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from digitlab.training.protocol import Done, Failed, Job

log = logging.getLogger(__name__)

STOP_GRACE = 60.0  # seconds a run may take to stop after its cap (the last batch, evaluation, saving)
LINE_SECONDS = 600.0  # in public mode, the line's runs share this much time when it is long...
MIN_CAP = 45.0  # ...but no run gets less than this
FIRST_GUESS = 60.0  # seconds a run takes, before any has been timed
clock = time.monotonic  # the scheduler's clock (tests move it on)


class LineFull(Exception):
    """More visitors wait than the line holds; the message is for the visitor."""


class AlreadyTraining(Exception):
    """This visitor holds a place already (running or waiting)."""


@dataclass
class Queued:
    ahead: int  # runs before this one, the running one included
    wait: float  # estimated seconds until it starts


@dataclass
class Begun:
    cap: float | None  # seconds this run may take (public mode), None for no limit


@dataclass
class Capped:
    cap: float  # seconds the run was allowed
    shrunk: bool  # less than the public cap, as others were waiting
    ended: bool = False  # False: stopped at its cap; True: killed, as it did not stop within the grace


@dataclass
class Left:
    text: str  # the run ended before it began: the visitor left the line or the session ended


TERMINAL = (Done, Failed, Left)


@dataclass(eq=False)
class Ticket:
    """One visitor's place: the job, its state, and every event so far (a late watcher sees them all)."""

    owner: str
    job: Job
    kind: str = "train"  # or "finetune"
    state: str = "waiting"  # "running", then "ended"
    history: list = field(default_factory=list)
    submitted: float = field(default_factory=lambda: clock())
    started: float | None = None
    stop_requested: bool = False
    process: object = None
    _subscribers: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, event: object) -> None:
        with self._lock:
            if isinstance(event, Queued) and self.history and isinstance(self.history[-1], Queued):
                self.history[-1] = event  # a late watcher needs the current place only
            else:
                self.history.append(event)
            for loop, inbox in list(self._subscribers):
                try:
                    loop.call_soon_threadsafe(inbox.put_nowait, event)
                except RuntimeError:  # the watcher's loop is closed: it went away
                    self._subscribers.remove((loop, inbox))

    @property
    def ended(self) -> bool:
        return bool(self.history) and isinstance(self.history[-1], TERMINAL)

    async def watch(self) -> AsyncIterator[object]:
        """Every event of this ticket, past and to come, until its terminal one."""
        loop, inbox = asyncio.get_running_loop(), asyncio.Queue()
        with self._lock:
            past = list(self.history)
            self._subscribers.append((loop, inbox))
        try:
            for event in past:
                yield event
                if isinstance(event, TERMINAL):
                    return
            while True:
                event = await inbox.get()
                yield event
                if isinstance(event, TERMINAL):
                    return
        finally:
            with self._lock:
                if (loop, inbox) in self._subscribers:
                    self._subscribers.remove((loop, inbox))


class Jobs:
    """The app's one trainer: a line of tickets, one per owner (a session), served in order."""

    def __init__(self, spawn: Callable[[], object], max_line: int = 64, public_cap: float | None = None,
                 line_seconds: float = LINE_SECONDS, min_cap: float = MIN_CAP, grace: float = STOP_GRACE):
        self.spawn, self.max_line, self.public_cap = spawn, max_line, public_cap
        self.line_seconds, self.min_cap, self.grace = line_seconds, min_cap, grace
        self.line: list[Ticket] = []
        self.running: Ticket | None = None
        self.tickets: dict[str, Ticket] = {}  # owner -> their one ticket, until it ends
        self.expected = FIRST_GUESS
        self.spare = None
        self.closed = False
        self.lock = threading.Condition()
        threading.Thread(target=self._serve, name="digitlab-jobs", daemon=True).start()

    # -- what the presenters call ----------------------------------------------------------------
    def submit(self, owner: str, job: Job, kind: str = "train") -> Ticket:
        """Take a place in the line; AlreadyTraining or LineFull when there is none to take."""
        with self.lock:
            if owner in self.tickets:
                raise AlreadyTraining(owner)
            if len(self.line) >= self.max_line:
                raise LineFull(f"The lab is busy: {len(self.line)} runs are waiting. Try again in a few minutes.")
            ticket = Ticket(owner, job, kind)
            self.tickets[owner] = ticket
            self.line.append(ticket)
            self._tell_the_line()
            self.lock.notify_all()
        return ticket

    def ticket(self, owner: str) -> Ticket | None:
        with self.lock:
            return self.tickets.get(owner)

    def has(self, owner: str) -> bool:
        return self.ticket(owner) is not None

    def stop(self, owner: str) -> str:
        """Stop this owner's run after its current batch, or take them out of the line."""
        with self.lock:
            ticket = self.tickets.get(owner)
            if ticket is None:
                return "nothing"
            ticket.stop_requested = True
            if ticket in self.line:
                self._leave(ticket, "Left the line; nothing was trained.")
                return "left"
            process = ticket.process
        if process is not None:
            process.stop()
        return "stopping"

    def end(self, owner: str) -> None:
        """The owner's session is over: their run is killed, or their place given up."""
        with self.lock:
            ticket = self.tickets.get(owner)
            if ticket is None:
                return
            ticket.stop_requested = True
            if ticket in self.line:
                self._leave(ticket, "The session ended before the run began.")
                return
            process = ticket.process
        if process is not None:
            process.kill()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            owners = list(self.tickets)
            self.lock.notify_all()
        for owner in owners:
            self.end(owner)
        if self.spare is not None:
            self.spare.kill()

    def cap_for(self, waiting: int) -> float | None:
        """A public run's cap when `waiting` others wait behind it: LINE_SECONDS shared, at least MIN_CAP."""
        if self.public_cap is None:
            return None
        return max(min(self.public_cap, self.min_cap), min(self.public_cap, self.line_seconds / (1 + waiting)))

    # -- the scheduler -----------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            with self.lock:
                while not self.line and not self.closed:
                    self.lock.wait()
                if self.closed:
                    return
                ticket = self.line.pop(0)
                ticket.state, ticket.started, self.running = "running", clock(), ticket
                cap = self.cap_for(len(self.line))
                self._tell_the_line()
            try:
                self._run(ticket, cap)
            except Exception as err:  # a bug here must not stop the line: the run fails, the next one goes
                log.exception("training job of %s failed", ticket.owner)
                if not ticket.ended:
                    ticket.publish(Failed(f"Training failed ({type(err).__name__}); it is in the server's log."))
            finally:
                with self.lock:
                    self._finish(ticket)

    def _run(self, ticket: Ticket, cap: float | None) -> None:
        process = self._process(bool(self.line))
        with self.lock:
            ticket.process = process
            if ticket.stop_requested:  # stopped between leaving the line and getting a worker
                ticket.publish(Left("Stopped before it started; nothing was trained."))
                return
        ticket.publish(Begun(cap))
        process.run(ticket.job)
        capped = False
        for event in process.events():
            elapsed = clock() - ticket.started
            if cap is not None and elapsed > cap and not capped:
                capped = True
                process.stop()
                ticket.publish(Capped(cap, cap < (self.public_cap or cap)))
            if cap is not None and elapsed > cap + self.grace:
                process.kill()
                ticket.publish(Capped(cap, cap < (self.public_cap or cap), ended=True))
                ticket.publish(Failed("The run was ended at its time cap: it was still preparing or had not "
                                      "finished an epoch, so there is nothing to keep."))
                return
            if event is not None:
                ticket.publish(event)
                if isinstance(event, (Done, Failed)):
                    return
        if not ticket.ended:
            ticket.publish(Failed("The run ended without a result." if not ticket.stop_requested else
                                  "Stopped before anything was trained."))

    def _process(self, more_waiting: bool):
        """A worker for the next run: the spare started ahead of time, else a new one; and a new spare when
        others wait (it loads torch while this run trains)."""
        process, self.spare = self.spare, None
        if process is None or process.proc.poll() is not None:
            process = self.spawn()
        if more_waiting:
            self.spare = self.spawn()
        return process

    def _finish(self, ticket: Ticket) -> None:
        """Called with the lock held: the ticket's place is given back, whatever happened."""
        process, ticket.process = ticket.process, None
        if process is not None:
            process.kill()
        if ticket.started is not None:
            self.expected = 0.7 * self.expected + 0.3 * (clock() - ticket.started)
        ticket.state = "ended"
        if self.tickets.get(ticket.owner) is ticket:
            del self.tickets[ticket.owner]
        self.running = None
        if not self.line and self.spare is not None:
            self.spare.kill()
            self.spare = None
        self._tell_the_line()

    def _leave(self, ticket: Ticket, text: str) -> None:
        """Called with the lock held: a waiting ticket leaves the line."""
        self.line.remove(ticket)
        ticket.state = "ended"
        del self.tickets[ticket.owner]
        ticket.publish(Left(text))
        self._tell_the_line()

    def _tell_the_line(self) -> None:
        """Called with the lock held: each waiting ticket's place and estimated wait."""
        now = clock()
        first = 0.0
        if self.running is not None and self.running.started is not None:
            first = max(5.0, self.expected - (now - self.running.started))
        for place, ticket in enumerate(self.line):
            per_run = self.expected if self.public_cap is None else min(self.expected, self.cap_for(len(self.line)))
            ahead = place + (self.running is not None)
            ticket.publish(Queued(ahead, first + place * per_run))

"""What a visitor's request may cost, and fair service when many ask at once.

FairPool runs costly work (decoding an image, a model's forward pass, reading a number, an explanation)
off the event loop, on a few threads that take the visitors' lines in turn: one visitor's backlog delays
another's single request by at most the work already running, never by the backlog itself. Each line is
bounded, and a "latest" request (a sketch: only the newest drawing matters) replaces the one waiting.
RateLimit counts what a client may start per minute (new sessions, uploads); client_key says who the
client is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Refused(Exception):
    """Work not taken (a line full, a rate exceeded); the message is for the visitor."""


class Superseded(Exception):
    """A newer request of the same visitor replaced this one before it ran."""


@dataclass
class Work:
    fn: Callable[..., Any]
    args: tuple
    kind: str
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class FairPool:
    """`workers` threads serving per-visitor lines round robin; at most `per_visitor` waiting in a line and
    `max_waiting` in all (then Refused)."""

    def __init__(self, workers: int = 2, per_visitor: int = 4, max_waiting: int = 512):
        self.per_visitor, self.max_waiting = per_visitor, max_waiting
        self.lines: OrderedDict[str, deque[Work]] = OrderedDict()
        self.waiting = 0
        self.cond = threading.Condition()
        self.closed = False
        for i in range(workers):
            threading.Thread(target=self._serve, name=f"digitlab-fair-{i}", daemon=True).start()

    def submit(self, visitor: str, fn: Callable[..., Any], *args: Any, kind: str = "", latest: bool = False
               ) -> concurrent.futures.Future:
        """Queue `fn(*args)` in the visitor's line; with `latest`, a waiting request of the same kind is
        replaced (its future raises Superseded)."""
        work = Work(fn, args, kind)
        with self.cond:
            line = self.lines.setdefault(visitor, deque())
            if latest:
                for old in [w for w in line if w.kind == kind]:
                    line.remove(old)
                    self.waiting -= 1
                    old.future.set_exception(Superseded())
            if len(line) >= self.per_visitor:
                raise Refused(f"You have {len(line)} requests waiting already; wait for their answers first.")
            if self.waiting >= self.max_waiting:
                raise Refused("The lab is very busy right now; try again in a moment.")
            line.append(work)
            self.waiting += 1
            self.cond.notify()
        return work.future

    async def run(self, visitor: str, fn: Callable[..., Any], *args: Any, kind: str = "", latest: bool = False) -> Any:
        """submit(), awaited on the event loop without holding a thread."""
        return await asyncio.wrap_future(self.submit(visitor, fn, *args, kind=kind, latest=latest))

    def call(self, visitor: str, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """submit(), waited for on the calling thread (a synchronous handler)."""
        return self.submit(visitor, fn, *args).result(timeout)

    def _next(self) -> Work | None:
        """Called with the lock held: the first visitor's oldest work; that visitor goes to the back."""
        while self.lines:
            visitor, line = next(iter(self.lines.items()))
            if not line:
                del self.lines[visitor]
                continue
            work = line.popleft()
            self.waiting -= 1
            if line:
                self.lines.move_to_end(visitor)
            else:
                del self.lines[visitor]
            return work
        return None

    def _serve(self) -> None:
        while True:
            with self.cond:
                work = self._next()
                while work is None and not self.closed:
                    self.cond.wait()
                    work = self._next()
                if work is None:
                    return
            if not work.future.set_running_or_notify_cancel():
                continue
            try:
                work.future.set_result(work.fn(*work.args))
            except BaseException as err:  # the caller decides what it means
                work.future.set_exception(err)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class RateLimit:
    """At most `limit` events per key in any `window` seconds (a sliding window of timestamps)."""

    def __init__(self, limit: int, window: float = 60.0, keys: int = 10_000):
        self.limit, self.window, self.keys = limit, window, keys
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            times = self.seen.setdefault(key, deque())
            self.seen.move_to_end(key)
            while times and now - times[0] > self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            while len(self.seen) > self.keys:  # the memory of a flood of addresses is bounded too
                self.seen.popitem(last=False)
            return True


def client_key(headers: Any, host: str | None, behind_proxy: bool) -> str:
    """Who a request comes from: behind a proxy that appends the client's address to X-Forwarded-For (a
    Space), its last entry (the ones before it are the client's own to forge); else the peer's address."""
    if behind_proxy:
        forwarded = headers.get("x-forwarded-for") or ""
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return host or "unknown"

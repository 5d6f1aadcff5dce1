"""Costly work served fairly: each visitor's requests wait in their own line, the lines are served in turn,
each is bounded, and only the newest of a visitor's sketches waits."""

from __future__ import annotations

import threading
import time

import pytest

from digitlab.serve.budgets import FairPool, RateLimit, Refused, Superseded, client_key


def test_one_visitors_backlog_does_not_hold_up_anothers_single_request():
    pool = FairPool(workers=1, per_visitor=20)
    order: list[str] = []
    gate = threading.Event()

    def work(name: str) -> str:
        gate.wait(5)
        order.append(name)
        time.sleep(0.01)
        return name

    backlog = [pool.submit("a", work, f"a{i}") for i in range(12)]  # a stranger's twelve number reads
    single = pool.submit("b", work, "b0")  # a bystander's one prediction, asked after all of them
    gate.set()
    assert single.result(5) == "b0"
    assert order.index("b0") <= 1, order  # served after at most the one already running, not after twelve
    assert [f.result(5) for f in backlog] == [f"a{i}" for i in range(12)]  # and the backlog in its own order
    pool.close()


def test_a_visitors_line_is_bounded_and_only_the_newest_sketch_waits():
    pool = FairPool(workers=1, per_visitor=2)
    gate = threading.Event()
    running = pool.submit("x", gate.wait, 5)
    time.sleep(0.05)
    first = pool.submit("a", lambda: "old", kind="sketch", latest=True)
    second = pool.submit("a", lambda: "new", kind="sketch", latest=True)  # replaces the one still waiting
    with pytest.raises(Superseded):
        first.result(1)
    pool.submit("a", lambda: "other")
    with pytest.raises(Refused, match="requests waiting"):
        pool.submit("a", lambda: "too many")
    gate.set()
    assert running.result(5) and second.result(5) == "new"
    pool.close()


def test_a_rate_counts_per_key_in_a_sliding_window():
    rate = RateLimit(3, window=0.2)
    assert [rate.allow("a") for _ in range(4)] == [True, True, True, False]
    assert rate.allow("b")  # another client has its own count
    time.sleep(0.25)
    assert rate.allow("a")


def test_behind_a_proxy_the_client_is_the_address_it_appended_never_one_the_client_wrote():
    forged = {"x-forwarded-for": "1.2.3.4, 203.0.113.9"}
    assert client_key(forged, "10.0.0.1", behind_proxy=True) == "203.0.113.9"
    assert client_key(forged, "10.0.0.1", behind_proxy=False) == "10.0.0.1"
    assert client_key({}, None, behind_proxy=True) == "unknown"

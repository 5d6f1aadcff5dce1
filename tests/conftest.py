"""The running app, launched once per test module that asks for it."""

from __future__ import annotations

import contextlib
import os
import socket
import time

import pytest
from gradio_client import Client

from digitlab import hub

# Test tiers (pyproject's markers): `pytest -m unit` is the inner loop; CI runs everything.
APP_MODULES = {"test_app", "test_public", "test_strangers", "test_hardening", "test_insight", "test_replicas"}
BROWSER_MODULES = {"test_browser", "test_browser_lab"}


def pytest_collection_modifyitems(items) -> None:
    """Each test gets its tier from its module unless it names one: browser, app, else unit."""
    for item in items:
        if any(item.get_closest_marker(m) for m in ("unit", "app", "browser")):
            continue
        module = item.module.__name__.rsplit(".", 1)[-1]
        tier = "browser" if module in BROWSER_MODULES else "app" if module in APP_MODULES else "unit"
        item.add_marker(getattr(pytest.mark, tier))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def source() -> str:
    return os.environ.get("DIGITLAB_WEIGHTS") or str(hub.DEFAULT_WEIGHTS)


@contextlib.contextmanager
def launched(source: str | None = None, **kwargs):
    """The lab on a free port for the block's length (kwargs: app.launch's, e.g. a policy)."""
    import app

    demo = app.launch(source, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                      **kwargs)
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture(scope="module")
def url(source: str):
    with launched(source) as demo:
        yield demo.local_url.rstrip("/")


@pytest.fixture(scope="module")
def client(url: str) -> Client:
    return Client(url, verbose=False)


# The Train tab's inputs in order, as gradio_client sends them (the form's TrainConfig settings, then the zip of
# your images): a small lenet run on the MNIST sample.
TRAIN = dict(dataset="mnist", data="sample", view="glyph", arch="lenet", epochs=2, batch_size=64, lr=3e-3,
             optimizer="adamw", augment=False, decline=True, init="scratch", freeze="none", compile=False, seed=0,
             images_zip=None)


def train_args(**over) -> list:
    """/train's arguments: TRAIN with `over` applied."""
    return list({**TRAIN, **over}.values())


def log_of(job) -> str:
    """A running /train job's log so far."""
    outputs = job.outputs()
    return outputs[-1][0] if outputs else ""


def epochs_logged(job) -> int:
    """Epoch lines in a running /train job's log so far."""
    return sum(line.startswith("epoch ") for line in log_of(job).splitlines())


def status_of(job) -> str:
    outputs = job.outputs()
    return outputs[-1][3] if outputs else ""


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)

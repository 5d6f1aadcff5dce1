"""The running app, launched once per test module that asks for it."""

from __future__ import annotations

import os
import socket

import pytest
from gradio_client import Client

from digitlab import hub


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def source() -> str:
    return os.environ.get("DIGITLAB_WEIGHTS") or str(hub.DEFAULT_WEIGHTS)


@pytest.fixture(scope="module")
def url(source: str):
    import app

    demo = app.launch(source, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url.rstrip("/")
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(url: str) -> Client:
    return Client(url, verbose=False)

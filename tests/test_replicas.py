"""The JSON endpoint scales out: uvicorn runs it in several worker processes, each answering alike."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from digitlab.ui.upload import built_in_samples
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent

EXAMPLES = list(built_in_samples()["mnist"])  # the MNIST model's Upload samples


def test_two_uvicorn_workers_answer_the_json_endpoint_the_same_way():
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "digitlab.serve.api:create_app", "--factory",
                               "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.5)
        served_by, expected = set(), Path(EXAMPLES[0]).stem.split("_")[1]
        deadline = time.monotonic() + 90  # the second worker may still be loading torch on a slow machine
        while time.monotonic() < deadline:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict",
                                             data=Path(EXAMPLES[0]).read_bytes())
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    assert json.load(response)["label"] == expected
                    served_by.add(response.headers["X-Digitlab-Process"])
            except OSError:  # a worker still loading its model: the next request goes to the other
                time.sleep(0.5)
            if len(served_by) == 2:
                break
            time.sleep(0.1)
        assert len(served_by) == 2, f"one process served everything: {served_by}"
    finally:
        server.terminate()
        server.wait(30)

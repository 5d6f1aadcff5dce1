"""A public lab shared by a crowd of strangers, attacked as strangers would: gradio_client and raw HTTP, with
and without a session, against a Hub with private repos. Nothing one visitor has reaches another, and no
visitor's request costs the others more than its budget.
"""

from __future__ import annotations

import json

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app
from digitlab.policy import Policy
from tests import rawgradio
from tests.conftest import free_port
from tests.test_public import lenet_files

pytest_plugins = ["tests.hub_server"]


@pytest.fixture(scope="module")
def demo():
    demo = app.launch(None, policy=Policy(public=True), server_name="127.0.0.1", server_port=free_port(),
                      prevent_thread_lock=True, quiet=True)
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture(scope="module")
def url(demo) -> str:
    return demo.local_url.rstrip("/")


def test_a_private_model_loaded_by_its_owner_never_reaches_another_visitor(url, local_hub):
    carol = local_hub.add_user("carol")
    local_hub.seed_repo("carol/private", lenet_files(), private=True)
    sha = local_hub.commits("carol/private")[-1]
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    assert "carol/private" in a.predict("carol/private", "", carol, api_name="/load_weights")[0]
    for revision in ("", "main", sha):  # by name, and by the commit: neither is answered from the cache
        for token in ("", local_hub.other_token):
            with pytest.raises(AppError, match="private and needs a token|no model repo"):
                b.predict("carol/private", revision, token, api_name="/load_weights")
    with pytest.raises(AppError, match="not in your list"):
        b.predict("hub:carol/private@main", api_name="/choose_model")
    a.close()
    b.close()


def test_calls_without_a_session_are_refused_and_share_nothing(url, local_hub):
    carol = local_hub.add_user("carol")
    local_hub.seed_repo("carol/private", lenet_files(), private=True)
    status, body = rawgradio.run(url, "load_weights", ["carol/private", "", carol])
    assert status == 404 and "join the queue" in json.dumps(body)  # the plain REST route skips the queue: closed
    for api_name, data in (("load_weights", ["carol/private", "", carol]), ("choose_model", ["hub:carol/private@main"]),
                           ("predict_sketch", [None, 3]), ("stop_training", [])):
        event, line = rawgradio.simple_call(url, api_name, data)
        assert event == "error" and "This call has no session" in line, (api_name, event, line)

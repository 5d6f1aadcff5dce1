"""A public lab shared by a crowd of strangers, attacked as strangers would: gradio_client and raw HTTP, with
and without a session, against a Hub with private repos. Nothing one visitor has reaches another, and no
visitor's request costs the others more than its budget.
"""

from __future__ import annotations

import io
import json
import os
import socket
import urllib.error
import urllib.request
import zipfile

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from digitlab.models import Classifier
from digitlab.policy import Policy
from tests import rawgradio
from tests.conftest import launched
from tests.test_public import lenet_files

pytest_plugins = ["tests.hub_server"]


@pytest.fixture(scope="module")
def demo():
    with launched(policy=Policy(public=True)) as demo:
        yield demo


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


def rss() -> int:
    """This process's resident memory, bytes (the app runs in it)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_config_naming_a_million_classes_is_refused_before_anything_is_built(url, local_hub):
    from tests.test_hub import files_of

    model = Classifier("lenet")
    labels = [f"class-{i}" for i in range(1_000_000)]
    local_hub.seed_repo("alice/million", {**files_of(model), "config.json": json.dumps(
        {"arch": "lenet", "spec": {"name": "x", "labels": labels}})})
    local_hub.seed_repo("alice/twenty-thousand", {**files_of(model), "config.json": json.dumps(
        {"arch": "lenet", "spec": {"name": "x", "labels": [str(i) for i in range(20_000)]}})})
    client = Client(url, verbose=False)
    before = rss()
    for repo, words in (("alice/million", "this lab loads files of up to"), ("alice/twenty-thousand", "1,000 classes")):
        for _ in range(3):
            with pytest.raises(AppError, match=words):
                client.predict(repo, "", "", api_name="/load_weights")
    assert rss() - before < 100 * 2**20
    assert not any("alice--million" in str(p) for p in local_hub.cache.rglob("*"))  # nothing fetched or kept
    client.close()


def test_one_upload_request_of_a_thousand_files_is_refused(url):
    boundary = "stranger"
    parts = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f{i}.png\"\r\n"
                     f"Content-Type: image/png\r\n\r\nx\r\n".encode() for i in range(1000))
    body = parts + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{url}/gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 413 and b"at most 4 files" in err.value.read()


def test_the_sketch_route_answers_each_page_with_its_own_model_and_refuses_the_rest(url, demo, local_hub, tmp_path):
    local_hub.seed_repo("alice/other-model", lenet_files())
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    a.predict("alice/other-model", "", "", api_name="/load_weights")
    b.predict("shipped:mnist", api_name="/choose_model")
    token_a = demo.lab.sessions.by_session(a.session_hash).token
    token_b = demo.lab.sessions.by_session(b.session_hash).token
    png = digit_png(tmp_path)

    def sketch(token: str, body: bytes = png, **query) -> tuple[int, dict]:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        request = urllib.request.Request(f"{url}/api/sketch?{qs}", data=body, method="POST",
                                         headers={"X-Digitlab-Token": token})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    status_a, answer_a = sketch(token_a, k=10)
    status_b, answer_b = sketch(token_b, k=10)
    assert status_a == status_b == 200 and answer_a["model"] == "hub:alice/other-model@main"
    assert answer_b["model"] == "shipped:mnist" and answer_a["top"] != answer_b["top"]  # each page, its own model
    assert sketch("not-a-token")[0] == 401 and sketch("")[0] == 401
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # a canvas is a few kB: refused by length
        sock.sendall(b"POST /api/sketch HTTP/1.1\r\nHost: x\r\nX-Digitlab-Token: %s\r\nContent-Length: %d\r\n\r\n"
                     % (token_b.encode(), 2**20 + 1))
        assert sock.recv(65536).startswith(b"HTTP/1.1 413")
    assert sketch(token_b, body=b"not a png")[1]["error"].startswith("This file is not an image")
    codes = [sketch(token_b)[0] for _ in range(60)]  # faster than any hand: a flood from one page
    assert codes.count(429) > 0 and codes[0] == 200
    a.close(), b.close()


def digit_png(folder) -> bytes:
    from digitlab.data.registry import load_sample

    data = load_sample()
    digit = data.test_images[0, 0].numpy()
    buffer = io.BytesIO()
    Image.fromarray(255 - digit).resize((448, 448)).save(buffer, "PNG")
    return buffer.getvalue()


class Failing(Exception):
    pass


@pytest.mark.parametrize("step", ["zip copy", "saving the start model", "the worker's data", "the worker process"])
def test_a_train_start_that_fails_at_any_step_leaves_the_visitor_free_to_train(url, demo, monkeypatch, step,
                                                                               tmp_path):
    from digitlab.ui import train as train_tab
    from tests import conftest

    client = Client(url, verbose=False)
    over = dict(epochs=1)
    if step == "zip copy":
        monkeypatch.setattr(train_tab.shutil, "copyfile", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
        zipped = tmp_path / "mine.zip"
        with zipfile.ZipFile(zipped, "w") as z:
            z.writestr("a/1.png", b"x")
        over = dict(dataset="folder", images_zip=handle_file(str(zipped)))
    elif step == "saving the start model":
        monkeypatch.setattr(train_tab.Train, "save_active", lambda self, visitor: (_ for _ in ()).throw(Failing()))
        over = dict(init="active")
    elif step == "the worker's data":
        over = dict(data="sample", epochs=1, seed=10**12)  # refused by the config: the worker never starts
    else:
        monkeypatch.setattr(demo.lab.jobs, "spawn", lambda: (_ for _ in ()).throw(OSError("no processes left")))
    with pytest.raises(AppError):
        client.predict(*conftest.train_args(**over), api_name="/train")
    monkeypatch.undo()
    assert not demo.lab.jobs.has(client.session_hash)
    log, *_ = client.predict(*conftest.train_args(epochs=1), api_name="/train")  # free: the next press trains
    assert "epoch 1/1" in log
    client.close()


FUZZ = [None, 7, "text", [1, 2, 3], {"path": 5}, {"a": {"b": []}}, True, 1e308]


def test_malformed_payloads_to_every_event_get_a_plain_sentence_and_no_traceback(url, caplog):
    """Every public event, each input replaced in turn by values of the wrong type, over raw HTTP."""
    with urllib.request.urlopen(f"{url}/config", timeout=10) as response:
        config = json.load(response)
    events = [(d["api_name"], d["id"], len(d["inputs"])) for d in config["dependencies"]
              if d.get("api_name") and d.get("api_visibility", "public") == "public"
              and d["api_name"] not in ("train", "finetune")]  # the long runs are fuzzed through their settings
    bare = []
    with caplog.at_level("WARNING"):
        for name, fn, count in events:
            for i in range(count):
                for value in FUZZ[:4]:
                    data = [value if j == i else None for j in range(count)]
                    done = rawgradio.call(url, name, data, timeout=20, fn=fn)  # the id read above: one /config
                    error = rawgradio.error_of(done)
                    if done.get("success") is False and (not error or error.strip() in ("Error:", "Error")):
                        bare.append((name, i, value))
    assert not bare, bare[:10]
    assert "Traceback" not in caplog.text

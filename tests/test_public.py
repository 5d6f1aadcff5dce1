"""A public lab, as strangers use it: two visitors at once, raw HTTP with any payload, the owner's token
set on the server. Nothing one visitor does changes what another gets; nobody reaches a server file
or the owner's Hub identity; every run and input is bounded.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from safetensors.torch import save as safetensors_bytes

import app
from digitlab.data.registry import load_sample
from digitlab.models import Classifier
from digitlab.policy import Policy, decide_public
from digitlab.ui.hub import NEEDS_TOKEN
from tests import conftest, rawgradio
from tests.conftest import epochs_logged, launched, log_of, status_of, wait_for

pytest_plugins = ["tests.hub_server"]

CAP = 25  # seconds a public run may take, in this app
def train_args(**over) -> list:
    return conftest.train_args(**{**dict(epochs=30, batch_size=16, augment=True), **over})


@pytest.fixture(scope="module")
def demo():
    with launched(policy=Policy(public=True, public_train_seconds=CAP)) as demo:
        yield demo


@pytest.fixture(scope="module")
def url(demo) -> str:
    return demo.local_url.rstrip("/")


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> dict[str, Path]:
    """Sample test digits drawn black on white, one file each."""
    data, folder = load_sample(), tmp_path_factory.mktemp("digits")
    out = {}
    for label in "0127":
        digit = data.test_images[int((data.test_labels == int(label)).nonzero()[0, 0]), 0].numpy()
        path = folder / f"digit-{label}.png"
        Image.fromarray(255 - digit).resize((280, 280)).save(path)
        out[label] = path
    return out


def sketch(path: Path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def answers(client: Client, digits: dict[str, Path]) -> list[dict]:
    """Every class's confidence for each digit: equal answers, equal model."""
    return [client.predict(sketch(path), 10, api_name="/predict_sketch")[0] for path in digits.values()]


def lenet_files() -> dict[str, bytes]:
    """A repo's files for a (random) lenet: a model other than the default."""
    torch.manual_seed(3)
    model = Classifier("lenet")
    return {"config.json": json.dumps(model.config()),
            "model.safetensors": safetensors_bytes({k: v.contiguous() for k, v in model.state_dict().items()})}


def test_public_mode_is_on_for_spaces_share_links_and_the_flag(monkeypatch):
    for name in ("SPACE_ID", "DIGITLAB_PUBLIC"):
        monkeypatch.delenv(name, raising=False)
    assert not decide_public() and decide_public(share=True) and not decide_public(share=True, public=False)
    monkeypatch.setenv("SPACE_ID", "someone/digitlab")
    assert decide_public()
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("DIGITLAB_PUBLIC", "1")
    assert decide_public()


def test_what_one_visitor_does_changes_nothing_for_another(demo, url, digits, local_hub):
    local_hub.seed_repo("alice/other-model", lenet_files())
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    b_before = answers(b, digits)
    # B's run goes on while A does everything; in batches of 4 it outlasts the public cap on a fast machine too
    # (in batches of 16 one machine finished all 30 epochs just as the cap came, and B's run read "Finished").
    b_job = b.submit(*train_args(arch="digitnet", batch_size=4), api_name="/train")
    wait_for(lambda: epochs_logged(b_job) >= 1, 90, "B's first epoch")

    assert "alice/other-model" in a.predict("alice/other-model", "", "", api_name="/load_weights")[0]
    assert answers(a, digits) != b_before  # A now reads with another model...
    assert answers(b, digits) == b_before  # ...and B does not
    assert a.predict(api_name="/stop_training") == "Nothing is training right now."
    a_job = a.submit(*train_args(epochs=1, augment=False), api_name="/train")  # waits for B's run to end
    wait_for(lambda: status_of(a_job).startswith("Waiting for the trainer"), 30, "A's run to wait")
    before = epochs_logged(b_job)
    # B goes on: another epoch, or (on a slow machine, an epoch of ~10 s) the time cap, not A's Stop, ends it
    wait_for(lambda: epochs_logged(b_job) > before or f"may take {CAP} seconds" in log_of(b_job), 60,
             "B's run to go on after A's Stop")

    a_result = a_job.result(timeout=180)  # B's run ends at the public time cap; then A's runs
    assert "Finished" in a_result[3], a_result[3]
    b_result = b_job.result(timeout=30)
    assert f"a run on this public lab may take {CAP} seconds" in b_result[0], b_result[0]
    assert "Stopped after" in b_result[3]
    assert "trained here" in a.predict(api_name="/use_trained")[0]
    assert answers(b, digits) == b_before

    # B cannot reach A's models: what A loaded is not in B's list, and a run's key names B's own run.
    visitor_a, visitor_b = demo.lab.sessions.visitor(a.session_hash), demo.lab.sessions.visitor(b.session_hash)
    with pytest.raises(AppError, match="not in your list"):
        b.predict("hub:alice/other-model@main", api_name="/choose_model")
    b.predict(visitor_a.runs[-1].choice.key, api_name="/choose_model")
    assert visitor_b.active is visitor_b.runs[-1].choice and visitor_b.active is not visitor_a.runs[-1].choice
    assert {c.title for c in visitor_b.choices(demo.lab.shipped)}.isdisjoint(
        {c.title for c in visitor_a.loaded})
    zip_in_a_folder = visitor_a.runs[-1].zip_path
    assert zip_in_a_folder.is_file()
    # Like gradio's own cached outputs, a session's files are served only to whoever has their path, and
    # the path has a random part of its own: nothing in it comes from a session id, and B's own paths say
    # nothing about A's. A folder is never listed, and a path made from A's session id gets nothing.
    a_folder, b_folder = visitor_a.folder, visitor_b.folder
    inside = zip_in_a_folder.relative_to(a_folder)
    assert a.session_hash not in str(zip_in_a_folder) and b.session_hash not in str(b_folder)
    assert len(os.path.commonprefix([a_folder.name, b_folder.name])) <= len("digitlab-session-") + 1
    for guess in (a_folder, zip_in_a_folder.parent, b_folder.parent / a.session_hash / inside, b_folder / inside):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{url}/gradio_api/file={guess}", timeout=10)
        assert err.value.code in (403, 404)

    # A leaves: A's files go with A's session.
    folder = visitor_a.folder
    assert folder.is_dir()
    a.close()
    wait_for(lambda: not folder.exists(), 30, "A's folder to be removed")
    assert a.session_hash not in [v.session for v in demo.lab.sessions._visitors.values()]
    b.close()


def test_a_visitor_acts_on_the_hub_with_their_own_token_never_the_servers(url, local_hub, monkeypatch):
    owner = local_hub.add_user("owner")
    local_hub.seed_repo("owner/secret", lenet_files(), private=True)
    local_hub.seed_repo("owner/public-model", lenet_files())
    monkeypatch.setenv("HF_TOKEN", owner)  # a Space's secret: the server's own identity
    visitor = Client(url, verbose=False)
    with pytest.raises(AppError, match="sign in with Hugging Face or paste a write token"):
        visitor.predict("owner/public-model", "", False, "active model", api_name="/push_to_hub")
    with pytest.raises(AppError, match="private and needs a token"):  # pulled anonymously, not as the owner
        visitor.predict("owner/secret", "", "", api_name="/load_weights")
    visitor.predict("owner/public-model", "", "", api_name="/load_weights")  # public: fine without a token
    start = len(local_hub.authorizations)
    message = visitor.predict("alice/pushed", local_hub.token, False, "active model", api_name="/push_to_hub")
    assert "alice/pushed" in message
    sent = set(local_hub.authorizations[start:])
    assert sent == {f"Bearer {local_hub.token}"}  # exactly the visitor's token, on every request
    # "Sign in with Hugging Face" hands the handler the visitor's OAuth token; an API caller sends it in the body.
    done = rawgradio.call(url, "push_to_hub", ["alice/pushed-by-oauth", "", False, "active model"],
                          oauth_token=local_hub.token)
    assert done.get("success"), rawgradio.error_of(done)
    assert all(auth in (None, f"Bearer {local_hub.token}") for auth in local_hub.authorizations)
    assert not any(owner in (auth or "") for auth in local_hub.authorizations)
    assert NEEDS_TOKEN.startswith("Pushing needs your own Hub identity")
    visitor.close()


PATHS = ["/dev/zero", "/proc/self/fd/0", "/etc/passwd", str(Path(app.__file__).resolve()), "/nonexistent/x.png",
         "/root"]


@pytest.mark.parametrize("meta", [True, False], ids=["as-FileData", "bare-path"])
def test_raw_server_paths_are_refused_at_once_in_the_same_words(url, digits, meta):
    """Whatever path a stranger names, in whatever input, nothing is opened and the answer is the same."""
    def payload(path: str) -> dict:
        return {"path": path, "meta": {"_type": "gradio.FileData"}} if meta else {"path": path}

    inputs = {
        "predict_upload": lambda p: [payload(p), 3],
        "predict_sketch": lambda p: [{"background": None, "layers": [], "composite": payload(p)}, 3],
        "train": lambda p: train_args(dataset="folder", images_zip=payload(p)),
    }
    for api_name, make in inputs.items():
        said = set()
        for path in PATHS:
            start = time.monotonic()
            done = rawgradio.call(url, api_name, make(path))
            assert time.monotonic() - start < 1.5, (api_name, path)
            data = (done.get("output") or {}).get("data") or []
            text = rawgradio.error_of(done) or json.dumps(data[:3])
            said.add(text.replace(path, "<the path sent>"))  # echoing what was sent reveals nothing
        assert len(said) == 1, f"{api_name} told paths apart: {said}"
    client = Client(url, verbose=False)  # and the server goes on serving
    assert client.predict(sketch(digits["7"]), api_name="/predict_sketch")[0]["label"] == "7"
    client.close()


def test_the_pages_own_select_events_answer_any_event_data_plainly(url, digits):
    """The confusion matrix's and the gallery's .select handlers are the page's, but a stranger can
    call them with no event data or any: they answer as to a click in the wrong place."""
    hint = "Click a number in the matrix (not the class name)."
    for event_data in (None, {}, {"index": ["a", "b"]}, {"index": [1]}, {"index": 3}, [1, 2], "x"):
        done = rawgradio.call(url, "select_cell", [], event_data=event_data)
        assert done.get("success") and done["output"]["data"][1] == hint, (event_data, rawgradio.error_of(done))
        done = rawgradio.call(url, "explain_shown", [], event_data=event_data)
        assert done.get("success") and done["output"]["data"] == [""], (event_data, rawgradio.error_of(done))
    client = Client(url, verbose=False)  # and the server goes on serving
    assert client.predict(sketch(digits["7"]), api_name="/predict_sketch")[0]["label"] == "7"
    client.close()


def test_public_mode_takes_named_data_and_hub_repo_ids_only(url):
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match="named data only"):
        client.predict(*train_args(data="/tmp"), api_name="/train")
    for source in ("/tmp", "~/models", "./weights", "../elsewhere"):
        with pytest.raises(AppError, match="repo id"):
            client.predict(source, "", "", api_name="/load_weights")
    with pytest.raises(AppError, match="Hub"):  # a repo id that is also a folder here is looked up on the Hub
        client.predict("weights/mnist", "", "", api_name="/load_weights")
    client.close()


def test_one_training_per_visitor_and_it_ends_when_they_leave(demo, url):
    client = Client(url, verbose=False)
    job = client.submit(*train_args(), api_name="/train")
    wait_for(lambda: epochs_logged(job) >= 1, 90, "the first epoch")
    with pytest.raises(AppError, match="already have a training running"):
        client.predict(*train_args(), api_name="/train")
    process = demo.lab.jobs.ticket(client.session_hash).process.proc
    client.close()  # the tab closes: the run is killed, not left to use the CPU
    wait_for(lambda: process.poll() is not None, 20, "the training process to end")


def test_long_inputs_and_huge_requests_are_refused_plainly(url):
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match="too long: at most 200 characters") as err:
        client.predict("a" * 5_000_000, "", "", api_name="/load_weights")
    assert len(str(err.value)) < 300  # never echoed back
    client.close()
    host, port = url.split("//")[1].split(":")
    for path in ("/gradio_api/queue/join", "/gradio_api/component_server", "/gradio_api/upload"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:  # the headers, not a byte of body
            sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path.encode(), 30 * 2**20))
            answer = b""
            while b"larger than" not in answer and (chunk := sock.recv(65536)):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413") and b"larger than 21 MB" in answer, (path, answer[:200])


def test_the_queue_and_the_sessions_are_bounded(demo):
    policy = demo.lab.policy
    assert demo._queue.max_size == policy.queue_size
    assert demo.state_session_capacity == policy.max_sessions
    assert not demo.run_history  # gradio's run history could save runs with the host's login


def test_sign_in_with_hugging_face_appears_only_where_it_works(monkeypatch):
    from gradio import LoginButton

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("OAUTH_CLIENT_ID", raising=False)
    local = app.build_app(policy=Policy(public=True))
    assert not any(isinstance(b, LoginButton) for b in local.blocks.values())  # no Space: no button to crash on
    monkeypatch.setenv("SPACE_ID", "someone/digitlab")  # SPACE_ID alone (a copy run elsewhere): no button
    assert not any(isinstance(b, LoginButton) for b in app.build_app(policy=Policy(public=True)).blocks.values())
    for name, value in {"SYSTEM": "spaces", "OAUTH_CLIENT_ID": "client-id", "OAUTH_CLIENT_SECRET": "secret",
                        "OAUTH_SCOPES": "openid profile write-repos",
                        "OPENID_PROVIDER_URL": "https://huggingface.co"}.items():  # what a Space with hf_oauth sets
        monkeypatch.setenv(name, value)
        if name != "SYSTEM":
            monkeypatch.setattr(f"gradio.oauth.{name}", value)  # gradio reads them once, at import
    space = app.build_app(policy=Policy(public=True))
    assert any(isinstance(b, LoginButton) for b in space.blocks.values())


def test_a_flood_of_new_sessions_ends_the_empty_ones_first_and_never_a_training(tmp_path):
    from digitlab.serve.sessions import Correction, Sessions

    sessions = Sessions(Policy(public=True, max_sessions=3), default=object(), root=tmp_path,
                        busy=lambda session: session == "training")  # the job service: this one holds a place
    worker = sessions.visitor("has-corrections")
    sessions.visitor("training")
    worker.add_correction(Correction(view=None, label=1, answer=7, model_key="shipped"))
    for n in range(50):  # a stranger's cheap calls, each with a new session hash
        sessions.visitor(f"stranger-{n}")
    assert len(sessions) == 3
    assert sessions._visitors.keys() >= {"has-corrections", "training"}


def test_a_training_error_names_the_visitors_upload_not_its_path_on_the_server(tmp_path):
    from types import SimpleNamespace

    from digitlab.ui.runs import private_paths_out

    visitor = SimpleNamespace(folder=tmp_path / "digitlab-session-x1y2", lang="en")
    zip_path = visitor.folder / "uploads" / "run-1" / "my-letters.zip"
    assert private_paths_out(f"{zip_path} has no readable train images.", visitor) == \
        "your upload has no readable train images."
    assert private_paths_out(f"the classes of {zip_path}: only 'a'", visitor) == "the classes of your upload: only 'a'"
    assert private_paths_out("unknown dataset 'x'", visitor) == "unknown dataset 'x'"

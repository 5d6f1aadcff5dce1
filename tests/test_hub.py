"""Push to and pull from a Hub (the local one in hub_server.py) the way users do: by repo id, offline, with bad luck."""

from __future__ import annotations

import io
import json
import logging

import pytest
import torch
from huggingface_hub import ModelCard, constants
from safetensors.torch import save as safetensors_bytes

from digitlab import cli
from digitlab.data.registry import load_sample
from digitlab.hub import transport as hub
from digitlab.models import Classifier
from digitlab.training.loop import as_pixels

pytest_plugins = ["tests.hub_server"]

REPO = "alice/digitlab-lenet"
CARD = dict(arch="lenet", num_params=61706, test_acc=98.25, data="sample", epochs=2,
            config={"arch": "lenet", "lr": 0.01, "batch_size": 64}, command="python -m digitlab train --arch lenet")


@pytest.fixture(scope="module")
def digits():
    return load_sample()


def fit(model: Classifier, digits, steps: int) -> Classifier:
    """A few Adam steps on the sample: enough to make the weights this run's own."""
    x, y = as_pixels(digits.train_images[:512]), digits.train_labels[:512]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for i in range(steps):
        batch = slice(64 * (i % 8), 64 * (i % 8 + 1))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def models(digits) -> tuple[Classifier, Classifier]:
    """Version 1 and version 2 (trained further) of the same lenet."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is as fast, and does not fight a busy CPU
    try:
        torch.manual_seed(0)
        v1 = fit(Classifier(arch="lenet"), digits, 8)
        v2 = Classifier(arch="lenet")
        v2.load_state_dict(v1.state_dict())
        return v1, fit(v2, digits, 8)
    finally:
        torch.set_num_threads(threads)


def logits(model: Classifier, digits) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(as_pixels(digits.test_images[:64]))


def files_of(model: Classifier, **config) -> dict[str, bytes]:
    """config.json + model.safetensors as a repo would hold them; `config` overrides the model's own."""
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    return {"config.json": json.dumps({**model._hub_mixin_config, **config}),
            "model.safetensors": safetensors_bytes(state)}


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- the happy paths ------------------------------------------------------------------------

def test_a_pushed_model_pulls_back_by_repo_id_with_identical_outputs(local_hub, models, digits):
    v1, _ = models
    result = hub.push_model(v1, REPO, token=local_hub.token, card=CARD)
    assert result.url == f"{local_hub.url}/{REPO}" and result.commit == local_hub.commits(REPO)[-1]
    assert set(local_hub.files(REPO)) == {".gitattributes", "README.md", "config.json", "model.safetensors",
                                          "training.json"}
    assert not local_hub.cache.exists()  # nothing cached yet: the pull below really downloads

    pulled = hub.load(REPO)
    assert torch.equal(logits(pulled.model, digits), logits(v1, digits))
    assert (local_hub.cache / "models--alice--digitlab-lenet").is_dir()  # huggingface_hub's cache layout
    assert pulled.card == CARD and pulled.commit == result.commit


def test_the_model_card_states_architecture_size_data_accuracy_and_settings(local_hub, models):
    hub.push_model(models[0], REPO, token=local_hub.token, card=CARD)
    card = ModelCard(local_hub.files(REPO)["README.md"].decode())
    assert card.data.library_name == "digitlab" and card.data.license == "mit"
    assert card.data.datasets == ["ylecun/mnist"] and card.data.metrics == ["accuracy"]
    assert "mnist" in card.data.tags and card.data.eval_results[0].metric_value == 0.9825
    for fact in ("`lenet`", "61,706", "mnist (sample)", "28x28 grey", "98.25 %", "| epochs | 2 |", CARD["command"],
                 '"lr": 0.01', f'Predictor.from_pretrained("{REPO}")'):
        assert fact in card.text


def test_a_pinned_revision_still_returns_the_old_weights(local_hub, models, digits):
    v1, v2 = models
    old = hub.push_model(v1, REPO, token=local_hub.token).commit
    new = hub.push_model(v2, REPO, token=local_hub.token).commit
    assert old != new and not torch.equal(logits(v1, digits), logits(v2, digits))
    assert torch.equal(logits(hub.load_model(REPO, revision=old), digits), logits(v1, digits))
    assert torch.equal(logits(hub.load_model(REPO), digits), logits(v2, digits))
    assert torch.equal(logits(hub.load_model(REPO, revision=new), digits), logits(v2, digits))


def test_a_private_push_is_readable_with_the_owners_token_only(local_hub, models, digits):
    hub.push_model(models[0], "alice/secret", token=local_hub.token, private=True)
    assert local_hub.repos["alice/secret"].private
    with pytest.raises(hub.HubError, match="private"):
        hub.load_model("alice/secret")
    with pytest.raises(hub.HubError, match="private"):
        hub.load_model("alice/secret", token=local_hub.other_token)
    assert torch.equal(logits(hub.load_model("alice/secret", token=local_hub.token), digits), logits(models[0], digits))


def test_a_push_naming_only_the_repo_lands_in_the_token_owners_namespace(local_hub, models):
    result = hub.push_model(models[0], "solo", token=local_hub.token)
    assert result.repo_id == "alice/solo" and result.url.endswith("/alice/solo")


def test_hf_token_from_the_environment_is_used_for_push(local_hub, models, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    assert hub.push_model(models[0], REPO).commit == local_hub.commits(REPO)[-1]


def test_saved_weights_keep_their_card_and_the_cli_push_restates_it(local_hub, models, tmp_path, capsys):
    hub.save_model(models[0], tmp_path / "run", card=CARD)
    assert hub.read_card_data(tmp_path / "run") == CARD
    code, out, err = run_cli(["push", REPO, "--weights", str(tmp_path / "run"), "--token", local_hub.token], capsys)
    assert code == 0, err
    assert out.strip() == f"pushed {REPO} to {local_hub.url}/{REPO} (commit {local_hub.commits(REPO)[-1]})"
    assert "98.25 %" in local_hub.files(REPO)["README.md"].decode()
    assert json.loads(local_hub.files(REPO)["training.json"]) == CARD


def test_cli_pull_saves_a_loadable_folder(local_hub, models, digits, tmp_path, capsys):
    hub.push_model(models[0], REPO, token=local_hub.token)
    code, out, err = run_cli(["pull", REPO, "--out", str(tmp_path / "pulled")], capsys)
    assert code == 0 and err == ""
    assert out.strip() == f"pulled {REPO} (lenet, mnist, 61,706 parameters) into {tmp_path / 'pulled'}"
    assert torch.equal(logits(hub.load_model(tmp_path / "pulled"), digits), logits(models[0], digits))


def test_a_pulled_model_loads_offline_from_the_cache(local_hub, models, digits, monkeypatch):
    hub.push_model(models[0], REPO, token=local_hub.token)
    commit = local_hub.commits(REPO)[-1]
    hub.load_model(REPO)
    asked = len(local_hub.requests)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for revision in (None, commit):
        assert torch.equal(logits(hub.load_model(REPO, revision=revision), digits), logits(models[0], digits))
    assert len(local_hub.requests) == asked  # not one request went out
    with pytest.raises(hub.HubError, match="not in the local Hub cache and HF_HUB_OFFLINE is set"):
        hub.load_model("alice/never-pulled")
    with pytest.raises(hub.HubError, match="HF_HUB_OFFLINE"):
        hub.push_model(models[0], REPO, token=local_hub.token)


def test_a_cached_model_still_loads_when_the_hub_is_down(local_hub, models, digits):
    hub.push_model(models[0], REPO, token=local_hub.token)
    hub.load_model(REPO)
    local_hub.stop()
    assert torch.equal(logits(hub.load_model(REPO), digits), logits(models[0], digits))


# --- every failure is one plain sentence, from the API and from the CLI ------------------------

def seed_pickle_only(local_hub, models):
    buffer = io.BytesIO()
    torch.save(models[0].state_dict(), buffer)
    local_hub.seed_repo("alice/pickled", {"config.json": files_of(models[0])["config.json"],
                                          "pytorch_model.bin": buffer.getvalue()})
    return "alice/pickled", []


def seed_wrong_shapes(local_hub, models):
    local_hub.seed_repo("alice/misfit", files_of(Classifier(arch="mlp"), arch="lenet"))
    return "alice/misfit", []


def seed_unknown_arch(local_hub, models):
    local_hub.seed_repo("alice/exotic", files_of(models[0], arch="resnet9000"))
    return "alice/exotic", []


def seed_gated(local_hub, models):
    local_hub.seed_repo("carol/gated", files_of(models[0]), gated=True)
    return "carol/gated", ["--token", local_hub.other_token]


def seed_private(local_hub, models):
    local_hub.seed_repo("carol/private", files_of(models[0]), private=True)
    return "carol/private", []


def seed_public(local_hub, models):
    local_hub.seed_repo("alice/public", files_of(models[0]))
    return "alice/public", ["--token", "hf_wrong_" + "x" * 30]


def seed_bad_revision(local_hub, models):
    local_hub.seed_repo("alice/public", files_of(models[0]))
    return "alice/public", ["--revision", "v9"]


def server_down(local_hub, models):
    local_hub.stop()
    return "alice/anything", []


FAILURES = {
    "unknown repo": (lambda h, m: ("alice/nothing-here", []), "There is no model repo 'alice/nothing-here'"),
    "private repo without a token": (seed_private, "or it is private and needs a token"),
    "wrong token": (seed_public, "rejected the token (invalid or expired)"),
    "gated repo": (seed_gated, "'carol/gated' is a gated repo"),
    "revision not found": (seed_bad_revision, "'alice/public' has no revision 'v9'"),
    "pickle-only repo": (seed_pickle_only, "holds only pickle weights (pytorch_model.bin); digitlab loads safetensors"),
    "wrong-shape tensors": (seed_wrong_shapes, "The weights in Hub repo 'alice/misfit' do not fit the 'lenet'"),
    "unknown architecture": (seed_unknown_arch, "names an unknown architecture 'resnet9000'; digitlab knows ["),
    "server down": (server_down, "Could not reach the Hub at http://127.0.0.1:"),
    "not a repo id": (lambda h, m: ("no//such", []), "'no//such' is neither a local folder nor a Hub repo id"),
}


def as_kwargs(options: list[str]) -> dict:
    return {k.lstrip("-"): v for k, v in zip(options[::2], options[1::2], strict=True)}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failed_pull_says_why_in_one_sentence(case, local_hub, models, capsys):
    setup, expected = FAILURES[case]
    source, options = setup(local_hub, models)
    with pytest.raises(hub.WeightsError) as caught:
        hub.load_model(source, **as_kwargs(options))
    message = str(caught.value)
    assert expected in message and "\n" not in message and message.endswith(".")
    assert local_hub.token not in message and local_hub.other_token not in message

    code, out, err = run_cli(["pull", source, *options], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"error: {message}"]  # one line, no traceback


def test_pickle_weights_are_never_downloaded(local_hub, models):
    repo, _ = seed_pickle_only(local_hub, models)
    with pytest.raises(hub.HubError):
        hub.load_model(repo)
    assert not any("pytorch_model.bin" in line for line in local_hub.requests)
    assert not list(local_hub.cache.rglob("*.bin"))


def test_a_gated_repo_opens_to_a_granted_account(local_hub, models, digits):
    repo, _ = seed_gated(local_hub, models)
    local_hub.grant(repo, "bob")
    assert torch.equal(logits(hub.load_model(repo, token=local_hub.other_token), digits), logits(models[0], digits))


PUSH_FAILURES = {
    "no token at all": (None, "REPO", "needs a Hub token: pass --token, set HF_TOKEN, or run `hf auth login`"),
    "wrong token": ("hf_wrong_" + "y" * 30, "REPO", "rejected the token"),
    "someone else's namespace": ("TOKEN", "bob/not-yours", "may not write to 'bob/not-yours'"),
    "not a repo id": ("TOKEN", "a/b/c", "'a/b/c' is not a Hub repo id"),
    "server down": ("TOKEN", "REPO", "Could not reach the Hub at http://127.0.0.1:"),
}


@pytest.mark.parametrize("case", PUSH_FAILURES)
def test_a_failed_push_says_why_in_one_sentence(case, local_hub, models, tmp_path, capsys):
    token, repo, expected = PUSH_FAILURES[case]
    token, repo = (local_hub.token if token == "TOKEN" else token), (REPO if repo == "REPO" else repo)
    if case == "server down":
        local_hub.stop()
    with pytest.raises(hub.HubError) as caught:
        hub.push_model(models[0], repo, token=token)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert local_hub.token not in message and (token is None or token not in message)

    hub.save_model(models[0], tmp_path / "run")
    code, out, err = run_cli(["push", repo, "--weights", str(tmp_path / "run"), *(["--token", token] if token else [])],
                             capsys)
    assert code == 2 and out == "" and err.splitlines() == [f"error: {message}"]


def test_the_token_never_shows_in_output_or_logs(local_hub, models, tmp_path, capsys, caplog):
    for name in (None, "huggingface_hub", "httpx2", "httpcore2"):  # the client's own loggers filter DEBUG out
        caplog.set_level(logging.DEBUG, logger=name)
    hub.save_model(models[0], tmp_path / "run", card=CARD)
    assert run_cli(["push", REPO, "--weights", str(tmp_path / "run"), "--token", local_hub.token], capsys)[0] == 0
    seed_private(local_hub, models)
    for argv in (["pull", REPO, "--token", local_hub.token, "--out", str(tmp_path / "pulled")],
                 ["pull", "carol/private", "--token", local_hub.token],
                 ["push", "bob/x", "--weights", str(tmp_path / "run"), "--token", local_hub.token]):
        code, out, err = run_cli(argv, capsys)
        assert local_hub.token not in out + err
    assert local_hub.token not in caplog.text


# --- local folders --------------------------------------------------------------------------

def test_no_source_means_the_shipped_weights(models, digits, tmp_path, monkeypatch):
    hub.save_model(models[0], tmp_path / "weights")
    monkeypatch.setattr(hub, "DEFAULT_WEIGHTS", tmp_path / "weights")
    assert torch.equal(logits(hub.load_model(), digits), logits(models[0], digits))
    assert hub.read_card_data()["arch"] == "lenet"


def test_a_local_file_or_pickle_folder_is_refused_plainly(models, tmp_path):
    hub.save_model(models[0], tmp_path / "run")
    with pytest.raises(hub.WeightsError, match="is a file; give the folder"):
        hub.load_model(tmp_path / "run" / "model.safetensors")
    (tmp_path / "run" / "model.safetensors").rename(tmp_path / "run" / "model.pth")
    with pytest.raises(hub.WeightsError, match="only pickle weights"):
        hub.load_model(tmp_path / "run")


# --- the cache is not an access check, and holds only what loaded, within its quota ------------------

def cached_files(local_hub) -> set[str]:
    return {str(p.relative_to(local_hub.cache)) for p in local_hub.cache.rglob("*")
            if p.is_file() and ".locks" not in p.parts} if local_hub.cache.exists() else set()


def test_a_private_model_cached_for_its_owner_is_not_handed_to_anyone_else(local_hub, models, digits):
    local_hub.seed_repo("carol/private", files_of(models[0]), private=True)
    carol = local_hub.add_user("carol")
    sha = local_hub.commits("carol/private")[-1]
    assert torch.equal(logits(hub.load_model("carol/private", token=carol), digits), logits(models[0], digits))
    for revision in (None, "main", sha):  # by name and by the commit itself: the Hub is asked either way
        for token in (False, local_hub.other_token):
            asked = len(local_hub.requests)
            with pytest.raises(hub.HubError, match="private and needs a token|no model repo"):
                hub.load_model("carol/private", revision=revision, token=token, trust_cache=False)
            assert any("/api/models/carol/private" in line for line in local_hub.requests[asked:])


def test_a_file_over_its_limit_is_refused_from_the_listing_and_nothing_is_downloaded(local_hub, models):
    local_hub.seed_repo("alice/huge", {**files_of(models[0]), "model.safetensors": b"\0" * (hub.FILE_LIMITS[
        "model.safetensors"] + 1)})
    local_hub.seed_repo("alice/wordy", {**files_of(models[0]), "config.json": json.dumps(
        {"arch": "lenet", "spec": {"name": "x", "labels": [str(i) for i in range(1_000_000)]}})})
    before = cached_files(local_hub)
    for repo, file in (("alice/huge", "model.safetensors"), ("alice/wordy", "config.json")):
        with pytest.raises(hub.HubError, match=f"The {file} of Hub repo '{repo}' is .* MB; this lab loads files"):
            hub.load_model(repo)
        assert not any("/resolve/" in line for line in local_hub.requests if repo in line)
    assert cached_files(local_hub) == before


def test_a_repo_that_cannot_become_a_model_leaves_nothing_in_the_cache(local_hub, models):
    local_hub.seed_repo("alice/misfit", files_of(Classifier(arch="mlp"), arch="lenet"))
    local_hub.seed_repo("alice/too-many", files_of(models[0], spec={"name": "x", "labels": [
        str(i) for i in range(20_000)]}))
    for repo, words in (("alice/misfit", "do not fit"), ("alice/too-many", "2 to 1,000 classes")):
        with pytest.raises(hub.WeightsError, match=words):
            hub.load_model(repo)
        assert not any(repo.replace("/", "--") in f for f in cached_files(local_hub))


def test_a_model_whose_cost_is_over_the_budget_is_refused_before_it_is_built(local_hub, models):
    spec = {"name": "big", "labels": ["a", "b"], "size": 128, "channels": 3, "mean": [0.5] * 3, "std": [0.2] * 3,
            "view": "photo", "polarity": "natural"}
    local_hub.seed_repo("alice/costly", files_of(models[0], arch="airnet", spec=spec))
    with pytest.raises(hub.WeightsError, match="too large for this lab: .* million multiply-adds per image"):
        hub.load_model("alice/costly")


def test_the_cache_keeps_the_newest_pulls_within_its_quota(local_hub, models, monkeypatch):
    for name in ("alice/one", "alice/two", "alice/three"):
        local_hub.seed_repo(name, files_of(models[0]))
    size = len(files_of(models[0])["model.safetensors"])
    monkeypatch.setattr(hub, "CACHE_QUOTA", int(2.5 * size))
    for name in ("alice/one", "alice/two", "alice/three"):
        hub.load_model(name)
    repos = {f.split("/")[0] for f in cached_files(local_hub) if f.startswith("models--")}
    assert repos == {"models--alice--two", "models--alice--three"}

"""Save, load, push and pull Classifier weights: safetensors + config.json, never pickle.

A source is a local folder, a Hub repo id ("user/digitlab-cnn", at an optional revision), or
None for the shipped weights. The Hub side is huggingface_hub: downloads land in the standard
HF cache (and load from it offline), HF_ENDPOINT / HF_TOKEN / HF_HUB_OFFLINE are honoured, and
every failure becomes a WeightsError whose message is one sentence for the user.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, constants, get_token, scan_cache_dir, snapshot_download
from huggingface_hub.errors import (
    CachedRepoTreeNotFoundError,
    CacheNotFound,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    IncompleteSnapshotError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import tqdm as hf_tqdm
from huggingface_hub.utils import validate_repo_id
from safetensors.torch import load_file

from digitlab.assets import WEIGHTS_DIR
from digitlab.hub.card import card_pictures, checked_card, model_card
from digitlab.models import Classifier, ModelBudgetError, check_budget, list_models
from digitlab.models.classifier import checked_rows
from digitlab.spec import legacy_spec

DEFAULT_WEIGHTS = WEIGHTS_DIR / "mnist"


def shipped_weights() -> dict[str, Path]:
    """The shipped models by dataset name (the folders of weights/ that hold one)."""
    return {p.name: p for p in sorted(WEIGHTS_DIR.iterdir()) if (p / WEIGHTS_NAME).is_file()}
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".pkl", ".ckpt")
WEIGHTS_NAME, CONFIG_NAME, CARD_NAME, TRAINING_NAME = "model.safetensors", "config.json", "README.md", "training.json"
ONNX_NAME = "model.onnx"
HUB_FILES = [CONFIG_NAME, WEIGHTS_NAME, TRAINING_NAME]  # all a pull downloads: pickle files never leave the Hub
# What a repo's files may weigh, checked in the Hub's listing before anything is downloaded (and on disk for
# a local folder). 50 MB of float32 weights is 12.5 M parameters, over models.MAX_PARAMS: no real model is cut.
FILE_LIMITS = {CONFIG_NAME: 256 * 2**10, WEIGHTS_NAME: 50 * 2**20, TRAINING_NAME: 2 * 2**20}
CACHE_QUOTA = 2 * 2**30  # bytes of pulled repos kept in hub_cache(), least recently pulled out first
HUB_TIMEOUT = 10.0  # seconds for one answer from the Hub
# What the Hub client raises for an answer it did not like or no answer at all.
HUB_ERRORS = (HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, httpx2.TransportError, HFValidationError)


class WeightsError(ValueError):
    """Weights that cannot become the active model; the message is for users."""


class HubError(WeightsError):
    """The Hub could not give or take the weights (access, network, revision); the message is for users."""


@dataclass(frozen=True)
class PushResult:
    url: str  # the repo's page
    commit: str  # oid of the commit that holds these weights: pull it back with revision=commit
    repo_id: str  # full id, namespace included, even when the push named the repo only


# --- local folders ---------------------------------------------------------------------------

def save_model(model: Classifier, folder: str | Path, card: dict | None = None, name: str | None = None) -> Path:
    """Write model.safetensors, config.json, a model card (README.md) and the card dict (training.json)."""
    folder = Path(folder)
    card = {"arch": model.arch, "num_params": model.num_params, **checked_card(card or {}, model)}
    model.save_pretrained(folder, config=model.config())  # the temperature is set after construction
    (folder / WEIGHTS_NAME).chmod(0o644)  # safetensors writes through a private temporary file: 0600
    model_card(model, card, name).save(folder / CARD_NAME)  # replaces the mixin's generic card
    (folder / TRAINING_NAME).write_text(json.dumps(card, indent=2, default=str) + "\n")
    for picture, png in card_pictures(model, card).items():
        (folder / picture).write_bytes(png)
    return folder


def read_card_data(source: str | Path | None = None) -> dict:
    """The card dict saved next to weights in a folder (None: the shipped weights); {} when there is none.

    A card over its size limit, or one that is not a JSON object, is left out: a card is nice to have.
    """
    path = Path(source or DEFAULT_WEIGHTS).expanduser() / TRAINING_NAME
    try:
        if not path.is_file() or path.stat().st_size > FILE_LIMITS[TRAINING_NAME]:
            return {}
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_from_files(config_path: Path, weights_path: Path, where: str) -> Classifier:
    """Build the model the config names and load the tensors strictly, checking every shape.

    Both files are checked against FILE_LIMITS, and the model against models.check_budget, before
    anything is allocated: a config.json naming a million classes costs nothing to refuse.
    """
    for path in (config_path, weights_path):
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        if size > FILE_LIMITS[Path(path).name]:
            raise WeightsError(f"The {Path(path).name} of {where} is {megabytes(size)}; digitlab loads files of "
                               f"up to {megabytes(FILE_LIMITS[Path(path).name])}.")
    try:
        config = json.loads(Path(config_path).read_text())
    except (OSError, ValueError) as err:
        raise WeightsError(f"{where} has no readable config.json ({err.__class__.__name__}).") from err
    arch = config.get("arch") if isinstance(config, dict) else None
    if arch not in list_models():
        raise WeightsError(f"{where} names an unknown architecture {str(arch)[:40]!r}; digitlab knows "
                           f"{list_models()}.")
    try:
        model = classifier_from_config(config)
    except ModelBudgetError as err:
        raise WeightsError(f"The model in {where} is too large for this lab: {err}.") from err
    except (TypeError, ValueError, AttributeError) as err:
        raise WeightsError(f"The config.json of {where} does not describe a digitlab model "
                           f"({str(err)[:200]}).") from err
    try:
        tensors = load_file(str(weights_path))
    except Exception as err:  # safetensors raises its own SafetensorError for a damaged file
        raise WeightsError(f"The model.safetensors in {where} is damaged or not a safetensors file.") from err
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise WeightsError(f"The weights in {where} do not fit the {arch!r} architecture its config names.") from err
    return model.eval()


def classifier_from_config(config: dict) -> Classifier:
    """The model a config.json describes; one written before specs existed is read as MNIST-style glyphs."""
    if not config.get("spec"):
        legacy = {k: config[k] for k in ("labels", "input_size", "mean", "std") if config.get(k) is not None}
        spec = legacy_spec(**legacy).to_dict()
    else:
        spec = config["spec"]
    check_budget(config["arch"], spec)
    mirror, decline = config.get("mirror"), config.get("decline")
    return Classifier(config["arch"], spec, float(config.get("temperature", 1.0)),
                      None if mirror is None else bool(mirror),
                      decline.get("below") if isinstance(decline, dict) else None, checked_rows(config.get("rows")))


def load_local(folder: str | Path) -> Classifier:
    """Load a model saved by `save_model` from a local folder."""
    folder = Path(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        if any(p.suffix in PICKLE_SUFFIXES for p in folder.glob("*")):
            raise WeightsError(f"{folder} holds only pickle weights (.bin/.pth); digitlab loads safetensors only.")
        raise WeightsError(f"{folder} has no model.safetensors.")
    return model_from_files(folder / CONFIG_NAME, weights, str(folder))


@dataclass
class Loaded:
    """A model and what is known of it: its card (training.json) and, from the Hub, the commit it came from."""

    model: Classifier
    card: dict
    commit: str | None = None


def load(source: str | Path | None = None, revision: str | None = None, token: str | bool | None = None,
         local: bool = True, trust_cache: bool = True) -> Loaded:
    """Load from a local folder, a Hub repo id (at `revision`), or None: the shipped weights.

    `token` is only needed for private or gated repos: None uses $HF_TOKEN or the saved login,
    False sends no token at all (a public app pulling for a visitor who gave none). With
    `local=False` the source is a Hub repo id only, even where a folder of that name exists.
    `trust_cache`: see fetch_repo(). A repo whose files cannot become a model leaves nothing cached.
    """
    if source is None or str(source) == "":
        return Loaded(load_local(DEFAULT_WEIGHTS), read_card_data(DEFAULT_WEIGHTS))
    path = Path(source).expanduser()
    if local and path.suffix == ".onnx" and path.is_file():
        from digitlab.models.onnx import load_onnx  # onnxruntime, only for those who read ONNX

        try:
            return Loaded(load_onnx(path), {})
        except ValueError as err:
            raise WeightsError(str(err)) from err
        except Exception as err:  # onnxruntime's own errors for a damaged file
            raise WeightsError(f"{path} is damaged or not an ONNX model ({type(err).__name__}).") from err
    if local and path.is_dir():
        return Loaded(load_local(path), read_card_data(path))
    if local and path.exists():
        raise WeightsError(f"{source} is a file; give the folder that holds model.safetensors and config.json.")
    try:
        validate_repo_id(str(source))
    except HFValidationError:
        message = f"{str(source)!r} is neither a local folder nor a Hub repo id like 'user/digitlab-cnn'."
        raise WeightsError(message) from None
    repo_id = str(source)
    folder, commit = fetch_repo(repo_id, revision or None, token if token is False else token or None, trust_cache)
    try:
        model = model_from_files(folder / CONFIG_NAME, folder / WEIGHTS_NAME, repo_text(repo_id, revision))
    except BaseException:
        forget(repo_id, commit)  # nothing a visitor could not load stays on the server's disk
        raise
    card = checked_card(read_card_data(folder), model)
    trim_cache(keep=commit)
    return Loaded(model, card, commit)


def load_model(source: str | Path | None = None, revision: str | None = None,
               token: str | bool | None = None, local: bool = True, trust_cache: bool = True) -> Classifier:
    """The model of load(): a folder, a Hub repo id or None (the shipped weights)."""
    return load(source, revision, token, local, trust_cache).model


# --- the Hub ---------------------------------------------------------------------------------

class QuietProgress(hf_tqdm):
    """No download bars: the files are small, and the CLI and app report the result in one line."""

    def __init__(self, *args, **kwargs):
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


def repo_text(repo_id: str, revision: str | None = None) -> str:
    return f"Hub repo {repo_id!r}" + (f" at revision {revision!r}" if revision else "")


def hub_cache() -> Path:
    """Where pulled repos are kept: digitlab's own Hub cache ($DIGITLAB_CACHE/hub), bounded by CACHE_QUOTA."""
    return Path(os.environ.get("DIGITLAB_CACHE") or Path.home() / ".cache" / "digitlab").expanduser() / "hub"


def listing(repo_id: str, revision: str | None, token: str | bool | None) -> tuple[str, dict[str, int | None]]:
    """(the commit `revision` names, {file: size}) as the Hub tells *this* token: the access check.

    A cached snapshot is never an answer to "may this visitor read it?" (huggingface_hub hands a
    cached file to anyone after a 401): the Hub is asked, as the visitor, every time.
    """
    info = HfApi().model_info(repo_id, revision=revision, files_metadata=True, token=token, timeout=HUB_TIMEOUT)
    sizes = {s.rfilename: s.size if s.size is not None else getattr(s.lfs, "size", None) for s in info.siblings or []}
    return info.sha, sizes


def check_listing(where: str, sizes: dict[str, int | None]) -> list[str]:
    """The files to fetch, after refusing a repo without safetensors or with files over their limit."""
    if WEIGHTS_NAME not in sizes:
        pickles = sorted(n for n in sizes if n.endswith(PICKLE_SUFFIXES))
        if pickles:
            raise HubError(f"{where} holds only pickle weights ({', '.join(pickles)}); "
                           "digitlab loads safetensors only, so it was not downloaded.")
        raise HubError(f"{where} has no model.safetensors, so it holds no digitlab weights.")
    if CONFIG_NAME not in sizes:
        raise HubError(f"{where} has no config.json saying which architecture its weights are for.")
    for name, limit in FILE_LIMITS.items():
        size = sizes.get(name)
        if name != TRAINING_NAME and (size is None or size > limit):
            raise HubError(f"The {name} of {where} is {megabytes(size)}; this lab loads files of up to "
                           f"{megabytes(limit)}, so nothing was downloaded.")
    return [n for n in HUB_FILES if n in sizes and (sizes[n] or 0) <= FILE_LIMITS[n]]  # a huge card is left out


def megabytes(size: int | None) -> str:
    return "of unknown size" if size is None else f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size:,} bytes"


def fetch_repo(repo_id: str, revision: str | None = None, token: str | bool | None = None,
             trust_cache: bool = True) -> tuple[Path, str]:
    """(the snapshot folder, its commit) of config.json + model.safetensors (+ training.json), fetched into
    hub_cache() after the Hub said this token may read them and their sizes are within FILE_LIMITS.

    `trust_cache`: when the Hub cannot be asked (offline, unreachable), a snapshot already cached is used
    as it is: right for one person's machine, never for a server shared by strangers.
    """
    cache = hub_cache()
    try:
        sha, sizes = listing(repo_id, revision, token)
    except HUB_ERRORS as err:
        unreachable = isinstance(err, (OfflineModeIsEnabled, httpx2.TransportError)) or constants.HF_HUB_OFFLINE
        if not (trust_cache and unreachable):
            raise hub_error(err, repo_id, revision) from err
        try:
            folder = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache, local_files_only=True,
                                            allow_patterns=HUB_FILES))
        except HUB_ERRORS + (CachedRepoTreeNotFoundError, IncompleteSnapshotError):
            raise hub_error(err, repo_id, revision) from err
        return folder, folder.name
    files = check_listing(repo_text(repo_id, revision), sizes)
    try:
        folder = Path(snapshot_download(repo_id, revision=sha, token=token, allow_patterns=files, cache_dir=cache,
                                        tqdm_class=QuietProgress))
        revision = revision or constants.DEFAULT_REVISION
        if revision != sha:  # a download by commit names no branch: remember which it was, for
            refs = folder.parent.parent / "refs"  # a later offline load by that name (huggingface_hub's layout)
            refs.mkdir(exist_ok=True)
            (refs / revision).write_text(sha)
    except HUB_ERRORS as err:
        forget(repo_id, sha)
        raise hub_error(err, repo_id, revision) from err
    except BaseException:
        forget(repo_id, sha)
        raise
    return folder, sha


def forget(repo_id: str, sha: str) -> None:
    """Remove one downloaded commit of a repo (and any half-downloaded file of it) from hub_cache()."""
    repo_folder = hub_cache() / f"models--{repo_id.replace('/', '--')}"
    for partial in repo_folder.glob("blobs/*.incomplete"):
        partial.unlink(missing_ok=True)
    try:
        scan_cache_dir(hub_cache()).delete_revisions(sha).execute()
    except (CacheNotFound, OSError, ValueError):
        pass
    shutil.rmtree(repo_folder / "snapshots" / sha, ignore_errors=True)


def trim_cache(quota: int | None = None, keep: str | None = None) -> None:
    """Remove the least recently used commits from hub_cache() until it holds at most `quota` bytes."""
    quota = CACHE_QUOTA if quota is None else quota
    try:
        info = scan_cache_dir(hub_cache())
    except (CacheNotFound, OSError, ValueError):
        return
    revisions = sorted((r for repo in info.repos for r in repo.revisions), key=lambda r: r.last_modified)
    total = info.size_on_disk
    old = []
    for revision in revisions:
        if total <= quota:
            break
        if revision.commit_hash != keep:
            old.append(revision.commit_hash)
            total -= revision.size_on_disk
    if old:
        info.delete_revisions(*old).execute()


def push_model(model: Classifier, repo_id: str, token: str | None = None, private: bool = False,
               card: dict | None = None, onnx: bool = False) -> PushResult:
    """Upload weights, config.json and a model card to `repo_id` in one commit, creating the repo if needed;
    with `onnx`, model.onnx (exported from the weights) beside them.

    The token comes from `token`, $HF_TOKEN or the saved login (`hf auth login`); it is never echoed.
    """
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise HubError(f"{repo_id!r} is not a Hub repo id; use the form 'user/digitlab-cnn'.") from None
    token = token or get_token()
    if not token:
        raise HubError(f"Pushing to {repo_id!r} needs a Hub token: pass --token, set HF_TOKEN, or run `hf auth login`.")
    api = HfApi(token=token)  # built per call so HF_ENDPOINT changes are seen
    try:
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        card = dict(card or {})
        acc = f" ({card['test_acc']:.2f}% test accuracy)" if isinstance(card.get("test_acc"), (int, float)) else ""
        with tempfile.TemporaryDirectory() as tmp:
            save_model(model, tmp, card=card, name=repo_id)
            if onnx:
                from digitlab.models.onnx import export_onnx

                export_onnx(model, Path(tmp) / ONNX_NAME)
            info = api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=f"Upload {model.arch}{acc}")
    except HUB_ERRORS as err:
        raise hub_error(err, repo_id, push=True) from err
    return PushResult(url=f"{api.endpoint}/{repo_id}", commit=info.oid, repo_id=repo_id)


def hub_error(err: Exception, repo_id: str, revision: str | None = None, push: bool = False) -> HubError:
    """One plain sentence for a Hub client error; it never contains the token."""
    where, endpoint = f"{repo_id!r}" + (f" at revision {revision!r}" if revision else ""), constants.ENDPOINT
    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(err, OfflineModeIsEnabled) or (isinstance(err, LocalEntryNotFoundError) and constants.HF_HUB_OFFLINE):
        msg = (f"Cannot push to {repo_id!r} while HF_HUB_OFFLINE is set." if push else
               f"{where} is not in the local Hub cache and HF_HUB_OFFLINE is set; pull it once while online.")
    elif isinstance(err, (LocalEntryNotFoundError, httpx2.TransportError)):
        msg = (f"Could not reach the Hub at {endpoint}" + ("" if push else f", and {where} is not in the local cache")
               + "; check your connection or HF_ENDPOINT.")
    elif isinstance(err, GatedRepoError):  # a RepositoryNotFoundError too: test it first
        msg = (f"{repo_id!r} is a gated repo: accept its conditions at {endpoint}/{repo_id} "
               "and use a token of an account that has access.")
    elif isinstance(err, RevisionNotFoundError):
        msg = f"{repo_id!r} has no revision {revision!r}; give a branch, tag or commit that exists."
    elif isinstance(err, RepositoryNotFoundError):
        msg = (f"Cannot push to {repo_id!r}: it does not exist or your token cannot see it." if push else
               f"There is no model repo {repo_id!r} on {endpoint}, or it is private and needs a token "
               "(--token or HF_TOKEN) that can read it.")
    elif isinstance(err, RemoteEntryNotFoundError):
        msg = f"{where} lacks a file it listed a moment ago; try again."
    elif status == 401:
        msg = f"The Hub at {endpoint} rejected the token (invalid or expired); check it or make a new one."
    elif status == 403:
        msg = (f"Your token may not write to {repo_id!r}: it is read-only, or the namespace is not yours." if push else
               f"Your token may not read {repo_id!r}.")
    elif status is not None and status >= 500:
        msg = f"The Hub at {endpoint} had a server error ({status}); try again later."
    elif isinstance(err, HFValidationError):
        msg = f"{repo_id!r} or revision {revision!r} is not valid on the Hub."
    else:
        msg = f"The Hub at {endpoint} refused the request for {where} (HTTP {status})."
    return HubError(msg)

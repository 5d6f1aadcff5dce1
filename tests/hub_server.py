"""A small Hugging Face Hub for tests: the real `huggingface_hub` client pushes to and pulls from it.

It speaks the part of the Hub protocol that push / pull use (checked against huggingface_hub 2.4):
repo create (409 if it exists; model and dataset repos, the latter kept as "datasets/<id>"),
validate-yaml, whoami-v2, model info (also at /revision/{rev}),
tree, preupload (every file "regular", so Xet/LFS is never touched), NDJSON commits with base64
files (each commit gets a new oid and the history is kept, so a pinned old revision still
resolves), and resolve GET/HEAD with X-Repo-Commit, ETag and Content-Length. Auth is by bearer
token with the Hub's answers: 401 for a bad token, 401/404 + X-Error-Code RepoNotFound for a
repo you may not see (private repos are invisible without the owner's token), 401/403 +
GatedRepo for a gated repo's files, RevisionNotFound, EntryNotFound.

Use it from any test module (tests/ is a package; pyproject puts the repo root on sys.path):

    pytest_plugins = ["tests.hub_server"]    # makes the `local_hub` fixture available

    def test_pull(local_hub):
        local_hub.seed_repo("alice/pickled", {"config.json": "{}", "pytorch_model.bin": b"..."})
        hub.load_model("alice/pickled")      # talks to local_hub.url, caches in local_hub.cache

`local_hub` starts the server on 127.0.0.1 (a free port) and, for the test's duration, points
`huggingface_hub` at it: constants ENDPOINT / HUGGINGFACE_CO_URL_TEMPLATE, a fresh empty
$DIGITLAB_CACHE (so digitlab's own Hub cache) under tmp_path, HF_HUB_OFFLINE off, HF_HUB_DISABLE_XET
on, no saved login and no
HF_TOKEN (set `HF_TOKEN` with monkeypatch to test the env route). Attributes: `.url`, `.token`
(user "alice", may write to alice/*), `.other_token` (user "bob"), `.cache`, `.requests` (one
"METHOD path status" line per request), `.seed_repo(...)`, `.files(repo, rev)`, `.commits(repo)`,
`.grant(repo, user)`, `.stop()` (then the port refuses connections: "server down"), `.authorizations`
(the Authorization header of every request, None where there was none).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
BAD_TOKEN = "Invalid credentials in Authorization header"  # the Hub's own wording; the client keys on it


def git_blob_oid(content: bytes) -> str:
    """The git blob sha1 the Hub reports as a file's oid / ETag."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    files: dict[str, bytes]
    message: str


@dataclass
class Repo:
    repo_id: str
    owner: str
    private: bool = False
    gated: bool = False
    granted: set[str] = field(default_factory=set)  # users allowed through the gate
    commits: list[Commit] = field(default_factory=list)  # oldest first
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit oid

    def resolve(self, revision: str) -> Commit | None:
        """A branch name, a full commit oid or an unambiguous prefix of at least 7 characters."""
        oid = self.branches.get(revision, revision)
        found = [c for c in self.commits if c.oid == oid or (len(oid) >= 7 and c.oid.startswith(oid))]
        return found[0] if len(found) == 1 else None


class HubError(Exception):
    """An HTTP error answer: status, X-Error-Code (or None) and a message."""

    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class LocalHub:
    """The Hub's state (users, repos, commits) plus the HTTP server that serves it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, str] = {}  # token -> user
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []  # the Authorization header of every request, as sent
        self.counter = 0
        self.token = self.add_user("alice")
        self.other_token = self.add_user("bob")
        self.cache: Path | None = None  # set by the fixture
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the port: later requests get 'connection refused'."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()

    # --- state, also used directly by tests -------------------------------------------------
    def add_user(self, name: str) -> str:
        """Register a user and return a fresh token for them."""
        token = f"hf_test_{name}_{secrets.token_hex(12)}"
        self.tokens[token] = name
        return token

    def grant(self, repo_id: str, user: str) -> None:
        """Let `user` through the gate of a gated repo."""
        self.repos[repo_id].granted.add(user)

    def create(self, repo_id: str, owner: str, private: bool = False, gated: bool = False) -> Repo:
        with self.lock:
            repo = Repo(repo_id, owner, private, gated)
            self.repos[repo_id] = repo
            self.commit(repo, {".gitattributes": GITATTRIBUTES}, "initial commit")
            return repo

    def commit(self, repo: Repo, changes: Mapping[str, bytes | None], message: str, branch: str = "main") -> Commit:
        """Apply {path: content, or None to delete} on top of `branch` and move the branch."""
        with self.lock:
            head = repo.resolve(branch) if branch in repo.branches else None
            files = dict(head.files) if head else {}
            for path, content in changes.items():
                if content is None:
                    files = {p: c for p, c in files.items() if p != path and not p.startswith(path.rstrip("/") + "/")}
                else:
                    files[path] = content
            self.counter += 1
            seed = f"{repo.repo_id}\n{head.oid if head else ''}\n{message}\n{self.counter}".encode()
            commit = Commit(hashlib.sha1(seed).hexdigest(), files, message)
            repo.commits.append(commit)
            repo.branches[branch] = commit.oid
            return commit

    def seed_repo(self, repo_id: str, files: Mapping[str, bytes | str] | str | Path, *, private: bool = False,
                  gated: bool = False, message: str = "seed") -> str:
        """Create (or add a commit to) a repo with these files, bypassing the API; return the commit oid.

        `files` is {path: bytes or str} or a local folder whose files are all taken.
        """
        if isinstance(files, (str, Path)):
            files = {p.name: p.read_bytes() for p in sorted(Path(files).iterdir()) if p.is_file()}
        data = {p: c.encode() if isinstance(c, str) else bytes(c) for p, c in files.items()}
        with self.lock:
            repo = self.repos.get(repo_id) or self.create(repo_id, repo_id.split("/")[0], private, gated)
            return self.commit(repo, data, message).oid

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of a repo at a revision."""
        return dict(self.repos[repo_id].resolve(revision).files)

    def commits(self, repo_id: str) -> list[str]:
        """Commit oids of a repo, oldest first."""
        return [c.oid for c in self.repos[repo_id].commits]

    # --- access rules ---------------------------------------------------------------------
    def user_for(self, authorization: str | None) -> str | None:
        """The user behind an Authorization header; a header with an unknown token is a 401."""
        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise HubError(401, None, BAD_TOKEN)
        return self.tokens[token]

    def readable(self, repo_id: str, user: str | None) -> Repo:
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and user != repo.owner):
            # The Hub does not tell "missing" from "private": 401 without a token, 404 with one.
            raise HubError(401 if user is None else 404, "RepoNotFound", "Repository not found")
        return repo

    def downloadable(self, repo_id: str, user: str | None) -> Repo:
        repo = self.readable(repo_id, user)
        if repo.gated and user != repo.owner and user not in repo.granted:
            raise HubError(401 if user is None else 403, "GatedRepo",
                           f"Access to model {repo_id} is restricted. You must have access to it and be authenticated.")
        return repo

    def writable(self, repo_id: str, user: str | None) -> Repo:
        if user is None:
            raise HubError(401, None, "You must be authenticated to write to a repo")
        repo = self.readable(repo_id, user)
        if user != repo.owner:
            raise HubError(403, None, f"You don't have the rights to write to {repo_id}")
        return repo

    @staticmethod
    def revision_of(repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(unquote(revision))
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {unquote(revision)}")
        return commit

    # --- endpoints ------------------------------------------------------------------------
    def create_repo(self, user: str | None, body: dict) -> tuple[int, dict]:
        if user is None:
            raise HubError(401, None, "You must be authenticated to create a repo")
        if body.get("type") not in (None, "model", "dataset"):
            raise HubError(400, None, "this test server has model and dataset repos only")
        namespace = body.get("organization") or user
        repo_id = f"{namespace}/{body['name']}"
        url = f"{self.url}/{repo_id}"
        if body.get("type") == "dataset":  # kept as "datasets/<id>" beside the model repos
            repo_id, url = f"datasets/{repo_id}", f"{self.url}/datasets/{repo_id}"
        with self.lock:
            if repo_id in self.repos:
                return 409, {"error": "You already created this model repo", "url": url}
            if namespace != user:
                raise HubError(403, None, f"You don't have the rights to create a model under {namespace!r}")
            private = body.get("visibility") == "private" or bool(body.get("private"))
            self.create(repo_id, user, private=private)
        return 200, {"url": url, "name": repo_id.removeprefix("datasets/"), "id": secrets.token_hex(12)}

    def whoami(self, user: str | None) -> dict:
        if user is None:
            raise HubError(401, None, BAD_TOKEN)
        return {"type": "user", "id": secrets.token_hex(12), "name": user, "fullname": user.title(), "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}}}

    def model_info(self, repo: Repo, commit: Commit, blobs: bool = False) -> dict:
        """The repo's info at a commit; with `blobs` (files_metadata=True) each file's size and oid too."""
        siblings = [{"rfilename": path, **({"size": len(content), "blobId": git_blob_oid(content)} if blobs else {})}
                    for path, content in sorted(commit.files.items())]
        return {"_id": repo.repo_id, "id": repo.repo_id, "modelId": repo.repo_id, "author": repo.owner,
                "sha": commit.oid, "private": repo.private, "gated": "manual" if repo.gated else False,
                "disabled": False, "downloads": 0, "likes": 0, "tags": [], "library_name": None,
                "siblings": siblings}

    @staticmethod
    def tree(commit: Commit, prefix: str, recursive: bool) -> list[dict]:
        prefix = prefix.strip("/")
        entries, folders = [], set()
        for path in sorted(commit.files):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1:] if prefix else path
            if "/" in rest and not recursive:
                folders.add((prefix + "/" if prefix else "") + rest.split("/")[0])
                continue
            content = commit.files[path]
            entries.append({"type": "file", "oid": git_blob_oid(content), "size": len(content), "path": path})
        return [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders)] + entries

    def preupload(self, commit: Commit, body: dict) -> dict:
        files = []
        for f in body.get("files", []):
            remote = commit.files.get(f["path"])
            files.append({"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                          "oid": git_blob_oid(remote) if remote is not None else None})
        return {"files": files, "commitOid": commit.oid}

    def apply_commit(self, repo: Repo, revision: str, payload: bytes) -> dict:
        branch = unquote(revision)
        if branch not in repo.branches:
            raise HubError(400, None, f"Can only commit to a branch, not {branch!r}")
        header, changes = {}, {}
        for line in payload.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, None, "file content must be base64")
                changes[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                changes[value["path"]] = None
            else:  # lfsFile: preupload never asks for LFS, so a client sending one is misbehaving
                raise HubError(400, None, f"this test server does not take {key!r} operations")
        with self.lock:
            parent = header.get("parentCommit")
            if parent and parent != repo.branches[branch]:
                raise HubError(412, None, "A commit has happened since. Please refresh and try again.")
            commit = self.commit(repo, changes, header.get("summary") or "commit", branch)
        return {"success": True, "commitOid": commit.oid, "commitUrl": f"{self.url}/{repo.repo_id}/commit/{commit.oid}",
                "hookOutput": ""}


def make_handler(hub: LocalHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a stopped server really is gone

        def log_message(self, format: str, *args) -> None:  # quiet; `hub.requests` keeps the trail
            pass

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_HEAD(self) -> None:
            self.handle_any("HEAD")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def handle_any(self, method: str) -> None:
            url = urlsplit(self.path)
            with hub.lock:
                hub.authorizations.append(self.headers.get("Authorization"))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
            try:
                user = hub.user_for(self.headers.get("Authorization"))
                status, headers, content = self.route(method, url.path, parse_qs(url.query), body, user)
            except HubError as err:
                status, content = err.status, json.dumps({"error": err.message}).encode()
                headers = {"Content-Type": "application/json", "X-Error-Message": err.message, **err.headers}
                if err.code:
                    headers["X-Error-Code"] = err.code
            with hub.lock:
                hub.requests.append(f"{method} {url.path} {status}")
            self.send_response(status)
            for name, value in {"Content-Length": str(len(content)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":  # a HEAD answer carries the headers of the GET, never its body
                self.wfile.write(content)

        def route(self, method: str, path: str, query: dict, body: bytes, user: str | None):
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if method == "POST" and path == "/api/repos/create":
                return as_json(*hub.create_repo(user, json.loads(body or b"{}")))
            if method == "POST" and path == "/api/validate-yaml":
                return as_json(200, validate_yaml(json.loads(body or b"{}").get("content", "")))
            if method == "GET" and path == "/api/whoami-v2":
                return as_json(200, hub.whoami(user))
            if parts[:2] in (["api", "models"], ["api", "datasets"]) and len(parts) >= 4:
                repo_id, rest = "/".join(parts[2:4]), parts[4:]
                if parts[1] == "datasets":
                    repo_id = f"datasets/{repo_id}"
                blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
                if method == "GET" and not rest:
                    repo = hub.readable(repo_id, user)
                    return as_json(200, hub.model_info(repo, hub.revision_of(repo, "main"), blobs))
                if method == "GET" and rest[0] == "revision" and len(rest) == 2:
                    repo = hub.readable(repo_id, user)
                    return as_json(200, hub.model_info(repo, hub.revision_of(repo, rest[1]), blobs))
                if method == "GET" and rest[0] == "tree" and len(rest) >= 2:
                    repo = hub.readable(repo_id, user)
                    recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                    return as_json(200, hub.tree(hub.revision_of(repo, rest[1]), "/".join(rest[2:]), recursive))
                if method == "POST" and rest[0] == "preupload" and len(rest) == 2:
                    repo = hub.writable(repo_id, user)
                    return as_json(200, hub.preupload(hub.revision_of(repo, rest[1]), json.loads(body or b"{}")))
                if method == "POST" and rest[0] == "commit" and len(rest) == 2:
                    repo = hub.writable(repo_id, user)
                    return as_json(200, hub.apply_commit(repo, rest[1], body))
            if method in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
                repo = hub.downloadable("/".join(parts[:2]), user)
                commit = hub.revision_of(repo, parts[3])
                filename = "/".join(parts[4:])
                if filename not in commit.files:
                    raise HubError(404, "EntryNotFound", f"{filename} does not exist on {parts[3]}",
                                   {"X-Repo-Commit": commit.oid})
                content = commit.files[filename]
                return 200, {"Content-Type": "application/octet-stream", "X-Repo-Commit": commit.oid,
                             "ETag": f'"{git_blob_oid(content)}"', "Accept-Ranges": "bytes"}, content
            raise HubError(404, None, f"Sorry, we can't find the page you are looking for ({method} {path})")

    return Handler


def as_json(status: int, data) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


def validate_yaml(readme: str) -> dict:
    """Check that the README front matter is YAML mapping, as the Hub does before a commit."""
    import yaml

    if not readme.startswith("---"):
        return {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}
    try:
        meta = yaml.safe_load(readme.split("---", 2)[1])
    except (yaml.YAMLError, IndexError) as err:
        return {"errors": [{"message": f"invalid YAML: {err}"}], "warnings": []}
    if not isinstance(meta, dict):
        return {"errors": [{"message": "metadata must be a YAML mapping"}], "warnings": []}
    return {"errors": [], "warnings": []}


def point_client_at(hub: LocalHub, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every huggingface_hub call in this process use `hub`, a fresh cache under `home`, no login."""
    from huggingface_hub import constants, hf_api

    monkeypatch.setenv("DIGITLAB_CACHE", str(home / "digitlab-cache"))  # digitlab.hub.hub_cache() is under it
    hub.cache = home / "digitlab-cache" / "hub"
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_api.api, "endpoint", hub.url)  # the module-level create_repo, model_info, ...
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hf-cache"))  # digitlab never uses it
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "no-saved-login" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "no-saved-login" / "stored_tokens"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def local_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHub]:
    """A running LocalHub that huggingface_hub talks to for this test (see the module docstring)."""
    hub = LocalHub()
    point_client_at(hub, tmp_path / "hf", monkeypatch)
    try:
        yield hub
    finally:
        hub.stop()

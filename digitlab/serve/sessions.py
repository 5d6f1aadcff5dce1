"""Per-visitor state and its lifetime: what one browser session made or chose, and nothing else.

A Visitor holds the active model (starting as the shared, read-only default), the models it loaded,
its training runs, its corrections, its training process and the folder its files live in. Sessions
keeps them by Gradio's session hash, ends a session when its tab closes (demo.unload), when it has
been idle too long, or when too many are open (the least recently used first), and ending one
stops its training and removes its folder. Nothing here is shared between visitors but the
read-only shipped models.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy


@dataclass(frozen=True)
class ModelChoice:
    """One model a visitor can make active: a shipped one, one they loaded, or one they trained."""

    key: str  # unique within the visitor's picker: "shipped:mnist", "hub:user/repo@rev", "run:3"
    title: str  # what the picker shows
    predictor: Predictor
    source: str  # a folder, a repo id, or how the model came to be ("trained here")
    revision: str | None = None
    card: dict | None = None  # training facts (model card), when known

    @property
    def shipped(self) -> bool:
        return self.key.startswith("shipped:")


@dataclass
class Run:
    """A finished training of this visitor: its records, settings and the model it made."""

    number: int
    choice: ModelChoice
    records: list[dict]
    config: dict
    data: str
    seconds: float
    stopped: bool
    calibration: dict
    folder: Path  # model.safetensors, config.json, the card
    zip_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "train"  # or "finetune" (on corrections)
    before_after: dict = field(default_factory=dict)  # fine-tuning: accuracy on the corrections and test set

    @property
    def test_acc(self) -> float | None:
        return self.records[-1]["test_acc"] if self.records else None


@dataclass
class Correction:
    """A sample the visitor says the model misread: the view it read and the label it should have given."""

    view: Any  # (C, S, S) uint8, as the model read it
    label: int  # index into the model's labels
    answer: int  # what the model said
    model_key: str


class Visitor:
    """Everything one browser session owns."""

    def __init__(self, session: str, default: ModelChoice, policy: Policy, root: Path | None = None):
        self.session = session
        self.root = root  # where the session's folder is made (None: the system's temp folder)
        self.token = secrets.token_urlsafe(16)  # names this session to the browser's batched sketch events
        self.policy = policy
        self.active = self.default = default
        self.loaded: list[ModelChoice] = []
        self.runs: list[Run] = []
        self.corrections: list[Correction] = []
        self.evaluations: dict[str, Any] = {}  # model key -> its Evaluation on its test set
        self.shown: list[int] = []  # the test images the Evaluate gallery shows now
        self.job = None  # the TrainingProcess while a run is under way
        self.waiting = False  # a run waits for the trainer
        self.stop_requested = False
        self.run_counter = 0
        self.last_seen = time.monotonic()
        self.lock = threading.RLock()
        self._folder: Path | None = None
        self.closed = False

    @property
    def folder(self) -> Path:
        """A private folder for this session's files, made on first use and removed with the session."""
        with self.lock:
            if self._folder is None:
                if self.root is not None:
                    self.root.mkdir(parents=True, exist_ok=True)
                self._folder = Path(tempfile.mkdtemp(prefix="digitlab-session-", dir=self.root))
            return self._folder

    @property
    def holds_work(self) -> bool:
        """Whether ending this session would lose something the visitor made or chose."""
        return bool(self.runs or self.loaded or self.corrections) or self.active is not self.default

    def choices(self, shipped: list[ModelChoice]) -> list[ModelChoice]:
        """The picker: the shipped models, then what this visitor loaded and trained (newest first)."""
        own = [run.choice for run in reversed(self.runs)] + list(reversed(self.loaded))
        return shipped + own

    def find(self, key: str, shipped: list[ModelChoice]) -> ModelChoice | None:
        return next((c for c in self.choices(shipped) if c.key == key), None)

    def add_loaded(self, choice: ModelChoice) -> None:
        with self.lock:
            self.loaded = [c for c in self.loaded if c.key != choice.key][-(self.policy.runs_kept - 1):] + [choice]

    def add_run(self, run: Run) -> None:
        """Keep the newest runs; an older one's files go (the active model stays in memory if in use)."""
        with self.lock:
            self.runs.append(run)
            while len(self.runs) > self.policy.runs_kept:
                old = self.runs.pop(0)
                shutil.rmtree(old.folder, ignore_errors=True)
                if old.zip_path:
                    old.zip_path.unlink(missing_ok=True)
                self.evaluations.pop(old.choice.key, None)

    def add_correction(self, correction: Correction) -> None:
        with self.lock:
            self.corrections = self.corrections[-(self.policy.corrections_kept - 1):] + [correction]

    def next_run_number(self) -> int:
        with self.lock:
            self.run_counter += 1
            return self.run_counter

    def close(self) -> None:
        """Stop this session's training and remove everything it owns."""
        with self.lock:
            self.closed = True
            job, self.job = self.job, None
            if job is not None:
                job.kill()
            self.runs.clear()
            self.loaded.clear()
            self.corrections.clear()
            self.evaluations.clear()
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
                self._folder = None


class Sessions:
    """The visitors of one app, by Gradio session hash, bounded in number and idle time."""

    def __init__(self, policy: Policy, default: ModelChoice, root: Path | None = None):
        self.policy = policy
        self.default = default
        self.root = root
        self._visitors: OrderedDict[str, Visitor] = OrderedDict()
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def visitor(self, session: str | None) -> Visitor:
        """This session's Visitor, made on first use; ends idle and surplus sessions on the way."""
        if not session:
            raise ValueError("a visitor needs a session")
        ended: list[Visitor] = []
        with self._lock:
            visitor = self._visitors.get(session)
            if visitor is None:
                visitor = Visitor(session, self.default, self.policy, self.root)
                self._visitors[session] = visitor
                self._tokens[visitor.token] = session
            visitor.last_seen = time.monotonic()
            self._visitors.move_to_end(session)
            ended += self._expired(keep=session)
        for old in ended:
            old.close()
        return visitor

    def by_token(self, token: str | None) -> Visitor | None:
        """The Visitor a batched sketch event names, or None (then the default model answers)."""
        with self._lock:
            session = self._tokens.get(token or "")
            visitor = self._visitors.get(session) if session else None
            if visitor is not None:
                visitor.last_seen = time.monotonic()
            return visitor

    def end(self, session: str | None) -> None:
        """The session is over (its tab closed): stop its run and remove its files."""
        with self._lock:
            visitor = self._visitors.pop(session or "", None)
            if visitor is not None:
                self._tokens.pop(visitor.token, None)
        if visitor is not None:
            visitor.close()

    def sweep(self) -> None:
        with self._lock:
            ended = self._expired()
        for old in ended:
            old.close()

    def _expired(self, keep: str | None = None) -> list[Visitor]:
        """Pop sessions idle too long, then those beyond the limit; the caller closes them.

        Beyond the limit, sessions that hold nothing go first (oldest first), so a flood of new
        sessions cannot end a visitor's work; a session that is training or waiting to is never ended.
        """
        now = time.monotonic()
        busy = {s for s, v in self._visitors.items() if v.job is not None or v.waiting or s == keep}
        idle = [s for s, v in self._visitors.items()
                if s not in busy and now - v.last_seen > self.policy.session_idle_seconds]
        surplus = len(self._visitors) - len(idle) - self.policy.max_sessions
        if surplus > 0:
            rest = [s for s in self._visitors if s not in busy and s not in idle]
            rest.sort(key=lambda s: (self._visitors[s].holds_work, self._visitors[s].last_seen))
            idle += rest[:surplus]
        out = []
        for session in idle:
            visitor = self._visitors.pop(session)
            self._tokens.pop(visitor.token, None)
            out.append(visitor)
        return out

    def __len__(self) -> int:
        return len(self._visitors)

    def close_all(self) -> None:
        with self._lock:
            visitors = list(self._visitors.values())
            self._visitors.clear()
            self._tokens.clear()
        for visitor in visitors:
            visitor.close()

"""Per-visitor state and its lifetime: what one browser session made or chose, and nothing else.

A Visitor holds the active model (starting as the shared, read-only default), the models it loaded,
its training runs, its corrections, its last sketch and the folder its files live in. Sessions keeps
them by Gradio's session hash, ends a session when its tab closes (demo.unload), when it has been idle
too long, or when too many are open, and ending one calls `on_end` (the job service stops its run) and
removes its folder. A session that holds work (runs, loaded models, corrections, a place in the
training line) is never ended for room while one that holds none is left; picking a shipped model is
not work. New sessions per client and minute are bounded where the client can be told apart.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy
from digitlab.serve.budgets import RateLimit, Refused

TRAINED_HERE = "trained here"  # the source of a model trained in this app (the header says it in its language)


@dataclass(frozen=True)
class ModelChoice:
    """One model a visitor can make active: a shipped one, one they loaded, or one they trained."""

    key: str  # unique within the visitor's picker: "shipped:mnist", "hub:user/repo@rev", "run:3"
    title: str  # what the picker shows
    predictor: Predictor
    source: str  # a folder, a repo id, or how the model came to be (TRAINED_HERE)
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
    config: dict  # TrainConfig.to_dict()
    data: str
    seconds: float
    stopped: bool
    calibration: dict
    folder: Path  # model.safetensors, config.json, the card
    zip_path: Path | None = None
    kind: str = "train"  # or "finetune" (on corrections)
    before_after: dict = field(default_factory=dict)  # fine-tuning: accuracy on the corrections and test set
    command: str = ""  # the CLI command that repeats it
    kept: bool = False  # the visitor asked to keep it: never dropped to make room
    dropped: int | None = None  # the number of the run that made room for this one

    @property
    def test_acc(self) -> float | None:
        return self.records[-1]["test_acc"] if self.records else None


@dataclass(eq=False)
class Correction:
    """A sample the visitor says the model misread: the view it read and the label it should have given."""

    view: Any  # (C, S, S) uint8, as the model read it
    label: int  # index into the model's labels, or finetune.NOT_ONE: none of them (it should have declined)
    answer: int  # what the model said
    model_key: str
    names: tuple[str, ...] = ()  # the classes of the model it was made with


class Visitor:
    """Everything one browser session owns."""

    def __init__(self, session: str, default: ModelChoice, policy: Policy, root: Path | None = None,
                 lang: str = "en"):
        self.session = session
        self.root = root  # where the session's folder is made (None: the system's temp folder)
        self.token = secrets.token_urlsafe(16)  # names this session to the page's sketch route
        self.policy = policy
        self.active = self.default = default
        self.lang = lang  # what the page and its errors are said in: the browser's language, then the switch
        self.loaded: list[ModelChoice] = []
        self.runs: list[Run] = []
        self.corrections: list[Correction] = []
        self.evaluations: dict[str, Any] = {}  # model key -> its Evaluation on its test set
        self.test_data: dict[str, Any] = {}  # an own-images run's test split, decoded once: path -> Dataset
        self.shown: list[int] = []  # the test images the Evaluate gallery shows now
        self.last_sketch: bytes | None = None  # the newest drawing the sketch route read: Why and Wrong? use it
        self.repos: list[str] = []  # Hub repos this visitor loaded or pushed (their browser keeps the list too)
        self.canvas = {"mode": "digit", "k": 3}  # what their Sketch canvas is set to
        self.run_counter = 0
        self.last_seen = time.monotonic()
        self.lock = threading.RLock()
        self._folder: Path | None = None
        self.closed = False
        self.keeping = False  # a finished run is being made into a model: not to be ended as idle or surplus

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
        """Whether ending this session would lose something the visitor made (a shipped model is not theirs)."""
        return bool(self.runs or self.loaded or self.corrections)

    def choices(self, shipped: list[ModelChoice]) -> list[ModelChoice]:
        """The picker: the shipped models, then what this visitor loaded and trained (newest first)."""
        own = [run.choice for run in reversed(self.runs)] + list(reversed(self.loaded))
        return shipped + own

    def find(self, key: str, shipped: list[ModelChoice]) -> ModelChoice | None:
        return next((c for c in self.choices(shipped) if c.key == key), None)

    def add_loaded(self, choice: ModelChoice) -> None:
        with self.lock:
            others = [c for c in self.loaded if c.key != choice.key]
            keep = [c for c in others if c is self.active]  # the active model stays in the list
            rest = [c for c in others if c is not self.active][-(self.policy.loaded_kept - 1 - len(keep)):]
            self.loaded = [c for c in others if c in keep or c in rest] + [choice]

    def next_run_number(self) -> int:
        """The number the next run will get: runs are numbered 1, 2, 3... with no gaps."""
        with self.lock:
            return self.run_counter + 1

    def droppable(self) -> Run | None:
        """The run that would go to make room for one more: the oldest neither active nor kept."""
        with self.lock:
            if len(self.runs) < self.policy.runs_kept:
                return None
            return next((r for r in self.runs if not r.kept and r.choice is not self.active), None)

    def add_run(self, run: Run) -> Run | None:
        """Keep a new run; when over the limit, the run droppable() names goes (its files too). Returns it.
        A session that has ended keeps nothing."""
        with self.lock:
            if self.closed:
                return None
            self.run_counter = max(self.run_counter, run.number)
            dropped = self.droppable()
            if dropped is not None:
                self.runs.remove(dropped)
                shutil.rmtree(dropped.folder, ignore_errors=True)
                if dropped.zip_path:
                    dropped.zip_path.unlink(missing_ok=True)
                self.evaluations = {k: v for k, v in self.evaluations.items()
                                    if not k.startswith(dropped.choice.key + "|")}
            self.runs.append(run)
            return dropped

    def add_correction(self, correction: Correction) -> None:
        with self.lock:
            self.corrections = self.corrections[-(self.policy.corrections_kept - 1):] + [correction]

    def close(self) -> None:
        """Remove everything this session owns."""
        with self.lock:
            self.closed = True
            self.runs.clear()
            self.loaded.clear()
            self.corrections.clear()
            self.evaluations.clear()
            self.test_data.clear()
            self.last_sketch = None
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
                self._folder = None


class Sessions:
    """The visitors of one app, by Gradio session hash, bounded in number, idle time and rate of creation."""

    def __init__(self, policy: Policy, default: ModelChoice, root: Path | None = None,
                 busy: Callable[[str], bool] = lambda session: False,
                 on_end: Callable[[str], None] = lambda session: None):
        self.policy = policy
        self.default = default
        self.root = root
        self.busy, self.on_end = busy, on_end
        self._visitors: OrderedDict[str, Visitor] = OrderedDict()
        self._tokens: dict[str, str] = {}
        self._new_per_client = RateLimit(policy.new_sessions_per_minute)
        self._lock = threading.Lock()

    def visitor(self, session: str, client: str | None = None, lang: str = "en") -> Visitor:
        """This session's Visitor, made on first use in `lang` (Refused when this client opened too many this
        minute); ends idle and surplus sessions on the way."""
        if not session:
            raise ValueError("a visitor needs a session")
        ended: list[Visitor] = []
        with self._lock:
            visitor = self._visitors.get(session)
            if visitor is None:
                if client is not None and not self._new_per_client.allow(client):
                    raise Refused("Too many new sessions from your address this minute; wait a minute and "
                                  "reload the page.")
                visitor = Visitor(session, self.default, self.policy, self.root, lang)
                self._visitors[session] = visitor
                self._tokens[visitor.token] = session
            visitor.last_seen = time.monotonic()
            self._visitors.move_to_end(session)
            ended += self._expired(keep=session)
        for old in ended:
            self._close(old)
        return visitor

    def by_session(self, session: str | None) -> Visitor | None:
        """The Visitor of a session that exists, or None (never made here)."""
        with self._lock:
            return self._visitors.get(session or "")

    def by_token(self, token: str | None) -> Visitor | None:
        """The Visitor a page's token names (the sketch route), or None."""
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
            self._close(visitor)

    def _close(self, visitor: Visitor) -> None:
        self.on_end(visitor.session)
        visitor.close()

    def _expired(self, keep: str | None = None) -> list[Visitor]:
        """Pop sessions idle too long, then those beyond the limit; the caller closes them.

        Beyond the limit, sessions that hold nothing go first (least recently seen first), so a flood of
        new sessions cannot end a visitor's work; a session that is training, waiting to, or having its
        finished run made into a model is never ended.
        """
        now = time.monotonic()
        busy = {s for s, v in self._visitors.items() if s == keep or self.busy(s) or v.keeping}
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
            self._close(visitor)

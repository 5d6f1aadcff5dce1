"""The app's shared state: its policy, the shipped models, the visitors' sessions, the trainer slot.

Only read-only things are shared between visitors (the shipped models, the policy); everything a
visitor makes or chooses lives in their Visitor (digitlab.serve.sessions). Handlers turn package errors
into gr.Error with a plain message, and check every input a stranger could send.
"""

from __future__ import annotations

import html
import math
import re
import threading
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from digitlab import hub
from digitlab.hub import shipped_weights
from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy
from digitlab.serve.sessions import ModelChoice, Sessions, Visitor

SHIPPED_TITLES = {"mnist": "Digits 0-9 (MNIST)", "fashion-mnist": "Clothes (Fashion-MNIST)",
                  "chinese-mnist": "Chinese numerals 零-亿 (Chinese MNIST)", "cifar10": "Photos (CIFAR-10)"}


NO_SESSION = ("This call has no session, and everything here belongs to one: call it through gradio_client "
              "(or join the queue with a session_hash), or use POST /api/predict.")


def plain(message: str, limit: int = 400) -> gr.Error:
    """A visitor's mistake or a refusal, shown as text (cut to `limit`; Gradio's pop-up renders HTML, so a
    name from a stranger's repo is escaped); no traceback in the server log."""
    message = " ".join(str(message).split())
    message = message if len(message) <= limit else message[: limit - 1] + "…"
    return gr.Error(html.escape(message, quote=False), print_exception=False)


MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]~|])")  # emphasis, code, links and images, strike-through, tables
MARKDOWN_LINE_START = re.compile(r"^(\s*\d*)([#+\-.!>)])")  # headings, lists ("- ", "1. "), quotes


def as_text(value: object) -> str:
    """Any text (a model's class names, a repo id, a file name) made inert for gr.Markdown: Markdown's
    marks are escaped with backslashes and HTML with entities, so it shows exactly as it is written."""
    text = MARKDOWN_LINE_START.sub(r"\1\\\2", MARKDOWN_INLINE.sub(r"\\\1", str(value)))
    return html.escape(text, quote=False)


def load_predictor(source: str | None, revision: str | None = None, token: str | bool | None = None,
                   public: bool = False) -> tuple[Predictor, dict]:
    """(a Predictor, its card) for a source, every failure a gr.Error in plain words; in public mode a Hub
    repo id only, and never a cached snapshot the Hub has not just confirmed this token may read."""
    try:
        loaded = hub.load(source or None, revision or None, token=token, local=not public, trust_cache=not public)
        return Predictor(loaded.model), loaded.card
    except hub.WeightsError as err:
        raise plain(str(err)) from err
    except Exception as err:  # a failure hub.py did not foresee must still read plainly
        raise plain(f"Could not load weights from {str(source)[:100]!r} ({type(err).__name__}).") from err


def shipped_choice(name: str, folder: Path) -> ModelChoice:
    predictor, card = load_predictor(str(folder))
    return ModelChoice(f"shipped:{name}", f"{SHIPPED_TITLES.get(name, name)} · shipped", predictor, str(folder),
                       card=card)


class Trainer:
    """One training process at a time for the whole app; a few may wait, the rest are told the lab is busy."""

    def __init__(self, waiting: int):
        self.slot = threading.Semaphore(1)
        self.limit = waiting
        self.waiting = 0
        self.lock = threading.Lock()

    def join(self) -> int | None:
        """Join the line: the number of runs ahead, or None when the line is full."""
        with self.lock:
            if self.waiting >= self.limit:
                return None
            self.waiting += 1
            return self.waiting - 1

    def leave(self) -> None:
        with self.lock:
            self.waiting -= 1


class Lab:
    """What every handler needs: the policy, the shipped models, the sessions and the trainer."""

    def __init__(self, policy: Policy | None = None, default: str | Path | Predictor | None = None,
                 revision: str | None = None):
        self.policy = policy or Policy()
        self.shipped = [shipped_choice(name, folder) for name, folder in shipped_weights().items()]
        if isinstance(default, Predictor):
            choice = ModelChoice("default", "The model this app was started with", default, "a model passed in")
            self.shipped.insert(0, choice)
        elif default and Path(default).resolve() not in {Path(c.source).resolve() for c in self.shipped}:
            # the operator's --weights: their own folder or repo, pulled with their own login
            predictor, _ = load_predictor(str(default), revision)
            choice = ModelChoice("default", f"{default} · this app's default", predictor, str(default), revision)
            self.shipped.insert(0, choice)
        else:
            mnist = next((c for c in self.shipped if c.source == str(hub.DEFAULT_WEIGHTS)), self.shipped[0])
            self.shipped.remove(mnist)
            self.shipped.insert(0, mnist)
        self.default = self.shipped[0]
        # Sessions' files live in gradio's own upload folder: a file handed to the browser from there is
        # served as it is, not copied (a copy would outlive the session that made it).
        self.sessions = Sessions(self.policy, self.default, Path(get_upload_folder()) / "digitlab-sessions")
        self.trainer = Trainer(self.policy.trainings_waiting)

    def visitor(self, request: gr.Request | None) -> Visitor:
        """The caller's own Visitor. A call without a session (Gradio's plain REST routes) has none: it is
        refused, never lumped with other such calls into one shared visitor, nor given a session of its own
        that no later call could reach (and that would hold what it loaded for an hour)."""
        session = getattr(request, "session_hash", None)
        url = getattr(request, "url", None)  # the request that joined the queue
        if not session or "/call/" in str(getattr(url, "path", "")):  # /call/<name> mints a one-off session
            raise plain(NO_SESSION)
        return self.sessions.visitor(session)

    def end_session(self, request: gr.Request) -> None:
        """demo.unload: the tab closed or reloaded; its training stops and its files go."""
        self.sessions.end(getattr(request, "session_hash", None))

    # -- inputs a stranger could send anything in -----------------------------------------------
    def text(self, value, what: str) -> str:
        """A text field's value, stripped; refused when it is not text or longer than the policy allows."""
        if value is None:
            return ""
        if not isinstance(value, str):
            raise plain(f"The {what} must be text.")
        value = value.strip()
        if len(value) > self.policy.max_text:
            raise plain(f"The {what} is too long: at most {self.policy.max_text} characters.")
        return value

    @staticmethod
    def whole(value, what: str, lo: int, hi: int, default: int | None = None) -> int:
        """A whole number in [lo, hi]; None or "" is `default`; anything else is refused plainly."""
        if value is None or value == "":
            if default is None:
                raise plain(f"Give the {what}: a whole number from {lo} to {hi}.")
            return default
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise plain(f"The {what} must be a whole number from {lo} to {hi}, not {str(value)[:20]!r}.") from None
        if not math.isfinite(number) or number != int(number) or not lo <= number <= hi:
            raise plain(f"The {what} must be a whole number from {lo} to {hi}, not {str(value)[:20]}.")
        return int(number)

    @staticmethod
    def positive(value, what: str, hi: float) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise plain(f"The {what} must be a number, not {str(value)[:20]!r}.") from None
        if not math.isfinite(number) or not 0 < number <= hi:
            raise plain(f"The {what} must be above 0 and at most {hi:g}.")
        return number

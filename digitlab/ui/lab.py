"""The app's shared state (policy, shipped models, sessions, the job service, the fair pool) and what every
handler needs: the caller's Visitor, input checks a stranger cannot get past, plain errors, and one wrapper
that turns an unexpected failure into a sentence for the visitor and a traceback in the server's log.

Only read-only things are shared between visitors (the shipped models, the policy); everything a
visitor makes or chooses lives in their Visitor (digitlab.serve.sessions).
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder

from digitlab import hub
from digitlab.hub import shipped_weights
from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy
from digitlab.serve.api import BodyBudget
from digitlab.serve.budgets import FairPool, Refused, Superseded, client_key
from digitlab.serve.sessions import ModelChoice, Sessions, Visitor
from digitlab.training.jobs import Jobs
from digitlab.training.worker import WorkerProcess
from digitlab.ui.text import language_of, say, words

log = logging.getLogger("digitlab.ui")

words({
    "error.no_session": ("This call has no session, and everything here belongs to one: call it through gradio_client "
                         "(or join the queue with a session_hash), or use POST /api/predict.",
                         "这个请求没有会话，而这里的一切都属于某个会话：请用 gradio_client 调用（或带 session_hash 加入队列），"
                         "或使用 POST /api/predict。"),
    "error.unexpected": ("Something went wrong on our side; it is in the server's log. Try again.",
                         "服务器这边出了问题，已记录在服务器日志中。请再试一次。"),
    "error.title": ("Error", "出错了"),
    "error.text": ("The {what} must be text.", "{what}必须是文字。"),
    "error.flag": ("The {what} box is ticked or not: give true or false, not {value}.",
                   "{what}只有勾选与不勾选两种：请给出 true 或 false，而不是 {value}。"),
    "error.too_long": ("The {what} is too long: at most {most} characters.", "{what}太长了：最多 {most} 个字符。"),
    "error.give_whole": ("Give the {what}: a whole number from {lo} to {hi}.", "请给出{what}：{lo} 到 {hi} 的整数。"),
    "error.whole": ("The {what} must be a whole number from {lo} to {hi}, not {value}.",
                    "{what}必须是 {lo} 到 {hi} 的整数，而不是 {value}。"),
    "error.number": ("The {what} must be a number, not {value}.", "{what}必须是数字，而不是 {value}。"),
    "error.positive": ("The {what} must be above 0 and at most {hi}.", "{what}必须大于 0 且不超过 {hi}。"),
    "error.busy": ("The lab is very busy right now; try again in a moment.", "实验室现在很忙，请稍后再试。"),
    "error.superseded": ("A newer request replaced this one.", "这个请求已被更新的请求取代。"),
    "error.onnx": ("This model is an ONNX file: it reads, but it cannot explain its answers, be trained from or be "
                   "pushed. Load its safetensors weights for that.",
                   "这个模型是 ONNX 文件：它能识别，但不能解释答案、不能在它的基础上训练，也不能推送。"
                   "需要这些功能请加载它的 safetensors 权重。"),
})

SHIPPED_TITLES = {"mnist": ("Digits 0-9 (MNIST)", "数字 0-9（MNIST）"),
                  "fashion-mnist": ("Clothes (Fashion-MNIST)", "服饰（Fashion-MNIST）"),
                  "chinese-mnist": ("Chinese numerals 零-亿 (Chinese MNIST)", "中文数字 零-亿（Chinese MNIST）"),
                  "cifar10": ("Photos (CIFAR-10)", "照片（CIFAR-10）")}
words({f"shipped:{name}": (f"{en} · shipped", f"{zh} · 自带") for name, (en, zh) in SHIPPED_TITLES.items()})
NO_SESSION = say("en", "error.no_session")

# The fields a refusal names (Lab.text, whole, flag and positive), as a Chinese page calls them
FIELDS_ZH = {"label": "标签", "true class": "真实类别", "answer": "答案", "token": "令牌", "repo id": "仓库 id",
             "revision": "版本", "private": "私有", "model": "模型", "number of answers (top-k)": "答案个数（top-k）",
             "dataset": "数据集", "data source": "数据来源", "number of epochs": "轮数", "batch size": "批大小",
             "learning rate": "学习率", "augment": "数据增强", "decline": "学会说「这不是我认识的」",
             "compile": "torch.compile", "seed": "随机种子"}


def field(what: str, lang: str) -> str:
    """A field's name in the visitor's language (a name said already passes as it is)."""
    return FIELDS_ZH.get(what, what) if lang == "zh-CN" else what


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


def shipped_choice(name: str, folder: Path) -> ModelChoice:
    predictor, card = load_predictor(str(folder))
    key = f"shipped:{name}"
    title = say("en", key) if name in SHIPPED_TITLES else f"{name} · shipped"
    return ModelChoice(key, title, predictor, str(folder), card=card)


def title_in(choice: ModelChoice, lang: str) -> str:
    """A model's name in the picker and summaries: a shipped model's in the visitor's language."""
    known = choice.shipped and choice.key.removeprefix("shipped:") in SHIPPED_TITLES
    return say(lang, choice.key) if known else choice.title


class Lab:
    """What every handler needs: the policy, the shipped models, the sessions, the trainer and the fair pool."""

    def __init__(self, policy: Policy | None = None, default: str | Path | Predictor | None = None,
                 revision: str | None = None, behind_proxy: bool = False):
        self.policy = policy or Policy()
        self.behind_proxy = behind_proxy
        self.shipped = [shipped_choice(name, folder) for name, folder in shipped_weights().items()]
        if isinstance(default, Predictor):
            choice = ModelChoice("default", "The model this app was started with", default, "a model passed in")
            self.shipped.insert(0, choice)
        elif default and Path(default).resolve() not in {Path(c.source).resolve() for c in self.shipped}:
            # the operator's --weights: their own folder or repo, pulled with their own login
            predictor, card = load_predictor(str(default), revision)
            self.shipped.insert(0, ModelChoice("default", f"{default} · this app's default", predictor, str(default),
                                               revision, card))
        else:
            mnist = next((c for c in self.shipped if c.source == str(hub.DEFAULT_WEIGHTS)), self.shipped[0])
            self.shipped.remove(mnist)
            self.shipped.insert(0, mnist)
        self.default = self.shipped[0]
        self.pool = FairPool(self.policy.work_threads, self.policy.waiting_per_visitor)
        self.bodies = BodyBudget(self.policy.held_image_bytes)
        self.jobs = Jobs(WorkerProcess, max_line=self.policy.max_line,
                         public_cap=self.policy.public_train_seconds if self.policy.public else None)
        # Sessions' files live in gradio's own upload folder: a file handed to the browser from there is
        # served as it is, not copied (a copy would outlive the session that made it).
        self.sessions = Sessions(self.policy, self.default, Path(get_upload_folder()) / "digitlab-sessions",
                                 busy=self.jobs.has, on_end=self.jobs.end)

    def visitor(self, request: gr.Request | None) -> Visitor:
        """The caller's own Visitor. A call without a session (Gradio's plain REST routes) has none: it is
        refused, never lumped with other such calls into one shared visitor, nor given a session of its own
        that no later call could reach (and that would hold what it loaded for an hour)."""
        session = getattr(request, "session_hash", None)
        url = getattr(request, "url", None)  # the request that joined the queue
        if not session or "/call/" in str(getattr(url, "path", "")):  # /call/<name> mints a one-off session
            raise plain(NO_SESSION)
        client = getattr(request, "client", None)
        headers = getattr(request, "headers", {}) or {}
        key = client_key(headers, getattr(client, "host", None), self.behind_proxy)
        try:  # a new session speaks its browser's (or its program's) Accept-Language
            return self.sessions.visitor(session, key, language_of(headers.get("accept-language")))
        except Refused as err:
            raise plain(str(err)) from err

    def end_session(self, request: gr.Request) -> None:
        """demo.unload: the tab closed or reloaded; its training stops and its files go."""
        self.sessions.end(getattr(request, "session_hash", None))

    def work(self, visitor: Visitor, fn: Callable, *args: Any):
        """Costly work for a visitor on the fair pool, awaited: await lab.work(visitor, fn, ...)."""
        return self.pool.run(visitor.session, fn, *args)

    def close(self) -> None:
        self.sessions.close_all()
        self.jobs.close()
        self.pool.close()

    # -- inputs a stranger could send anything in -----------------------------------------------
    def text(self, value: Any, what: str, lang: str = "en") -> str:
        """A text field's value, stripped; refused when it is not text or longer than the policy allows."""
        if value is None:
            return ""
        if not isinstance(value, str):
            raise plain(say(lang, "error.text", what=field(what, lang)))
        value = value.strip()
        if len(value) > self.policy.max_text:
            raise plain(say(lang, "error.too_long", what=field(what, lang), most=self.policy.max_text))
        return value

    @staticmethod
    def whole(value: Any, what: str, lo: int, hi: int, default: int | None = None, lang: str = "en") -> int:
        """A whole number in [lo, hi]; None or "" is `default`; anything else is refused plainly."""
        if value is None or value == "":
            if default is None:
                raise plain(say(lang, "error.give_whole", what=field(what, lang), lo=lo, hi=hi))
            return default
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise plain(say(lang, "error.whole", what=field(what, lang), lo=lo, hi=hi, value=repr(str(value)[:20]))) from None
        if not math.isfinite(number) or number != int(number) or not lo <= number <= hi:
            raise plain(say(lang, "error.whole", what=field(what, lang), lo=lo, hi=hi, value=str(value)[:20]))
        return int(number)

    @staticmethod
    def flag(value: Any, what: str, lang: str = "en") -> bool:
        """A checkbox's value: true or false (None: false). Anything else, the text "false" included, is refused
        plainly rather than read by its truthiness ("false" would turn the box on)."""
        if value is None:
            return False
        if isinstance(value, bool | np.bool_) or (type(value) is int and value in (0, 1)):
            return bool(value)
        raise plain(say(lang, "error.flag", what=field(what, lang), value=repr(str(value)[:20])))

    @staticmethod
    def positive(value: Any, what: str, hi: float, lang: str = "en") -> float:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise plain(say(lang, "error.number", what=field(what, lang), value=repr(str(value)[:20]))) from None
        if not math.isfinite(number) or not 0 < number <= hi:
            raise plain(say(lang, "error.positive", what=field(what, lang), hi=f"{hi:g}"))
        return number

    # -- every handler ---------------------------------------------------------------------------
    def language(self, args: tuple, kwargs: dict) -> str:
        request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
        visitor = self.sessions.by_session(getattr(request, "session_hash", None)) if request else None
        if visitor is not None:
            return visitor.lang
        return language_of((getattr(request, "headers", None) or {}).get("accept-language"))

    def handler(self, fn: Callable) -> Callable:
        """`fn` as an event handler: a gr.Error passes as it is, a refusal becomes one, and anything else is
        logged with its traceback while the visitor reads one plain sentence in their language."""

        def failed(err: BaseException, args: tuple, kwargs: dict) -> gr.Error:
            lang = self.language(args, kwargs)
            if isinstance(err, gr.Error):
                error = err
            elif isinstance(err, Refused):
                error = plain(str(err))
            elif isinstance(err, Superseded):
                error = plain(say(lang, "error.superseded"))
            else:
                log.exception("%s failed", fn.__name__, exc_info=err)
                error = plain(say(lang, "error.unexpected"))
            error.title = say(lang, "error.title")  # the pop-up's heading is the visitor's language too
            return error

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen(*args, **kwargs):
                try:
                    async for item in fn(*args, **kwargs):
                        yield item
                except Exception as err:
                    raise failed(err, args, kwargs) from err
            return agen
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*args, **kwargs):
                try:
                    yield from fn(*args, **kwargs)
                except Exception as err:
                    raise failed(err, args, kwargs) from err
            return gen
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def coro(*args, **kwargs):
                try:
                    return await fn(*args, **kwargs)
                except Exception as err:
                    raise failed(err, args, kwargs) from err
            return coro

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as err:
                raise failed(err, args, kwargs) from err
        return call

"""The top of the page and what the tabs share: the lab's title and first steps, the language switch, the
active model and its picker; and the one place that knows everything that follows the active model.

A tab registers what depends on the model (follow_model): its components and a function of the visitor
that gives their values. Every event that changes the model (the picker, Use this model, a Hub load)
outputs to all of them, so nothing on screen still speaks of the previous model.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from digitlab.serve.sessions import TRAINED_HERE, ModelChoice, Visitor
from digitlab.ui import store
from digitlab.ui.lab import Lab, as_text, plain, title_in
from digitlab.ui.text import LANGUAGES, L, say, words

words({
    "page.title": ("# digitlab", "# digitlab 数字实验室"),
    "page.intro": ("Draw or upload a digit and see how a neural network reads it; train your own model, look "
                   "inside it, teach it your handwriting, and share it on the Hugging Face Hub.",
                   "手写或上传一个数字，看神经网络如何识别它；训练你自己的模型、看看它的内部、教它认识你的笔迹，"
                   "并在 Hugging Face Hub 上分享。"),
    "page.try": ("**Try this:** ① draw a digit in **Sketch** and watch the answers; ② press **Train** in the "
                 "Train tab and see a model learn, epoch by epoch; ③ if it misreads your writing, press "
                 "**Wrong? It's a …**, then teach it in **Teach**.",
                 "**试试看：** ① 在 **手写** 页画一个数字，看看它的答案；② 在 **训练** 页按 **开始训练**，"
                 "看模型一轮一轮地学习；③ 如果它认错了你的字，按 **认错了？它是……**，再到 **教它** 页教它。"),
    "page.language": ("Language", "语言"),
    "page.model": ("Model", "模型"),
    "page.public": ("Public lab: your models and files are yours alone and go when you leave; a training run "
                    "may take up to {cap} (less while many wait).",
                    "公共实验室：你的模型和文件只属于你，离开后即删除；一次训练最多 {cap}（排队的人多时会更短）。"),
    "page.active": ("**Active model:** {arch} · {params} parameters{rows} · reads {what} ({names}) · {size}×{size} "
                    "{kind} · {where}",
                    "**当前模型：** {arch} · {params} 个参数{rows} · 识别 {what}（{names}）· {size}×{size} {kind} · {where}"),
    "page.rows": (" (+ {params} in a row reader for numbers)", "（另有 {params} 个参数的整行读数器）"),
    "page.grey": ("grey", "灰度"),
    "page.rgb": ("colour", "彩色"),
    "page.shipped": ("shipped with digitlab", "digitlab 自带"), "page.trained_here": ("trained here", "在这里训练"),
    "page.revision": ("{where} at revision {revision}", "{where}（版本 {revision}）"),
    "page.not_listed": ("That model is not in your list; pick one from the menu.", "你的列表里没有这个模型，请从菜单中选择。"),
    "page.cannot_read": ("It must pick one of these classes for anything you show it.",
                         "无论你给它看什么，它都只能从这些类别中选一个。"),
})

LANGUAGE_JS = """(lang) => {
  // Gradio's own locale store (its core module, already loaded): every label follows at once. A tab's name is
  // read when the tab shows, so each is shown in turn, then the one the visitor was on.
  const urls = performance.getEntriesByType('resource').map((e) => e.name)
    .filter((n) => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  Promise.all(urls.map((url) => import(url).then((m) => m.changeLocale && m.changeLocale(lang)))).then(() => {
    setTimeout(() => {
      const tabs = [...document.querySelectorAll('[role=tab]')];
      const current = tabs.find((t) => t.getAttribute('aria-selected') === 'true');
      tabs.forEach((t) => t.click());
      if (current) current.click();
    }, 50);
  });
  return lang;
}"""


def header_text(choice: ModelChoice, lang: str) -> str:
    """The header line: which model answers, what it reads and where it came from (its names as text)."""
    model, spec = choice.predictor.model, choice.predictor.spec
    where = say(lang, "page.shipped") if choice.shipped else \
        say(lang, "page.trained_here") if choice.source == TRAINED_HERE else as_text(choice.source)
    if choice.revision:
        where = say(lang, "page.revision", where=where, revision=as_text(choice.revision))
    names = ", ".join(spec.display[:6]) + (", …" if len(spec.display) > 6 else "")
    rows = say(lang, "page.rows", params=f"{model.row_params:,}") if getattr(model, "rows", None) is not None else ""
    return say(lang, "page.active", arch=as_text(model.arch), params=f"{model.num_params:,}", rows=rows,
               what=as_text(spec.name), names=as_text(names), size=spec.size,
               kind=say(lang, "page.grey" if spec.channels == 1 else "page.rgb"), where=where)


class Page:
    """The header's components, and the registry of everything that follows the active model."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.followers: list[tuple[list, Callable[[Visitor], dict]]] = []
        self.then: list[tuple[Callable, list, list]] = []  # run after the model changed: (fn, inputs, outputs)
        self.deferred: list[Callable[[], None]] = []
        self.on_open: list[tuple[list, Callable[[Visitor], dict]]] = []

    def build(self) -> None:
        lab = self.lab
        # Kept in the visitor's browser across reloads: their corrections and the Hub repos they used.
        self.store = gr.BrowserState(store.empty(), storage_key=store.STORE_KEY)
        with gr.Row(elem_id="page-head"):
            with gr.Column(scale=4, min_width=280):
                gr.Markdown(L("page.title"), elem_id="page-title")
                gr.Markdown(L("page.intro"), elem_id="page-intro")
            with gr.Column(scale=1, min_width=200):
                self.language = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en",
                                         label=L("page.language"), elem_id="language", container=False)
        gr.Markdown(L("page.try"), elem_id="try-this")
        if lab.policy.public:
            gr.Markdown(say("en", "page.public", cap=lab.policy.train_time_text), elem_id="public-note")
        with gr.Row(equal_height=True, elem_id="model-row"):
            with gr.Column(scale=3, min_width=280):
                self.active = gr.Markdown(header_text(lab.default, "en"), elem_id="active-model")
            with gr.Column(scale=1, min_width=260):
                self.picker = gr.Dropdown([(c.title, c.key) for c in lab.shipped], value=lab.default.key,
                                          label=L("page.model"), elem_id="model-picker",
                                          allow_custom_value=True)  # each visitor's own list; choose() checks it
        self.follow_model([self.active, self.picker], self.header)

    # -- what follows the model -----------------------------------------------------------------------
    def follow_model(self, components: list, values: Callable[[Visitor], dict]) -> None:
        """`values(visitor)` gives `components` their values whenever the active model changes."""
        self.followers.append((components, values))

    def after_model_change(self, fn: Callable, inputs: list, outputs: list) -> None:
        """Run `fn` (a handler) after every change of the model: an upload read again with the new one."""
        self.then.append((fn, inputs, outputs))

    def model_event(self, event) -> None:
        """Chain what runs after a change of the model onto an event that changes it."""
        for fn, inputs, outputs in self.then:
            event = event.then(self.lab.handler(fn), inputs, outputs, api_visibility="private",
                               show_progress="hidden")

    def remember(self, event) -> None:
        """After `event`, the visitor's browser stores their corrections and repos anew (a private step, so the
        event's API answers stay what they were)."""
        event.then(self.lab.handler(self.stored), None, self.store, api_visibility="private", show_progress="hidden")

    def stored(self, request: gr.Request) -> dict:
        return store.remember_corrections(self.lab.visitor(request))

    def also_on_open(self, components: list, values: Callable[[Visitor], dict]) -> None:
        """`values(visitor)` gives `components` their values when the page opens (after the model's)."""
        self.on_open.append((components, values))

    @property
    def model_outputs(self) -> list:
        return [c for components, _ in self.followers for c in components]

    def model_changed(self, visitor: Visitor) -> dict:
        out: dict = {}
        for _, values in self.followers:
            out.update(values(visitor))
        return out

    def header(self, visitor: Visitor) -> dict:
        choices = [(title_in(c, visitor.lang), c.key) for c in visitor.choices(self.lab.shipped)]
        return {self.active: header_text(visitor.active, visitor.lang),
                self.picker: gr.Dropdown(choices=choices, value=visitor.active.key)}

    def later(self, wire: Callable[[], None]) -> None:
        """Wire an event once every tab has registered what follows the model."""
        self.deferred.append(wire)

    # -- events ---------------------------------------------------------------------------------------
    def wire(self, demo: gr.Blocks) -> None:
        lab = self.lab
        for wire in self.deferred:
            wire()
        opened = [c for components, _ in self.on_open for c in components]
        demo.load(lab.handler(self.open_page), self.store, [self.language, *self.model_outputs, *opened],
                  api_visibility="private")
        demo.unload(lab.end_session)
        self.language.input(lab.handler(self.switch_language), self.language, self.model_outputs,
                            api_visibility="private", js=LANGUAGE_JS, show_progress="hidden")
        self.model_event(self.picker.input(lab.handler(self.choose), self.picker, self.model_outputs,
                                           api_name="choose_model", show_progress_on=[self.active]))

    def open_page(self, stored: object, request: gr.Request) -> dict:
        """demo.load: the visitor's language (their browser's), what their browser kept for them (corrections,
        Hub repos), and everything that follows their model."""
        visitor = self.lab.visitor(request)  # made in its browser's language
        store.restore(visitor, stored)
        out = {self.language: visitor.lang, **self.model_changed(visitor)}
        for _, values in self.on_open:
            out.update(values(visitor))
        return out

    def switch_language(self, lang: str, request: gr.Request) -> dict:
        visitor = self.lab.visitor(request)
        visitor.lang = lang if lang in LANGUAGES else "en"
        return self.model_changed(visitor)

    def choose(self, key: str, request: gr.Request) -> dict:
        """Make one of the visitor's models active (a shipped one, one loaded, one trained)."""
        visitor = self.lab.visitor(request)
        choice = visitor.find(self.lab.text(key, "model", visitor.lang), self.lab.shipped)
        if choice is None:
            raise plain(say(visitor.lang, "page.not_listed"))
        visitor.active = choice
        return self.model_changed(visitor)

    def showing_model(self, change: Callable) -> Callable:
        """A handler that changes the visitor's model (it returns nothing, or a dict of its own outputs),
        followed by everything that follows the model."""
        import functools

        @functools.wraps(change)
        def run(*args, **kwargs):
            own = change(*args, **kwargs) or {}
            request = next(a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request))
            return {**self.model_changed(self.lab.visitor(request)), **own}

        return run

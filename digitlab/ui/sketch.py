"""The Sketch tab: draw, and the visitor's own model answers one round trip after the pen lifts.

The canvas (ui.canvas) reads itself through the sketch route (serve.sketch): one character on a square
canvas, or a whole number on a wide one. "Why this answer?" and "Wrong? It's a …" act on the newest
drawing the route read. For programs, /predict_sketch and /predict_number take a Sketchpad value
({"background", "layers", "composite"}) as before.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from digitlab.inference.predictor import Answer
from digitlab.serve.sessions import Visitor
from digitlab.ui.answers import (
    declined_text,
    explain_view,
    require_trainable,
    save_correction,
    teach_panel,
    wrong_choices,
)
from digitlab.ui.canvas import WHOLE_ROW, canvas
from digitlab.ui.components import AnswerLabel, CheckedRadio, CheckedSlider, RawSketchpad
from digitlab.ui.lab import as_text, plain
from digitlab.ui.page import Page
from digitlab.ui.pictures import view_html
from digitlab.ui.text import L, said, say, words
from digitlab.vision.imageio import SKETCH_MAX_PIXELS, EmptyImageError, ImageError, read_pixels

DIGIT, NUMBER = "digit", "number"
MAX_K = 50

words({
    "tab.sketch": ("Sketch", "手写"),
    "sketch.read": ("Read", "识别"),
    "sketch.one": ("one character", "一个字"),
    "sketch.number": ("a whole number", "一个完整的数字"),
    "sketch.read_info": ("one character on the square canvas, or a number written in a row on a wide one",
                         "在方形画布上写一个字，或在宽画布上横着写一个数字"),
    "sketch.k": ("How many answers (top-k)", "显示几个答案（top-k）"),
    "sketch.hint": ("Draw on the canvas…", "在画布上写一个字…"),
    "sketch.number_hint": ("Write a number in a row on the wide canvas…", "在宽画布上横着写一个数字…"),
    "sketch.number_text": ("## {number}\n{sure} sure of the whole number ({digits})",
                           "## {number}\n对整个数字的把握：{sure}（{digits}）"),
    "sketch.number_whole": WHOLE_ROW,
    "sketch.needs_glyph": ("Reading a number needs a handwriting model; this one reads photos of {name}.",
                           "识别数字需要手写模型；这个模型识别的是 {name} 的照片。"),
})


class Sketch:
    """The tab's components and handlers."""

    def __init__(self, page: Page):
        self.page, self.lab = page, page.lab

    def build(self) -> None:
        page = self.page
        self.mode = CheckedRadio([(L("sketch.one"), DIGIT), (L("sketch.number"), NUMBER)], value=DIGIT,
                                 label=L("sketch.read"), info=L("sketch.read_info"), elem_id="sketch-mode")
        self.pad = canvas("sketch", stale=["#sketch-why", "#sketch-saved"])
        with gr.Column(elem_id="sketch-tools") as self.digit_tools:
            self.k = CheckedSlider(1, 10, value=3, step=1, label=L("sketch.k"), elem_id="sketch-k")
            teach = teach_panel("sketch")
        self.why, self.wrong, self.save = teach["why"], teach["wrong"], teach["save"]
        self.saved, self.explanation = teach["saved"], teach["explanation"]
        with gr.Row(visible=False):  # what programs call: a Sketchpad value in, the answer out
            self.api_pad = RawSketchpad(canvas_size=(448, 448), layers=False, transforms=(), elem_id="api-sketch")
            self.api_number = RawSketchpad(canvas_size=(896, 320), layers=False, transforms=(),
                                           elem_id="api-number")
            self.label = AnswerLabel(num_top_classes=None)
            self.view = gr.HTML()
            self.hint = gr.Markdown()
            self.number, self.boxes, self.number_hint = gr.Markdown(), gr.HTML(), gr.Markdown()
            self.predict, self.predict_number_button = gr.Button(), gr.Button()
        page.follow_model([self.mode, self.pad, self.digit_tools, self.k, self.wrong, self.saved, self.explanation],
                          self.follow)
        self.wire()

    def canvas_props(self, visitor: Visitor) -> gr.HTML:
        """The canvas's props, all of them: an update replaces the whole set the page holds."""
        return gr.HTML(token=visitor.token, mode=visitor.canvas["mode"], k=visitor.canvas["k"], lang=visitor.lang,
                       model=visitor.active.key, clear=0, stale=["#sketch-why", "#sketch-saved"])

    def shown_mode(self, visitor: Visitor) -> dict:
        """The mode's radio, the canvas and the digit's tools, all from the visitor's one mode: an output that
        arrives late (a page load computed before a click) sets them back together, never the canvas alone."""
        mode = visitor.canvas["mode"]
        return {self.mode: mode, self.pad: self.canvas_props(visitor),
                self.digit_tools: gr.Column(visible=mode == DIGIT)}

    def follow(self, visitor: Visitor) -> dict:
        choice = visitor.active
        classes = len(choice.predictor.names)
        visitor.canvas["k"] = min(visitor.canvas["k"], classes)
        return {**self.shown_mode(visitor),
                self.k: gr.Slider(maximum=min(classes, MAX_K), value=visitor.canvas["k"]),
                self.wrong: gr.Dropdown(choices=wrong_choices(choice.predictor, visitor.lang), value=None),
                self.saved: "", self.explanation: ""}

    def wire(self) -> None:
        lab = self.lab
        self.mode.change(lab.handler(self.show_mode), self.mode, [self.mode, self.pad, self.digit_tools, self.saved,
                                                                  self.explanation], api_visibility="private",
                         queue=False)
        self.k.change(lab.handler(self.set_k), self.k, self.pad, api_visibility="private", queue=False)
        self.pad.change(lambda: ("", ""), None, [self.saved, self.explanation], api_visibility="private",
                        queue=False)  # a new drawing: the last one's Why and Saved no longer apply
        self.why.click(lab.handler(self.explain), self.api_pad, self.explanation, api_name="explain",
                       show_progress_on=[self.explanation])
        self.page.remember(self.save.click(lab.handler(self.correct), [self.api_pad, self.wrong], self.saved,
                                           api_name="correct", show_progress_on=[self.saved]))
        self.predict.click(lab.handler(self.predict_sketch), [self.api_pad, self.k],
                           [self.label, self.view, self.hint], api_name="predict_sketch")
        self.predict_number_button.click(lab.handler(self.predict_number), self.api_number,
                                         [self.number, self.boxes, self.number_hint], api_name="predict_number")

    def show_mode(self, mode: str, request: gr.Request) -> dict:
        visitor = self.lab.visitor(request)
        visitor.canvas["mode"] = NUMBER if mode == NUMBER else DIGIT
        return {**self.shown_mode(visitor), self.saved: "", self.explanation: ""}

    def set_k(self, k: Any, request: gr.Request) -> gr.HTML:
        visitor = self.lab.visitor(request)
        visitor.canvas["k"] = clamp_k(k)
        return self.canvas_props(visitor)

    # -- the newest drawing, or a program's sketch ---------------------------------------------------
    def view_of(self, visitor: Visitor, sketch: dict | None) -> np.ndarray:
        """The view of a program's sketch, else of the newest drawing the page's route read."""
        source = sketch if sketch and sketch.get("composite") is not None else visitor.last_sketch
        if isinstance(sketch, dict) and "error" in sketch:
            raise plain(said(sketch["error"], visitor.lang))
        if source is None:
            raise plain(say(visitor.lang, "answers.nothing"))
        try:
            return visitor.active.predictor.prepare(source)
        except ImageError as err:
            raise plain(said(err, visitor.lang) if not isinstance(err, EmptyImageError)
                        else say(visitor.lang, "answers.nothing")) from err

    async def explain(self, sketch: dict | None, request: gr.Request) -> str:
        visitor = self.lab.visitor(request)
        require_trainable(visitor.active, visitor.lang)
        view = await self.lab.work(visitor, self.view_of, visitor, sketch)
        return await explain_view(self.lab, visitor, view)

    async def correct(self, sketch: dict | None, label: Any, request: gr.Request) -> str:
        visitor = self.lab.visitor(request)
        view = await self.lab.work(visitor, self.view_of, visitor, sketch)
        return save_correction(self.lab, visitor, view, label)

    # -- for programs ---------------------------------------------------------------------------------
    async def predict_sketch(self, sketch: dict | None, k: Any = 3, request: gr.Request = None) -> tuple:
        """One canvas, by the visitor's model: (label, view, hint); the API's /predict_sketch."""
        visitor = self.lab.visitor(request)
        k = self.lab.whole(k, "number of answers (top-k)", 1, MAX_K, default=3, lang=visitor.lang)
        if not sketch:
            return {}, "", say(visitor.lang, "sketch.hint")
        if "error" in sketch:
            return {}, "", said(sketch["error"], visitor.lang)
        predictor = visitor.active.predictor

        def read() -> tuple[np.ndarray, Answer]:  # one trip to the pool: each costs a thread hand-off
            view = predictor.prepare(sketch)
            return view, predictor.answers([view], [k])[0]

        try:
            view, answer = await self.lab.work(visitor, read)
        except EmptyImageError:
            return {}, "", say(visitor.lang, "sketch.hint")
        except ImageError as err:
            return {}, "", said(err, visitor.lang)
        return answer, view_html(view), declined_text(predictor, answer, visitor.lang)

    async def predict_number(self, sketch: dict | None, request: gr.Request = None) -> tuple:
        """The wide canvas, read as a whole number: (number, boxes, hint); the API's /predict_number."""
        from digitlab.ui.pictures import number_html

        visitor = self.lab.visitor(request)
        composite = (sketch or {}).get("composite")
        if not sketch or "error" in sketch or composite is None:
            return "", "", said((sketch or {}).get("error") or say(visitor.lang, "sketch.number_hint"), visitor.lang)
        predictor = visitor.active.predictor

        def read():
            pixels = read_pixels(composite, SKETCH_MAX_PIXELS)
            return pixels, predictor.read_number(pixels)

        try:
            pixels, reading = await self.lab.work(visitor, read)
        except ImageError as err:
            return "", "", said(err, visitor.lang)
        if not reading.digits:
            return "", "", say(visitor.lang, "sketch.number_hint")
        return number_text(reading, visitor.lang), number_html(pixels, reading), ""


def number_text(reading, lang: str) -> str:
    digits = " · ".join(f"{as_text(d.shown)} {d.confidence:.0%}" for d in reading.digits)
    text = say(lang, "sketch.number_text", number=as_text(reading.number), sure=f"{reading.confidence:.0%}",
               digits=digits)
    return text + "\n\n" + say(lang, "sketch.number_whole") if reading.whole else text


def clamp_k(k: Any) -> int:
    """A top-k from a slider a stranger could set to anything: clamped, never failing."""
    try:
        return max(1, min(int(float(k)), MAX_K))
    except (TypeError, ValueError, OverflowError):
        return 3

"""The Upload tab: a photo, a scan or a sample, read as one character or as a whole number.

The handler decodes the stored file itself (on the fair pool), so an unreadable one gets a plain reason
that stays on screen and the broken picture goes. Everything beside the answer belongs to the image,
the mode and the model it was read with: any of them changing clears it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

from digitlab.assets import EXAMPLES_DIR
from digitlab.data.specs import SPECS
from digitlab.serve.sessions import ModelChoice, Visitor
from digitlab.ui.answers import (
    declined_text,
    explain_view,
    require_trainable,
    save_correction,
    teach_panel,
    wrong_choices,
)
from digitlab.ui.components import AnswerLabel, CheckedRadio, CheckedSlider, RawImage
from digitlab.ui.lab import plain
from digitlab.ui.page import Page
from digitlab.ui.pictures import number_html, view_html
from digitlab.ui.sketch import DIGIT, MAX_K, NUMBER, number_text
from digitlab.ui.text import L, said, say, words
from digitlab.vision.imageio import IMAGE_SUFFIXES, EmptyImageError, ImageError, read_pixels

words({
    "tab.upload": ("Upload", "上传"),
    "upload.image": ("A photo or scan (PNG, JPG, WebP, GIF, BMP)", "一张照片或扫描件（PNG、JPG、WebP、GIF、BMP）"),
    "upload.hint": ("Upload an image, paste one, or pick a sample below…", "上传或粘贴一张图片，或从下面选一个样例…"),
    "upload.samples": ("Samples: {name} test images", "样例：{name} 测试图片"),
    "upload.samples_and_others": ("Samples: {name} test images, then a star, a letter and a scribble it should "
                                  "decline", "样例：{name} 测试图片，然后是它应当拒认的一颗星、一个字母和一团乱涂"),
    "upload.samples_label": ("Samples", "样例"),
    "upload.top": ("Top answers", "最可能的答案"),
    "upload.view": ("What the model sees: {size}×{size}, {kind}", "模型看到的样子：{size}×{size}，{kind}"),
    "upload.view_label": ("What the model sees", "模型看到的样子"),
    "upload.light_on_dark": ("grey, light on dark", "灰度，黑底白字"),
    "upload.rgb": ("colour", "彩色"),
    "upload.blank": ("**Nothing found: the image looks blank.**", "**什么也没找到：这张图看起来是空白的。**"),
    "upload.unreadable": ("**Could not read that file.** {reason}", "**无法读取这个文件。** {reason}"),
    "upload.bad_upload": ("This upload cannot be read; upload the image again.", "无法读取这次上传，请重新上传图片。"),
    "upload.no_sample": ("That sample is not in the list; pick one of those shown.", "列表里没有这个样例，请选择显示的样例之一。"),
    "upload.bad_mode": ("Read the upload as 'digit' or 'number'.", "请选择把上传的图读作一个字（digit）或一个数字（number）。"),
    "upload.first": ("Upload an image first: there is nothing to explain or correct yet.",
                     "请先上传一张图片：现在还没有可以解释或更正的内容。"),
})


NOT_DIGITS = "not-digits"  # examples/not-digits/: a drawn star, a letter A, a scribble


@cache
def built_in_samples() -> dict[str, tuple[str, ...]]:
    """The Upload tab's samples of each built-in dataset, read once, on first use: images of its classes
    (examples/<dataset>/<class>.png, scripts/make_examples.py), MNIST's digits in examples/ itself, then a drawn
    letter, a star and a scribble (examples/not-digits/) that a model which declines should decline."""
    out = {}
    for name in SPECS:
        folders = [EXAMPLES_DIR if name == "mnist" else EXAMPLES_DIR / name, EXAMPLES_DIR / NOT_DIGITS]
        out[name] = ()
        for folder in folders:
            files = [p for p in folder.glob("*.*") if p.suffix.lower() in IMAGE_SUFFIXES]
            out[name] += tuple(str(p) for p in sorted(files, key=lambda p: (len(p.stem), p.stem)))
    return out


def samples_of(choice: ModelChoice) -> tuple[str, ...]:
    """A model's samples, by its dataset's name: a built-in dataset's or none (a visitor's own images,
    or a name a downloaded model's config makes up: never a folder to look in). The samples it should decline
    only for a model that declines."""
    files = built_in_samples().get(choice.predictor.spec.name, ())
    return files if choice.predictor.decline is not None else tuple(f for f in files if not is_not_digit(f))


def is_not_digit(path: str) -> bool:
    return Path(path).parent.name == NOT_DIGITS


class Upload:
    """The tab's components and handlers."""

    def __init__(self, page: Page):
        self.page, self.lab = page, page.lab

    def build(self) -> None:
        with gr.Row():
            with gr.Column(scale=3, min_width=300):
                self.mode = CheckedRadio([(L("sketch.one"), DIGIT), (L("sketch.number"), NUMBER)], value=DIGIT,
                                         label=L("sketch.read"), elem_id="upload-mode")
                self.image = RawImage(type="filepath", sources=["upload", "clipboard"], height=420,
                                      label=L("upload.image"), elem_id="upload")
                self.samples = gr.Dataset(components=[self.image], samples=[[f] for f in built_in_samples()["mnist"]],
                                          type="index", label=L("upload.samples_label"), elem_id="upload-samples")
            with gr.Column(scale=2, min_width=280):
                self.hint = gr.Markdown(L("upload.hint"), elem_id="upload-hint")
                with gr.Column(visible=True) as self.digit_outputs:
                    self.label = AnswerLabel(label=L("upload.top"), num_top_classes=None, elem_id="upload-label",
                                          elem_classes=["answer-block"])
                    self.view = gr.HTML(label=L("upload.view_label"), show_label=True, container=True, min_height=150,
                                        elem_id="upload-view", elem_classes=["answer-block"])
                    self.k = CheckedSlider(1, 10, value=3, step=1, label=L("sketch.k"), elem_id="upload-k")
                    teach = teach_panel("upload")
                with gr.Column(visible=False) as self.number_outputs:
                    self.number = gr.Markdown("", elem_id="upload-number")
                    self.boxes = gr.HTML("", elem_id="upload-boxes")
        self.why, self.wrong, self.save = teach["why"], teach["wrong"], teach["save"]
        self.saved, self.explanation = teach["saved"], teach["explanation"]
        self.page.follow_model([self.label, self.view, self.hint, self.k, self.wrong, self.saved, self.explanation,
                                self.number, self.boxes, self.samples], self.follow)
        self.page.after_model_change(self.read, [self.image, self.k, self.mode], self.outputs)
        self.wire()

    @property
    def outputs(self) -> list:
        return [self.label, self.view, self.hint, self.image, self.number, self.boxes, self.explanation, self.saved,
                self.digit_outputs, self.number_outputs]

    def follow(self, visitor: Visitor) -> dict:
        choice = visitor.active
        spec, classes = choice.predictor.spec, len(choice.predictor.names)
        files = samples_of(choice)
        kind = say(visitor.lang, "upload.light_on_dark" if spec.channels == 1 else "upload.rgb")
        return {self.label: {}, self.view: gr.HTML("", label=say(visitor.lang, "upload.view", size=spec.size,
                                                                       kind=kind)),
                self.hint: say(visitor.lang, "upload.hint"),
                self.k: gr.Slider(maximum=min(classes, MAX_K), value=min(3, classes)),
                self.wrong: gr.Dropdown(choices=wrong_choices(choice.predictor, visitor.lang), value=None), self.saved: "",
                self.explanation: "", self.number: "", self.boxes: "",
                self.samples: gr.Dataset(samples=[[f] for f in files], visible=bool(files),
                                         label=say(visitor.lang, "upload.samples_and_others" if any(
                                             map(is_not_digit, files)) else "upload.samples", name=spec.name))}

    def wire(self) -> None:
        lab = self.lab
        gr.on([self.image.change, self.k.change, self.mode.change], lab.handler(self.read),
              [self.image, self.k, self.mode], self.outputs, api_name="predict_upload", trigger_mode="always_last",
              show_progress_on=[self.label, self.number])
        self.samples.click(lab.handler(self.pick_sample), self.samples, self.image, api_visibility="private")
        self.why.click(lab.handler(self.explain), self.image, self.explanation, api_name="explain_upload",
                       show_progress_on=[self.explanation])
        self.page.remember(self.save.click(lab.handler(self.correct), [self.image, self.wrong], self.saved,
                                           api_name="correct_upload", show_progress_on=[self.saved]))

    async def read(self, image: str | dict | None, k: Any = 3, mode: str = DIGIT,
                   request: gr.Request = None) -> tuple:
        """(label, view, hint, upload, number, boxes, explanation, saved, the two panels' visibility). A file
        that cannot be read keeps its reason in the hint, and the picture is cleared, so no broken image
        stays. Whatever explained or corrected the previous image goes."""
        visitor = self.lab.visitor(request)
        lang = visitor.lang
        k = self.lab.whole(k, "number of answers (top-k)", 1, MAX_K, default=3, lang=lang)
        if mode not in (DIGIT, NUMBER):
            raise plain(say(lang, "upload.bad_mode"))
        number_mode = mode == NUMBER
        panels = (gr.Column(visible=not number_mode), gr.Column(visible=number_mode))
        if image is None:  # cleared: by the visitor, or after a failure (its reason stays)
            return {}, "", gr.skip(), gr.skip(), "", "", "", "", *panels
        predictor = visitor.active.predictor
        try:
            if isinstance(image, dict):
                raise image["error"] if isinstance(image.get("error"), ImageError) else ImageError(
                    say(lang, "upload.bad_upload"))
            if number_mode:
                pixels = await self.lab.work(visitor, read_pixels, image)
                reading = await self.lab.work(visitor, predictor.read_number, pixels, k)
                if not reading.digits:
                    return {}, "", say(lang, "upload.blank"), gr.skip(), "", "", "", "", *panels
                return ({}, "", "", gr.skip(), number_text(reading, lang), number_html(pixels, reading), "", "",
                        *panels)
            view = await self.lab.work(visitor, predictor.prepare, image)
            answer = (await self.lab.work(visitor, predictor.answers, [view], [k]))[0]
        except EmptyImageError as err:  # "No ink found", "a single colour": the reader's own words say which
            return {}, "", f"**{err}**", gr.skip(), "", "", "", "", *panels
        except ImageError as err:  # the reason stays on screen (a pop-up would fade), the picture goes
            return {}, "", say(lang, "upload.unreadable", reason=said(err, lang)), None, "", "", "", "", *panels
        return answer, view_html(view), declined_text(predictor, answer, lang), gr.skip(), "", "", "", "", *panels

    def pick_sample(self, index: Any, request: gr.Request) -> str:
        """The sample clicked, by its place in the active model's list (never a path from the browser)."""
        visitor = self.lab.visitor(request)
        files = samples_of(visitor.active)
        if type(index) is not int or not 0 <= index < len(files):
            raise plain(say(visitor.lang, "upload.no_sample"))
        return files[index]

    async def view_of(self, visitor: Visitor, image: Any):
        if not image or isinstance(image, dict):
            raise plain(say(visitor.lang, "upload.first"))
        try:
            return await self.lab.work(visitor, visitor.active.predictor.prepare, image)
        except ImageError as err:
            raise plain(said(err, visitor.lang)) from err

    async def explain(self, image: Any, request: gr.Request) -> str:
        visitor = self.lab.visitor(request)
        require_trainable(visitor.active, visitor.lang)
        return await explain_view(self.lab, visitor, await self.view_of(visitor, image))

    async def correct(self, image: Any, label: Any, request: gr.Request) -> str:
        visitor = self.lab.visitor(request)
        return save_correction(self.lab, visitor, await self.view_of(visitor, image), label)

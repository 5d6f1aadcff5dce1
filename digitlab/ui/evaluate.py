"""The Evaluate tab: how the visitor's model does on its test set, class by class and cell by cell, and why it
answered as it did for any test image.

The test set is the model's dataset's (the full one where it can be found, else the shipped sample),
loaded once per app and shared read-only; a visitor's own images (a model trained on them) are decoded
once per session. An evaluation is computed once per model and kept in the session, so clicking cells
and images costs a lookup, not a pass over the data.
"""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from digitlab.data.dataset import DataError, Dataset
from digitlab.data.registry import OWN, load_dataset
from digitlab.data.specs import SPECS
from digitlab.serve.sessions import ModelChoice, Visitor
from digitlab.training.evaluate import Evaluation, evaluate
from digitlab.ui.answers import explanation_html, require_trainable
from digitlab.ui.components import CheckedNumber
from digitlab.ui.lab import as_text, plain, title_in
from digitlab.ui.page import Page
from digitlab.ui.text import L, said, say, words
from digitlab.vision.pictures import view_image

GALLERY = 48  # test images shown for one cell of the confusion matrix, most confident first

words({
    "tab.evaluate": ("Evaluate", "评估"),
    "evaluate.button": ("Evaluate the active model on its test set", "在测试集上评估当前模型"),
    "evaluate.idle": ("Press **Evaluate**: per-class accuracy, the confusion matrix, and the test images behind each "
                      "of its cells.", "按 **评估**：每类准确率、混淆矩阵，以及矩阵中每格背后的测试图片。"),
    "evaluate.per_class": ("Per class", "每类"),
    "evaluate.confusion": ("Confusion matrix: rows are the true class, columns the answer; click a cell",
                           "混淆矩阵：行是真实类别，列是模型的答案；点一个格子"),
    "evaluate.cell_images": ("Test images in this cell", "这一格的测试图片"),
    "evaluate.click_cell": ("Click a cell of the confusion matrix to see its test images.", "点混淆矩阵的一个格子，看它的测试图片。"),
    "evaluate.click_number": ("Click a number in the matrix (not the class name).", "请点矩阵中的数字（不是类别名）。"),
    "evaluate.summary": ("**{title}** on {data} ({train:,} train / {images:,} test): accuracy **{acc:.2f} %** ({errors} errors in {images:,} test images), "
                         "loss {loss:.4f}, calibration error {ece:.2f} % (temperature {t:.3g}).",
                         "**{title}** 在 {data}（训练图 {train:,} 张）上：准确率 **{acc:.2f} %**（{images:,} 张测试图片中错了 {errors} 张），"
                         "损失 {loss:.4f}，校准误差 {ece:.2f} %（温度 {t:.3g}）。"),
    "evaluate.cell": ("**{n}** test {images} of **{true}** {what} **{answer}**{more}. Click one to see why.",
                      "**{n}** 张 **{true}** 的测试图片{what} **{answer}**{more}。点一张看看为什么。"),
    "evaluate.image": ("image", "图片"), "evaluate.images": ("images", "图片"),
    "evaluate.right": ("read right as", "被正确识别为"), "evaluate.wrong": ("read wrong as", "被错认成"),
    "evaluate.surest": (" (the {n} surest shown)", "（显示最有把握的 {n} 张）"),
    "evaluate.unknown": ("The test set of {name} is not known here: evaluate a model of a built-in dataset or one you "
                         "trained in this session.", "这里不知道 {name} 的测试集：请评估内置数据集的模型，或本次会话中你训练的模型。"),
    "evaluate.mismatch": ("This model's classes are not its dataset's; it cannot be evaluated on it.",
                          "这个模型的类别和它的数据集不一致，无法在上面评估。"),
    "evaluate.col_class": ("class", "类别"), "evaluate.col_acc": ("accuracy %", "准确率 %"),
    "evaluate.col_images": ("test images", "测试图片"), "evaluate.corner": ("true ↓ / answered →", "真实 ↓ / 答案 →"),
})


def selected(event: gr.EventData) -> Any:
    """The index a .select event carries, None when the caller sent none. Typed as gr.EventData, not
    gr.SelectData, because SelectData reads the index before the handler runs, and a raw call without
    event data would fail there with a bare "Error"."""
    data = event._data  # EventData's own field: what the page sent
    return data.get("index") if isinstance(data, dict) else None


def mistakes(frame: pd.DataFrame) -> pd.DataFrame:
    """Cell styles of the confusion matrix: the right answers bold, every cell of mistakes tinted."""
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for i in range(len(frame)):
        for j in range(1, frame.shape[1]):
            if i == j - 1:
                styles.iat[i, j] = "font-weight: bold"
            elif frame.iat[i, j]:
                styles.iat[i, j] = "background-color: #fee2e2; color: #991b1b; font-weight: bold"
    return styles


def crisp(view: np.ndarray, scale: int = 4) -> np.ndarray:
    """A view enlarged pixel by pixel, so a gallery shows it sharp."""
    image = view_image(view)
    return image.repeat(scale, 0).repeat(scale, 1)


class Evaluate:
    """The tab's components and handlers."""

    def __init__(self, page: Page):
        self.page, self.lab = page, page.lab
        self._data: dict[str, Dataset] = {}
        self._lock = threading.Lock()

    def build(self) -> None:
        self.button = gr.Button(L("evaluate.button"), variant="primary", elem_id="evaluate")
        self.summary = gr.Markdown(L("evaluate.idle"), elem_id="evaluation-summary")
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                self.per_class = gr.Dataframe(interactive=False, label=L("evaluate.per_class"), elem_id="per-class")
            with gr.Column(scale=3):
                self.confusion = gr.Dataframe(interactive=False, label=L("evaluate.confusion"), elem_id="confusion",
                                              show_search="none", buttons=[])
        self.cell_hint = gr.Markdown("", elem_id="cell-hint")
        with gr.Row():
            self.gallery = gr.Gallery(label=L("evaluate.cell_images"), columns=8, height="auto", elem_id="cell-gallery",
                                      allow_preview=False, preview=False, object_fit="contain", format="png",
                                      scale=3)
            self.why = gr.HTML("", elem_id="cell-why")
        with gr.Row(visible=False):  # a cell by its numbers: what programs call (/evaluation_cell)
            self.true, self.answer = CheckedNumber(0, precision=0), CheckedNumber(0, precision=0)
            self.pick = gr.Button()
        self.page.follow_model(self.outputs + [self.why], self.cleared)
        self.wire()

    @property
    def outputs(self) -> list:
        return [self.summary, self.per_class, self.confusion, self.gallery, self.cell_hint]

    def cleared(self, visitor: Visitor) -> dict:
        """A new model: the previous one's evaluation is no longer what this screen is about."""
        return {self.summary: say(visitor.lang, "evaluate.idle"), self.per_class: None, self.confusion: None,
                self.gallery: [], self.cell_hint: "", self.why: ""}

    def wire(self) -> None:
        lab = self.lab
        self.button.click(lab.handler(self.evaluate), None, self.outputs + [self.why], api_name="evaluate",
                          show_progress_on=[self.summary])
        self.confusion.select(lab.handler(self.select_cell), None, [self.gallery, self.cell_hint, self.why],
                              api_visibility="private", show_progress_on=[self.cell_hint])
        self.pick.click(lab.handler(self.cell), [self.true, self.answer], [self.gallery, self.cell_hint, self.why],
                        api_name="evaluation_cell")
        self.gallery.select(lab.handler(self.explain_shown), None, self.why, api_visibility="private",
                            show_progress_on=[self.why])

    # -- the test data: shared read-only for built-in datasets, the visitor's own otherwise -----------
    def test_data(self, visitor: Visitor, choice: ModelChoice) -> Dataset:
        spec = choice.predictor.spec
        run = next((r for r in visitor.runs if r.choice is choice), None)
        try:
            if run is not None and run.config.get("dataset") == OWN:
                path = run.config["data"]
                with visitor.lock:
                    if path not in visitor.test_data:  # decoded once per session, not on every click
                        visitor.test_data = {path: load_dataset(OWN, path, view=spec.view, size=spec.size)}
                    return visitor.test_data[path]
            if spec.name not in SPECS:
                raise plain(say(visitor.lang, "evaluate.unknown", name=repr(spec.name[:40])))
            with self._lock:
                if spec.name not in self._data:
                    self._data[spec.name] = load_dataset(spec.name, "auto")
                return self._data[spec.name]
        except DataError as err:
            raise plain(str(err)) from err

    def evaluation(self, visitor: Visitor, choice: ModelChoice) -> tuple[Evaluation, Dataset]:
        data = self.test_data(visitor, choice)
        key = f"{choice.key}|{data.source}"
        cached = visitor.evaluations.get(key)
        if cached is None:
            if list(data.spec.labels) != list(choice.predictor.spec.labels):
                raise plain(say(visitor.lang, "evaluate.mismatch"))
            cached = evaluate(choice.predictor.model, data.test_images, data.test_labels)
            visitor.evaluations[key] = cached
        return cached, data

    async def evaluate(self, request: gr.Request) -> tuple:
        """(summary, per-class table, confusion matrix, empty gallery, hint, no why) for the active model."""
        visitor = self.lab.visitor(request)
        choice = visitor.active
        result, data = await self.lab.work(visitor, self.evaluation, visitor, choice)
        lang, names = visitor.lang, choice.predictor.names
        per_class = pd.DataFrame([[n, round(a, 2), k] for n, (a, k) in zip(names, result.per_class(), strict=True)],
                                 columns=[say(lang, f"evaluate.col_{c}") for c in ("class", "acc", "images")])
        confusion = pd.DataFrame(result.confusion().numpy(), columns=[f"→ {n}" for n in names])
        confusion.insert(0, say(lang, "evaluate.corner"), names)
        confusion = confusion.style.apply(mistakes, axis=None)
        note = " · ".join(said(n, lang) for n in data.notes)
        text = say(lang, "evaluate.summary", title=as_text(title_in(choice, lang)), data=as_text(data.name),
                   train=len(data.train_labels), acc=result.accuracy,
                   errors=result.errors, images=len(data.test_labels), loss=result.loss, ece=result.ece(),
                   t=result.temperature) + (f"  \n*{as_text(note)}*" if note else "")
        return text, per_class, confusion, [], say(lang, "evaluate.click_cell"), ""

    async def cell(self, true: Any, answer: Any, request: gr.Request) -> tuple:
        """The test images of one cell (`true` answered as `answer`), most confident first: /evaluation_cell."""
        visitor = self.lab.visitor(request)
        choice, lang = visitor.active, visitor.lang
        names = choice.predictor.names
        true = self.lab.whole(true, "true class", 0, len(names) - 1, lang=lang)
        answer = self.lab.whole(answer, "answer", 0, len(names) - 1, lang=lang)
        result, data = await self.lab.work(visitor, self.evaluation, visitor, choice)
        picks = result.cell(true, answer)
        probs = result.probabilities
        items = [(crisp(data.test_images[i].numpy()),
                  f"#{i}: {names[true]} → {names[answer]} {float(probs[i, answer]):.0%}") for i in picks[:GALLERY]]
        text = say(lang, "evaluate.cell", n=len(picks), images=say(lang, "evaluate.image" if len(picks) == 1 else
                                                                    "evaluate.images"),
                   true=as_text(names[true]), what=say(lang, "evaluate.right" if true == answer else "evaluate.wrong"),
                   answer=as_text(names[answer]),
                   more=say(lang, "evaluate.surest", n=GALLERY) if len(picks) > GALLERY else "")
        visitor.shown = picks[:GALLERY]
        return items, text, ""

    async def select_cell(self, event: gr.EventData, request: gr.Request) -> tuple:
        cell = selected(event)
        if not (isinstance(cell, list) and len(cell) == 2 and all(type(v) is int for v in cell)) or cell[1] == 0:
            visitor = self.lab.visitor(request)
            return [], say(visitor.lang, "evaluate.click_number"), ""
        return await self.cell(cell[0], cell[1] - 1, request)

    async def explain_shown(self, event: gr.EventData, request: gr.Request) -> str:
        """Why the model answered as it did for a test image picked in the gallery."""
        visitor = self.lab.visitor(request)
        shown, index = visitor.shown, selected(event)
        if type(index) is not int or not 0 <= index < len(shown):
            return ""
        choice = visitor.active
        require_trainable(choice, visitor.lang)
        _, data = await self.lab.work(visitor, self.evaluation, visitor, choice)
        return await self.lab.work(visitor, explanation_html, choice, data.test_images[shown[index]].numpy(),
                                   visitor.lang)

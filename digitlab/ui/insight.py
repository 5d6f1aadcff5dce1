"""The Evaluate tab and "Why this answer?": how the visitor's model does on its test set, cell by cell,
and which pixels pushed it to an answer.

The test set is the model's dataset's (the full one where it can be found, else the shipped sample;
a visitor's own images for a model trained on them), loaded once per app and shared read-only; an
evaluation is computed once per model and kept in the visitor's session.
"""

from __future__ import annotations

import base64
import html
import threading
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd

from digitlab.data.dataset import DataError, Dataset
from digitlab.data.registry import load_dataset
from digitlab.data.specs import SPECS
from digitlab.inference.explain import activation_grid, explain, heatmap
from digitlab.serve.sessions import ModelChoice, Visitor
from digitlab.training.evaluate import Evaluation, evaluate
from digitlab.ui.components import CheckedNumber
from digitlab.ui.lab import Lab, plain
from digitlab.ui.predict import read_sketch
from digitlab.vision.imageio import EmptyImageError, ImageError
from digitlab.vision.pictures import png_bytes, view_image

GALLERY = 48  # test images shown for one cell of the confusion matrix, most confident first


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


def data_url(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def explanation_html(choice: ModelChoice, view: np.ndarray) -> str:
    """Heatmap over the view the model saw, and every convolution layer's first activation maps."""
    model = choice.predictor.model
    found = explain(model, view)
    names = choice.predictor.names
    parts = [f'<p><b>Why "{html.escape(names[found.answer])}"?</b> Red pixels pushed the model towards this '
             'answer, blue ones away from it.</p>',
             f'<img src="{data_url(heatmap(view, found.attribution))}" alt="which pixels made the answer" '
             'style="image-rendering:pixelated;width:224px">']
    if found.layers:
        parts.append("<p><b>What each convolution layer saw</b> (its first channels; bright: strong)</p>")
        for name, maps in found.layers:
            parts.append(f'<figure style="margin:4px 0"><figcaption style="font-size:12px">layer {html.escape(name)}'
                         f' · {maps.shape[1]}×{maps.shape[2]}</figcaption><img src="{data_url(activation_grid(maps))}"'
                         f' alt="activations of layer {html.escape(name)}" style="image-rendering:pixelated;'
                         'max-width:100%"></figure>')
    return "".join(parts)


class Insight:
    """Handlers of the Evaluate tab and of the Why buttons."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self._data: dict[str, Dataset] = {}
        self._lock = threading.Lock()

    # -- the test data: shared read-only for built-in datasets, the visitor's own otherwise -----------
    def test_data(self, visitor: Visitor, choice: ModelChoice) -> Dataset:
        spec = choice.predictor.spec
        run = next((r for r in visitor.runs if r.choice is choice), None)
        if run is not None and run.config.get("dataset") == "folder":
            return load_dataset("folder", run.config["data"], view=spec.view, size=spec.size)
        if spec.name not in SPECS:
            raise plain(f"The test set of {spec.name!r} is not known here: evaluate a model of a built-in dataset "
                        "or one you trained in this session.")
        with self._lock:
            if spec.name not in self._data:
                try:
                    self._data[spec.name] = load_dataset(spec.name, "auto")
                except DataError as err:
                    raise plain(str(err)) from err
            return self._data[spec.name]

    def evaluation(self, visitor: Visitor, choice: ModelChoice) -> tuple[Evaluation, Dataset]:
        data = self.test_data(visitor, choice)
        key = f"{choice.key}|{data.source}"
        cached = visitor.evaluations.get(key)
        if cached is None:
            if list(data.spec.labels) != list(choice.predictor.spec.labels):
                raise plain("This model's classes are not its dataset's; it cannot be evaluated on it.")
            cached = evaluate(choice.predictor.model, data.test_images, data.test_labels)
            visitor.evaluations[key] = cached
        return cached, data

    # -- /evaluate --------------------------------------------------------------------------------------
    def evaluate(self, request: gr.Request) -> tuple[str, pd.DataFrame, pd.DataFrame, list, str]:
        """(summary, per-class table, confusion matrix, empty gallery, hint) for the visitor's active model."""
        visitor = self.lab.visitor(request)
        choice = visitor.active
        result, data = self.evaluation(visitor, choice)
        names = choice.predictor.names
        per_class = pd.DataFrame([[n, round(a, 2), k] for n, (a, k) in zip(names, result.per_class(), strict=True)],
                                 columns=["class", "accuracy %", "test images"])
        confusion = pd.DataFrame(result.confusion().numpy(), columns=[f"→ {n}" for n in names])
        confusion.insert(0, "true ↓ / answered →", names)
        confusion = confusion.style.apply(mistakes, axis=None)
        note = " · ".join(data.notes)
        text = (f"**{choice.title}** on {html.escape(str(data))}: accuracy **{result.accuracy:.2f} %** "
                f"({result.errors} errors), loss {result.loss:.4f}, calibration error {result.ece():.2f} % "
                f"(temperature {result.temperature:.3g})." + (f"  \n*{note}*" if note else ""))
        return (text, per_class, confusion, [], "Click a cell of the confusion matrix to see its images.")

    def cell(self, true: Any, answer: Any, request: gr.Request) -> tuple[list, str]:
        """The test images of one cell (`true` answered as `answer`), most confident first: /evaluation_cell."""
        visitor = self.lab.visitor(request)
        choice = visitor.active
        names = choice.predictor.names
        true = self.lab.whole(true, "true class", 0, len(names) - 1)
        answer = self.lab.whole(answer, "answer", 0, len(names) - 1)
        result, data = self.evaluation(visitor, choice)
        picks = result.cell(true, answer)
        probs = result.probabilities
        items = [(crisp(data.test_images[i].numpy()),
                  f"#{i}: {names[true]} → {names[answer]} {float(probs[i, answer]):.0%}") for i in picks[:GALLERY]]
        what = "right" if true == answer else "read wrong"
        text = (f"**{len(picks)}** test images of **{names[true]}** {what} as **{names[answer]}**"
                + (f" (the {GALLERY} surest shown)" if len(picks) > GALLERY else "") + ". Click one to see why.")
        visitor.shown = picks[:GALLERY]
        return items, text

    def select_cell(self, event: gr.EventData, request: gr.Request) -> tuple[list, str]:
        cell = selected(event)
        if not (isinstance(cell, list) and len(cell) == 2 and all(type(v) is int for v in cell)) or cell[1] == 0:
            return [], "Click a number in the matrix (not the class name)."
        return self.cell(cell[0], cell[1] - 1, request)

    def explain_shown(self, event: gr.EventData, request: gr.Request) -> str:
        """Why the model answered as it did for a test image picked in the gallery."""
        visitor = self.lab.visitor(request)
        shown, index = visitor.shown, selected(event)
        if type(index) is not int or not 0 <= index < len(shown):
            return ""
        _, data = self.evaluation(visitor, visitor.active)
        return explanation_html(visitor.active, data.test_images[shown[index]].numpy())

    # -- /explain: beside Sketch and Upload --------------------------------------------------------------
    def explain_sketch(self, sketch: dict | None, request: gr.Request) -> str:
        choice = self.lab.visitor(request).active
        view = read_sketch(sketch, choice)
        if isinstance(view, str):
            return f"*{html.escape(view)}*"
        return explanation_html(choice, view)

    def explain_upload(self, image: Any, request: gr.Request) -> str:
        choice = self.lab.visitor(request).active
        if not image or isinstance(image, dict):
            return "*Upload an image first.*"
        try:
            view = choice.predictor.prepare(image)
        except EmptyImageError:
            return "*Nothing to explain: the image looks blank.*"
        except ImageError as err:
            return f"*{html.escape(str(err))}*"
        return explanation_html(choice, view)


def build() -> dict[str, Any]:
    with gr.Row():
        evaluate_btn = gr.Button("Evaluate the active model on its test set", variant="primary", elem_id="evaluate")
    summary = gr.Markdown("Press **Evaluate**: per-class accuracy, the confusion matrix, and the images behind "
                          "each of its cells.", elem_id="evaluation-summary")
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            per_class = gr.Dataframe(interactive=False, label="Per class", elem_id="per-class")
        with gr.Column(scale=3):
            confusion = gr.Dataframe(interactive=False, label="Confusion matrix: rows are the true class, columns the "
                                     "answer; click a cell", elem_id="confusion")
    cell_hint = gr.Markdown("", elem_id="cell-hint")
    with gr.Row():
        gallery = gr.Gallery(label="Test images in this cell", columns=8, height=360, elem_id="cell-gallery",
                             allow_preview=False, preview=False, object_fit="contain", format="png")
        why = gr.HTML("", elem_id="cell-why")
    with gr.Row(visible=False):  # a cell by its numbers: what programs call (/evaluation_cell)
        true, answer = CheckedNumber(0, precision=0, label="true class"), CheckedNumber(0, precision=0, label="answer")
        pick = gr.Button("Show the cell")
    return dict(evaluate=evaluate_btn, summary=summary, per_class=per_class, confusion=confusion,
                cell_hint=cell_hint, gallery=gallery, why=why, true=true, answer=answer, pick=pick)

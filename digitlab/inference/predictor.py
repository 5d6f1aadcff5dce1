"""Predictor: any image in, top-k {name: probability} out, read the way the model's data was.

The Predictor is the one owner of preprocessing: it prepares every input from its model's
DatasetSpec (digitlab.vision.views), so the app, the CLI and the JSON endpoint never call a recipe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse

from digitlab.hub import load_model
from digitlab.models import Classifier
from digitlab.models.onnx import OnnxClassifier, OnnxRows, runtime_copy
from digitlab.models.threads import one_thread
from digitlab.spec import DatasetSpec
from digitlab.vision.imageio import EMPTY_CANVAS, EmptyImageError, ImageError, is_sketch, read_pixels
from digitlab.vision.numbers import NumberReader, NumberReading
from digitlab.vision.views import prepare, read_sketch

log = logging.getLogger(__name__)


def top_k(probs: torch.Tensor, names: Sequence[str], k: int) -> dict[str, float]:
    """The k most likely classes of one probability row, most likely first."""
    values, indices = probs.topk(max(1, min(k, len(names))))
    return {names[i]: round(float(v), 6) for v, i in zip(values.tolist(), indices.tolist(), strict=True)}


DIGITS = "0–9"  # what a model of the ten digits says it reads


def classes_text(names: Sequence[str]) -> str:
    """Classes in a few words: "0–9" for ten digits, else the first names."""
    if list(names) == [str(i) for i in range(10)]:
        return DIGITS
    return ", ".join(names[:6]) + (", …" if len(names) > 6 else "")


@dataclass
class Answer:
    """What a model answers for one image: its top-k, and whether it declined (not one of its classes)."""

    top: dict[str, float]  # by display name, most likely first
    declined: bool = False
    reason: str = ""  # why it declined, one sentence

    @property
    def label(self) -> str | None:
        return None if self.declined else next(iter(self.top))

    def as_dict(self) -> dict:
        """{"label", "confidences"} and, when declined, "label": None and the "reason" (the CLI's and the JSON
        endpoint's answer)."""
        return {"label": self.label, "confidences": self.top, **({"reason": self.reason} if self.declined else {})}


def inference_graph(model: Classifier | OnnxClassifier) -> OnnxClassifier | torch.nn.Module:
    """A copy of the model for prediction only: onnxruntime's (runtime_copy), where the model exports.

    Where it does not (an architecture torch.onnx cannot trace), PyTorch's graph with batch norm
    folded into the convolutions, and why in the server log. An ONNX model is onnxruntime's already.
    """
    if not isinstance(model, Classifier):
        return model
    try:
        return runtime_copy(model)
    except Exception:
        log.exception("%s does not export to onnxruntime; it predicts with PyTorch", model.arch)
        return fuse(model).to(memory_format=torch.channels_last)


def row_inference(rows: torch.nn.Module | None) -> Callable[[np.ndarray], np.ndarray] | None:
    """A model's row reader for reading only, (1, 1, 32, W) floats in, log-probabilities out: onnxruntime's
    (OnnxRows), or PyTorch's where it does not export (and why in the server log)."""
    if rows is None:
        return None
    try:
        return OnnxRows(rows)
    except Exception:
        log.exception("the row reader does not export to onnxruntime; it reads with PyTorch")

    @torch.inference_mode()
    def read(ink: np.ndarray) -> np.ndarray:
        with one_thread():
            return rows(torch.from_numpy(ink)).numpy()
    return read


class Predictor:
    """Wraps a Classifier with its spec's preprocessing and calibration; safe to share between threads.

    It predicts with a copy made at construction (inference_graph): later changes to the model's
    weights need a new Predictor.
    """

    def __init__(self, model: Classifier | OnnxClassifier):
        self.model = model.eval()
        self.spec: DatasetSpec = model.spec
        self.names = list(self.spec.display)  # what answers are called: "7", "七 (7)", "airplane"
        self.temperature = float(model.temperature)
        self.decline = getattr(model, "decline", None)  # below this top probability: "not one of mine"
        self.inference = inference_graph(self.model)
        self.rows = getattr(model, "rows", None)  # its row reader, where it has one: numbers read whole too
        self.row_inference = row_inference(self.rows)

    @property
    def trainable(self) -> bool:
        """Whether the model has PyTorch weights: it can explain its answers, be trained from and be pushed.
        An ONNX file only reads."""
        return isinstance(self.model, Classifier)

    @classmethod
    def from_pretrained(cls, source: str | Path | None = None, revision: str | None = None,
                        token: str | bool | None = None, local: bool = True) -> Predictor:
        """Load from a local folder or Hub repo id (default: the shipped weights); see hub.load_model."""
        return cls(load_model(source, revision, token=token, local=local))

    def prepare(self, image: Any) -> np.ndarray:
        """The (C, S, S) uint8 input this model reads for `image`; ImageError when there is none."""
        return prepare(image, self.spec)

    @torch.inference_mode()
    def probabilities(self, views: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, num_classes) calibrated probabilities for views from prepare()."""
        batch = torch.from_numpy(np.stack(views)).float().div_(255)
        with one_thread():  # the softmax too: waking a second thread for it cost more than the forward
            return (self.inference(batch) / self.temperature).softmax(1)

    def predict_view(self, image: Any, k: int = 3) -> tuple[dict[str, float], np.ndarray]:
        """Top-k of one image and the view the model saw."""
        view = self.prepare(image)
        return top_k(self.probabilities([view])[0], self.names, k), view

    def predict(self, image: Any, top_k: int = 3) -> dict[str, float]:
        return self.predict_view(image, top_k)[0]

    def rank(self, views: Sequence[np.ndarray], ks: Sequence[int]) -> list[dict[str, float]]:
        """Top-ks[i] of views[i], for many views in one forward pass."""
        return [answer.top for answer in self.answers(views, ks)]

    def answers(self, views: Sequence[np.ndarray], ks: Sequence[int]) -> list[Answer]:
        """The Answer to each view, in one forward pass: declined where the model was taught to and its top
        probability is below its decision (a model without one answers everything)."""
        if not views:
            return []
        return [self.answer_of(p, k) for p, k in zip(self.probabilities(views), ks, strict=True)]

    def answer(self, image: Any, k: int = 3) -> Answer:
        """The Answer to one image (any source prepare() reads)."""
        return self.answers([self.prepare(image)], [k])[0]

    def answer_of(self, probabilities: torch.Tensor, k: int) -> Answer:
        top = top_k(probabilities, self.names, k)
        if self.decline is None or float(probabilities.max()) >= self.decline:
            return Answer(top)
        reads = self.classes_text()
        if reads == DIGITS:
            return Answer(top, True, f"This doesn't look like a digit — the model reads {DIGITS}.")
        return Answer(top, True, f"This doesn't look like anything this model reads ({reads}).")

    def classes_text(self) -> str:
        return classes_text(self.names)

    def read_row(self, ink: np.ndarray) -> np.ndarray:
        """(T, classes + 2) log-probabilities of the row reader along one row view (numbers.row_view): the CTC
        blank, the classes, "none of them"."""
        return self.row_inference(ink[None, None].astype(np.float32) / np.float32(255))[0]

    def read_number(self, image: Any, k: int = 3) -> NumberReading:
        """The number written in a row on `image` (a canvas, a photo, a scan); "" when nothing is written.

        ImageError for an image that cannot be read, or a model that does not read handwriting.
        """
        if self.spec.view != "glyph":
            raise ImageError(f"Reading a number needs a handwriting model; this one reads {self.spec.name} photos.",
                             "needs_handwriting", name=self.spec.name)
        reader = NumberReader(self.spec, lambda views: self.probabilities(views).numpy(), self.temperature,
                              self.read_row if self.rows is not None else None, self.decline)

        def read(pixels: np.ndarray) -> NumberReading:
            reading = reader.read(pixels, k)
            if not reading.digits:
                raise EmptyImageError(EMPTY_CANVAS, "empty_canvas")
            return reading

        try:
            return read_sketch(image, read) if is_sketch(image) else read(read_pixels(image))
        except EmptyImageError:
            return NumberReading("", 0.0, [])

"""Predictor: any image in, top-k {name: probability} out, read the way the model's data was.

The Predictor is the one owner of preprocessing: it prepares every input from its model's
DatasetSpec (digitlab.vision.views), so the app, the CLI and the JSON endpoint never call a recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse

from digitlab.hub import load_model
from digitlab.models import Classifier
from digitlab.models.onnx import OnnxClassifier
from digitlab.models.threads import one_thread
from digitlab.spec import DatasetSpec
from digitlab.vision.imageio import EMPTY_CANVAS, EmptyImageError, ImageError, is_sketch, read_pixels
from digitlab.vision.numbers import NumberReader, NumberReading
from digitlab.vision.views import prepare, read_sketch


def top_k(probs: torch.Tensor, names: Sequence[str], k: int) -> dict[str, float]:
    """The k most likely classes of one probability row, most likely first."""
    values, indices = probs.topk(max(1, min(k, len(names))))
    return {names[i]: round(float(v), 6) for v, i in zip(values.tolist(), indices.tolist(), strict=True)}


def inference_graph(model: Classifier) -> torch.nn.Module:
    """A copy of the model for prediction only: batch norm folded into the convolutions, channels_last.

    About 40 % less CPU per forward than the training graph (digitnet, 2 threads: 1.7 vs 2.6 ms for
    one image, 0.86 vs 1.57 ms an image in batches of 16). An ONNX model is onnxruntime's already.
    """
    if not isinstance(model, Classifier):
        return model
    return fuse(model).to(memory_format=torch.channels_last)


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
        self.inference = inference_graph(self.model)

    @property
    def trainable(self) -> bool:
        """Whether the model has PyTorch weights: it can explain its answers, be trained from and be pushed.
        An ONNX file only reads."""
        return isinstance(self.model, Classifier)

    @property
    def nbytes(self) -> int:
        """Memory its weights take: the model and its inference graph (a fused copy)."""
        weights = sum(p.numel() * p.element_size() for p in self.model.parameters())
        return 2 * weights if self.trainable else weights

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
            return (self.inference(batch.contiguous(memory_format=torch.channels_last)) / self.temperature).softmax(1)

    def predict_view(self, image: Any, k: int = 3) -> tuple[dict[str, float], np.ndarray]:
        """Top-k of one image and the view the model saw."""
        view = self.prepare(image)
        return top_k(self.probabilities([view])[0], self.names, k), view

    def predict(self, image: Any, top_k: int = 3) -> dict[str, float]:
        return self.predict_view(image, top_k)[0]

    def rank(self, views: Sequence[np.ndarray], ks: Sequence[int]) -> list[dict[str, float]]:
        """Top-ks[i] of views[i], for many views in one forward pass."""
        if not views:
            return []
        return [top_k(p, self.names, k) for p, k in zip(self.probabilities(views), ks, strict=True)]

    def read_number(self, image: Any, k: int = 3) -> NumberReading:
        """The number written in a row on `image` (a canvas, a photo, a scan); "" when nothing is written.

        ImageError for an image that cannot be read, or a model that does not read handwriting.
        """
        if self.spec.view != "glyph":
            raise ImageError(f"Reading a number needs a handwriting model; this one reads {self.spec.name} photos.",
                             "needs_handwriting", name=self.spec.name)
        reader = NumberReader(self.spec, lambda views: self.probabilities(views).numpy(), self.temperature)

        def read(pixels: np.ndarray) -> NumberReading:
            reading = reader.read(pixels, k)
            if not reading.digits:
                raise EmptyImageError(EMPTY_CANVAS, "empty_canvas")
            return reading

        try:
            return read_sketch(image, read) if is_sketch(image) else read(read_pixels(image))
        except EmptyImageError:
            return NumberReading("", 0.0, [])

"""The lab's state and the functions its Blocks events call; package errors become gr.Error.

One Lab per app: the active model is shared by every visitor (swapped whole, under a lock),
one training runs at a time (the app queues the rest), and a trained model becomes active
only when someone asks for it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from huggingface_hub import get_token

from digitlab import hub
from digitlab.cli import train_argv
from digitlab.config import preset
from digitlab.data import load_digits
from digitlab.models import summary
from digitlab.plots import curves, sample_grid, view_html
from digitlab.predict import Predictor
from digitlab.preprocess import EmptyImageError, ImageError, to_mnist
from digitlab.train import TrainResult, card_data, train

SKETCH_HINT = "Draw a digit…"
UPLOAD_HINT = "Upload an image of a digit…"
ACTIVE, TRAINED = "active model", "just-trained model"
PROGRESS = gr.Progress()  # a marker: gradio passes each call its own tracker
Prediction = tuple[dict[str, float], str, str]  # label, 28x28 view (HTML), hint (Markdown)


def plain(message: str) -> gr.Error:
    """A user's mistake or a refusal, shown as is; no traceback in the server log."""
    return gr.Error(message, print_exception=False)


@dataclass(frozen=True)
class Active:
    predictor: Predictor
    source: str  # a folder or repo id, or how the model came to be (trained here)
    revision: str | None = None
    card: dict | None = None  # training facts for a model trained in this app


class ActiveModel:
    """The model Sketch and Upload use; readers get a consistent (predictor, source) pair."""

    def __init__(self, predictor: Predictor, source: str, revision: str | None = None):
        self._lock = threading.Lock()
        self._active = Active(predictor, source, revision)

    def get(self) -> Active:
        with self._lock:
            return self._active

    def set(self, predictor: Predictor, source: str, revision: str | None = None, card: dict | None = None) -> None:
        with self._lock:
            self._active = Active(predictor, source, revision, card)

    def predictor(self) -> Predictor:
        return self.get().predictor

    def describe(self) -> str:
        a = self.get()
        m = a.predictor.model
        where = "the shipped weights" if a.source == str(hub.DEFAULT_WEIGHTS) else f"`{a.source}`"
        where += f" at revision `{a.revision}`" if a.revision else ""
        return f"**Active model:** `{m.arch}` · {m.num_params:,} parameters · {where}"


def load_predictor(source: str | None, revision: str | None = None) -> Predictor:
    """Predictor.from_pretrained with every failure as a gr.Error in plain words."""
    try:
        return Predictor.from_pretrained(source or None, revision or None)
    except hub.WeightsError as err:
        raise plain(str(err)) from err
    except Exception as err:  # a failure hub.py did not foresee must still read plainly
        raise gr.Error(f"Could not load weights from {source!r} ({type(err).__name__}).") from err


def run_card(result: TrainResult) -> dict:
    """The model card facts of a run made in the app, with the CLI command that repeats it."""
    return card_data(result, train_argv(result.config))


def export_zip(result: TrainResult) -> str:
    """Save the model (safetensors + config + card) and zip it for download."""
    folder = Path(tempfile.mkdtemp(prefix="digitlab-")) / f"digitlab-{result.model.arch}"
    hub.save_model(result.model, folder, card=run_card(result))
    return shutil.make_archive(str(folder), "zip", folder)


class Lab:
    """Everything the Blocks call; see app.py for the wiring."""

    def __init__(self, predictor: Predictor, source: str, revision: str | None = None):
        self.active = ActiveModel(predictor, source, revision)
        self.stop = threading.Event()

    @classmethod
    def create(cls, predictor_or_source: Predictor | str | Path | None = None, revision: str | None = None) -> Lab:
        """A Lab on a given Predictor or on the weights at a folder / repo id (None: the shipped ones)."""
        if isinstance(predictor_or_source, Predictor):
            return cls(predictor_or_source, "a model passed to build_app")
        source = str(predictor_or_source or hub.DEFAULT_WEIGHTS)
        return cls(load_predictor(source, revision), source, revision or None)

    # -- Sketch and Upload ---------------------------------------------------------------
    def predict(self, image: Any, k: float, hint: str) -> Prediction:
        """Top-k and the 28x28 view the model saw; an empty input clears both and shows the hint."""
        try:
            probs, view = self.active.predictor().predict_view(image, int(k or 3))
        except EmptyImageError:
            return {}, "", hint
        except ImageError as err:
            raise plain(str(err)) from err
        return probs, view_html(view), ""

    async def predict_sketches(self, sketches: list[dict | None], ks: list[float]) -> list[list]:
        """The Sketch tab, batched (gradio's batch=True): the canvases waiting, in one forward pass.

        `sketches` hold encoded images (RawSketchpad), None after Clear. Returns the label, view
        and hint columns. A canvas that cannot be read gets its message in its hint: a gr.Error
        would fail every sketch in the batch.

        Async, so it runs on the server's event loop: a canvas costs ~4 ms of CPU, and handing it
        to a worker thread and back cost more than that, in GIL hand-offs with the loop (~200
        context switches per prediction under 32 sketching users; scripts/bench_serve.py).
        Uploads, which can be large photos, stay on worker threads.
        """
        predictor = self.active.predictor()
        views = [read_sketch(sketch) for sketch in sketches]  # a 28x28 view, or the hint to show
        drawn = [i for i, view in enumerate(views) if not isinstance(view, str)]
        ranked = predictor.rank([views[i] for i in drawn], [int(ks[i] or 3) for i in drawn])
        answers = dict(zip(drawn, ranked, strict=True))
        rows = [(answers[i], view_html(view), "") if i in answers else ({}, "", view) for i, view in enumerate(views)]
        return [list(column) for column in zip(*rows, strict=True)]

    def predict_upload(self, image: dict | str | None, k: float = 3) -> Prediction:
        """`image` is the raw upload payload (the event skips gradio's decoding) or a path."""
        path = image.get("path") if isinstance(image, dict) else image
        if not path:
            return {}, "", UPLOAD_HINT
        return self.predict(path, k, UPLOAD_HINT)

    # -- Train ----------------------------------------------------------------------------
    def train(self, data: str, arch: str, epochs: float, batch_size: float, lr: float, optimizer: str,
              augment: bool, seed: float, progress: gr.Progress = PROGRESS) -> Iterator[tuple]:
        """Stream (log, loss curves, accuracy curves, status, result, download, summary, grid, use-button)."""
        self.stop.clear()  # a Stop pressed from here on, even while the data loads, ends this run
        try:
            cfg = preset("accurate", arch=arch, data=data or "auto", epochs=int(epochs), batch_size=int(batch_size),
                         lr=float(lr), optimizer=optimizer, augment=bool(augment), seed=int(seed)).validate()
            digits = load_digits(cfg.data)
        except (ValueError, OSError, RuntimeError) as err:
            raise plain(f"Cannot start training: {err}") from err
        grid = sample_grid(digits.train_images, digits.train_labels)
        log = [f"training {cfg.arch} on {digits} for {cfg.epochs} epoch(s)"]
        shown, epoch = 0.0, 0  # when the progress bar last moved, the epoch in progress

        def on_batch(step: int, steps: int) -> None:
            nonlocal shown, epoch
            epoch += step == 1
            if time.monotonic() - shown > 0.2 or step == steps:  # the browser needs no more than 5 updates/s
                shown = time.monotonic()
                progress((step, steps), desc=f"epoch {epoch}/{cfg.epochs}", unit="batches")

        records: list = []

        def frame(status: str, result: TrainResult | None = None) -> tuple:
            """One update of every Train output; the download and use-button wait for a result."""
            df = curves(records)  # both plots draw from it: loss and accuracy columns
            if result is None:
                return ("\n".join(log), df, df, status, None, None, "", grid,
                        gr.Button(interactive=False, variant="secondary"))
            return ("\n".join(log), df, df, status, result, export_zip(result), summary(result.model), grid,
                    gr.Button(interactive=True, variant="primary"))

        yield frame("Training…")
        result = None
        for item in train(cfg, data=digits, stop=self.stop, on_batch=on_batch):
            if isinstance(item, TrainResult):
                result = item
                break
            records.append(item)
            log.append(item.line())
            yield frame(f"Epoch {item.epoch}/{cfg.epochs} done…")
        if result is None or not result.records:
            log.append("stopped before the first epoch ended; nothing to keep")
            yield frame("Stopped before the first epoch ended.")
            return
        ended = f"stopped after {len(records)}/{cfg.epochs} epochs" if result.stopped else "finished"
        log.append(f"{ended}: test accuracy {result.test_acc:.2f}%")
        yield frame(f"**{ended.capitalize()}**: test accuracy {result.test_acc:.2f}%. The active model stays as it "
                    "is until you press **Use this model**.", result)

    def stop_training(self) -> str:
        self.stop.set()
        return "Stopping after the current batch…"

    def use_trained(self, result: TrainResult | None) -> str:
        if result is None:
            raise plain("Train a model first; there is no new model to use yet.")
        how = f"stopped after {len(result.records)} epochs" if result.stopped else f"{len(result.records)} epochs"
        card = run_card(result)
        self.active.set(Predictor(result.model), f"trained here on {result.data}, {how}", card=card)
        return self.active.describe()

    # -- Hub ------------------------------------------------------------------------------
    def load_weights(self, source: str, revision: str = "") -> str:
        """Make the weights at a repo id or local folder active; on failure the old model stays."""
        source = (source or "").strip()
        if not source:
            raise plain("Enter a Hub repo id (user/name) or a local folder of digitlab weights.")
        revision = (revision or "").strip()
        self.active.set(load_predictor(source, revision), source, revision or None)
        return self.active.describe()

    def push_to_hub(self, repo_id: str, token: str = "", private: bool = True, which: str = ACTIVE,
                    result: TrainResult | None = None) -> str:
        """Upload the active or just-trained model with a model card; the token falls back to HF_TOKEN."""
        repo_id = (repo_id or "").strip()
        if not repo_id:
            raise plain("Enter the repo id to push to, e.g. your-name/digitlab-cnn.")
        if which == TRAINED:
            if result is None:
                raise plain("There is no just-trained model in this session; train one first.")
            model, card = result.model, run_card(result)
        else:
            active = self.active.get()
            model, card = active.predictor.model, active_card(active)
        token = (token or "").strip() or get_token()  # get_token: $HF_TOKEN or the saved login
        if not token:
            raise plain("Pushing needs a Hub token: paste a write token above or set HF_TOKEN where the app runs.")
        try:
            pushed = hub.push_model(model, repo_id, token=token, private=private, card=card)
        except hub.WeightsError as err:
            raise plain(str(err)) from err
        except Exception as err:  # only the type: an unforeseen error's text may quote a URL
            raise gr.Error(f"Could not push to {repo_id!r} ({type(err).__name__}).") from err
        return f"Pushed to [{pushed.repo_id}]({pushed.url}) (commit `{pushed.commit[:8]}`)."


def read_sketch(sketch: dict | None) -> np.ndarray | str:
    """A canvas as the 28x28 view the model reads, or what to tell the user instead."""
    if not sketch:
        return SKETCH_HINT
    try:
        return to_mnist(sketch)
    except EmptyImageError:
        return SKETCH_HINT
    except ImageError as err:
        return str(err)


def active_card(active: Active) -> dict | None:
    """The training facts saved with the active weights (a folder, or a pulled repo in the HF cache)."""
    if active.card is not None:
        return active.card
    try:
        return hub.read_card_data(active.source, active.revision) or None
    except hub.WeightsError:  # a card is nice to have; never block a push on it
        return None

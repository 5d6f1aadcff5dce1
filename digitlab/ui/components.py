"""Gradio components that hand the handler what was uploaded, undecoded, and accept nothing else.

gr.Sketchpad decodes the background, every layer and the composite of each stroke with Pillow
and flattens them (~9 ms of CPU for an 800x800 canvas), and the handler then reads only the
composite. RawSketchpad passes the PNG bytes (from the browser) or the uploaded file paths (from
API clients) through untouched, in the same {"background", "layers", "composite"} shape. RawImage
does the same for an upload: the handler gets the path of the file Gradio stored, and decodes it
itself, so an unreadable file gets a plain message.

Both take only files that Gradio stored for this app (uploaded_path): a raw path sent by a client
is refused before anything is opened, with the same words whether it exists or not.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.components.base import server
from gradio.components.image_editor import AcceptBlobs, EditorDataBlobs
from gradio.components.label import LabelConfidence, LabelData
from gradio.data_classes import FileData
from gradio.utils import get_upload_folder

from digitlab.inference.predictor import Answer
from digitlab.vision.imageio import MAX_BYTES, ImageError

NOT_AN_UPLOAD = "This file was not uploaded here; upload the image again."


def uploaded_path(path: Any) -> str:
    """`path` if it is a regular file in Gradio's upload folder, else ImageError (one message for all)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ImageError(NOT_AN_UPLOAD, "not_uploaded")
    folder = os.path.realpath(get_upload_folder())
    real = os.path.realpath(path)
    if os.path.commonpath([folder, real]) != folder:
        raise ImageError(NOT_AN_UPLOAD, "not_uploaded")
    try:
        info = os.lstat(real)
    except (OSError, ValueError):
        raise ImageError(NOT_AN_UPLOAD, "not_uploaded") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(NOT_AN_UPLOAD, "not_uploaded")
    return real


def encoded(image: FileData | bytes | None) -> str | bytes | None:
    """An uploaded file's checked path, or a browser blob's bytes."""
    return uploaded_path(image.path) if isinstance(image, FileData) else image


# The browser sends each stroke's canvas ahead of its event, but skips events while one is
# pending (trigger_mode="always_last"): the canvases of skipped events would stay forever.
MAX_WAITING = 256  # canvases uploaded and not yet asked for, across all users; the oldest go first
STORE_BYTES = 256 * 2**20  # and no more than this in all: a flood of 20 MB blobs cannot fill the memory
MAX_ID = 64  # characters of a blob id (the browser's are UUIDs)


class RawSketchpad(gr.Sketchpad):
    def get_block_name(self) -> str:
        return "imageeditor"  # the browser side is gr.Sketchpad's own: an ImageEditor template

    def preprocess(self, payload: Any) -> dict | None:
        """{"background": path | bytes | None, "layers": [path | bytes], "composite": path | bytes | None}.

        A payload naming a file that was not uploaded becomes {"error": ImageError}: the batched
        sketch handler answers it in its hint, without failing the other sketches of its batch.
        """
        if payload is None:
            return None
        if payload.id is not None:  # the browser sent the images ahead, as blobs under this id
            payload = self.blob_storage.pop(payload.id, None)
            self.drop_stale()
            if payload is None:
                return None
        try:
            return {"background": encoded(payload.background),
                    "layers": [encoded(layer) for layer in payload.layers if layer is not None],
                    "composite": encoded(payload.composite)}
        except ImageError as err:
            return {"error": err}

    def drop_stale(self) -> None:
        """The oldest canvases go (dicts keep insertion order) beyond MAX_WAITING or STORE_BYTES."""
        for stale in list(self.blob_storage)[:-MAX_WAITING]:
            self.blob_storage.pop(stale, None)
        held = {key: sum(len(b or b"") for b in (blobs.composite, blobs.background))
                for key, blobs in self.blob_storage.items()}
        total = sum(held.values())
        for key, size in held.items():
            if total <= STORE_BYTES:
                break
            self.blob_storage.pop(key, None)
            total -= size

    @server
    def accept_blobs(self, data: AcceptBlobs):
        """The browser's canvas blobs, ahead of their event: the composite and background only.

        This app reads the composite; a layer (sent only with layers on, which this app never
        uses) or a long id is refused, so no request can make the store grow beyond MAX_WAITING
        canvases of at most MAX_BYTES each, STORE_BYTES in all.
        """
        kind, blob_id = data.data.get("type"), str(data.data.get("id") or "")
        if kind not in ("composite", "background") or not blob_id or len(blob_id) > MAX_ID or not data.files:
            return
        blob = data.files[0][1]
        if not isinstance(blob, bytes) or len(blob) > MAX_BYTES:
            return
        current = self.blob_storage.get(blob_id) or EditorDataBlobs(background=None, layers=[], composite=None)
        setattr(current, kind, blob)
        self.blob_storage[blob_id] = current
        self.drop_stale()



class RawImage(gr.Image):
    def get_block_name(self) -> str:
        return "image"

    def preprocess(self, payload: FileData | None) -> str | dict | None:
        """The stored upload's checked path, or {"error": ImageError} for a path that was not uploaded."""
        if payload is None or payload.path is None:
            return None
        try:
            return uploaded_path(payload.path)
        except ImageError as err:
            return {"error": err}


def stored_file(value: Any) -> Path:
    """A gr.File value (a path string, FileData or dict) as the checked path of an upload."""
    path = value.get("path") if isinstance(value, dict) else getattr(value, "path", value)
    return Path(uploaded_path(path))


class CheckedSlider(gr.Slider):
    """A slider whose value the handler checks (Lab.whole): a stranger's "abc" or -5 gets a plain
    message naming the setting, not gradio's bare "Error" and a traceback in the log."""

    def get_block_name(self) -> str:
        return "slider"

    def preprocess(self, payload: Any) -> Any:
        return payload


class CheckedNumber(gr.Number):
    """A number box whose value the handler checks (Lab.whole / Lab.positive), as CheckedSlider."""

    def get_block_name(self) -> str:
        return "number"

    def preprocess(self, payload: Any) -> Any:
        return payload


class CheckedDropdown(gr.Dropdown):
    """A dropdown whose choice the handler checks, as CheckedSlider (a value outside the choices, or a
    folder typed locally, reaches the handler, which says what it makes of it)."""

    def get_block_name(self) -> str:
        return "dropdown"

    def preprocess(self, payload: Any) -> Any:
        return payload


class CheckedRadio(gr.Radio):
    """Radio buttons whose choice the handler checks, as CheckedSlider (a value outside the choices
    is named in a plain message, not a traceback)."""

    def get_block_name(self) -> str:
        return "radio"

    def preprocess(self, payload: Any) -> Any:
        return payload


class AnswerLabel(gr.Label):
    """The top answers, headed by the first; a declined answer (digitlab.inference.predictor.Answer) is headed
    "?" so the big text never names a class the model has just said the image is not."""

    def get_block_name(self) -> str:
        return "label"

    def postprocess(self, value: Any) -> Any:
        if isinstance(value, Answer):
            if not value.declined:
                return super().postprocess(value.top)
            return LabelData(label="?", confidences=[LabelConfidence(label=name, confidence=p)
                                                     for name, p in value.top.items()])
        return super().postprocess(value)


"""A Sketchpad that hands its event handler the encoded images, for to_mnist to decode once.

gr.Sketchpad decodes the background, every layer and the composite of each stroke with Pillow
and flattens them (~9 ms of CPU for an 800x800 canvas), and the handler then reads only the
composite. This one passes the PNG bytes (from the browser) or the uploaded file paths (from
API clients) through untouched, in the same {"background", "layers", "composite"} shape.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.data_classes import FileData


def encoded(image: FileData | bytes | None) -> str | bytes | None:
    """An uploaded file's path, or a browser blob's bytes."""
    return image.path if isinstance(image, FileData) else image


# The browser sends each stroke's canvas ahead of its event, but skips events while one is
# pending (trigger_mode="always_last"): the canvases of skipped events would stay forever.
MAX_WAITING = 256  # canvases uploaded and not yet asked for, across all users; the oldest go first


class RawSketchpad(gr.Sketchpad):
    def get_block_name(self) -> str:
        return "imageeditor"  # the browser side is gr.Sketchpad's own: an ImageEditor template

    def preprocess(self, payload: Any) -> dict | None:
        """{"background": path | bytes | None, "layers": [path | bytes], "composite": path | bytes | None}."""
        if payload is None:
            return None
        if payload.id is not None:  # the browser sent the images ahead, as blobs under this id
            payload = self.blob_storage.pop(payload.id, None)
            for stale in list(self.blob_storage)[:-MAX_WAITING]:  # oldest first: dicts keep insertion order
                self.blob_storage.pop(stale, None)
            if payload is None:
                return None
        return {"background": encoded(payload.background),
                "layers": [encoded(layer) for layer in payload.layers if layer is not None],
                "composite": encoded(payload.composite)}

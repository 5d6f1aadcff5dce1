"""A plain JSON endpoint beside the Gradio UI, for clients that don't speak Gradio's protocol.

    curl -X POST --data-binary @digit.png 'http://127.0.0.1:7860/api/predict?top_k=3'
    -> {"label": "7", "confidences": {"7": 0.98, "1": 0.01, "2": 0.003}}
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial

from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digitlab.predict import Predictor
from digitlab.preprocess import MAX_BYTES, SKETCH_MAX_PIXELS, ImageError

PREDICT_PATH = "/api/predict"


def canvas_sized(data: bytes) -> bool:
    """Whether an image's header declares no more pixels than a sketch may have; unreadable counts
    as small, since it is refused at once."""
    try:
        width, height = Image.open(io.BytesIO(data)).size  # reads the header only
    except Exception:
        return True
    return width * height <= SKETCH_MAX_PIXELS


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def json_routes(active: Callable[[], Predictor]) -> list[Route]:
    """Routes that read the image bytes of a POST and answer with the active model's top-k."""

    async def predict(request: Request) -> JSONResponse:
        try:
            k = int(request.query_params.get("top_k", 3))
        except ValueError:
            return error("top_k must be a whole number.", 400)
        if int(request.headers.get("content-length") or 0) > MAX_BYTES:
            return error(f"The image is larger than {MAX_BYTES // 2**20} MB.", 413)
        body = bytearray()
        async for chunk in request.stream():  # a chunked upload has no length to check first
            body += chunk
            if len(body) > MAX_BYTES:
                return error(f"The image is larger than {MAX_BYTES // 2**20} MB.", 413)
        predict = partial(active().predict, body, max(1, k))
        try:  # canvas-sized images on the event loop, as sketches are (Lab.predict_sketches); photos on a thread
            confidences = predict() if canvas_sized(body) else await run_in_threadpool(predict)
        except ImageError as err:
            return error(str(err), 422)
        return JSONResponse({"label": next(iter(confidences)), "confidences": confidences})

    return [Route(PREDICT_PATH, predict, methods=["POST"])]

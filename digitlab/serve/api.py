"""A plain JSON endpoint beside the Gradio UI, for clients that don't speak Gradio's protocol,
and the request-size limits of the whole server.

    curl -X POST --data-binary @digit.png 'http://127.0.0.1:7860/api/predict?top_k=3'
    -> {"label": "7", "confidences": {"7": 0.99, "1": 0.004, "2": 0.002}}
    curl -X POST --data-binary @number.png 'http://127.0.0.1:7860/api/predict?number=1'
    -> {"number": "2026", "confidence": 0.97, "digits": [{"label": "2", "confidence": 0.99, "box": [...]}, ...]}

It always answers with the app's default model (the one `--weights` names): it has no sessions,
so any number of server processes can serve it behind a load balancer.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy
from digitlab.vision.imageio import MAX_BYTES, SKETCH_MAX_PIXELS, ImageError

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
        number = request.query_params.get("number", "0").lower() in ("1", "true", "yes")
        if int(request.headers.get("content-length") or 0) > MAX_BYTES:
            return error(f"The image is larger than {MAX_BYTES // 2**20} MB.", 413)
        body = bytearray()
        async for chunk in request.stream():  # a chunked upload has no length to check first
            body += chunk
            if len(body) > MAX_BYTES:
                return error(f"The image is larger than {MAX_BYTES // 2**20} MB.", 413)
        predictor = active()
        read = partial(predictor.read_number if number else predictor.predict, body, max(1, k))
        try:  # canvas-sized images on the event loop, as sketches are; photos on a thread
            answer = read() if canvas_sized(body) else await run_in_threadpool(read)
        except ImageError as err:
            return error(str(err), 422)
        body = answer.as_dict() if number else {"label": next(iter(answer)), "confidences": answer}
        return JSONResponse(body, headers={"X-Digitlab-Process": str(os.getpid())})  # which replica answered

    return [Route(PREDICT_PATH, predict, methods=["POST"])]


UPLOAD_PATH = "/gradio_api/upload"  # Gradio's file uploads: the Train tab's zip of images is the largest
SLACK = 2**20  # multipart framing around a file
SKETCH_UPLOAD = 2**20  # a Sketchpad's layers and composite, as PNGs, are a few tens of kB


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse request bodies over a size, by Content-Length at once, chunked ones as
    they stream, with 413. Gradio parses multipart bodies of up to 1,000 files into memory; this
    bounds any request to one file's worth. Gradio also keeps every upload on disk for an hour, so
    uploads pause (507) while the disk that holds them has less than `disk_reserve` free: a stranger
    posting files in a loop never fills the disk everyone's sessions and trainings live on."""

    def __init__(self, app, limit: int, upload_limit: int, disk_reserve: int = 0):
        self.app, self.limit, self.upload_limit, self.disk_reserve = app, limit, upload_limit, disk_reserve

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope.get("path", "").endswith(UPLOAD_PATH)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        limit = self.upload_limit if upload else self.limit
        if upload and self.disk_nearly_full(int(declared) if declared and declared.isdigit() else None):
            await drain(receive, limit)  # a reply sent while the body is still coming resets the connection
            return await self.refuse(send, 507, "The server's disk is nearly full, so uploads are paused. "
                                                "Try again in a few minutes.", plain=True)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self.refuse_size(send, limit, upload)
        received, started = 0, False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await self.refuse_size(send, limit, upload)

    def disk_nearly_full(self, size: int | None) -> bool:
        """Below the reserve, files pause; a sketch's strokes (Gradio uploads them too) go on until a
        quarter of it is left, so drawing keeps working while the disk is cleared."""
        free = free_disk(upload_folder())
        return free < self.disk_reserve // 4 or (free < self.disk_reserve and (size is None or size > SKETCH_UPLOAD))

    @classmethod
    async def refuse_size(cls, send, limit: int, plain: bool) -> None:
        await cls.refuse(send, 413, f"The request is larger than {limit // 2**20} MB.", plain)

    @staticmethod
    async def refuse(send, status: int, message: str, plain: bool = False) -> None:
        """JSON {"error"} for programs; plain text for uploads, which Gradio's page shows as it is."""
        body, kind = (message.encode(), b"text/plain; charset=utf-8") if plain else \
            (JSONResponse({"error": message}).body, b"application/json")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def drain(receive, most: int) -> None:
    """Read and drop a request's body, up to `most` bytes: the client then hears the reply."""
    read = 0
    while read <= most:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body"):
            return


def upload_folder() -> Path:
    """Where Gradio keeps uploads ($GRADIO_TEMP_DIR, else the system's temporary folder)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def free_disk(folder: Path) -> int:
    """Bytes free on the disk that holds `folder` (or would hold it: it is made on the first upload)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def body_limits(policy: Policy) -> list[Middleware]:
    return [Middleware(BodyLimit, limit=MAX_BYTES + SLACK, upload_limit=max(MAX_BYTES, policy.max_zip_bytes) + SLACK,
                       disk_reserve=policy.upload_disk_reserve)]


def create_app():
    """The JSON endpoint alone, for any number of server processes behind a load balancer:

        uvicorn digitlab.serve.api:create_app --factory --workers 4 --host 0.0.0.0 --port 8000

    It answers with $DIGITLAB_WEIGHTS (a folder or Hub repo id, at $DIGITLAB_REVISION), else the
    shipped MNIST model; each worker loads it once. The Gradio UI keeps per-visitor sessions in its
    process, so replicas of the UI need sticky sessions; this endpoint needs none.
    """
    from starlette.applications import Starlette

    from digitlab.serve.process import tune_process

    tune_process()
    predictor = Predictor.from_pretrained(os.environ.get("DIGITLAB_WEIGHTS") or None,
                                          os.environ.get("DIGITLAB_REVISION") or None)
    return Starlette(routes=json_routes(lambda: predictor), middleware=body_limits(Policy()))

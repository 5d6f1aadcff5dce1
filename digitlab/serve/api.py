"""A plain JSON endpoint beside the Gradio UI, for clients that don't speak Gradio's protocol.

    curl -X POST --data-binary @digit.png 'http://127.0.0.1:7860/api/predict?top_k=3'
    -> {"label": "7", "confidences": {"7": 0.99, "1": 0.004, "2": 0.002}}
    curl -X POST --data-binary @number.png 'http://127.0.0.1:7860/api/predict?number=1'
    -> {"number": "2026", "confidence": 0.97, "digits": [{"label": "2", "confidence": 0.99, "box": [...]}, ...]}

It always answers with the app's default model (the one `--weights` names): it has no sessions,
so any number of server processes can serve it behind a load balancer. Every request is read on
the FairPool's threads, never on the event loop, each client in turn, a few waiting at most (503).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy
from digitlab.serve.budgets import FairPool, Refused, client_key
from digitlab.vision.imageio import MAX_BYTES, ImageError

PREDICT_PATH = "/api/predict"


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyBudget:
    """Bytes of request bodies held at once by the routes that share it (on the event loop: no lock)."""

    def __init__(self, limit: int):
        self.limit, self.held = limit, 0

    async def read(self, request: Request, most: int = MAX_BYTES) -> bytes | JSONResponse:
        """The request's body, or a 413 past `most` (a chunked body has no length to check first), or a 503
        while the bodies already held leave no room: a crowd of large uploads waits outside, not in memory."""
        if int(request.headers.get("content-length") or 0) > most:
            return error(f"The image is larger than {most // 2**20} MB.", 413)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                self.held += len(chunk)
                if len(body) > most:
                    return error(f"The image is larger than {most // 2**20} MB.", 413)
                if self.held > self.limit:
                    return error("The server is reading many images right now; try again in a moment.", 503)
        finally:
            self.held -= len(body)
        return bytes(body)


def json_routes(active: Callable[[], Predictor], pool: FairPool, budget: BodyBudget,
                behind_proxy: bool = False) -> list[Route]:
    """Routes that read the image bytes of a POST and answer with the active model's top-k."""

    def answer(predictor: Predictor, body: bytes, k: int, number: bool) -> dict:
        if number:
            return predictor.read_number(body, k).as_dict()
        return predictor.answer(body, k).as_dict()

    async def predict(request: Request) -> JSONResponse:
        try:
            k = max(1, int(request.query_params.get("top_k", 3)))
        except ValueError:
            return error("top_k must be a whole number.", 400)
        number = request.query_params.get("number", "0").lower() in ("1", "true", "yes")
        body = await budget.read(request)
        if isinstance(body, JSONResponse):
            return body
        client = client_key(request.headers, request.client.host if request.client else None, behind_proxy)
        try:  # the body is held until its turn: count it again while it waits
            budget.held += len(body)
            result = await pool.run(f"json:{client}", answer, active(), body, k, number)
        except Refused as err:
            return error(str(err), 503)
        except ImageError as err:
            return error(str(err), 422)
        finally:
            budget.held -= len(body)
        return JSONResponse(result, headers={"X-Digitlab-Process": str(os.getpid())})  # which replica answered

    return [Route(PREDICT_PATH, predict, methods=["POST"])]


def create_app():
    """The JSON endpoint alone, for any number of server processes behind a load balancer:

        uvicorn digitlab.serve.api:create_app --factory --workers 4 --host 0.0.0.0 --port 8000

    It answers with $DIGITLAB_WEIGHTS (a folder or Hub repo id, at $DIGITLAB_REVISION), else the
    shipped MNIST model; each worker loads it once. The Gradio UI keeps per-visitor sessions in its
    process, so replicas of the UI need sticky sessions; this endpoint needs none.
    """
    from starlette.applications import Starlette

    from digitlab.serve.limits import body_limits
    from digitlab.serve.process import tune_process

    tune_process()
    policy = Policy()
    predictor = Predictor.from_pretrained(os.environ.get("DIGITLAB_WEIGHTS") or None,
                                          os.environ.get("DIGITLAB_REVISION") or None)
    pool = FairPool(policy.work_threads, policy.waiting_per_visitor)
    routes = json_routes(lambda: predictor, pool, BodyBudget(policy.held_image_bytes))
    return Starlette(routes=routes, middleware=body_limits(policy))

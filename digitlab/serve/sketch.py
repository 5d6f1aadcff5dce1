"""The page's sketch route: one round trip from a lifted pen to the answer.

The Sketch tab's canvas (ui.canvas) posts its drawing as a PNG to POST /api/sketch with the page's
session token; the visitor's own active model reads it on the FairPool (only the newest drawing of a
visitor waits: an older one still waiting is answered "superseded"), and the answer comes back in the
same response: the top-k and the view for one character, the digits and their boxes for a number. No
blob uploads, no queue join, no event stream: a visitor far away pays one round trip. The drawing is
kept as the visitor's last sketch, which "Why this answer?" and "Wrong? It's a …" read.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from digitlab.serve.api import BodyBudget, error
from digitlab.serve.budgets import FairPool, RateLimit, Refused, Superseded
from digitlab.serve.sessions import Visitor
from digitlab.vision.imageio import SKETCH_MAX_PIXELS, EmptyImageError, ImageError, read_pixels
from digitlab.vision.pictures import data_url, view_image

SKETCH_PATH = "/api/sketch"
TOKEN_HEADER = "x-digitlab-token"
MAX_SKETCH_BYTES = 2**20  # a canvas PNG is a few kB; a megabyte is plenty
MAX_K = 50


def answer_sketch(visitor: Visitor, png: bytes, mode: str, k: int) -> dict:
    """What the visitor's active model reads on a drawn canvas, as the page shows it."""
    choice = visitor.active
    predictor = choice.predictor
    if mode == "number":
        visitor.last_sketch = None  # Why and Wrong? are for one character
        reading = predictor.read_number(png, k)
        if not reading.digits:
            return {"empty": True}
        return {"number": reading.number, "confidence": round(reading.confidence, 6),
                "digits": [{"name": d.name, "confidence": round(d.confidence, 4), "box": list(d.box),
                            "declined": d.declined} for d in reading.digits], "whole": reading.whole}
    try:
        pixels = read_pixels(png, SKETCH_MAX_PIXELS)
        view = predictor.prepare(pixels)
    except EmptyImageError:
        visitor.last_sketch = None
        return {"empty": True}
    answer = predictor.answers([view], [k])[0]
    visitor.last_sketch = png
    return {"top": [[name, p] for name, p in answer.top.items()], "declined": answer.declined,
            "reads": predictor.classes_text(),
            "view": data_url(view_image(view)), "model": choice.key, "size": predictor.spec.size}


def sketch_routes(find: Callable[[str | None], Visitor | None], pool: FairPool, budget: BodyBudget,
                  per_second: float, reason: Callable[[ImageError, str], str] = lambda err, lang: str(err)
                  ) -> list[Route]:
    """The canvas's route; `reason` says why a drawing cannot be read in the visitor's language."""
    rate = RateLimit(max(1, int(per_second)), window=1.0)

    async def sketch(request: Request) -> JSONResponse:
        visitor = find(request.headers.get(TOKEN_HEADER))
        if visitor is None:
            return error("This page's session has ended; reload the page.", 401)
        if not rate.allow(visitor.session):
            return error("Too many drawings a second; the newest will be read.", 429)
        params = request.query_params
        mode = "number" if params.get("mode") == "number" else "digit"
        try:
            k = max(1, min(int(params.get("k", 3)), MAX_K))
        except ValueError:
            return error("k must be a whole number.", 400)
        seq = params.get("seq", "")[:20]
        body = await budget.read(request, MAX_SKETCH_BYTES)
        if isinstance(body, JSONResponse):
            return body
        if not body:  # the canvas was cleared
            visitor.last_sketch = None
            return JSONResponse({"seq": seq, "empty": True})
        try:
            result = await pool.run(visitor.session, answer_sketch, visitor, body, mode, k, kind="sketch", latest=True)
        except Superseded:
            return JSONResponse({"seq": seq, "superseded": True})
        except Refused as err:
            return error(str(err), 429)
        except ImageError as err:
            return JSONResponse({"seq": seq, "error": reason(err, visitor.lang)})
        return JSONResponse({"seq": seq, **result})

    return [Route(SKETCH_PATH, sketch, methods=["POST"])]

"""What any request to the server may cost, checked as it arrives: an ASGI middleware in front of Gradio.

- A body over its limit is refused by its Content-Length at once, a chunked one as it streams (413).
- An upload to Gradio (/gradio_api/upload) may carry a few files only (Gradio's own parser takes 1,000
  per request, each a file on disk), and each client may send a bounded number of uploads a minute (429).
- Gradio keeps every upload on disk for an hour, so uploads pause (507) while the disk that holds them is
  nearly full, in bytes or in inodes: a stranger posting files in a loop never fills the disk that
  everyone's sessions and trainings live on. Small uploads go on until a quarter of the reserve is left.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from starlette.middleware import Middleware
from starlette.responses import JSONResponse

from digitlab.policy import Policy
from digitlab.serve.budgets import RateLimit, client_key
from digitlab.vision.imageio import MAX_BYTES

UPLOAD_PATH = "/gradio_api/upload"  # Gradio's file uploads: the Train tab's zip of images is the largest
SLACK = 2**20  # multipart framing around a file
SMALL_UPLOAD = 2**20  # an image from a phone's camera, or a canvas: uploads under this go on longest


class Refusal(Exception):
    """The request is refused part-way through its body: (status, message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class PartCounter:
    """Counts the parts of a multipart body as it streams (its boundary lines), across chunk edges."""

    def __init__(self, content_type: bytes):
        boundary = content_type.split(b"boundary=")[-1].split(b";")[0].strip(b'"') if b"boundary=" in content_type \
            else b""
        self.marker = b"--" + boundary if boundary else b""
        self.tail = b""
        self.parts = 0

    def feed(self, chunk: bytes) -> int:
        if self.marker:
            data = self.tail + chunk
            self.parts += data.count(self.marker) - self.tail.count(self.marker)
            self.tail = data[-(len(self.marker) - 1):] if len(self.marker) > 1 else b""
        return max(0, self.parts - 1)  # the last boundary closes the body


class BodyLimit:
    """ASGI middleware: the limits above, in front of every route."""

    def __init__(self, app, limit: int, upload_limit: int, disk_reserve: int = 0, inode_reserve: int = 0,
                 files_per_upload: int = 4, uploads_per_minute: int = 30, behind_proxy: bool = False):
        self.app, self.limit, self.upload_limit = app, limit, upload_limit
        self.disk_reserve, self.inode_reserve = disk_reserve, inode_reserve
        self.files_per_upload, self.behind_proxy = files_per_upload, behind_proxy
        self.uploads = RateLimit(uploads_per_minute)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope.get("path", "").endswith(UPLOAD_PATH) and scope.get("method") == "POST"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        size = int(declared) if declared and declared.isdigit() else None
        limit = self.upload_limit if upload else self.limit
        if size is not None and size > limit:  # refused by its length alone, before a byte of its body
            return await self.refuse(send, Refusal(413, f"The request is larger than {limit // 2**20} MB."),
                                     plain=upload)
        refusal = self.check_upload(scope, headers, size) if upload else None
        if refusal is not None:
            await drain(receive, limit)  # a reply sent while the body is still coming resets the connection
            return await self.refuse(send, refusal, plain=upload)
        counter = PartCounter(headers.get(b"content-type", b"")) if upload else None
        received, started = 0, False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise Refusal(413, f"The request is larger than {limit // 2**20} MB.")
                if counter is not None and counter.feed(body) > self.files_per_upload:
                    raise Refusal(413, f"One upload may hold at most {self.files_per_upload} files.")
            return message

        async def tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Refusal as refusal:
            if not started:
                await self.refuse(send, refusal, plain=upload)

    def check_upload(self, scope, headers: dict, size: int | None) -> Refusal | None:
        """An upload refused before its body is read: too many this minute, or the disk nearly full."""
        host = (scope.get("client") or (None,))[0]
        named = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()}
        if not self.uploads.allow(client_key(named, host, self.behind_proxy)):
            return Refusal(429, "Too many uploads from your address this minute; wait a minute and try again.")
        if self.disk_nearly_full(size):
            return Refusal(507, "The server's disk is nearly full, so uploads are paused. Try again in a few "
                                "minutes.")
        return None

    def disk_nearly_full(self, size: int | None) -> bool:
        """Below the reserve (bytes or inodes), files pause; small ones go on until a quarter of it is left,
        so a photo can still be read while the disk is cleared."""
        free, inodes = free_disk(upload_folder())
        if free < self.disk_reserve // 4 or inodes < self.inode_reserve // 4:
            return True
        return (free < self.disk_reserve or inodes < self.inode_reserve) and (size is None or size > SMALL_UPLOAD)

    @staticmethod
    async def refuse(send, refusal: Refusal, plain: bool = False) -> None:
        """JSON {"error"} for programs; plain text for uploads, which Gradio's page shows as it is."""
        body, kind = (refusal.message.encode(), b"text/plain; charset=utf-8") if plain else \
            (JSONResponse({"error": refusal.message}).body, b"application/json")
        await send({"type": "http.response.start", "status": refusal.status,
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


def free_disk(folder: Path) -> tuple[int, int]:
    """(bytes, inodes) free on the disk that holds `folder` (or would hold it: it is made on the first upload).
    A file system without inode counts (some report 0 of 0) counts as having plenty."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    stats = os.statvfs(folder)
    inodes = stats.f_favail if stats.f_files else 2**62
    return shutil.disk_usage(folder).free, inodes


def body_limits(policy: Policy, behind_proxy: bool = False) -> list[Middleware]:
    return [Middleware(BodyLimit, limit=MAX_BYTES + SLACK, upload_limit=max(MAX_BYTES, policy.max_zip_bytes) + SLACK,
                       disk_reserve=policy.upload_disk_reserve, inode_reserve=policy.upload_inode_reserve,
                       files_per_upload=policy.files_per_upload,
                       uploads_per_minute=policy.uploads_per_minute if policy.public else 10**9,
                       behind_proxy=behind_proxy)]

"""A crowd of strangers on one public lab (`python app.py --public` in its own process):

1. the line: 12 visitors press Train with the tab's defaults within a few seconds while 16 others sketch at one
   stroke a second through the page's sketch route; goal: all 12 get a place and finish within 10 minutes,
   none refused, the sketchers' p95 at most 1 s, no errors;
2. an attacker beside 2 bystanders: costly number reads, a 12-event backlog from one session, 12 parallel
   40-megapixel uploads; goal: the bystanders' p99 at most 1.5 s, the server's RSS at most 1 GB over idle.

    python scripts/bench_crowd.py [--data ../shared/data] [--trainers 12] [--sketchers 16] [--only line|attack]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_serve import (  # noqa: E402
    cpu_seconds,
    free_port,
    page_token,
    percentile,
    rss_mb,
    sketch,
    sketches,
    verdict,
)
from tests.conftest import TRAIN  # noqa: E402

DEFAULTS = {**TRAIN, "data": "auto", "arch": "speednet", "epochs": 3, "batch_size": 256, "lr": 0.01, "augment": True}


def start(data: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    if data:
        env["DIGITLAB_DATA_DIR"] = data
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--public", "--host", "127.0.0.1", "--port",
                               str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/config", timeout=1).close()
            return server, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


class Sketcher(threading.Thread):
    """A visitor drawing: a stroke a second (jittered), each answer timed and checked."""

    def __init__(self, url: str, images: list[tuple[bytes, str]], stop: threading.Event, rate: float = 1.0):
        super().__init__(daemon=True)
        self.url, self.images, self.stop, self.rate = url, images, stop, rate
        self.times: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        token = page_token(self.url)
        rng = random.Random(token)
        while not self.stop.is_set():
            png, label = rng.choice(self.images)
            try:
                seconds, body = sketch(self.url, token, png)
                self.times.append(seconds)
                if body.get("top", [[None]])[0][0] != label:
                    self.errors.append(f"read {body.get('top') or body} for {label}")
            except (OSError, ValueError) as err:
                self.errors.append(repr(err)[:120])
            self.stop.wait(rng.uniform(0.5, 1.5) / self.rate)


def bench_line(url: str, pid: int, trainers: int, sketchers: int, limit: float) -> None:
    from gradio_client import Client

    images = sketches(16)
    stop = threading.Event()
    crowd = [Sketcher(url, images, stop) for _ in range(sketchers)]
    for s in crowd:
        s.start()
    time.sleep(3)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    results: list[dict] = [{} for _ in range(trainers)]

    def train(i: int) -> None:
        client = Client(url, verbose=False)
        pressed = time.monotonic()
        try:
            job = client.submit(*DEFAULTS.values(), api_name="/train")
            waits = []
            while not job.done():
                outputs = job.outputs()
                if outputs and outputs[-1][3].startswith("Waiting for the trainer"):
                    waits.append(outputs[-1][3])
                time.sleep(0.5)
            status = job.outputs()[-1][3]
            results[i] = {"status": status, "seconds": time.monotonic() - pressed, "first_wait": waits[:1]}
        except Exception as err:  # a refusal: the line was full
            results[i] = {"status": f"refused: {err}", "seconds": time.monotonic() - pressed}
        finally:
            client.close()

    threads = [threading.Thread(target=train, args=(i,), daemon=True) for i in range(trainers)]
    for thread in threads:
        thread.start()
        time.sleep(0.3)  # a dozen presses within a few seconds
    for thread in threads:
        thread.join(limit)
    stop.set()
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    times = [t for s in crowd for t in s.times]
    errors = [e for s in crowd for e in s.errors]
    finished = [r for r in results if r.get("status", "").startswith(("**Finished", "**Stopped"))]
    refused = [r for r in results if r.get("status", "").startswith("refused")]
    last = max((r.get("seconds", 0) for r in results), default=0)
    for i, r in enumerate(results):
        wait = r.get("first_wait") or [""]
        print(f"  trainer {i + 1:2d}: {r.get('seconds', 0):6.1f} s  {r.get('status', '?')[:70]}  {wait[0][:60]}")
    print(f"the line: {len(finished)}/{trainers} finished, {len(refused)} refused, the last after {last / 60:.1f} min "
          f"{verdict(len(finished) == trainers and not refused and last <= 600, 'all 12 within 10 min')}")
    p95 = percentile(times, 95)
    print(f"sketchers beside it: {len(times)} strokes, p50 {percentile(times, 50) * 1000:.0f} ms, p95 "
          f"{p95 * 1000:.0f} ms, p99 {percentile(times, 99) * 1000:.0f} ms, {len(errors)} errors "
          f"{verdict(p95 <= 1 and not errors, 'p95 <= 1 s, 0 errors')}")
    print(f"server CPU over the run: {cpu:.0f} s in {elapsed:.0f} s (the trainings run in their own processes)")
    for e in errors[:5]:
        print("   ", e)


def dots(side: int = 2000, gap: int = 12) -> bytes:
    img = np.full((side, side), 255, np.uint8)
    for y in range(0, side, gap):
        img[y:y + 3, ::gap] = 0
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def huge_png(megapixels: int = 40) -> bytes:
    side = int((megapixels * 1e6) ** 0.5)
    buf = io.BytesIO()
    Image.new("L", (side, side), 255).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def bench_attack(url: str, pid: int, seconds: float) -> None:
    from gradio_client import Client, handle_file

    images = sketches(16)
    idle = rss_mb(pid)
    stop = threading.Event()
    bystanders = [Sketcher(url, images, stop) for _ in range(2)]
    for b in bystanders:
        b.start()
    number_png, big = dots(), huge_png()
    print(f"  attack material: a {len(number_png) / 1e3:.0f} kB 2000x2000 PNG of dots, a "
          f"{len(big) / 1e3:.0f} kB 40-megapixel PNG")
    peak = [idle]

    def post(body: bytes, query: str) -> None:
        request = urllib.request.Request(f"{url}/api/predict{query}", data=body, method="POST")
        try:
            urllib.request.urlopen(request, timeout=60).read()
        except (urllib.error.HTTPError, OSError):
            pass

    def number_reads() -> None:
        while not stop.is_set():
            post(number_png, "?number=1")

    def uploads() -> None:
        while not stop.is_set():
            threads = [threading.Thread(target=post, args=(big, "")) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    tmp = Path("/tmp/digitlab-bench-number.png")
    tmp.write_bytes(number_png)

    def backlog() -> None:
        client = Client(url, verbose=False)
        pad = {"background": None, "layers": [], "composite": handle_file(str(tmp))}
        while not stop.is_set():
            jobs = [client.submit(pad, api_name="/predict_number") for _ in range(12)]
            for job in jobs:
                try:
                    job.result(timeout=120)
                except Exception:
                    pass
        client.close()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.2)

    attackers = [threading.Thread(target=f, daemon=True) for f in (number_reads, number_reads, uploads, backlog,
                                                                    watch)]
    for a in attackers:
        a.start()
    time.sleep(seconds)
    stop.set()
    for b in bystanders:
        b.join(30)
    times = [t for b in bystanders for t in b.times]
    errors = [e for b in bystanders for e in b.errors]
    p99 = percentile(times, 99)
    print(f"bystanders beside the attacker: {len(times)} strokes, p50 {percentile(times, 50) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, {len(errors)} errors {verdict(p99 <= 1.5, 'p99 <= 1.5 s')}")
    print(f"server RSS: idle {idle:.0f} MB, peak {peak[0]:.0f} MB (+{peak[0] - idle:.0f} MB) "
          f"{verdict(peak[0] - idle <= 1024, '<= 1 GB over idle')}")
    for e in errors[:5]:
        print("   ", e)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="DIGITLAB_DATA_DIR for the server (the full datasets), e.g. ../shared/data")
    ap.add_argument("--trainers", type=int, default=12)
    ap.add_argument("--sketchers", type=int, default=16)
    ap.add_argument("--attack-seconds", type=float, default=60)
    ap.add_argument("--only", choices=["line", "attack"])
    args = ap.parse_args()
    server, url = start(args.data)
    try:
        if args.only in (None, "line"):
            bench_line(url, server.pid, args.trainers, args.sketchers, limit=900)
        if args.only in (None, "attack"):
            bench_attack(url, server.pid, args.attack_seconds)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()

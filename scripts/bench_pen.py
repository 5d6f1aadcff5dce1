"""From a lifted pen to the answer on screen, in a real browser: Chromium draws digits with the mouse on the
Sketch tab, and the page itself times each stroke from its pointerup to the moment the right answer shows.

Measured twice: straight to `python app.py` on this machine, and through a proxy that delays every packet by
--delay ms each way (125 ms: a 250 ms round trip, a visitor in Asia on a US Space). Goal: at most 0.25 s
nearby and 0.6 s far, for every digit. The answer shown is the server's own reading of the canvas (the
sketch route), so it always matches what the server reads.

    python scripts/bench_pen.py [--rounds 10] [--delay 125]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_serve import free_port, percentile, verdict  # noqa: E402
from tests.browser import ARGS, ONE, SEVEN, ZERO  # noqa: E402

FOUR = [[(0.55, 0.15), (0.2, 0.6), (0.75, 0.6)], [(0.6, 0.3), (0.6, 0.9)]]
DIGITS = [("7", SEVEN), ("1", ONE), ("0", ZERO), ("4", FOUR)]

TIMER = """() => {
  const pad = document.querySelector('#sketch canvas');
  const answer = document.querySelector('#sketch .dl-answer');
  window.lifts = []; window.answers = [];
  pad.addEventListener('pointerup', () => window.lifts.push(performance.now()), true);
  new MutationObserver(() => {
    const top = document.querySelector('#sketch .dl-top');
    if (top) window.answers.push([top.firstChild.textContent, performance.now()]);
  }).observe(answer, {childList: true, subtree: true});
}"""
# From the last stroke's pointerup to the first answer after it that is the digit drawn.
LATENCY = """(digit) => {
  const lift = window.lifts[window.lifts.length - 1];
  const shown = window.answers.find(([name, at]) => at >= lift && name === digit);
  return shown ? [shown[0], shown[1] - lift] : null;
}"""


class DelayProxy(threading.Thread):
    """A TCP proxy on localhost adding `delay` seconds to every chunk, each way, in order."""

    def __init__(self, target_port: int, delay: float):
        super().__init__(daemon=True)
        self.target_port, self.delay, self.port = target_port, delay, free_port()
        self.ready = threading.Event()

    def run(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def handle(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer), return_exceptions=True)

    async def pipe(self, reader, writer) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def send() -> None:
            while True:
                due, chunk = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if chunk is None:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, chunk))
        finally:
            queue.put_nowait((time.monotonic() + self.delay, None))
            await sender


def measure(url: str, rounds: int) -> list[tuple[str, float]]:
    from playwright.sync_api import sync_playwright

    from tests.browser import draw, open_page

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = open_page(browser, url)
        page.evaluate(TIMER)
        times = []
        for _ in range(rounds):
            for digit, strokes in DIGITS:
                page.click("#sketch .dl-clear")
                time.sleep(0.3)
                page.evaluate("window.lifts = []; window.answers = []")
                draw(page, strokes)
                page.wait_for_function(LATENCY, arg=digit, timeout=30_000)
                name, ms = page.evaluate(LATENCY, digit)
                times.append((digit, ms / 1000, name))
        browser.close()
    return times


def report(where: str, times: list, goal: float) -> None:
    wrong = [t for t in times if t[0] != t[2]]
    seconds = [t[1] for t in times]
    by_digit = {d: max(s for dd, s, _ in times if dd == d) for d, _ in DIGITS}
    worst = max(seconds)
    print(f"{where}: {len(times)} strokes, p50 {percentile(seconds, 50) * 1000:.0f} ms, p95 "
          f"{percentile(seconds, 95) * 1000:.0f} ms, worst {worst * 1000:.0f} ms; worst per digit "
          + ", ".join(f"{d} {s * 1000:.0f} ms" for d, s in by_digit.items())
          + f"; {len(wrong)} wrong {verdict(worst <= goal and not wrong, f'every digit <= {goal:g} s')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="each of the four digits this many times")
    ap.add_argument("--delay", type=float, default=125, help="ms the proxy adds each way (default: 125)")
    args = ap.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        report("nearby (this machine)", measure(f"http://127.0.0.1:{port}", args.rounds), 0.25)
        proxy = DelayProxy(port, args.delay / 1000)
        proxy.start()
        proxy.ready.wait(10)
        report(f"far ({2 * args.delay:.0f} ms round trip through a proxy)",
               measure(f"http://127.0.0.1:{proxy.port}", args.rounds), 0.6)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()

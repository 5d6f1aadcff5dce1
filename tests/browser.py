"""A person in a real browser: Debian's chromium driven by Playwright, and what they do with the mouse.

The helpers draw on the Sketch tab's canvas with real mouse strokes and read what the page shows: the
canvas's own pixels, the answer panel's text, the words in a hint; never only what a server returned.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import launched

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TOP = "#sketch .dl-top"  # the answer: its name, then its percentage
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
ONE = [[(0.5, 0.2), (0.5, 0.8)]]
ZERO = [[(0.5 + 0.2 * np.sin(t), 0.5 - 0.3 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 24)]]
FOUR_SEVEN = [[(0.30, 0.2), (0.22, 0.6), (0.36, 0.6)], [(0.33, 0.35), (0.33, 0.85)],  # a 4 in two strokes
              [(0.45, 0.2), (0.6, 0.2), (0.5, 0.85)]]  # and a 7
STAR = [[(0.5 + 0.4 * np.sin(t), 0.52 - 0.4 * np.cos(t)) for t in np.radians(np.arange(0, 721, 144))]]
LETTER_A = [[(0.2, 0.85), (0.5, 0.15), (0.8, 0.85)], [(0.33, 0.58), (0.67, 0.58)]]

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")




def open_page(browser, url: str, locale: str = "en-US", width: int = 1280, height: int = 1000):
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url, wait_until="domcontentloaded")  # the event stream never lets "networkidle" settle
    page.wait_for_selector("#sketch canvas")
    page.wait_for_function("() => document.querySelector('#sketch .dl-status')?.innerText.trim().length > 0")
    return page


def draw(page, strokes: list[list[tuple[float, float]]], margin: float = 0.1) -> None:
    """Mouse strokes through points given as fractions of the canvas (inside a small margin)."""
    canvas = page.locator("#sketch canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    width, height = box["width"] * (1 - 2 * margin), box["height"] * (1 - 2 * margin)
    x0, y0 = box["x"] + box["width"] * margin, box["y"] + box["height"] * margin
    for points in strokes:
        xy = [(x0 + fx * width, y0 + fy * height) for fx, fy in points]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for bx, by in xy[1:]:
            page.mouse.move(bx, by, steps=4)
        page.mouse.up()


def ink_on_canvas(page) -> float:
    """The share of dark pixels in the middle of the canvas, as the screen shows it."""
    pixels = np.asarray(Image.open(io.BytesIO(page.locator("#sketch canvas").screenshot())).convert("L"))
    h, w = pixels.shape
    return float((pixels[h // 5: -h // 5, w // 5: -w // 5] < 128).mean())


def answer(page) -> str:
    """The answer's name as shown (the first line of the answer panel), "" when there is none."""
    return page.evaluate("(sel) => document.querySelector(sel)?.firstChild?.textContent || ''", TOP)


def answer_becomes(page, text: str, timeout: float = 30_000) -> None:
    page.wait_for_function("([sel, text]) => document.querySelector(sel)?.firstChild?.textContent === text",
                           arg=[TOP, text], timeout=timeout)


def shows(page, selector: str, text: str, timeout: float = 30_000) -> None:
    page.wait_for_function("([sel, text]) => (document.querySelector(sel)?.innerText || '').includes(text)",
                           arg=[selector, text], timeout=timeout)


def pick_model(page, title_part: str, header: str) -> None:
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=title_part).first.click()
    shows(page, "#active-model", header)


def tab(page, name: str) -> None:
    """Open a tab by its name; on a phone the later tabs sit in Gradio's "..." menu."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    button, more = page.get_by_role("tab", name=name), page.locator(".overflow-menu > button").first
    entry = page.locator(".overflow-dropdown button", has_text=name).first
    deadline = time.monotonic() + 30
    while True:  # just after a switch of language, the tabs take their new names a moment after the header
        if button.count() and button.first.is_visible():
            button.first.click()
            break
        if more.count() and more.is_visible():
            more.click()
            try:
                entry.click(timeout=2_000)
                break
            except PlaywrightTimeout:
                page.keyboard.press("Escape")
        if time.monotonic() > deadline:
            raise AssertionError(f"no tab named {name!r}")
        time.sleep(0.2)
    time.sleep(0.3)


@pytest.fixture(scope="module")
def url():
    """The lab, served once per browser test module."""
    with launched(os.environ.get("DIGITLAB_WEIGHTS")) as demo:
        yield demo.local_url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, url, tmp_path):
    """A fresh page (its own session); its last screen is kept beside the test's files."""
    page = open_page(browser, url)
    try:
        yield page
    finally:
        page.screenshot(path=tmp_path / "last.png", full_page=True)
        page.context.close()

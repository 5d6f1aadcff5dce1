"""A person in a real browser: open the lab, draw a 7 with the mouse, read the answer.

Drives Debian's chromium with Playwright (CI installs it); skipped only where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import app
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ANSWER = '#sketch-label [data-testid="label-output-value"]'

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def url():
    demo = app.launch(os.environ.get("DIGITLAB_WEIGHTS"), server_name="127.0.0.1", server_port=free_port(),
                      prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


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
def page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(url, wait_until="domcontentloaded")  # the event stream never lets "networkidle" settle
    page.wait_for_selector("#sketch canvas")
    try:
        yield page
    finally:
        page.close()


def draw(page, points: list[tuple[float, float]]) -> None:
    """One mouse stroke through `points`, given as fractions of the canvas box."""
    box = page.locator("#sketch canvas").first.bounding_box()
    side = min(box["width"], box["height"]) * 0.8  # the white sheet sits centred in the canvas area
    x0, y0 = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    xy = [(x0 + fx * side, y0 + fy * side) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for bx, by in xy[1:]:
        page.mouse.move(bx, by, steps=3)  # few events: each one repaints the canvas
    page.mouse.up()


def answer_becomes(page, text: str) -> None:
    page.wait_for_function("([sel, text]) => document.querySelector(sel)?.innerText.trim() === text",
                           arg=[ANSWER, text])


def test_a_7_drawn_with_the_mouse_is_read_as_7_and_clear_starts_over(page, tmp_path):
    assert "Draw a digit" in page.inner_text("#sketch-hint")
    draw(page, [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)])  # no click on the Brush tool: drawing starts at once
    answer_becomes(page, "7")
    page.wait_for_selector("#sketch-view img")  # the 28x28 view the model saw, beside the answer
    page.screenshot(path=tmp_path / "sketch-7.png", full_page=True)

    page.click("#sketch-clear")
    page.wait_for_selector(ANSWER, state="detached")
    assert "Draw a digit" in page.inner_text("#sketch-hint")
    draw(page, [(0.5, 0.2), (0.5, 0.8)])  # the Brush is still picked after a clear: a 1
    answer_becomes(page, "1")
    page.screenshot(path=tmp_path / "sketch-1.png", full_page=True)


def test_a_bundled_example_picked_in_the_upload_tab_is_read(page, tmp_path):
    example = Path(app.EXAMPLES[-1])
    page.get_by_role("tab", name="Upload").click()
    page.click(f'button.gallery-item:has(img[src$="{example.name}"])')
    answer = '#upload-label [data-testid="label-output-value"]'
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.trim().length > 0", arg=answer)
    assert page.inner_text(answer).strip() == example.stem.split("_")[1]
    page.wait_for_selector("#upload-view img")
    page.screenshot(path=tmp_path / "upload.png", full_page=True)

"""A person in a real browser: what they see after drawing, clearing, training and uploading.

Drives Debian's chromium with Playwright (CI installs it); skipped only where it is absent. The
assertions look at what is on screen: the canvas's pixels, the SVG marks the plots draw, the
words left in the hint, never only at what the server returned.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ANSWER = '#sketch-label [data-testid="label-output-value"]'
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
ONE = [[(0.5, 0.2), (0.5, 0.8)]]
ZERO = [[(0.5 + 0.2 * np.sin(t), 0.5 - 0.3 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 24)]]

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
def page(browser, url, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(url, wait_until="domcontentloaded")  # the event stream never lets "networkidle" settle
    page.wait_for_selector("#sketch canvas")
    try:
        yield page
    finally:
        page.screenshot(path=tmp_path / "last.png", full_page=True)
        page.close()


def canvas_box(page, pad: str = "#sketch") -> dict:
    return page.locator(f"{pad} canvas").first.bounding_box()


def draw(page, strokes: list[list[tuple[float, float]]], pad: str = "#sketch") -> None:
    """Mouse strokes through points given as fractions of the white sheet in the canvas area."""
    box = canvas_box(page, pad)
    side = min(box["width"], box["height"]) * 0.8  # the white sheet sits centred in the canvas area
    stroke_on_sheet(page, strokes, box, side, side)


def stroke_on_sheet(page, strokes: list[list[tuple[float, float]]], box: dict, width: float, height: float) -> None:
    """Mouse strokes on a width x height sheet centred in the canvas box, points in fractions of it."""
    x0, y0 = box["x"] + (box["width"] - width) / 2, box["y"] + (box["height"] - height) / 2
    for points in strokes:
        xy = [(x0 + fx * width, y0 + fy * height) for fx, fy in points]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for bx, by in xy[1:]:
            page.mouse.move(bx, by, steps=3)  # few events: each one repaints the canvas
        page.mouse.up()


def ink_on_canvas(page, pad: str = "#sketch") -> float:
    """The share of dark pixels in the middle of the canvas, as the screen shows it."""
    pixels = np.asarray(Image.open(io.BytesIO(page.locator(f"{pad} canvas").first.screenshot())).convert("L"))
    h, w = pixels.shape
    return float((pixels[h // 5: -h // 5, w // 5: -w // 5] < 128).mean())


def answer_becomes(page, text: str) -> None:
    page.wait_for_function("([sel, text]) => document.querySelector(sel)?.innerText.trim() === text",
                           arg=[ANSWER, text])


def test_draw_clear_and_draw_again_three_times_each_reads_the_new_drawing_on_an_empty_canvas(page, tmp_path):
    assert "Draw on the canvas" in page.inner_text("#sketch-hint")  # nobody signed in: drawing just works
    for round, (digit, strokes) in enumerate([("7", SEVEN), ("1", ONE), ("0", ZERO)], 1):
        draw(page, strokes)  # no click on the Brush tool: drawing starts at once, also after a clear
        answer_becomes(page, digit)
        assert ink_on_canvas(page) > 0.01
        shown = page.inner_text("#sketch-label").split("\n")  # "Top answers", "7", then name and percent rows
        assert shown[2] == digit and int(shown[3].rstrip("%")) >= 99, shown  # calibrated: a clear digit reads sure
        page.wait_for_selector("#sketch-view img")  # the 28x28 view the model saw, beside the answer
        page.screenshot(path=tmp_path / f"round-{round}-drawn.png", full_page=True)
        page.click("#sketch-clear")
        page.wait_for_selector(ANSWER, state="detached")
        page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.includes('Draw on the canvas')",
                               arg="#sketch-hint")
        time.sleep(0.3)
        assert ink_on_canvas(page) < 0.001, f"the canvas still shows ink after clear number {round}"
        assert page.inner_text("#sketch .top-panel").count("100%") == 1  # the zoom stays where it was


def draw_wide(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Strokes on the Number canvas, in fractions of its (wide) sheet."""
    box = canvas_box(page, "#number-sketch")
    width = box["width"] * 0.9
    stroke_on_sheet(page, strokes, box, width, width * 320 / 896)  # the sheet keeps the canvas's shape


def test_47_written_on_the_number_canvas_reads_47_with_a_box_around_each_digit(page, tmp_path):
    page.get_by_label("a whole number").first.check()
    page.wait_for_selector("#number-sketch canvas")
    four = [[(0.30, 0.2), (0.22, 0.6), (0.36, 0.6)], [(0.33, 0.35), (0.33, 0.85)]]  # two strokes, not touching
    seven = [[(0.45, 0.2), (0.6, 0.2), (0.5, 0.85)]]
    draw_wide(page, four + seven)
    page.wait_for_function("() => document.querySelector('#sketch-number')?.innerText.trim().startsWith('47')")
    assert page.locator("#sketch-boxes svg rect").count() == 2
    page.screenshot(path=tmp_path / "number-47.png", full_page=True)


def test_a_bundled_example_picked_in_the_upload_tab_is_read(page, tmp_path):
    example = Path(app.EXAMPLES[-1])
    page.get_by_role("tab", name="Upload").click()
    page.click(f'button.gallery-item:has(img[src$="{example.name}"])')
    answer = '#upload-label [data-testid="label-output-value"]'
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.trim().length > 0", arg=answer)
    assert page.inner_text(answer).strip() == example.stem.split("_")[1]
    page.wait_for_selector("#upload-view img")


def test_an_unreadable_upload_leaves_its_reason_on_screen_and_no_broken_image(page, tmp_path):
    broken = tmp_path / "digit.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    page.get_by_role("tab", name="Upload").click()
    page.locator("#upload input[type=file]").set_input_files(str(broken))
    page.wait_for_function("() => document.querySelector('#upload-hint')?.innerText.includes('Could not read')")
    time.sleep(6)  # longer than a pop-up stays
    assert "not an image we can read" in page.inner_text("#upload-hint")
    assert page.locator("#upload img").count() == 0, "a broken-image sliver stayed"


def test_stop_with_nothing_running_says_so(page):
    page.get_by_role("tab", name="Train").click()
    page.click("#stop-button")
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('Nothing is training')")


def plot_colours(page, plot: str) -> set[str]:
    """The stroke colours of the line marks an SVG plot draws (paths with at least one segment)."""
    return set(page.evaluate("""(sel) => [...document.querySelectorAll(sel + ' svg path')]
        .filter(p => (p.getAttribute('d') || '').includes('L'))
        .map(p => p.getAttribute('stroke'))
        .filter(c => c && c !== 'none' && c !== 'transparent' && c !== '#e4e4e7')""", plot))


def test_a_training_draws_its_curves_in_two_colours_and_stop_is_told_apart(page, tmp_path):
    page.get_by_role("tab", name="Train").click()
    source = page.locator("#train-source input")
    source.fill("sample")
    source.press("Enter")
    arch = page.locator("#train-arch input")
    arch.fill("lenet")
    arch.press("Enter")
    page.click("#train-button")
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('Finished')",
                           timeout=180_000)
    assert plot_colours(page, "#loss-plot") >= {"#2563eb", "#f97316"}  # train and test, each a drawn line
    assert plot_colours(page, "#acc-plot") >= {"#2563eb", "#f97316"}
    x_axis = page.evaluate("""() => [...document.querySelectorAll('#loss-plot svg [aria-label]')]
        .map(g => g.getAttribute('aria-label')).find(label => label.startsWith('X-axis'))""")
    assert x_axis.endswith("with 3 values: 1, 2, 3"), x_axis  # whole epochs, never 1.000000
    page.screenshot(path=tmp_path / "trained.png", full_page=True)
    page.click("#stop-button")
    page.wait_for_function("() => document.querySelector('#train-status')?.innerText.includes('Nothing is training')")


def pick_model(page, title_part: str) -> None:
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=title_part).first.click()
    page.wait_for_function("(text) => document.querySelector('#active-model')?.innerText.includes(text)",
                           arg=title_part.split()[0].lower() if "Chinese" not in title_part else "chinese-mnist")


def test_the_chinese_numerals_model_reads_a_drawn_7_as_七(page, tmp_path):
    pick_model(page, "Chinese numerals")
    draw(page, [[(0.18, 0.45), (0.82, 0.36)],  # 七: a rising bar, then a stroke down that hooks right
                [(0.45, 0.12), (0.45, 0.72), (0.52, 0.84), (0.8, 0.84), (0.86, 0.72)]])
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.includes('七')", arg=ANSWER)
    assert page.inner_text(ANSWER).strip() == "七 (7)"
    page.screenshot(path=tmp_path / "chinese-7.png", full_page=True)


def test_the_upload_samples_follow_the_model_and_a_picked_one_is_read(page, tmp_path):
    page.get_by_role("tab", name="Upload").click()
    digits = page.locator("#upload-samples button.gallery-item img")
    digits.first.wait_for()
    assert digits.count() == len(app.EXAMPLES)
    pick_model(page, "Chinese numerals")
    page.get_by_role("tab", name="Upload").click()
    page.wait_for_function("() => document.querySelector('#upload-samples')?.innerText.includes('chinese-mnist')")
    shown = page.locator("#upload-samples button.gallery-item img")
    assert shown.count() == len(list((Path(app.__file__).parent / "examples" / "chinese-mnist").glob("*.png")))
    shown.nth(2).click()  # the third: 七 (examples/chinese-mnist/7.png)
    answer = '#upload-label [data-testid="label-output-value"]'
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.includes('七')", arg=answer)
    assert page.inner_text(answer).strip() == "七 (7)"
    page.screenshot(path=tmp_path / "chinese-sample.png", full_page=True)


def test_a_correction_fine_tunes_the_model_and_the_same_sketch_reads_as_corrected(page, tmp_path):
    draw(page, SEVEN)
    answer_becomes(page, "7")
    wrong = page.locator("#sketch-wrong input")
    for _ in range(3):  # the writer's 7s mean 1: said three times
        wrong.fill("1")
        wrong.press("Enter")
        page.click("#sketch-save")
        page.wait_for_function("() => document.querySelector('#sketch-saved')?.innerText.includes('Saved: a 1')")
        time.sleep(0.3)
    page.get_by_role("tab", name="Teach").click()
    page.click("#finetune")
    page.wait_for_function("() => document.querySelector('#finetune-status')?.innerText.includes('Fine-tuned')",
                           timeout=240_000)
    page.click("#finetune-use")
    page.wait_for_function("() => document.querySelector('#active-model')?.innerText.includes('trained here')")
    page.get_by_role("tab", name="Sketch").click()
    page.click("#sketch-predict")
    answer_becomes(page, "1")
    page.screenshot(path=tmp_path / "corrected.png", full_page=True)

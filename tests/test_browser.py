"""A person in a real browser: what they see after drawing, clearing, training and uploading.

Drives Debian's chromium with Playwright (CI installs it); skipped only where it is absent. The
assertions look at what is on screen: the canvas's pixels, the SVG marks the plots draw, the
words left in the hint, never only at what the server returned.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from digitlab.ui.upload import built_in_samples
from tests.browser import (  # noqa: F401 - url, browser and page are fixtures
    FOUR_SEVEN,
    LETTER_A,
    ONE,
    SEVEN,
    STAR,
    ZERO,
    answer,
    answer_becomes,
    browser,
    draw,
    ink_on_canvas,
    needs_chromium,
    page,
    pick_model,
    shows,
    tab,
    url,
)

EXAMPLES = list(built_in_samples()["mnist"])  # the MNIST model's Upload samples
QI = [[(0.18, 0.45), (0.82, 0.36)],  # 七: a rising bar, then a stroke down that hooks right
      [(0.45, 0.12), (0.45, 0.72), (0.52, 0.84), (0.8, 0.84), (0.86, 0.72)]]
pytestmark = [needs_chromium, pytest.mark.browser]



def test_draw_clear_and_draw_again_three_times_each_reads_the_new_drawing_on_an_empty_canvas(page, tmp_path):
    assert "Draw on the canvas" in page.inner_text("#sketch .dl-status")  # nobody signed in: drawing just works
    for round, (digit, strokes) in enumerate([("7", SEVEN), ("1", ONE), ("0", ZERO)], 1):
        draw(page, strokes)
        answer_becomes(page, digit)
        assert ink_on_canvas(page) > 0.01
        bars = page.locator("#sketch .dl-bar").all_inner_texts()  # "7\t100%" rows, the answer first
        assert bars[0].split()[0] == digit and float(bars[0].split()[-1].rstrip("%")) >= 99, bars  # sure of it
        page.wait_for_selector("#sketch .dl-view img")  # the 28x28 view the model saw, beside the answer
        page.screenshot(path=tmp_path / f"round-{round}-drawn.png", full_page=True)
        page.click("#sketch .dl-clear")
        shows(page, "#sketch .dl-status", "Draw on the canvas")
        assert answer(page) == "" and ink_on_canvas(page) < 0.001, f"ink or an answer left after clear {round}"


def test_the_answer_shown_is_always_the_latest_drawings_after_fast_strokes(page):
    """Strokes faster than the answers: a 1, at once turned into a 7, at once a 0 drawn over a cleared canvas."""
    draw(page, ONE)
    page.click("#sketch .dl-clear")
    draw(page, SEVEN)
    answer_becomes(page, "7")
    for _ in range(3):
        page.click("#sketch .dl-clear")
        draw(page, ZERO)
    answer_becomes(page, "0")
    time.sleep(1)  # a late answer to an earlier stroke would land now: it must not
    assert answer(page) == "0"


def test_a_star_and_a_letter_drawn_on_the_canvas_are_declined_and_a_digit_drawn_after_reads(page, tmp_path):
    for name, strokes in (("star", STAR), ("letter-a", LETTER_A)):
        draw(page, strokes)
        answer_becomes(page, "?")
        shows(page, "#sketch .dl-why", "This doesn't look like a digit — the model reads 0–9.")
        assert page.locator("#sketch .dl-bar").count() == 3  # its closest guesses stay in view, as guesses
        page.screenshot(path=tmp_path / f"declined-{name}.png", full_page=True)
        page.click("#sketch .dl-clear")
    draw(page, SEVEN)
    answer_becomes(page, "7")
    assert page.locator("#sketch .dl-why").count() == 0


def test_47_written_on_the_number_canvas_reads_47_with_a_box_around_each_digit(page, tmp_path):
    page.get_by_label("a whole number").first.check()
    page.wait_for_function("() => document.querySelector('#sketch canvas').width === 896")
    draw(page, FOUR_SEVEN, margin=0.05)
    page.wait_for_function("() => (document.querySelector('#sketch .dl-number')?.innerText || '').startsWith('47')")
    assert page.locator("#sketch .dl-boxes rect").count() == 2
    assert not page.locator("#sketch-why-button").is_visible()  # Why and Wrong? are for one character
    page.screenshot(path=tmp_path / "number-47.png", full_page=True)


def test_a_1_touching_a_0_reads_10_and_the_labels_of_slim_boxes_stay_apart(page, tmp_path):
    """A 1 drawn against a 0 is two digits; their boxes stand side by side, so one label goes below its box."""
    import numpy as np

    page.get_by_label("a whole number").first.check()
    page.wait_for_function("() => document.querySelector('#sketch canvas').width === 896")
    oval = [(0.384 + 0.06 * np.sin(t), 0.5 - 0.35 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 30)]
    draw(page, [[(0.30, 0.15), (0.30, 0.85)], oval, [(0.48, 0.18), (0.62, 0.18), (0.52, 0.85)]], margin=0.05)
    page.wait_for_function("() => (document.querySelector('#sketch .dl-number')?.innerText || '') === '107'")
    labels = page.evaluate("() => [...document.querySelectorAll('#sketch .dl-boxes text')].map((t) => {"
                           "const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })")
    assert len(labels) == 3
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], f"labels {a} and {b} overlap"
    page.screenshot(path=tmp_path / "number-107.png", full_page=True)


def test_a_bundled_example_picked_in_the_upload_tab_is_read(page, tmp_path):
    example = Path(EXAMPLES[-1])
    tab(page, "Upload")
    page.click(f'button.gallery-item:has(img[src$="{example.name}"])')
    label = '#upload-label [data-testid="label-output-value"]'
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.trim().length > 0", arg=label)
    assert page.inner_text(label).strip() == "?"  # the last sample is a scribble: not a digit, and it says so
    assert "doesn't look like a digit" in page.inner_text("#upload-hint")
    page.wait_for_selector("#upload-view img")


def test_an_unreadable_upload_leaves_its_reason_on_screen_and_no_broken_image(page, tmp_path):
    broken = tmp_path / "digit.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    tab(page, "Upload")
    page.locator("#upload input[type=file]").set_input_files(str(broken))
    shows(page, "#upload-hint", "Could not read")
    time.sleep(6)  # longer than a pop-up stays
    assert "not an image we can read" in page.inner_text("#upload-hint")
    assert page.locator("#upload img").count() == 0, "a broken-image sliver stayed"
    page.get_by_label("中文").check()
    shows(page, "#page-title", "数字实验室")
    page.locator("#upload input[type=file]").set_input_files(str(broken))
    shows(page, "#upload-hint", "不是我们能读的图片")  # the reader's reason in the visitor's language


def test_stop_with_nothing_running_says_so(page):
    tab(page, "Train")
    page.click("#stop-button")
    shows(page, "#train-status", "Nothing is training")


def plot_colours(page, plot: str) -> set[str]:
    """The stroke colours of the line marks an SVG plot draws (paths with at least one segment)."""
    return set(page.evaluate("""(sel) => [...document.querySelectorAll(sel + ' svg path')]
        .filter(p => (p.getAttribute('d') || '').includes('L'))
        .map(p => p.getAttribute('stroke'))
        .filter(c => c && c !== 'none' && c !== 'transparent' && c !== '#e4e4e7')""", plot))


def choose(page, selector: str, value: str) -> None:
    field = page.locator(f"{selector} input")
    field.fill(value)
    field.press("Enter")


def test_a_training_draws_its_curves_in_two_colours_and_stop_is_told_apart(page, tmp_path):
    tab(page, "Train")
    choose(page, "#train-source", "sample")
    choose(page, "#train-arch", "lenet")
    page.click("#train-button")
    shows(page, "#train-status", "Finished", timeout=180_000)
    assert plot_colours(page, "#loss-plot") >= {"#2563eb", "#f97316"}  # train and test, each a drawn line
    assert plot_colours(page, "#acc-plot") >= {"#2563eb", "#f97316"}
    x_axis = page.evaluate("""() => [...document.querySelectorAll('#loss-plot svg [aria-label]')]
        .map(g => g.getAttribute('aria-label')).find(label => label.startsWith('X-axis'))""")
    assert x_axis.endswith("with 3 values: 1, 2, 3"), x_axis  # whole epochs, never 1.000000
    page.get_by_text("The code behind this run").click()
    shows(page, "#train-command", "python -m digitlab train --preset fast --dataset mnist --data-dir sample")
    page.screenshot(path=tmp_path / "trained.png", full_page=True)
    page.click("#stop-button")
    shows(page, "#train-status", "Nothing is training")


def test_the_chinese_numerals_model_reads_a_drawn_7_as_七(page, tmp_path):
    pick_model(page, "Chinese numerals", "chinese-mnist")
    draw(page, QI)
    answer_becomes(page, "七 (7)")
    page.screenshot(path=tmp_path / "chinese-7.png", full_page=True)


def test_the_chinese_numerals_model_declines_a_drawn_letter_and_still_reads_七_after(page, tmp_path):
    pick_model(page, "Chinese numerals", "chinese-mnist")
    draw(page, LETTER_A)
    answer_becomes(page, "?")
    shows(page, "#sketch .dl-why", "This doesn't look like anything this model reads (零 (0), 一 (1)")
    page.screenshot(path=tmp_path / "chinese-declined-a.png", full_page=True)
    page.click("#sketch .dl-clear")
    draw(page, QI)
    answer_becomes(page, "七 (7)")


def test_the_upload_samples_follow_the_model_and_a_picked_one_is_read(page, tmp_path):
    tab(page, "Upload")
    digits = page.locator("#upload-samples button.gallery-item img")
    digits.first.wait_for()
    assert digits.count() == len(EXAMPLES)
    pick_model(page, "Chinese numerals", "chinese-mnist")
    shows(page, "#upload-samples", "chinese-mnist")
    shown = page.locator("#upload-samples button.gallery-item img")
    assert shown.count() == len(built_in_samples()["chinese-mnist"])
    shown.nth(2).click()  # the third: 七 (examples/chinese-mnist/7.png)
    label = '#upload-label [data-testid="label-output-value"]'
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.includes('七')", arg=label)
    assert page.inner_text(label).strip() == "七 (7)"
    page.screenshot(path=tmp_path / "chinese-sample.png", full_page=True)


def test_a_correction_fine_tunes_the_model_and_the_same_sketch_reads_as_corrected(page, tmp_path):
    draw(page, SEVEN)
    answer_becomes(page, "7")
    wrong = page.locator("#sketch-wrong input")
    for n in range(1, 4):  # the writer's 7s mean 1: said three times
        wrong.fill("1")
        wrong.press("Enter")
        page.click("#sketch-save")
        shows(page, "#sketch-saved", f"{n} correction(s)")
    tab(page, "Teach")
    page.click("#finetune")
    shows(page, "#finetune-status", "Fine-tuned", timeout=240_000)
    page.click("#finetune-use")
    shows(page, "#active-model", "trained here")
    tab(page, "Sketch")
    answer_becomes(page, "1")  # the drawing on the canvas is read again by the model now in use
    page.screenshot(path=tmp_path / "corrected.png", full_page=True)

"""Screenshots of every tab as a visitor sees them, in English and Chinese, at desktop and phone size:
python app.py, then python scripts/screenshots.py http://127.0.0.1:7860 [OUT_DIR] (needs Debian's chromium
and playwright). A drawn star (declined: not a digit), a drawn 7 with its explanation, a number, an upload of a
letter (declined) and of a digit, a short training, an evaluation, a correction in Teach, and the Hub tab."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from playwright.sync_api import sync_playwright  # noqa: E402

from digitlab.ui.upload import built_in_samples  # noqa: E402
from tests.browser import ARGS, FOUR_SEVEN, SEVEN, STAR, draw, open_page, shows, tab  # noqa: E402

TABS = {"en": ["Sketch", "Upload", "Train", "Evaluate", "Teach", "Hub"],
        "zh": ["手写", "上传", "训练", "评估", "教它", "Hub"]}


def tour(browser, url: str, out: Path, lang: str, phone: bool) -> None:
    size = dict(width=390, height=844) if phone else dict(width=1280, height=1000)
    page = open_page(browser, url, locale="zh-CN" if lang == "zh" else "en-US", **size)
    name = f"{lang}-{'phone' if phone else 'desktop'}"
    sketch, upload, train, evaluate, teach, hub = TABS[lang]
    page.screenshot(path=out / f"{name}-0-start.png", full_page=not phone)
    draw(page, STAR)
    shows(page, "#sketch .dl-why", "0–9")
    page.screenshot(path=out / f"{name}-1-declined.png", full_page=not phone)
    page.click("#sketch .dl-clear")
    draw(page, SEVEN)
    shows(page, "#sketch .dl-top", "7")
    page.screenshot(path=out / f"{name}-1-sketch.png", full_page=not phone)
    page.click("#sketch-why-button")
    page.wait_for_selector("#sketch-why img", timeout=60_000)
    page.screenshot(path=out / f"{name}-2-why.png", full_page=True)
    page.locator("#sketch-mode label").nth(1).click()
    page.wait_for_function("() => document.querySelector('#sketch canvas').width === 896")
    draw(page, FOUR_SEVEN, margin=0.05)
    page.wait_for_function("() => (document.querySelector('#sketch .dl-number')?.innerText || '').startsWith('47')")
    page.screenshot(path=out / f"{name}-3-number.png", full_page=not phone)
    page.locator("#sketch-mode label").nth(0).click()
    tab(page, upload)
    page.locator("#upload-samples button.gallery-item").nth(6).click()  # the drawn letter A
    shows(page, "#upload-hint", "0–9")
    page.screenshot(path=out / f"{name}-4-upload-declined.png", full_page=True)
    page.locator("#upload-samples button.gallery-item").nth(3).click()
    page.wait_for_selector("#upload-view img", timeout=30_000)
    page.screenshot(path=out / f"{name}-4-upload.png", full_page=True)
    tab(page, train)
    for selector, value in (("#train-source", "sample"),):
        field = page.locator(f"{selector} input")
        field.fill(value)
        field.press("Enter")
    page.click("#train-button")
    page.wait_for_function("() => document.querySelector('#use-button') && !document.querySelector('#use-button')"
                           ".disabled", timeout=300_000)
    time.sleep(2)
    page.screenshot(path=out / f"{name}-5-train.png", full_page=True)
    tab(page, evaluate)
    page.click("#evaluate")
    page.wait_for_function("() => (document.querySelector('#evaluation-summary')?.innerText || '').includes('%')",
                           timeout=120_000)
    page.locator("#confusion [role=gridcell]").nth(13).click()
    time.sleep(2)
    page.screenshot(path=out / f"{name}-6-evaluate.png", full_page=True)
    tab(page, sketch)
    draw(page, SEVEN)
    shows(page, "#sketch .dl-top", "7")
    wrong = page.locator("#sketch-wrong input")
    wrong.fill("1")
    wrong.press("Enter")
    page.click("#sketch-save")
    page.wait_for_function("() => (document.querySelector('#sketch-saved')?.innerText || '').length > 0")
    tab(page, teach)
    time.sleep(1)
    page.screenshot(path=out / f"{name}-7-teach.png", full_page=True)
    tab(page, hub)
    time.sleep(1)
    page.screenshot(path=out / f"{name}-8-hub.png", full_page=True)
    page.context.close()


def main() -> None:
    url = sys.argv[1]
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    assert built_in_samples()["mnist"], "the Upload samples are missing"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        for lang in ("en", "zh"):
            for phone in (False, True):
                tour(browser, url, out, lang, phone)
                print("done", lang, "phone" if phone else "desktop", flush=True)
        browser.close()
    print("saved in", out)


if __name__ == "__main__":
    main()

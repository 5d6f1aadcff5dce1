"""Screenshots of every tab, as a visitor sees them: python app.py, then
python scripts/screenshots.py http://127.0.0.1:7860 OUT_DIR [CLOTHES_IMAGE]
(needs Debian's chromium and playwright)."""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.test_browser import ANSWER, ARGS, SEVEN, draw, draw_wide, pick_model  # noqa: E402


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    time.sleep(1)


def press_and_wait(page, button: str, status: str, text: str) -> None:
    """Click `button`, wait until `status` shows `text`, and a moment more for the plots to draw."""
    page.click(button)
    page.wait_for_function("([sel, text]) => document.querySelector(sel)?.innerText.includes(text)",
                           arg=[status, text], timeout=300_000)
    time.sleep(2)


url = sys.argv[1]
out = str(Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots")) + "/"
Path(out).mkdir(parents=True, exist_ok=True)
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
    page = b.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#sketch canvas")
    time.sleep(2)
    page.screenshot(path=out + "0-start.png", full_page=True)
    draw(page, SEVEN)
    time.sleep(2)
    page.get_by_role("button", name="Why this answer?").first.click()
    time.sleep(6)
    page.screenshot(path=out + "1-sketch-7-why.png", full_page=True)
    page.get_by_label("a whole number").first.check()
    page.wait_for_selector("#number-sketch canvas")
    time.sleep(1)
    draw_wide(page, [[(0.30, 0.2), (0.22, 0.6), (0.36, 0.6)], [(0.33, 0.35), (0.33, 0.85)],
                     [(0.45, 0.2), (0.6, 0.2), (0.5, 0.85)]])
    page.wait_for_function("() => document.querySelector('#sketch-number')?.innerText.trim().startsWith('47')")
    page.screenshot(path=out + "2-number.png", full_page=True)
    page.get_by_role("tab", name="Upload").click()
    time.sleep(1)
    example = Path(__file__).resolve().parent.parent / "examples" / "digit_3.jpg"
    page.locator("#upload input[type=file]").set_input_files(str(example))
    time.sleep(4)
    page.screenshot(path=out + "3-upload.png", full_page=True)
    tab(page, "Train")
    page.locator("#train-epochs input").first.fill("2")
    page.locator("#train-epochs input").first.press("Enter")
    press_and_wait(page, "#train-button", "#train-status", "Finished")
    page.screenshot(path=out + "4-train.png", full_page=True)
    tab(page, "Evaluate")
    press_and_wait(page, "#evaluate", "#evaluation-summary", "errors")
    page.screenshot(path=out + "5-evaluate.png", full_page=True)
    tab(page, "Sketch")
    page.get_by_label("one character").first.check()
    time.sleep(1)
    draw(page, SEVEN)
    time.sleep(2)
    for _ in range(3):  # three corrections: this writer's 7 is a 1
        page.locator("#sketch-wrong input").fill("1")
        page.locator("#sketch-wrong input").press("Enter")
        page.click("#sketch-save")
        time.sleep(1)
    tab(page, "Teach")
    press_and_wait(page, "#finetune", "#finetune-status", "Fine-tuned")
    page.screenshot(path=out + "6-teach-finetuned.png", full_page=True)
    tab(page, "Hub")
    page.screenshot(path=out + "7-hub.png", full_page=True)
    page.get_by_role("tab", name="Sketch").click()
    page.get_by_label("one character").first.check()
    time.sleep(1)
    pick_model(page, "Chinese numerals")
    draw(page, [[(0.18, 0.45), (0.82, 0.36)], [(0.45, 0.12), (0.45, 0.72), (0.52, 0.84), (0.8, 0.84), (0.86, 0.72)]])
    page.wait_for_function("(sel) => document.querySelector(sel)?.innerText.includes('七')", arg=ANSWER)
    page.screenshot(path=out + "8-chinese.png", full_page=True)
    pick_model(page, "Fashion-MNIST")
    tab(page, "Upload")
    page.locator("#upload input[type=file]").set_input_files(sys.argv[3] if len(sys.argv) > 3 else str(example))
    time.sleep(4)
    page.screenshot(path=out + "9-fashion-upload.png", full_page=True)
    b.close()
print("saved in", out)

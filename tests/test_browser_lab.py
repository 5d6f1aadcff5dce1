"""A beginner's lab in a real browser: nothing stale on screen after a change, nothing lost by surprise, the
page in the visitor's language, a phone's screen, and names from a stranger's model shown as plain text."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time

import pytest
from playwright.sync_api import expect

from digitlab.hub import save_model
from digitlab.models import Classifier
from digitlab.ui.upload import built_in_samples
from tests.browser import (  # noqa: F401 - url, browser and page are fixtures
    FOUR_SEVEN,
    SEVEN,
    STAR,
    answer_becomes,
    browser,
    draw,
    needs_chromium,
    open_page,
    page,
    pick_model,
    shows,
    tab,
    url,
)

pytestmark = [needs_chromium, pytest.mark.browser]



def text_of(page, selector: str) -> str:
    return page.evaluate("(sel) => document.querySelector(sel)?.innerText || ''", selector).strip()


def visible(page, selector: str) -> bool:
    return page.locator(selector).first.is_visible()


def upload_sample(page, index: int) -> None:
    page.locator("#upload-samples button.gallery-item").nth(index).click()


def test_after_a_change_of_mode_model_or_image_nothing_stale_stays(page, tmp_path):
    tab(page, "Upload")
    sevens = [i for i, f in enumerate(built_in_samples()["mnist"]) if "_7" in f]
    upload_sample(page, sevens[0])
    shows(page, "#upload-label", "7")
    page.click("#upload-why-button")
    shows(page, "#upload-why", 'Why "7"?', timeout=60_000)
    page.get_by_label("a whole number").nth(1).check()  # Upload's own mode switch
    page.wait_for_function("() => !(document.querySelector('#upload-why')?.innerText || '').trim()")
    assert not visible(page, "#upload-label") and not visible(page, "#upload-why-button")  # no single-character panels
    page.get_by_label("one character").nth(1).check()
    shows(page, "#upload-label", "7")
    page.click("#upload-why-button")
    shows(page, "#upload-why", 'Why "7"?', timeout=60_000)
    pick_model(page, "Chinese numerals", "chinese-mnist")
    page.wait_for_function("() => !(document.querySelector('#upload-why')?.innerText || '').trim()")
    assert "7" not in text_of(page, "#upload-label")  # the previous model's answer is gone too
    tab(page, "Evaluate")
    page.click("#evaluate")
    shows(page, "#evaluation-summary", "accuracy", timeout=120_000)
    pick_model(page, "Digits 0-9", "mnist (0, 1")
    shows(page, "#evaluation-summary", "Press Evaluate")  # the other model's table is not this one's
    page.screenshot(path=tmp_path / "after-changes.png", full_page=True)


def train_once(page, number: int) -> None:
    page.locator("#train-seed input").fill(str(number))  # each run its own: the lines differ
    page.locator("#train-seed input").press("Enter")
    page.click("#train-button")
    shows(page, "#runs-table", f"run {number}:", timeout=180_000)
    shows(page, "#runs-plot", f"run {number}:")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_compare_chart_draws_the_tables_rows_and_the_run_in_use_survives_the_fifth(page, tmp_path):
    tab(page, "Train")
    for selector, value in (("#train-source", "sample"), ("#train-arch", "lenet")):
        field = page.locator(f"{selector} input")
        field.fill(value)
        field.press("Enter")
    page.locator("#train-epochs input[type=number]").fill("2")
    page.locator("#train-epochs input[type=number]").press("Enter")
    train_once(page, 1)
    page.click("#use-button")
    shows(page, "#active-model", "trained here")
    for number in range(2, 6):
        train_once(page, number)
    names = [line.split("\t")[0].strip() for line in text_of(page, "#runs-table").splitlines()
             if line.startswith("run ")]
    assert len(names) == 4 and names[0].startswith("run 1:") and not any(n.startswith("run 2:") for n in names)
    assert "run 5" in " ".join(names)  # numbers without gaps, the oldest not in use made room
    legend = text_of(page, "#runs-plot")
    assert all(name in legend for name in names), (names, legend)  # one line per row, each named as its row
    assert "run 2:" not in legend
    page.screenshot(path=tmp_path / "five-runs.png", full_page=True)


def save_correction(page, label: str, count: int) -> None:
    wrong = page.locator("#sketch-wrong input")
    wrong.fill(label)
    wrong.press("Enter")
    page.click("#sketch-save")
    shows(page, "#sketch-saved", f"{count} correction(s)")


def test_removing_a_clicked_correction_removes_that_one(page):
    draw(page, SEVEN)
    answer_becomes(page, "7")
    for count, label in enumerate("123", 1):
        save_correction(page, label, count)
    tab(page, "Teach")
    page.locator("#corrections button.thumbnail-item").nth(1).click()  # the second: the one labelled 2
    page.wait_for_function("() => document.querySelector('#correction-index input').value === '2'")
    page.click("#remove-correction")
    shows(page, "#corrections-status", "2 correction(s)")
    captions = text_of(page, "#corrections")
    assert "1 (was read 7)" in captions and "3 (was read 7)" in captions and "2 (was read 7)" not in captions


def test_a_corrections_caption_shows_whole_under_its_drawing(page):
    draw(page, SEVEN)
    answer_becomes(page, "7")
    save_correction(page, "not a digit", 1)  # the longest caption a digit model gives
    tab(page, "Teach")
    page.wait_for_selector("#corrections .caption-label")
    box = page.evaluate("""() => {
      const caption = document.querySelector('#corrections .caption-label');
      const img = document.querySelector('#corrections .thumbnail-item img').getBoundingClientRect();
      return {text: caption.innerText, cut: caption.scrollWidth > caption.clientWidth,
              over: caption.getBoundingClientRect().top < img.bottom - 1}; }""")
    assert box == {"text": "not a digit (was read 7)", "cut": False, "over": False}


def test_the_corrections_are_still_listed_after_a_reload(page):
    draw(page, SEVEN)
    answer_becomes(page, "7")
    save_correction(page, "1", 1)
    time.sleep(1)  # the browser stores them after the save
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("#sketch canvas")
    tab(page, "Teach")
    shows(page, "#corrections-status", "1 correction(s)")
    assert page.locator("#corrections button.thumbnail-item").count() == 1
    assert page.locator("#corrections button.thumbnail-item").bounding_box()["width"] < 200  # a thumbnail, not a wall


def header_of(page) -> str:
    """The active-model header once no event is updating it (Gradio shows its timer there meanwhile)."""
    page.wait_for_function("() => (document.querySelector('#active-model')?.innerText || '').trim()"
                           ".startsWith('Active model')")
    return text_of(page, "#active-model")


def test_a_failed_hub_load_leaves_the_picker_and_the_header_as_they_were(page):
    header = header_of(page)  # the page's own load event may still be filling it in on a busy machine
    tab(page, "Hub")
    page.locator("#hub-source textarea, #hub-source input").first.fill("/no/such/folder")
    page.click("#hub-load")
    page.wait_for_function("() => (document.querySelector('#hub-loaded')?.innerText || '').includes('Error') || "
                           "document.querySelector('.toast-body')")
    time.sleep(1)
    assert header_of(page) == header
    assert "Error" not in text_of(page, "#active-model") and "Error" not in text_of(page, "#model-picker")
    assert page.locator("#model-picker input").input_value().startswith("Digits 0-9")


CHINESE = {"Sketch": "手写", "Upload": "上传", "Train": "训练", "Evaluate": "评估", "Teach": "教它"}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_every_tab_reads_in_the_browsers_language(browser, url, locale, tmp_path):
    page = open_page(browser, url, locale=locale)
    chinese = locale == "zh-CN"
    for english, zh in CHINESE.items():
        name = zh if chinese else english
        page.get_by_role("tab", name=name).click()
        time.sleep(0.5)
        page.screenshot(path=tmp_path / f"{locale}-{english}.png", full_page=True)
    expected = {"#train-button": "开始训练" if chinese else "Train",
                "#evaluate": "在测试集上评估当前模型" if chinese else "Evaluate the active model on its test set",
                "#finetune": "用我的更正微调" if chinese else "Fine-tune on my corrections",
                "#sketch .dl-clear": "清空" if chinese else "Clear"}
    for selector, words in expected.items():
        assert text_of(page, selector) == words, (selector, text_of(page, selector))
    assert ("当前模型" if chinese else "Active model") in text_of(page, "#active-model")
    assert ("在完整数据上" if chinese else "On the full data") in text_of(page, "#train-recipe")  # set per visitor
    assert ("数字 0-9" if chinese else "Digits 0-9") in page.locator("#model-picker input").input_value()
    page.context.close()


def test_the_switch_turns_the_page_chinese_and_back(page):
    page.get_by_label("中文").check()
    shows(page, "#active-model", "当前模型")
    shows(page, "#sketch .dl-status", "在画布上写")
    assert page.get_by_role("tab", name="训练").is_visible()
    shows(page, "#train-recipe", "在完整数据上")  # a sentence made on the server follows the switch too
    page.get_by_label("English").check()
    shows(page, "#active-model", "Active model")
    shows(page, "#train-recipe", "On the full data")


def test_an_answer_on_the_canvas_is_said_again_in_the_language_switched_to(page):
    page.locator("#sketch-mode label").nth(1).click()  # a whole number: its answer has words
    page.wait_for_function("() => document.querySelector('#sketch canvas').width === 896")
    draw(page, FOUR_SEVEN)
    shows(page, "#sketch .dl-digits", "sure of the whole number")
    page.get_by_label("中文").check()
    shows(page, "#sketch .dl-digits", "对整个数字的把握")  # not the English words of the answer before the switch
    assert text_of(page, "#sketch .dl-number") == "47"
    assert page.locator("#sketch-mode input[value=number]").is_checked()  # and the mode as it was


def test_a_menu_closes_when_keyboard_focus_leaves_it(page):
    page.locator("#model-picker input").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_selector("#model-picker [role=option]")
    page.keyboard.press("Tab")
    page.wait_for_function("() => !document.querySelector('#model-picker [role=option]')", timeout=5_000)
    page.locator("#model-picker input").click()  # and the keyboard still picks
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    shows(page, "#active-model", "chinese-mnist")


def test_on_a_phone_the_drawn_digit_and_its_answer_are_both_on_screen(browser, url, tmp_path):
    page = open_page(browser, url, width=390, height=844)
    page.evaluate("document.querySelector('#sketch canvas').scrollIntoView({block: 'start'})")
    draw(page, SEVEN)
    answer_becomes(page, "7")
    # One look at the page for all three boxes: the answer panel is rebuilt when an answer lands, so boxes
    # asked for one by one can fall between a rebuild's removal and its new element.
    canvas, answer, tools = page.evaluate("""() => ['#sketch canvas', '#sketch .dl-top', '#sketch .dl-tools'].map(
        (sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                   return {x: r.x, y: r.y, width: r.width, height: r.height}; })""")
    assert canvas["width"] >= 0.7 * 390 and canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 390  # fits
    assert tools["y"] + tools["height"] <= canvas["y"] + 1  # the palette sits above the drawing, not over it
    for box in (canvas, answer):
        assert 0 <= box["y"] and box["y"] + box["height"] <= 844, (canvas, answer)
    page.screenshot(path=tmp_path / "phone.png")
    page.context.close()


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - the standard library's name
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_names_from_a_strangers_model_show_as_text_and_fetch_nothing(page, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pixel = f"http://127.0.0.1:{server.server_port}/pixel.png"
    names = [f"![x]({pixel})", f'<img src="{pixel}?2">', "**bold**", "[sign in](http://evil.example)",
             "<script>x</script>"] + [str(d) for d in range(5)]
    spec = {"name": f"![tracker]({pixel}?3)", "labels": [f"c{i}" for i in range(10)], "display": names}
    folder = tmp_path / "strange-model"
    save_model(Classifier("lenet", spec), folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["spec"]["display"] == names
    tab(page, "Hub")
    page.locator("#hub-source textarea, #hub-source input").first.fill(str(folder))
    page.click("#hub-load")
    shows(page, "#active-model", "lenet")
    header = text_of(page, "#active-model")
    assert "![tracker](" in header and "![x](" in header and '<img src="' in header  # shown as written
    tab(page, "Sketch")
    draw(page, SEVEN)
    page.wait_for_selector("#sketch .dl-bar")
    time.sleep(1)
    assert not Recorder.requests, Recorder.requests  # nothing was fetched from the names' addresses
    assert page.locator("#active-model img, #sketch .dl-answer img, #sketch .dl-answer script").count() == 0
    server.shutdown()


@pytest.mark.timeout(300)
def test_a_model_trained_here_learns_to_decline_a_star_and_the_form_offers_it_only_where_it_can(page, tmp_path):
    tab(page, "Train")
    assert visible(page, "#train-decline")  # MNIST: ticked by default
    field = page.locator("#train-source input")
    field.fill("sample")
    field.press("Enter")
    page.locator("#train-epochs input[type=number]").fill("10")
    page.locator("#train-epochs input[type=number]").press("Enter")
    page.click("#train-button")
    shows(page, "#train-status", "It learnt to say \"not one of mine\" too", timeout=180_000)
    shows(page, "#runs-table", "declines below")  # beside its accuracy, to compare with a run that does not
    table = text_of(page, "#runs-table")
    assert re.search(r"(^|\s)\d{1,2}%(\s|$)", table), table  # its decision (the accuracy shows without %)
    page.screenshot(path=tmp_path / "trained-to-decline.png", full_page=True)
    page.click("#use-button")
    shows(page, "#active-model", "trained here")
    tab(page, "Sketch")
    draw(page, STAR)
    answer_becomes(page, "?")
    shows(page, "#sketch .dl-why", "This doesn't look like a digit")
    page.click("#sketch .dl-clear")
    draw(page, SEVEN)
    answer_becomes(page, "7")
    tab(page, "Train")
    page.locator("#train-code").get_by_text("The code behind this run").click()  # where the command shows
    for dataset, offered in (("cifar10", False), ("chinese-mnist", False), ("folder", True)):  # your handwriting
        field = page.locator("#train-dataset input")
        field.fill(dataset)
        field.press("Enter")
        box = expect(page.locator("#train-decline"))
        box.to_be_visible() if offered else box.to_be_hidden()
        page.wait_for_function("(name) => (document.querySelector('#train-command')?.innerText || '')"
                               ".includes('--dataset ' + name)", arg=dataset)
        command = text_of(page, "#train-command")
        assert ("--decline" in command) == offered, (dataset, command)  # a hidden box says nothing


def test_a_failed_run_says_so_once_and_its_pop_up_in_the_pages_language(page, tmp_path):
    import io
    import zipfile

    from PIL import Image

    png = io.BytesIO()
    Image.new("L", (28, 28), 255).save(png, "PNG")
    with zipfile.ZipFile(tmp_path / "one.zip", "w") as archive:  # one class: nothing to tell apart
        for i in range(4):
            archive.writestr(f"mine/seven/{i}.png", png.getvalue())
    page.get_by_label("中文").check()
    shows(page, "#active-model", "当前模型")
    tab(page, "训练")
    page.locator("#train-dataset input").click()
    page.get_by_role("option", name="folder").first.click()
    page.locator("#train-upload input[type=file]").set_input_files(str(tmp_path / "one.zip"))
    page.wait_for_selector("#train-upload :text('one.zip')")
    page.click("#train-button")
    shows(page, "#train-status", "只有「seven」这一类", timeout=120_000)
    page.wait_for_selector(".toast-title")
    assert text_of(page, ".toast-title") == "出错了"  # Gradio's page would say "Error"
    assert not visible(page, "#train-status [data-testid=status-tracker] .error")  # no pill over the status's words

"""The image reader's refusals reach a Chinese visitor in Chinese, an English one word for word."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.inference.predictor import Predictor
from digitlab.ui.text import IMAGE_ZH, reason
from digitlab.vision.imageio import ImageError, read_pixels


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_pretrained()


def refusal(read) -> ImageError:
    with pytest.raises(ImageError) as caught:
        read()
    return caught.value


@pytest.mark.parametrize("case, key", [
    ("not an image", "unreadable"),
    ("an empty file", "empty_file"),
    ("a tiny image", "too_small"),
    ("a blank page", "blank"),
    ("a hundred dots as a number", "marks"),
])
def test_what_the_reader_refuses_is_said_in_the_visitors_language(predictor, case, key):
    dots = np.full((200, 2000), 255, np.uint8)
    for x in range(10, 1990, 19):
        dots[90:100, x:x + 8] = 0  # 105 separate marks
    read = {"not an image": lambda: read_pixels(b"GIF89a but not really"),
            "an empty file": lambda: read_pixels(b""),
            "a tiny image": lambda: read_pixels(np.zeros((3, 3), np.uint8)),
            "a blank page": lambda: predictor.prepare(np.full((64, 64), 255, np.uint8)),
            "a hundred dots as a number": lambda: predictor.read_number(dots[..., None])}[case]
    err = refusal(read)
    assert err.key == key
    assert reason(err, "en") == str(err)  # English is the message itself
    chinese = reason(err, "zh-CN")
    assert chinese != str(err) and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    for value in err.params.values():
        assert str(value) in chinese  # the numbers are kept: "(3x3 像素)", "105 块"


def test_every_chinese_sentence_fills_in_without_gaps():
    fields = {"mb": 20, "mp": 40, "width": 3, "height": 3, "side": 8, "most": 64, "n": 65, "name": "cifar10"}
    for key, sentence in IMAGE_ZH.items():
        assert "{" not in sentence.format(**fields), key


def test_a_checkbox_takes_true_or_false_and_refuses_the_rest_in_the_visitors_language():
    import gradio as gr

    from digitlab.ui.lab import Lab

    assert [Lab.flag(v, "decline") for v in (True, False, None, 0, 1, np.bool_(True))] == \
        [True, False, False, False, True, True]
    for odd in ("false", "true", 2, [], {"x": 1}, 0.5):
        with pytest.raises(gr.Error, match="ticked or not"):
            Lab.flag(odd, "decline")
    with pytest.raises(gr.Error, match="只有勾选与不勾选两种"):
        Lab.flag("false", "decline", "zh-CN")

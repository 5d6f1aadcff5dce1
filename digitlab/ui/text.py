"""The lab's words in English and Simplified Chinese.

Each tab keeps its own table of {key: (English, 简体中文)} and registers it here at import (words()).
Components take L(key): Gradio shows it in the browser's language (gr.I18n, built by i18n() from every
table), and the header's switch changes it on the page. Words a handler builds (a status, a hint, an
error) come from say(lang, key, ...), in the visitor's language: their browser's when the page opened,
or the one they switched to. Digits and class names stay as the model gives them.
"""

from __future__ import annotations

import gradio as gr
from gradio.i18n import I18nData

LANGUAGES = {"en": "English", "zh-CN": "中文"}
WORDS: dict[str, tuple[str, str]] = {}


def words(table: dict[str, tuple[str, str]]) -> None:
    """Register a tab's words; a key may be defined once."""
    repeated = set(table) & set(WORDS)
    if repeated:
        raise ValueError(f"words defined twice: {sorted(repeated)}")
    WORDS.update(table)


def L(key: str) -> I18nData:  # noqa: N802 - reads as a label
    """A component's text, shown in the browser's language."""
    if key not in WORDS:
        raise KeyError(f"no words for {key!r}")
    return I18nData(key)


def say(lang: str, key: str, **values: object) -> str:
    """Words a handler builds, in the visitor's language."""
    english, chinese = WORDS[key]
    return (chinese if lang == "zh-CN" else english).format(**values)


def i18n() -> gr.I18n:
    return gr.I18n(en={k: en for k, (en, _) in WORDS.items()}, **{"zh-CN": {k: zh for k, (_, zh) in WORDS.items()}})


def language_of(accept_language: str | None) -> str:
    """The visitor's language from their browser's Accept-Language: Chinese if they prefer it, else English."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "en"

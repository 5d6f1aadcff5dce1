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

from digitlab.note import Note

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


# What the image reader says (vision's ImageError keys), for Chinese visitors; English is the error's own message
IMAGE_ZH = {
    "unreadable": "这个文件不是我们能读的图片（PNG、JPEG、WebP、GIF 或 BMP）。",
    "empty_file": "这个文件是空的。",
    "too_large": "文件太大：上限是 {mb} MB。",
    "too_many_pixels": "图片太大：上限是 {mp} 百万像素。",
    "too_small": "图片太小（{width}x{height} 像素）：至少需要 {side}x{side}。",
    "blank": "没有找到笔迹：图片看起来是空白的。",
    "uniform": "什么也没找到：整张图片是同一种颜色。",
    "empty_canvas": "画布是空的：画点什么吧。",
    "layers": "一幅画最多 {most} 层；这幅有 {n} 层。",
    "marks": "这里有 {n} 块分开的笔迹；读一个数字最多看 {most} 块。",
    "characters": "这读出来有 {n} 个字符；一个数字最多 {most} 个。",
    "needs_handwriting": "读整个数字需要手写模型；这个模型识别的是 {name} 照片。",
    "not_uploaded": "这个文件不是在这里上传的；请重新上传图片。",
}


# What a run's notes say (digitlab.note keys), for Chinese visitors; English is the note's own text
NOTE_ZH = {
    "data.no_download": "{name} 没有标准下载：这是自带的小样本。给出完整数据的文件夹（或设置 $DIGITLAB_DATA_DIR）才能用上全部。",
    "data.offline": "无法下载 {name}（离线或被拦截），改用自带的小样本（{train:,} 张训练图片、{test:,} 张测试图片）。",
    "data.own_folder": "{folder}/ 里的 {n} 张图片不属于任何一类：学习拒认的训练会学着拒认它们（{where}）",
    "data.skipped": "{n} 个文件无法作为图片读取，已跳过。",
    "own.alone": "这个模型的视图没有自带这类例子：只用这些",
    "own.among": "每张看 {times:,} 次，混在 {shipped:,} 个自带的「都不是」例子中",
    "finetune.replay": "重放模型自己的 {replay:,} 张训练图片；在 {test:,} 张测试图片中的 {judged:,} 张上评判（「评估」页用全部）",
    "finetune.taught": "微调：{n} 条更正（每条看 {times:,} 次）和{replay}",
    "finetune.replay_only": "微调：{replay}",
    "finetune.decline": "学习拒认 {n} 条「都不是」的更正（{where}）",
    "train.no_negatives": "{data} 没有「不属于任何一类」的例子可学（只为 28 像素的手写视图自带）：这个模型学不会说"
                          "「这不是我认识的」，对什么都会给出答案。",
    "train.no_compile": "torch.compile 在这里无法运行（{error}: {reason}）；不用它继续训练",
}


# What the data loader refuses in a visitor's upload (DataError keys), for Chinese visitors
DATA_ZH = {
    "data.too_many_files": "「{path}」里的文件超过 {most:,} 个：请给出数据集自己的文件夹。",
    "data.not_archive": "「{path}」既不是文件夹，也不是 zip 或 tar 压缩包。",
    "data.unpacks_too_much": "「{name}」解压后超过 {mb} MB：请少放一些图片，或用小一些的图片。",
    "data.one_class": "「{path}」里只有「{name}」这一类：请给出至少 2 个子文件夹，每类一个。",
    "data.no_classes": "「{path}」里没有放着图片的类别文件夹：请给出至少 2 个子文件夹，每类一个。",
    "data.no_images": "「{path}」里没有能读的{split}图片。",
    "data.too_few": "每一类至少需要 {most} 张能读的图片；现在是 {counts}。",
    "data.missing": "「{path}」这里没有文件夹或 zip。",
}


# Values that are words of ours, not a visitor's or a model's, said in Chinese where a sentence holds them
VALUE_ZH = {"split": {"train": "训练", "test": "测试"}}

ZH = {**IMAGE_ZH, **DATA_ZH, **NOTE_ZH}
if len(ZH) != len(IMAGE_ZH) + len(DATA_ZH) + len(NOTE_ZH):
    raise ValueError("a key is in two of IMAGE_ZH, DATA_ZH and NOTE_ZH")


def said(thing: object, lang: str) -> str:
    """What the code said, in the visitor's language: an ImageError, a DataError (or the Failed event it became) or
    a Note (or the dict it crossed the worker's pipe as), each with its key and values, its English being its own
    text; a clause among a Note's values is said in that language too. Anything else is already a sentence."""
    thing = Note(**thing) if isinstance(thing, dict) else thing
    zh = ZH.get(getattr(thing, "key", ""))
    if lang != "zh-CN" or not zh:
        return str(thing)
    return zh.format(**{k: said(v, lang) if isinstance(v, Note | dict) else VALUE_ZH.get(k, {}).get(v, v)
                        for k, v in thing.params.items()})


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

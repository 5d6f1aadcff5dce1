"""What the Sketch and Upload tabs share beside an answer: "Why this answer?", "Wrong? It's a …" with Save
correction, and the explanation itself (which pixels pushed the model, and what each convolution saw).

A saved correction goes into the visitor's session and into their browser's storage (Page.store), so it
survives a reload; the Teach tab lists them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import gradio as gr
import numpy as np

from digitlab.inference.explain import activation_grid, explain, heatmap
from digitlab.inference.predictor import DIGITS, Answer, Predictor, classes_text
from digitlab.serve.sessions import Correction, ModelChoice, Visitor
from digitlab.spec import MNIST
from digitlab.training.finetune import NOT_ONE
from digitlab.ui.lab import Lab, as_text, plain
from digitlab.ui.text import L, say, words
from digitlab.vision.pictures import data_url

NOT_ONE_CHOICE = "none of these"  # what "Wrong? It's a …" sends for none of the model's classes (its label says
# "not a digit" in the visitor's language)

words({
    "answers.declined": ("**Not one of mine?** This doesn't look like anything this model reads ({classes}); its "
                         "answers are only its closest guesses.",
                         "**不像是它认识的？** 这看起来不像这个模型能认出的任何东西（{classes}）；它的答案只是最接近的猜测。"),
    "answers.declined_digit": ("**Not a digit?** This doesn't look like a digit — the model reads 0–9; its answers "
                               "are only its closest guesses.",
                               "**不像数字？** 这看起来不像数字——这个模型只认 0–9；它的答案只是最接近的猜测。"),
    "answers.why": ("Why this answer?", "为什么是这个答案？"),
    "answers.wrong": ("Wrong? It's a …", "认错了？它是……"),
    "answers.save": ("Save correction", "保存更正"),
    "answers.pick_label": ("Pick what it really is from the model's classes ({names}), or, where the model can "
                           "decline, that it is none of them.",
                           "请从模型的类别中选出它真正是什么（{names}）；模型能拒绝时，也可以选它都不是。"),
    "answers.saved": ("Saved: a {label} ({said}). {count} correction(s) in your session; fine-tune on them in the "
                      "Teach tab.", "已保存：一个 {label}（{said}）。你的会话里有 {count} 个更正；到「教它」页用它们微调模型。"),
    "answers.read_as": ("read as {answer}", "被认成了 {answer}"),
    "answers.declined_already": ("it already says so", "它已经这么说了"),
    "answers.not_digit": ("not a digit", "不是数字"),
    "answers.not_one": ("none of these", "都不是"),
    "answers.saved_not_one": ("Saved: {label} ({said}). {count} correction(s) in your session; fine-tune on them in "
                              "the Teach tab, and the model learns to say so.",
                              "已保存：{label}（{said}）。你的会话里有 {count} 个更正；到「教它」页用它们微调，模型就会学着这么说。"),
    "answers.read_right": ("already read right", "已经认对了"),
    "answers.nothing": ("Draw or upload something first: there is nothing to explain or correct yet.",
                        "请先写一个字或上传一张图：现在还没有可以解释或更正的内容。"),
    "answers.why_title": ('Why "{answer}"?', "为什么是「{answer}」？"),
    "answers.why_heat": ("Red pixels pushed the model towards this answer, blue ones away from it (integrated "
                         "gradients: how much each pixel of the view changed the answer's score).",
                         "红色的像素把模型推向这个答案，蓝色的把它推开（积分梯度：视图中每个像素对这个答案得分的影响）。"),
    "answers.why_layers": ("What each convolution saw. A convolution slides small filters over the image; each map "
                           "shows where one filter found its pattern (bright: strongly). The first ones find "
                           "strokes and edges, later ones whole shapes, at a coarser grid.",
                           "每个卷积层看到了什么。卷积层在图像上滑动许多小滤波器；每张图显示一个滤波器在哪里找到了它的"
                           "图案（越亮越强）。前面的层找笔画和边缘，后面的层在更粗的网格上找整体形状。"),
    "answers.layer": ("convolution {number} of {of}: {filters} filters, {height}×{width} (the first {shown} shown)",
                      "第 {number}/{of} 个卷积层：{filters} 个滤波器，{height}×{width}（显示前 {shown} 个）"),
    "answers.no_layers": ("This model has no convolutions to show: it looks at all the pixels at once.",
                          "这个模型没有卷积层可显示：它一次看所有像素。"),
})


def teach_panel(tab: str) -> dict[str, Any]:
    """"Why this answer?" and "Wrong? It's a …" beside a prediction."""
    with gr.Row(elem_classes=["answer-actions"]):
        why = gr.Button(L("answers.why"), size="md", variant="secondary", elem_id=f"{tab}-why-button", scale=1)
        # The shipped model's choices (what the API page lists), each visitor's model's once the page opens.
        wrong = gr.Dropdown([*((d, d) for d in MNIST.display), (say("en", "answers.not_digit"), NOT_ONE_CHOICE)],
                            value=None, label=L("answers.wrong"), scale=1, min_width=120,
                            allow_custom_value=True, elem_id=f"{tab}-wrong")  # save() checks the label
        save = gr.Button(L("answers.save"), size="md", variant="secondary", elem_id=f"{tab}-save", scale=1)
    saved = gr.Markdown("", elem_id=f"{tab}-saved")
    explanation = gr.HTML("", elem_id=f"{tab}-why")
    return dict(why=why, wrong=wrong, save=save, saved=saved, explanation=explanation)


def text(words: str) -> str:
    """Words (a class name among them) as an HTML text node: what they say, never markup."""
    return html.escape(words, quote=False)


def explanation_html(choice: ModelChoice, view: np.ndarray, lang: str) -> str:
    """Heatmap over the view the model saw, and every convolution layer's first activation maps, each named by
    what it is (CPU: tens of milliseconds; run it on the fair pool)."""
    found = explain(choice.predictor.model, view)
    answer = choice.predictor.names[found.answer]
    parts = [f'<h4 class="why-title">{text(say(lang, "answers.why_title", answer=answer))}</h4>',
             f'<p class="why-text">{text(say(lang, "answers.why_heat"))}</p>',
             f'<img class="why-heat" src="{data_url(heatmap(view, found.attribution))}" alt="" '
             'style="image-rendering:pixelated;width:224px;max-width:100%">']
    if not found.layers:
        parts.append(f'<p class="why-text">{text(say(lang, "answers.no_layers"))}</p>')
    else:
        parts.append(f'<p class="why-text">{text(say(lang, "answers.why_layers"))}</p>')
    for layer in found.layers:
        title = say(lang, "answers.layer", number=layer.number, of=layer.of, filters=layer.filters,
                    height=layer.height, width=layer.width, shown=len(layer.maps))
        parts.append(f'<figure style="margin:6px 0"><figcaption style="font-size:13px">{text(title)}'
                     f'</figcaption><img src="{data_url(activation_grid(layer.maps))}" alt="" '
                     'style="image-rendering:pixelated;max-width:100%"></figure>')
    return "".join(parts)


def declined_text(predictor: Predictor, answer: Answer, lang: str) -> str:
    """What a panel says when the model declines (not one of its classes, and what it does read); "" when it
    answers."""
    if not answer.declined:
        return ""
    reads = predictor.classes_text()
    if reads == DIGITS:
        return say(lang, "answers.declined_digit")
    return say(lang, "answers.declined", classes=as_text(reads))


def require_trainable(choice: ModelChoice, lang: str) -> None:
    if not choice.predictor.trainable:
        raise plain(say(lang, "error.onnx"))


async def explain_view(lab: Lab, visitor: Visitor, view: np.ndarray) -> str:
    choice = visitor.active
    require_trainable(choice, visitor.lang)
    return await lab.work(visitor, explanation_html, choice, view, visitor.lang)


def wrong_choices(predictor: Predictor, lang: str) -> list[tuple[str, str]]:
    """What "Wrong? It's a …" offers: the model's classes, and for a model that declines, none of them."""
    choices = [(name, name) for name in predictor.names]
    if predictor.decline is not None and NOT_ONE_CHOICE not in predictor.names:
        choices.append((not_one_text(predictor.names, lang), NOT_ONE_CHOICE))
    return choices


def not_one_text(names: Sequence[str], lang: str) -> str:
    """What a correction that is none of these classes is called: "not a digit" for the ten digits."""
    return say(lang, "answers.not_digit" if classes_text(names) == DIGITS else "answers.not_one")


def label_index(lab: Lab, visitor: Visitor, label: Any) -> int:
    """The class a correction names, or NOT_ONE; a plain message for anything else."""
    predictor = visitor.active.predictor
    names = predictor.names
    label = lab.text(label, "label", visitor.lang)
    if label in names:
        return names.index(label)
    if label == NOT_ONE_CHOICE and predictor.decline is not None:
        return NOT_ONE
    raise plain(say(visitor.lang, "answers.pick_label", names=", ".join(names[:15])))


def save_correction(lab: Lab, visitor: Visitor, view: np.ndarray, label: Any) -> str:
    """Keep the view with its right label (or as none of the classes); the message says what was kept."""
    index = label_index(lab, visitor, label)
    choice = visitor.active
    predictor, lang = choice.predictor, visitor.lang
    probabilities = predictor.probabilities([view])[0]
    answer = int(probabilities.argmax())
    names = tuple(predictor.names)
    visitor.add_correction(Correction(view, index, answer, choice.key, names))
    if index == NOT_ONE:
        said = say(lang, "answers.declined_already") if predictor.answer_of(probabilities, 1).declined else \
            say(lang, "answers.read_as", answer=as_text(names[answer]))
        return say(lang, "answers.saved_not_one", label=not_one_text(names, lang), said=said,
                   count=len(visitor.corrections))
    said = say(lang, "answers.read_as", answer=as_text(names[answer])) if answer != index else \
        say(lang, "answers.read_right")
    return say(lang, "answers.saved", label=as_text(names[index]), said=said, count=len(visitor.corrections))

"""The Sketch and Upload tabs and the model picker: each visitor's images, read by that visitor's model.

Strokes are predicted in batches on the event loop (gradio's batch=True), which passes a handler one
request for the whole batch; each sketch names its session by the token the page got at load, and an
unknown token is answered by the default model. The Predict button and every API call are plain
events that know their session from Gradio itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gradio as gr
import numpy as np

from digitlab.assets import EXAMPLES_DIR
from digitlab.data.specs import SPECS
from digitlab.serve.sessions import ModelChoice, Visitor
from digitlab.ui.components import CheckedRadio, CheckedSlider, RawImage, RawSketchpad
from digitlab.ui.lab import Lab, as_text, plain
from digitlab.ui.pictures import number_html, view_html
from digitlab.vision.imageio import IMAGE_SUFFIXES, SKETCH_MAX_PIXELS, EmptyImageError, ImageError, read_pixels
from digitlab.vision.numbers import NumberReading

SKETCH_HINT = "Draw on the canvas…"
NUMBER_HINT = "Write a number in a row on the wide canvas…"
UPLOAD_HINT = "Upload an image, paste one, or pick a sample below…"
DIGIT, NUMBER = "one character", "a whole number"
NUMBER_CANVAS = (896, 320)  # a wide canvas: room for six digits in a row
Prediction = tuple[dict[str, float], str, str]  # label, the model's view (HTML), hint (Markdown)
CANVAS, PEN = 448, 14  # canvas pixels; brush radius: a felt pen, thick enough to survive the cut to 28 px
INKS = ["#000000", "#1f3fbf", "#c0392b", "#1e8449"]  # any ink reads: black, blue, red, green
MAX_K = 50
EXAMPLES = EXAMPLES_DIR


def describe(choice: ModelChoice) -> str:
    """The header line: which model answers, what it reads and where it came from."""
    model, spec = choice.predictor.model, choice.predictor.spec
    where = "shipped with digitlab" if choice.shipped else as_text(choice.source)
    where += f" at revision {as_text(choice.revision)}" if choice.revision else ""
    names = ", ".join(spec.display[:6]) + (", …" if len(spec.display) > 6 else "")
    return (f"**Active model:** {as_text(model.arch)} · {model.num_params:,} parameters · reads "
            f"{as_text(spec.name)} ({as_text(names)}) · {where}")


def view_label(choice: ModelChoice) -> str:
    spec = choice.predictor.spec
    kind = "grey, light on dark" if spec.channels == 1 else "RGB"
    return f"What the model sees: {spec.size}×{spec.size}, {kind}"


class Predictions:
    """Handlers of the picker, Sketch and Upload; see build() for the wiring."""

    def __init__(self, lab: Lab):
        self.lab = lab

    # -- the visitor's model ------------------------------------------------------------------
    def picker(self, visitor: Visitor) -> gr.Dropdown:
        choices = [(c.title, c.key) for c in visitor.choices(self.lab.shipped)]
        return gr.Dropdown(choices=choices, value=visitor.active.key)

    def model_outputs(self, visitor: Visitor) -> tuple:
        """Everything that follows the active model: header, picker, sliders, answer panels, Wrong? menus,
        the Upload tab's samples."""
        choice = visitor.active
        classes = len(choice.predictor.names)
        k = gr.Slider(maximum=min(classes, MAX_K), value=min(3, classes))
        view = gr.HTML(value="", label=view_label(choice))
        wrong = gr.Dropdown(choices=choice.predictor.names, value=None)
        return (describe(choice), self.picker(visitor), k, k, {}, {}, view, view, wrong, wrong,
                samples_update(choice))

    def showing_model(self, action: Callable) -> Callable:
        """`action` (which changes the visitor's active model), then everything that follows the model."""

        @functools.wraps(action)
        def run(*args):
            action(*args)
            request = next((a for a in args if isinstance(a, gr.Request)), None)
            return self.model_outputs(self.lab.visitor(request))

        return run

    def open_page(self, request: gr.Request) -> tuple:
        """demo.load: the session's token for batched sketches, and its model everywhere."""
        visitor = self.lab.visitor(request)
        return (visitor.token, *self.model_outputs(visitor))

    def choose(self, key: str, request: gr.Request) -> tuple:
        """Make one of the visitor's models active (a shipped one, one loaded, one trained)."""
        visitor = self.lab.visitor(request)
        choice = visitor.find(self.lab.text(key, "model"), self.lab.shipped)
        if choice is None:
            raise plain("That model is not in your list; pick one from the menu.")
        visitor.active = choice
        return self.model_outputs(visitor)

    def pick_sample(self, index: Any, request: gr.Request) -> str:
        """The sample clicked in the Upload tab, by its place in the active model's list (never a path
        from the browser: a visitor names a sample, not a file)."""
        files = samples_of(self.lab.visitor(request).active)
        if not isinstance(index, int) or not 0 <= index < len(files):
            raise plain("That sample is not in the list; pick one of those shown.")
        return files[index]

    # -- Sketch -----------------------------------------------------------------------------------
    async def predict_sketches(self, sketches: list, ks: list, tokens: list) -> list[list]:
        """The Sketch tab's strokes, batched (gradio's batch=True): each canvas in one forward pass per model.

        A canvas that cannot be read gets its message in its hint: a gr.Error would fail every sketch
        in the batch. Async, so it runs on the server's event loop: a canvas costs ~4 ms of CPU, and
        handing it to a worker thread and back cost more than that (scripts/bench_serve.py).
        """
        choices = [self.choice_of(token) for token in tokens]
        rows: list[Prediction | None] = [None] * len(sketches)
        views: dict[int, np.ndarray] = {}
        for i, (sketch, choice) in enumerate(zip(sketches, choices, strict=True)):
            view = read_sketch(sketch, choice)
            if isinstance(view, str):
                rows[i] = ({}, "", view)
            else:
                views[i] = view
        for choice in {id(c): c for c in choices}.values():  # one forward pass per model in the batch
            mine = [i for i in views if choices[i] is choice]
            ranked = choice.predictor.rank([views[i] for i in mine], [clamp_k(ks[i]) for i in mine])
            for i, answer in zip(mine, ranked, strict=True):
                rows[i] = (answer, view_html(views[i]), "")
        return [list(column) for column in zip(*rows, strict=True)]

    def choice_of(self, token: Any) -> ModelChoice:
        visitor = self.lab.sessions.by_token(token if isinstance(token, str) else None)
        return visitor.active if visitor is not None else self.lab.default

    async def predict_sketch(self, sketch: dict | None, k: float = 3, request: gr.Request = None) -> Prediction:
        """One canvas, by the visitor's model: the API's /predict_sketch and the Predict button.

        Async for the reason predict_sketches is: on the event loop a canvas costs about half the
        server CPU it costs through a worker thread (scripts/bench_serve.py)."""
        choice = self.lab.visitor(request).active
        k = self.lab.whole(k, "number of answers (top-k)", 1, MAX_K, default=3)
        view = read_sketch(sketch, choice)
        if isinstance(view, str):
            return {}, "", view
        return choice.predictor.rank([view], [k])[0], view_html(view), ""

    # -- Number mode ------------------------------------------------------------------------------
    def read_number(self, choice: ModelChoice, pixels: np.ndarray) -> tuple[str, str]:
        """(the number, the image with each digit boxed) as Markdown and HTML; ImageError passes through."""
        reading: NumberReading = choice.predictor.read_number(pixels)
        if not reading.digits:
            return "", ""
        per_digit = " · ".join(f"{d.name} {d.confidence:.0%}" for d in reading.digits)
        text = f"## {reading.number}\n{reading.confidence:.0%} sure of the whole number ({per_digit})"
        return text, number_html(pixels, reading)

    def predict_number(self, sketch: dict | None, request: gr.Request = None) -> tuple[str, str, str]:
        """The wide canvas, read as a whole number: (number, boxes, hint); the API's /predict_number."""
        choice = self.lab.visitor(request).active
        composite = (sketch or {}).get("composite")
        if not sketch or "error" in sketch or composite is None:
            return "", "", str((sketch or {}).get("error") or NUMBER_HINT)
        try:
            number, boxes = self.read_number(choice, read_pixels(composite, SKETCH_MAX_PIXELS))
        except ImageError as err:
            return "", "", str(err)
        return number, boxes, "" if number else NUMBER_HINT

    # -- Upload -----------------------------------------------------------------------------------
    def predict_upload(self, image: str | dict | None, k: float = 3, mode: str = DIGIT,
                       request: gr.Request = None) -> tuple:
        """An uploaded file (its stored path; RawImage checked it), read as one character or a number:
        (label, view, hint, upload, number, boxes). A file that cannot be read keeps its reason on
        screen in the hint, and the picture is cleared, so no broken image stays."""
        choice = self.lab.visitor(request).active
        k = self.lab.whole(k, "number of answers (top-k)", 1, MAX_K, default=3)
        if mode not in (DIGIT, NUMBER):
            raise plain(f"Read the upload as {DIGIT!r} or {NUMBER!r}.")
        if image is None:  # cleared: by the visitor (upload.clear resets the hint) or after a failure (it stays)
            return {}, "", gr.skip(), gr.skip(), "", ""
        try:
            if isinstance(image, dict):
                raise ImageError(image.get("error") or "This upload cannot be read; upload the image again.")
            if mode == NUMBER:
                number, boxes = self.read_number(choice, read_pixels(image))
                hint = "" if number else "**No number found: the image looks blank.**"
                return {}, "", hint, gr.skip(), number, boxes
            answer, view = choice.predictor.predict_view(image, k)
        except EmptyImageError as err:
            return {}, "", f"**{err}**", gr.skip(), "", ""
        except ImageError as err:  # the reason stays on screen (a pop-up would fade), the picture goes
            return {}, "", f"**Could not read that file.** {err}", None, "", ""
        return answer, view_html(view), "", gr.skip(), "", ""


def clamp_k(k: Any) -> int:
    """A batched sketch's top-k: a bad value cannot fail the batch, so it is clamped."""
    try:
        return max(1, min(int(float(k)), MAX_K))
    except (TypeError, ValueError, OverflowError):
        return 3


def read_sketch(sketch: dict | None, choice: ModelChoice) -> np.ndarray | str:
    """A canvas as the view the model reads, or what to tell the visitor instead."""
    if not sketch:
        return SKETCH_HINT
    if "error" in sketch:
        return str(sketch["error"])
    try:
        return choice.predictor.prepare(sketch)
    except EmptyImageError:
        return SKETCH_HINT
    except ImageError as err:
        return str(err)


def answer_panel(tab: str, hint: str) -> tuple[gr.Markdown, gr.Label, gr.HTML, gr.Slider]:
    """The Sketch and Upload tabs show the same things: the hint, the top-k, the model's view."""
    hint_md = gr.Markdown(hint, elem_id=f"{tab}-hint")
    label = gr.Label(label="Top answers", num_top_classes=None, elem_id=f"{tab}-label")
    view = gr.HTML(label="What the model sees", show_label=True, container=True, min_height=250,
                   elem_id=f"{tab}-view")  # an inline <img>: plots.view_html
    k = CheckedSlider(1, 10, value=3, step=1, label="How many answers (top-k)", elem_id=f"{tab}-k")
    return hint_md, label, view, k


def teach_panel(tab: str) -> dict[str, Any]:
    """"Why this answer?" and "Wrong? It's a …" beside a prediction."""
    with gr.Row():
        why = gr.Button("Why this answer?", size="sm", elem_id=f"{tab}-why-button")
        wrong = gr.Dropdown([str(d) for d in range(10)], value=None, label="Wrong? It's a …", scale=2,
                            allow_custom_value=True, elem_id=f"{tab}-wrong")  # Teaching checks the label
        save = gr.Button("Save correction", size="sm", elem_id=f"{tab}-save")
    saved = gr.Markdown("", elem_id=f"{tab}-saved")
    explanation = gr.HTML("", elem_id=f"{tab}-why")
    return dict(why=why, wrong=wrong, save=save, saved=saved, explanation=explanation)


def sketchpad(elem_id: str, width: int, height: int, label: str, visible: bool = True) -> RawSketchpad:
    # The handler gets the encoded images, undecoded; the Predictor reads the composite.
    return RawSketchpad(canvas_size=(width, height), layers=False, transforms=(), height=height + 62,
                        brush=gr.Brush(colors=INKS, default_color=INKS[0], color_mode="defaults", default_size=PEN),
                        label=label, elem_id=elem_id, visible=visible)


def number_panel(tab: str) -> tuple[gr.Markdown, gr.HTML]:
    number = gr.Markdown("", elem_id=f"{tab}-number")
    boxes = gr.HTML("", elem_id=f"{tab}-boxes")
    return number, boxes


def build_sketch(p: Predictions) -> dict[str, Any]:
    mode = CheckedRadio([DIGIT, NUMBER], value=DIGIT, label="Read", elem_id="sketch-mode",
                        info="one character on the square canvas, or a number written in a row on a wide one")
    with gr.Row():
        with gr.Column(scale=3):
            sketch = sketchpad("sketch", CANVAS, CANVAS, "Draw one digit (or letter, or shape), large and centred")
            number_pad = sketchpad("number-sketch", *NUMBER_CANVAS, "Write a number in a row, e.g. 2026",
                                   visible=False)
            with gr.Row():
                clear = gr.Button("Clear", elem_id="sketch-clear")
                button = gr.Button("Predict", variant="primary", elem_id="sketch-predict")
        with gr.Column(scale=2):
            with gr.Group(visible=True) as digit_outputs:
                hint, label, view, k = answer_panel("sketch", SKETCH_HINT)
                teach = teach_panel("sketch")
            with gr.Group(visible=False) as number_outputs:
                number_hint = gr.Markdown(NUMBER_HINT, elem_id="number-hint")
                number, boxes = number_panel("sketch")
    return dict(mode=mode, sketch=sketch, number_pad=number_pad, clear=clear, button=button, hint=hint,
                label=label, view=view, k=k, digit_outputs=digit_outputs, number_outputs=number_outputs,
                number_hint=number_hint, number=number, boxes=boxes, **teach)


def built_in_samples() -> dict[str, list[str]]:
    """The Upload tab's samples of each built-in dataset, read once: images of its classes
    (examples/<dataset>/<class>.png, scripts/make_examples.py), MNIST's digits in examples/ itself."""
    out = {}
    for name in SPECS:
        folder = EXAMPLES if name == "mnist" else EXAMPLES / name
        files = [p for p in folder.glob("*.*") if p.suffix.lower() in IMAGE_SUFFIXES]
        out[name] = [str(p) for p in sorted(files, key=lambda p: (len(p.stem), p.stem))]
    return out


SAMPLES = built_in_samples()


def samples_of(choice: ModelChoice) -> list[str]:
    """A model's samples, by its dataset's name: a built-in dataset's or none (a visitor's own images,
    or a name a downloaded model's config makes up: never a folder to look in)."""
    return SAMPLES.get(choice.predictor.spec.name, [])


def samples_update(choice: ModelChoice) -> gr.Dataset:
    files = samples_of(choice)
    return gr.Dataset(samples=[[f] for f in files], visible=bool(files),
                      label=f"Samples: {choice.predictor.spec.name} test images")


def show_mode(mode: str) -> tuple:
    """The square canvas and its answers, or the wide one and the number."""
    digits = mode != NUMBER
    return (gr.update(visible=digits), gr.update(visible=not digits), gr.update(visible=digits),
            gr.update(visible=not digits))


def build_upload(examples: list[str]) -> dict[str, Any]:
    with gr.Row():
        with gr.Column(scale=3):
            mode = CheckedRadio([DIGIT, NUMBER], value=DIGIT, label="Read", elem_id="upload-mode")
            upload = RawImage(type="filepath", sources=["upload", "clipboard"], height=CANVAS,
                              label="A photo or scan (PNG, JPG, WebP, GIF, BMP)", elem_id="upload")
            samples = gr.Dataset(components=[upload], samples=[[f] for f in examples], type="index",
                                 label="Samples: mnist test images", elem_id="upload-samples")
        with gr.Column(scale=2):
            hint, label, view, k = answer_panel("upload", UPLOAD_HINT)
            teach = teach_panel("upload")
            number, boxes = number_panel("upload")
    return dict(mode=mode, upload=upload, samples=samples, hint=hint, label=label, view=view, k=k, number=number,
                boxes=boxes, **teach)

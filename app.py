"""digitlab's web app: Sketch, Upload, Train and Hub tabs wired to digitlab.lab.Lab.

python app.py [--weights REPO_ID_OR_DIR] [--revision REV] [--share] [--port N] [--host H]
Flags fall back to DIGITLAB_WEIGHTS / DIGITLAB_REVISION and Gradio's GRADIO_SERVER_NAME /
GRADIO_SERVER_PORT (Hugging Face Spaces sets the last two to 0.0.0.0:7860).
"""

# ruff: noqa: E402 - the serving settings must be in place before torch and gradio load
from __future__ import annotations

from digitlab.serving import tune_process

tune_process()

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from digitlab.api import json_routes
from digitlab.config import OPTIMIZERS, PRESETS, TrainConfig
from digitlab.data import SOURCES
from digitlab.lab import ACTIVE, SKETCH_HINT, TRAINED, UPLOAD_HINT, Lab
from digitlab.models import list_models
from digitlab.predict import Predictor
from digitlab.preprocess import MAX_BYTES
from digitlab.sketchpad import RawSketchpad

EXAMPLES = sorted(str(p) for p in (Path(__file__).parent / "examples").glob("digit_*.*"))
# Predictions run beside a training job, never queue behind it. Sketches run one batch at a time
# on the event loop (Lab.predict_sketches), every sketch waiting in the batch: ~3 ms less server
# CPU each than one by one. Uploads, maybe large photos, run on worker threads.
SKETCH_BATCH, UPLOAD_CONCURRENCY = 32, 2
CANVAS, PEN = 448, 14  # canvas pixels; brush radius: a felt pen, thick enough to survive the cut to 28 px
# The Sketchpad starts, and restarts after every clear, with no tool selected: pick the Brush
# then, so the first stroke draws. A tool the user picked (the eraser) is left alone.
SELECT_BRUSH = """() => {
  const select = (tries) => {
    const brush = document.querySelector('#sketch button[aria-label="Brush"]');
    if (brush && !brush.classList.contains('highlight')) brush.click();
    else if (!brush && tries > 0) setTimeout(() => select(tries - 1), 100);
  };
  select(100);
  document.addEventListener('click', (e) => {
    if (e.target.closest('#sketch button[aria-label="Clear canvas"], #sketch-clear')) {
      for (const ms of [100, 400, 1000]) setTimeout(() => select(0), ms);
    }
  }, true);
}"""


def predict_outputs(tab: str, hint: str) -> tuple[gr.Label, gr.HTML, gr.Markdown]:
    """The Sketch and Upload tabs show the same three things."""
    hint_md = gr.Markdown(hint, elem_id=f"{tab}-hint")
    label = gr.Label(label="Top answers", num_top_classes=None, elem_id=f"{tab}-label")
    view = gr.HTML(label="What the model sees: 28×28, white ink on black as in MNIST", show_label=True,
                   container=True, min_height=250, elem_id=f"{tab}-view")  # an inline <img>: plots.view_html
    return label, view, hint_md


def build_app(predictor_or_source: Lab | Predictor | str | Path | None = None,
              revision: str | None = None) -> gr.Blocks:
    """The whole lab as Blocks, not launched; None means the shipped weights."""
    lab = predictor_or_source if isinstance(predictor_or_source, Lab) else Lab.create(predictor_or_source, revision)
    fast = TrainConfig(**PRESETS["fast"])
    predict_opts = dict(trigger_mode="always_last", show_progress="hidden")
    # Every stroke uploads its canvas: without a sweep, gradio's cache grows for as long as the app runs.
    with gr.Blocks(title="digitlab", delete_cache=(1800, 3600)) as demo:  # every 30 min, files over an hour old
        gr.Markdown("# digitlab\nRead handwritten digits, train your own model, share it on the Hugging Face Hub.")
        active = gr.Markdown(lab.active.describe())
        with gr.Tab("Sketch"):
            with gr.Row():
                with gr.Column(scale=3):
                    # The handler gets the encoded images, undecoded; to_mnist reads the composite.
                    sketch = RawSketchpad(canvas_size=(CANVAS, CANVAS), layers=False, transforms=(),
                                          height=CANVAS + 110,  # room for the toolbar: the canvas shows at 100 %
                                          brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=PEN),
                                          label="Draw one digit, large and centred", elem_id="sketch")
                    with gr.Row():
                        gr.ClearButton(sketch, value="Clear", elem_id="sketch-clear")  # .change then clears the answer
                        sketch_btn = gr.Button("Predict", variant="primary")
                with gr.Column(scale=2):
                    sketch_label, sketch_view, sketch_hint = predict_outputs("sketch", SKETCH_HINT)
                    sketch_k = gr.Slider(1, 10, value=3, step=1, label="How many answers (top-k)")
        with gr.Tab("Upload"):
            with gr.Row():
                with gr.Column(scale=3):
                    upload = gr.Image(type="filepath", sources=["upload", "clipboard"], height=CANVAS,
                                      label="A photo or scan of one digit (PNG, JPG, WebP, GIF, BMP)")
                    gr.Examples(EXAMPLES, inputs=upload, label="Samples from the MNIST test set")
                with gr.Column(scale=2):
                    upload_label, upload_view, upload_hint = predict_outputs("upload", UPLOAD_HINT)
                    upload_k = gr.Slider(1, 10, value=3, step=1, label="How many answers (top-k)")
        with gr.Tab("Train"):
            with gr.Row():
                with gr.Column(scale=1, min_width=260):
                    data = gr.Dropdown(list(SOURCES), value="auto", allow_custom_value=True, label="Dataset",
                                       info="auto: MNIST when found or downloadable, else the shipped sample; "
                                            "or type a folder of MNIST idx files")
                    arch = gr.Dropdown(list_models(), value=fast.arch, label="Architecture")
                    epochs = gr.Slider(1, 30, value=3, step=1, label="Epochs")
                    batch_size = gr.Slider(16, 1024, value=fast.batch_size, step=16, label="Batch size")
                    lr = gr.Number(fast.lr, label="Peak learning rate (one-cycle)", minimum=0)
                    optimizer = gr.Radio(list(OPTIMIZERS), value="adamw", label="Optimizer")
                    augment = gr.Checkbox(True, label="Augment (random affine + stroke width)")
                    seed = gr.Number(0, precision=0, label="Seed")
                    with gr.Row():
                        train_btn = gr.Button("Train", variant="primary")
                        stop_btn = gr.Button("Stop", variant="stop")
                with gr.Column(scale=2):
                    status = gr.Markdown("Pick the settings and press **Train**; the active model stays in use.")
                    with gr.Row():
                        loss_plot = gr.LinePlot(x="epoch", y="loss", color="split", title="Loss", height=240)
                        acc_plot = gr.LinePlot(x="epoch", y="accuracy", color="split", title="Accuracy (%)",
                                               height=240)
                    log = gr.Textbox(label="Log", lines=6, max_lines=12, interactive=False, autoscroll=True)
                    with gr.Row():
                        use_btn = gr.Button("Use this model", interactive=False)
                        download = gr.File(label="Download (zip: safetensors + config + card)", height=90)
                    with gr.Row():
                        summary = gr.Code(label="Model summary", language=None, lines=8, scale=3)
                        with gr.Column(scale=2):
                            gr.Markdown("**Training samples**")  # a label chip would hide the top row
                            grid = gr.Image(show_label=False, container=False, interactive=False, format="png",
                                            buttons=[])
            trained = gr.State(None)
        with gr.Tab("Hub"):
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Load weights and make them active")
                    source = gr.Textbox(label="Hub repo id or local folder", placeholder="your-name/digitlab-cnn")
                    revision_box = gr.Textbox("", label="Revision (optional)", placeholder="main, a tag or a commit")
                    load_btn = gr.Button("Load", variant="primary")
                with gr.Column():
                    gr.Markdown("### Push a model with an auto-generated card")
                    repo_id = gr.Textbox(label="Repo id", placeholder="your-name/digitlab-cnn")
                    token = gr.Textbox("", label="Token (empty: $HF_TOKEN)", type="password")
                    private = gr.Checkbox(True, label="Private repo")
                    which = gr.Radio([ACTIVE, TRAINED], value=ACTIVE, label="Which model")
                    push_btn = gr.Button("Push", variant="primary")
                    pushed = gr.Markdown()

        gr.on([sketch.change, sketch_btn.click, sketch_k.release], lab.predict_sketches, [sketch, sketch_k],
              [sketch_label, sketch_view, sketch_hint], api_name="predict_sketch", batch=True,
              max_batch_size=SKETCH_BATCH, concurrency_id="sketch", concurrency_limit=1, **predict_opts)
        # preprocess=False: to_mnist decodes the upload itself, so an unreadable file gets our plain message
        gr.on([upload.change, upload_k.release], lab.predict_upload, [upload, upload_k],
              [upload_label, upload_view, upload_hint], api_name="predict_upload", preprocess=False,
              concurrency_id="upload", concurrency_limit=UPLOAD_CONCURRENCY, **predict_opts)
        train_btn.click(lab.train, [data, arch, epochs, batch_size, lr, optimizer, augment, seed],
                        [log, loss_plot, acc_plot, status, trained, download, summary, grid, use_btn],
                        api_name="train", concurrency_limit=1, concurrency_id="train",
                        show_progress_on=status)  # the curves and log stay visible as they grow
        stop_btn.click(lab.stop_training, None, status, api_name="stop_training", concurrency_limit=None)
        use_btn.click(lab.use_trained, trained, active, api_name="use_trained")
        load_btn.click(lab.load_weights, [source, revision_box], active, api_name="load_weights")
        push_btn.click(lab.push_to_hub, [repo_id, token, private, which, trained], pushed, api_name="push_to_hub")
        demo.load(lab.active.describe, None, active, api_visibility="private")
        demo.load(None, js=SELECT_BRUSH)
    # Queue positions go out once a second, not to every waiting client whenever any event starts:
    # with 32 users sketching, that broadcast cost more CPU than the predictions.
    return demo.queue(status_update_rate=1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description="digitlab web app")
    p.add_argument("--weights", default=env("DIGITLAB_WEIGHTS"),
                   help="Hub repo id or local folder (default: $DIGITLAB_WEIGHTS, else the shipped weights)")
    p.add_argument("--revision", default=env("DIGITLAB_REVISION"), help="Hub branch, tag or commit")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT, else 7860 or the next free one)")
    p.add_argument("--host", help="interface (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    return p.parse_args(argv)


def launch(predictor_or_source: Predictor | str | Path | None = None, revision: str | None = None,
           **launch_kwargs: Any) -> gr.Blocks:
    """Build the lab and serve it: the Blocks, plus POST /api/predict (digitlab.api) on the same model."""
    lab = Lab.create(predictor_or_source, revision)
    demo = build_app(lab)
    launch_kwargs.setdefault("max_file_size", MAX_BYTES)  # gradio stores uploads of any size unless told
    demo.launch(app_kwargs={"routes": json_routes(lab.active.predictor)}, **launch_kwargs)
    return demo


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        launch(args.weights, args.revision, server_name=args.host, server_port=args.port, share=args.share)
    except (gr.Error, ValueError) as err:  # bad --weights: one line, not a traceback
        print(f"error: {getattr(err, 'message', err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

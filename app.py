"""digitlab's web app: the model picker and the Sketch, Upload, Train and Hub tabs, wired to digitlab.ui.

python app.py [--weights REPO_ID_OR_DIR] [--revision REV] [--share] [--public | --local] [--port N] [--host H]
Flags fall back to DIGITLAB_WEIGHTS / DIGITLAB_REVISION / DIGITLAB_PUBLIC and Gradio's
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Hugging Face Spaces sets the last two to 0.0.0.0:7860).
"""

# ruff: noqa: E402 - the serving settings must be in place before torch and gradio load
from __future__ import annotations

from digitlab.serve.process import tune_process

tune_process()

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy, decide_public
from digitlab.serve.api import body_limits, json_routes
from digitlab.ui import hubtab, insight, predict, teach, training
from digitlab.ui.lab import Lab
from digitlab.vision.imageio import MAX_BYTES

EXAMPLES = predict.SAMPLES["mnist"]  # the MNIST model's Upload samples
# Predictions run beside a training job, never queue behind it. Strokes run one batch at a time on
# the event loop (Predictions.predict_sketches), every sketch waiting in the batch: ~3 ms less
# server CPU each than one by one. Uploads, maybe large photos, run on worker threads.
SKETCH_BATCH, UPLOAD_CONCURRENCY = 32, 2
TRAIN_CONCURRENCY = 8  # train handlers at once: one trains, the rest wait in the lab's own short line
# The Sketchpads start, and restart after every clear, with no tool selected: pick the Brush then,
# so the first stroke draws (a tool the visitor picked, the eraser, is left alone). The pen-size
# pop-up is a bare slider: it gets a label (CSS) and its value in px.
CANVAS_JS = """() => {
  const pads = ['#sketch', '#number-sketch'];
  const select = (pad, tries) => {
    const brush = document.querySelector(pad + ' button[aria-label="Brush"]');
    if (brush && !brush.classList.contains('highlight')) brush.click();
    else if (!brush && tries > 0) setTimeout(() => select(pad, tries - 1), 100);
  };
  pads.forEach((pad) => select(pad, 100));
  document.addEventListener('click', (e) => {
    for (const pad of pads) {
      if (e.target.closest(pad + ' button[aria-label="Clear canvas"]')) {
        for (const ms of [100, 400, 1000]) setTimeout(() => select(pad, 0), ms);
      }
    }
  }, true);
  const labelPenSize = () => document.querySelectorAll('.size_picker input[type=range]').forEach((input) => {
    if (input.dataset.labelled) return;
    input.dataset.labelled = '1';
    const value = document.createElement('output');
    value.className = 'pen-size';
    const show = () => { value.textContent = input.value + ' px'; };
    input.addEventListener('input', show);
    show();
    input.after(value);
  });
  // A pad drawn later (the Number canvas appears only when its mode is picked) gets the brush when it shows up.
  const brushNewPads = () => pads.forEach((pad) => {
    const brush = document.querySelector(pad + ' button[aria-label="Brush"]');
    if (brush && !brush.dataset.picked) { brush.dataset.picked = '1'; select(pad, 0); }
  });
  const everyChange = () => { labelPenSize(); brushNewPads(); };
  new MutationObserver(everyChange).observe(document.body, {childList: true, subtree: true});
}"""
# The big Clear button presses the canvas's own trash button, which clears every time (a
# ClearButton resets the value once; after that the value is already empty and nothing happens).
CLEAR_SKETCH = """() => {
  for (const pad of ['#sketch', '#number-sketch']) {
    document.querySelector(pad + ' button[aria-label="Clear canvas"]')?.click();
  }
}"""
CSS = """
#active-model p { font-size: 0.95em; }
.size_picker .wrap::before { content: "Pen size"; font-size: var(--text-sm); margin-right: 8px; white-space: nowrap; }
.size_picker output.pen-size { font-size: var(--text-sm); min-width: 3.5em; margin-left: 8px; }
"""


def build_app(lab_or_source: Lab | Predictor | str | Path | None = None, revision: str | None = None,
              policy: Policy | None = None) -> gr.Blocks:
    """The whole lab as Blocks, not launched; None means the shipped weights."""
    lab = lab_or_source if isinstance(lab_or_source, Lab) else Lab(policy, lab_or_source, revision)
    preds, trainer, hub_actions = predict.Predictions(lab), training.Training(lab), hubtab.HubActions(lab)
    seeing, teaching = insight.Insight(lab), teach.Teaching(lab, trainer, hub_actions)
    predict_opts = dict(trigger_mode="always_last", show_progress="hidden")
    # Every stroke uploads its canvas: without a sweep, gradio's cache grows for as long as the app runs.
    with gr.Blocks(title="digitlab", delete_cache=(1800, 3600)) as demo:  # every 30 min, files over an hour old
        gr.Markdown("# digitlab\nDraw or upload, train your own model, see how it reads, share it on the "
                    "Hugging Face Hub." + (f"  \n*{lab.policy.describe()}*" if lab.policy.public else ""))
        with gr.Row(equal_height=True):
            active = gr.Markdown(predict.describe(lab.default), elem_id="active-model")
            picker = gr.Dropdown([(c.title, c.key) for c in lab.shipped], value=lab.default.key,
                                 label="Model", elem_id="model-picker", scale=0, min_width=320,
                                 allow_custom_value=True)  # each visitor's own list; choose() checks the key
        token = gr.Textbox(visible=False, elem_id="visitor-token")  # names this session to batched strokes
        with gr.Tab("Sketch"):
            s = predict.build_sketch(preds)
        with gr.Tab("Upload"):
            u = predict.build_upload(EXAMPLES)
        with gr.Tab("Train"):
            t = training.build(lab)
        with gr.Tab("Evaluate"):
            e = insight.build()
        with gr.Tab("Teach"):
            c = teach.build(lab)
        with gr.Tab("Hub"):
            h = hubtab.build(lab)

        model_outputs = [active, picker, s["k"], u["k"], s["label"], u["label"], s["view"], u["view"], s["wrong"],
                         u["wrong"], u["samples"]]
        demo.load(preds.open_page, None, [token, *model_outputs], api_visibility="private")
        demo.load(None, js=CANVAS_JS)
        demo.unload(lab.end_session)
        picker.input(preds.choose, picker, model_outputs, api_name="choose_model")

        # Sketch: every stroke, batched and private; the Predict button is the public API.
        gr.on([s["sketch"].change, s["k"].change], preds.predict_sketches, [s["sketch"], s["k"], token],
              [s["label"], s["view"], s["hint"]], batch=True, max_batch_size=SKETCH_BATCH, concurrency_id="sketch",
              concurrency_limit=1, api_visibility="private", **predict_opts)
        s["button"].click(preds.predict_sketch, [s["sketch"], s["k"]], [s["label"], s["view"], s["hint"]],
                          api_name="predict_sketch", concurrency_id="sketch-api", concurrency_limit=2)
        number_outputs = [s["number"], s["boxes"], s["number_hint"]]
        gr.on([s["number_pad"].change, s["button"].click], preds.predict_number, s["number_pad"], number_outputs,
              api_name="predict_number", concurrency_id="sketch-api", **predict_opts)
        s["mode"].change(predict.show_mode, s["mode"], [s["sketch"], s["number_pad"], s["digit_outputs"],
                                                         s["number_outputs"]], api_visibility="private", queue=False)
        s["clear"].click(None, js=CLEAR_SKETCH)
        s["clear"].click(lambda: "", None, s["explanation"], api_visibility="private", queue=False)  # no stale Why
        # Upload: the handler decodes the stored file itself, so an unreadable one gets a plain message.
        upload_outputs = [u["label"], u["view"], u["hint"], u["upload"], u["number"], u["boxes"]]
        gr.on([u["upload"].change, u["k"].change, u["mode"].change], preds.predict_upload,
              [u["upload"], u["k"], u["mode"]], upload_outputs, api_name="predict_upload", concurrency_id="upload",
              concurrency_limit=UPLOAD_CONCURRENCY, **predict_opts)
        u["samples"].click(preds.pick_sample, u["samples"], u["upload"], api_visibility="private")
        u["upload"].clear(lambda: predict.UPLOAD_HINT, None, u["hint"], api_visibility="private", queue=False)

        # Train
        t["dataset"].change(lambda name: (gr.File(visible=name == "folder"), gr.Radio(visible=name == "folder"),
                                          gr.Dropdown(visible=name != "folder")),
                            t["dataset"], [t["upload"], t["view"], t["source"]], api_visibility="private",
                            queue=False)
        t["start"].change(lambda start: gr.Radio(visible=start == training.ACTIVE), t["start"], t["freeze"],
                          api_visibility="private", queue=False)
        t["train"].click(trainer.train, [t["dataset"], t["source"], t["upload"], t["view"], t["arch"], t["epochs"],
                                         t["batch_size"], t["lr"], t["optimizer"], t["augment"], t["seed"],
                                         t["start"], t["freeze"], t["compile"]],
                         [t["log"], t["loss"], t["acc"], t["status"], t["download"], t["summary"], t["grid"],
                          t["use"], t["watch"], t["runs_table"], t["runs_plot"]],
                         api_name="train", concurrency_limit=TRAIN_CONCURRENCY, concurrency_id="train",
                         show_progress_on=t["status"])  # the curves and log stay visible as they grow
        t["stop"].click(trainer.stop, None, t["status"], api_name="stop_training", concurrency_limit=None,
                        queue=False)
        t["use"].click(preds.showing_model(trainer.use), None, model_outputs, api_name="use_trained")

        # Why this answer? and Wrong? It's a ...
        s["why"].click(seeing.explain_sketch, s["sketch"], s["explanation"], api_name="explain",
                       concurrency_id="explain", concurrency_limit=1)
        u["why"].click(seeing.explain_upload, u["upload"], u["explanation"], api_name="explain_upload",
                       concurrency_id="explain", concurrency_limit=1)
        s["save"].click(teaching.correct_sketch, [s["sketch"], s["wrong"]], [c["gallery"], s["saved"], c["status"]],
                        api_name="correct")
        u["save"].click(teaching.correct_upload, [u["upload"], u["wrong"]], [c["gallery"], u["saved"], c["status"]],
                        api_name="correct_upload")

        # Evaluate
        evaluation = [e["summary"], e["per_class"], e["confusion"], e["gallery"], e["cell_hint"]]
        e["evaluate"].click(seeing.evaluate, None, evaluation, api_name="evaluate", concurrency_id="evaluate",
                            concurrency_limit=1)
        e["confusion"].select(seeing.select_cell, None, [e["gallery"], e["cell_hint"]], api_visibility="private",
                              concurrency_id="evaluate")
        e["pick"].click(seeing.cell, [e["true"], e["answer"]], [e["gallery"], e["cell_hint"]],
                        api_name="evaluation_cell", concurrency_id="evaluate")  # a cell by number, for programs
        e["gallery"].select(seeing.explain_shown, None, e["why"], api_visibility="private",
                            concurrency_id="explain")

        # Teach
        c["remove"].click(teaching.remove, c["index"], [c["gallery"], c["status"]], api_name="remove_correction")
        c["clear"].click(teaching.clear, None, [c["gallery"], c["status"]], api_name="clear_corrections")
        c["finetune"].click(teaching.finetune, None, [c["tune_log"], c["tune_status"], c["use"]], api_name="finetune",
                            concurrency_limit=TRAIN_CONCURRENCY, concurrency_id="train",
                            show_progress_on=c["tune_status"])
        c["use"].click(preds.showing_model(trainer.use), None, model_outputs, api_name="use_finetuned")
        c["export"].click(teaching.export, None, c["exported"], api_name="export_corrections")
        c["push"].click(teaching.push, [c["repo_id"], h["token"], c["private"]], c["pushed"],
                        api_name="push_corrections")

        # Hub
        h["load"].click(preds.showing_model(hub_actions.load), [h["source"], h["revision"], h["token"]],
                        model_outputs, api_name="load_weights")
        h["push"].click(hub_actions.push, [h["repo_id"], h["token"], h["private"], h["which"]], h["pushed"],
                        api_name="push_to_hub")
    # Queue positions go out once a second, not to every waiting client whenever any event starts:
    # with 32 visitors sketching, that broadcast cost more CPU than the predictions.
    demo.lab = lab
    # api_open=False: Gradio's plain REST routes (/run/<name>) skip the queue and its limits; programs join
    # the queue with a session as the browser does (gradio_client does).
    return demo.queue(status_update_rate=1, max_size=lab.policy.queue_size, api_open=False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description="digitlab web app")
    p.add_argument("--weights", default=env("DIGITLAB_WEIGHTS"),
                   help="the default model: Hub repo id or local folder (default: $DIGITLAB_WEIGHTS, else the "
                        "shipped MNIST model); POST /api/predict always answers with it")
    p.add_argument("--revision", default=env("DIGITLAB_REVISION"), help="Hub branch, tag or commit of --weights")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (turns public mode on)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--public", dest="public", action="store_const", const=True,
                      help="public mode: per-visitor identity only, no server files, bounded runs "
                           "(default on a Space, with --share, or DIGITLAB_PUBLIC=1)")
    mode.add_argument("--local", dest="public", action="store_const", const=False,
                      help="local mode even with --share: your own files and Hub login")
    p.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT, else 7860 or the next free one)")
    p.add_argument("--host", help="interface (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    return p.parse_args(argv)


def launch(source: Predictor | str | Path | None = None, revision: str | None = None, public: bool = False,
           policy: Policy | None = None, **launch_kwargs: Any) -> gr.Blocks:
    """Build the lab and serve it: the Blocks, plus POST /api/predict (digitlab.serve.api) on the default model."""
    policy = policy or Policy(public=public)
    lab = Lab(policy, source, revision)
    demo = build_app(lab)
    launch_kwargs.setdefault("max_file_size", max(MAX_BYTES, policy.max_zip_bytes))
    launch_kwargs.setdefault("state_session_capacity", policy.max_sessions)
    launch_kwargs.setdefault("css", CSS)
    # Gradio's run history can save a visitor's runs to a Hub bucket with the host's own saved login
    # (gradio.history.resolve_token): strangers get none of it.
    launch_kwargs.setdefault("run_history", not policy.public)
    demo.launch(app_kwargs={"routes": json_routes(lambda: lab.default.predictor),
                            "middleware": body_limits(policy)}, **launch_kwargs)
    return demo


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    public = decide_public(args.share, args.public)
    try:
        demo = launch(args.weights, args.revision, public=public, server_name=args.host, server_port=args.port,
                      share=args.share, quiet=True, prevent_thread_lock=True)
    except (gr.Error, ValueError) as err:  # bad --weights: one line, not a traceback
        print(f"error: {getattr(err, 'message', err)}", file=sys.stderr)
        return 2
    print(f"digitlab is running on {demo.local_url} ({demo.lab.policy.describe()})")
    if demo.share_url:
        print(f"public link: {demo.share_url}")
    elif not os.environ.get("SPACE_ID"):
        print("for a public link, run python app.py --share; press Ctrl+C to stop")
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.lab.sessions.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())

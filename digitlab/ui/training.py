"""The Train tab: a visitor's run in its own process, streamed epoch by epoch; their model when they press Use.

One training runs at a time for the whole app (a few wait their turn, the rest are told the lab
is busy), one per visitor; a public run stops at the policy's time limit, and a visitor's run
ends when they leave. The data is a named dataset (and in local mode any folder), or the
visitor's own zip of class folders.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from digitlab.cli import train_argv
from digitlab.data.registry import DATASETS, OWN, SOURCES
from digitlab.hub import WeightsError, load_local
from digitlab.inference.predictor import Predictor
from digitlab.models import list_models, summary
from digitlab.serve.sessions import ModelChoice, Run, Visitor
from digitlab.training.config import FREEZE, OPTIMIZERS, PRESETS, TrainConfig, preset
from digitlab.training.worker import Job, TrainingProcess
from digitlab.ui.components import CheckedNumber, CheckedRadio, CheckedSlider, stored_file
from digitlab.ui.lab import Lab, plain
from digitlab.ui.pictures import curves, sample_grid
from digitlab.vision.imageio import ImageError

SCRATCH, ACTIVE = "from scratch", "from the active model"
WHOLE, HEAD = "fine-tune everything", "train only the new head"
CURVE_COLOURS = {"train": "#2563eb", "test": "#f97316"}
COMPARE_COLUMNS = ["run", "architecture", "parameters", "dataset", "epochs", "seconds", "test accuracy %"]
IDLE = "Pick the settings and press **Train**; the active model stays in use."
PROGRESS = gr.Progress()  # a marker: gradio passes each call its own tracker
KEEP = gr.skip()  # an output left as it is
STOP_GRACE = 60  # seconds a public run may take to stop after the cap (the last batch, evaluation, saving)


def private_paths_out(message: str, visitor: Visitor) -> str:
    """A message without the server's path to the visitor's files: "…/images-1.zip has…" -> "Your upload has…"."""
    path = re.escape(str(visitor.folder)) + r"(?:[^\s:;,]*[^\s:;,.])?"  # to the path's end, not the sentence's
    return re.sub(path, "your upload", re.sub("^" + path, "Your upload", message))


def run_title(run: Run) -> str:
    cfg = run.config
    how = f"stopped at {len(run.records)}/{cfg['epochs']} epochs" if run.stopped else f"{len(run.records)} epochs"
    acc = f", {run.test_acc:.1f} %" if run.test_acc is not None else ""
    kind = "fine-tuned on corrections" if run.kind == "finetune" else "trained here"
    return f"Run {run.number}: {cfg['arch']} {kind} on {run.data}, {how}{acc}"


class Training:
    """Handlers of the Train tab; see build() for the wiring."""

    def __init__(self, lab: Lab):
        self.lab = lab

    # -- inputs -------------------------------------------------------------------------------------
    def settings(self, dataset: str, source: str, arch: str, epochs: Any, batch_size: Any, lr: Any,
                 optimizer: str, augment: Any, seed: Any, start: str, freeze: str, compile_: Any) -> dict:
        """The form as TrainConfig fields, every value checked; plain errors name the bad one."""
        lab = self.lab
        dataset, source = lab.text(dataset, "dataset"), lab.text(source, "data source") or "auto"
        if dataset not in DATASETS:
            raise plain(f"Unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}.")
        if dataset != OWN and source not in SOURCES and lab.policy.public:
            raise plain(f"This public lab trains on named data only: choose {', '.join(SOURCES)}, "
                        "or upload a zip of your own images.")
        if dataset != OWN and source not in SOURCES and not Path(source).expanduser().exists():
            raise plain(f"The data folder {source} does not exist.")
        if arch not in list_models():
            raise plain(f"Unknown architecture {str(arch)[:40]!r}; choose from {', '.join(list_models())}.")
        if optimizer not in OPTIMIZERS:
            raise plain(f"Unknown optimizer {str(optimizer)[:40]!r}; choose from {', '.join(OPTIMIZERS)}.")
        if start not in (SCRATCH, ACTIVE) or freeze not in (WHOLE, HEAD):
            raise plain("Choose how to start: from scratch or from the active model, and what to train.")
        return dict(
            dataset=dataset, data=source, arch=arch,
            epochs=lab.whole(epochs, "number of epochs", 1, lab.policy.max_epochs),
            batch_size=lab.whole(batch_size, "batch size", 1, lab.policy.max_batch_size),
            lr=lab.positive(lr, "learning rate", 10.0), optimizer=optimizer, augment=bool(augment),
            seed=lab.whole(seed, "seed", 0, 2**31 - 1, default=0), freeze=FREEZE[freeze == HEAD],
            compile=bool(compile_), start=start)

    def own_images(self, visitor: Visitor, upload: Any) -> Path:
        """The visitor's zip, copied into their own folder. Gradio's copy is left to Gradio's own clean-up:
        the path comes from the caller, and may name a file another visitor is still to download."""
        if upload is None:
            raise plain("Upload a zip of your images first: one folder per class, e.g. cats/1.jpg, dogs/2.png.")
        try:
            path = stored_file(upload)
        except ImageError as err:
            raise plain(str(err)) from err
        if path.stat().st_size > self.lab.policy.max_zip_bytes:
            raise plain(f"The zip is too large: the limit is {self.lab.policy.max_zip_bytes // 2**20} MB.")
        target = visitor.folder / "uploads" / f"images-{visitor.next_run_number()}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return target

    # -- the run ------------------------------------------------------------------------------------
    def train(self, dataset: str, source: str, upload: Any, view: str, arch: str, epochs: Any, batch_size: Any,
              lr: Any, optimizer: str, augment: Any, seed: Any, start: str, freeze: str, compile_: Any,
              request: gr.Request, progress: gr.Progress = PROGRESS):
        """Stream (log, loss curves, accuracy curves, status, download, summary, samples, use-button)."""
        lab = self.lab
        visitor = lab.visitor(request)
        form = self.settings(dataset, source, arch, epochs, batch_size, lr, optimizer, augment, seed, start,
                             freeze, compile_)
        if view not in ("handwriting", "photos"):
            raise plain("Say whether your images are handwriting or photos.")
        view = "photo" if view == "photos" else "glyph"
        with visitor.lock:
            if visitor.job is not None or visitor.waiting:
                raise plain("You already have a training running; stop it or wait for it to end.")
            visitor.waiting, visitor.stop_requested = True, False
        try:
            if form["dataset"] == OWN:
                form["data"] = str(self.own_images(visitor, upload))
            init = ""
            if form.pop("start") == ACTIVE:
                init = self.save_active(visitor)
                form["arch"] = visitor.active.predictor.model.arch
            if form["freeze"] != "none" and not init:
                raise plain("Training only the head needs a model to start from: choose 'from the active model'.")
            cfg = preset("accurate", **form, init=init).validate()
        except ValueError as err:
            visitor.waiting = False
            raise plain(str(err)) from err
        except gr.Error:
            visitor.waiting = False
            raise
        yield from self.run(visitor, cfg, view, progress)

    def save_active(self, visitor: Visitor) -> str:
        """The active model as a folder the worker can start from (shipped models already are one)."""
        choice = visitor.active
        if choice.shipped:
            return choice.source
        from digitlab.hub import save_model

        folder = visitor.folder / "init" / choice.key.replace(":", "-").replace("/", "-")[:80]
        if not folder.is_dir():
            save_model(choice.predictor.model, folder, card=choice.card)
        return str(folder)

    def run(self, visitor: Visitor, cfg: TrainConfig, view: str, progress: gr.Progress, kind: str = "train",
            corrections: str | None = None):
        """Wait for the trainer, train in a worker process, stream every epoch; keep the result."""
        lab, log, records, gallery = self.lab, [], [], []
        number = visitor.next_run_number()
        out = visitor.folder / "runs" / f"run-{number}"
        started, names = None, []

        def frame(status: str, run: Run | None = None, grid: Any = KEEP) -> tuple:
            """One update of every Train output; the curves only once there are points to draw."""
            df = curves(records).astype({"epoch": "str"}) if records else KEEP  # whole epochs on the axis
            answers = watch_html(gallery, records[-1].get("watched", []) if records else [], names)
            runs = compare(visitor) if run is not None else (KEEP, KEEP)
            if run is None:  # no download or summary before there is a model
                return ("\n".join(log), df, df, status, None, "", grid,
                        gr.Button(interactive=False, variant="secondary"), answers, *runs)
            return ("\n".join(log), df, df, status, str(run.zip_path), summary(run.choice.predictor.model), grid,
                    gr.Button(interactive=True, variant="primary"), answers, *runs)

        place = lab.trainer.join()
        if place is None:
            visitor.waiting = False
            raise plain("The lab is busy: several trainings are waiting. Try again in a few minutes.")
        job = None
        try:
            while not lab.trainer.slot.acquire(timeout=1.0):
                if visitor.stop_requested or visitor.closed:
                    yield frame("Left the line; nothing was trained.")
                    return
                yield frame(f"Waiting for the trainer: {lab.trainer.waiting - 1} other run(s) first…")
            try:
                with visitor.lock:
                    if visitor.stop_requested or visitor.closed:
                        yield frame("Stopped before it started; nothing was trained.")
                        return
                    job = TrainingProcess(Job(asdict(cfg), str(out), view, train_argv(cfg, view), corrections))
                    visitor.job, visitor.waiting = job, False
                yield frame("Starting the trainer…", grid=None)
                started = time.monotonic()
                limit = lab.policy.train_seconds
                done = None
                for event in job.events():
                    if visitor.closed:
                        return
                    # The deadline is checked on every event: batches that stream progress leave no silence.
                    # A stop is heard between batches; a run that does not end soon after (still reading its
                    # data, say) is ended outright, so no one holds the trainer past the cap.
                    elapsed = time.monotonic() - started
                    if limit is not None and elapsed > limit and not job.stopped:
                        job.stop()
                        log.append(f"stopped: a run on this public lab may take {lab.policy.train_time_text}")
                    if limit is not None and elapsed > limit + STOP_GRACE:
                        job.kill()
                        log.append(f"ended: the run did not stop within {STOP_GRACE} seconds of the time cap")
                        yield frame(f"**Ended at the time cap** ({lab.policy.train_time_text} on this public lab): "
                                    "the run was still preparing or had not finished an epoch; nothing to keep.")
                        return
                    if event is None:
                        continue
                    data = event.data
                    if event.kind == "start":
                        log.append(f"training {cfg.arch} on {data['data']} for {cfg.epochs} epoch(s)")
                        gallery = data.get("watched", [])
                        names = data["spec"].get("display") or data["spec"]["labels"]
                        yield frame("Training…")
                    elif event.kind == "note":
                        log.append(f"note: {data['text']}")
                        yield frame("Training…")
                    elif event.kind == "progress":
                        progress((data["step"], data["steps"]), desc=f"epoch {len(records) + 1}/{cfg.epochs}",
                                 unit="batches")
                    elif event.kind == "record":
                        records.append(data)
                        log.append(line_of(data))
                        yield frame(f"Epoch {data['epoch']}/{cfg.epochs} done…")
                    elif event.kind == "error":
                        message = private_paths_out(data["message"], visitor)
                        log.append(f"error: {message}")
                        yield frame(f"**Training failed:** {message}")
                        raise plain(message)
                    elif event.kind == "done":
                        done = data
                if done is None or not done.get("out"):
                    log.append("stopped before the first epoch ended; nothing to keep")
                    yield frame("Stopped before the first epoch ended; nothing to keep.")
                    return
                run = self.keep(visitor, number, Path(done["out"]), records, done, kind)
                ended = f"stopped after {len(records)}/{cfg.epochs} epochs" if run.stopped else "finished"
                log.append(f"{ended}: test accuracy {run.test_acc:.2f}%, "
                           f"confidences calibrated at temperature {run.choice.predictor.temperature:.3g}")
                compared = run.before_after
                if compared:
                    tested = f"{compared.get('test_images', 0):,} test images"
                    log.append(f"on your corrections: {compared['corrections_before']:.0f}% -> "
                               f"{compared['corrections_after']:.0f}% right; {tested}: {compared['test_before']:.2f}% "
                               f"-> {compared['test_after']:.2f}%")
                    status = (f"**Fine-tuned**: your corrections {compared['corrections_before']:.0f}% -> "
                              f"{compared['corrections_after']:.0f}% right, {tested} "
                              f"{compared['test_before']:.2f}% -> {compared['test_after']:.2f}%. "
                              "Press **Use this model** to read with it.")
                else:
                    status = (f"**{ended.capitalize()}**: test accuracy {run.test_acc:.2f}%. Your active model "
                              "stays as it is until you press **Use this model**.")
                yield frame(status, run, grid=run_samples(run))
            finally:
                lab.trainer.slot.release()
        finally:
            lab.trainer.leave()
            with visitor.lock:
                visitor.waiting = False
                if visitor.job is job:
                    visitor.job = None
            if job is not None:
                job.kill()

    def keep(self, visitor: Visitor, number: int, folder: Path, records: list[dict], done: dict, kind: str) -> Run:
        """The finished run as one of the visitor's models, with its zip for download."""
        try:
            model = load_local(folder)
        except WeightsError as err:
            raise plain(f"The trained model could not be read back ({err}).") from err
        from digitlab.hub import read_card_data

        card = read_card_data(folder)
        zip_path = Path(shutil.make_archive(str(folder.parent / f"digitlab-{model.arch}-run-{number}"), "zip", folder))
        cfg = done["config"]
        placeholder = ModelChoice(f"run:{number}", "", Predictor(model), "trained here", card=card)
        run = Run(number, placeholder, records, cfg, done["data"], sum(r["seconds"] for r in records),
                  bool(done["stopped"]), done.get("calibration") or {}, folder, zip_path, done.get("notes") or [],
                  kind, done.get("before_after") or {})
        run.choice = ModelChoice(placeholder.key, run_title(run), placeholder.predictor, "trained here", card=card)
        visitor.add_run(run)
        return run

    def stop(self, request: gr.Request) -> str:
        """Stop this visitor's run (never another's); say so plainly when nothing is running."""
        visitor = self.lab.visitor(request)
        with visitor.lock:
            if visitor.job is not None:
                visitor.job.stop()
                return "Stopping after the current batch…"
            if visitor.waiting:
                visitor.stop_requested = True
                return "Leaving the line; nothing will be trained."
        return "Nothing is training right now."

    def use(self, request: gr.Request) -> ModelChoice:
        visitor = self.lab.visitor(request)
        if not visitor.runs:
            raise plain("Train a model first; there is no new model to use yet.")
        visitor.active = visitor.runs[-1].choice
        return visitor.active


def watch_html(gallery: list[dict], answers: list[int], names: list[str]) -> str:
    """The watched test images with the model's current answer: green when right, red when wrong."""
    if not gallery:
        return ""
    cells = []
    for i, item in enumerate(gallery):
        answer = answers[i] if i < len(answers) else None
        right = answer == item["label"]
        colour = "#94a3b8" if answer is None else "#16a34a" if right else "#dc2626"
        said = "…" if answer is None else html.escape(str(names[answer]))
        cells.append(f'<figure style="margin:2px;text-align:center"><img src="data:image/png;base64,{item["png"]}" '
                     f'width="48" height="48" style="image-rendering:pixelated;border:2px solid {colour}" '
                     f'alt="a test image of {html.escape(str(names[item["label"]]))}"><figcaption '
                     f'style="font-size:11px;color:{colour}">{said}</figcaption></figure>')
    return f'<div class="watched" style="display:flex;flex-wrap:wrap">{"".join(cells)}</div>'


def compare(visitor: Visitor) -> tuple:
    """Every run of the session in one table, and their test accuracy per epoch overlaid."""
    rows, points = [], []
    for run in visitor.runs:
        model = run.choice.predictor.model
        rows.append([f"run {run.number}" + (" (fine-tune)" if run.kind == "finetune" else ""), model.arch,
                     model.num_params, run.data, len(run.records), round(run.seconds, 1),
                     round(run.test_acc, 2) if run.test_acc is not None else None])
        points += [(r["epoch"], f"run {run.number}: {model.arch}", r["test_acc"]) for r in run.records]
    table = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    plot = pd.DataFrame(points, columns=["epoch", "run", "test accuracy"]).astype({"epoch": "str"})
    return table, plot


def line_of(record: dict) -> str:
    from digitlab.training.loop import EpochRecord

    return EpochRecord(**record).line()


def run_samples(run: Run) -> Any:
    """A grid of the training data's first image of each class, as the model saw them (from its sample)."""
    from digitlab.data.registry import load_sample
    from digitlab.data.specs import SPECS

    spec = run.choice.predictor.spec
    if spec.name not in SPECS:
        return None
    data = load_sample(spec.name)
    return sample_grid(data.train_images, data.train_labels)


def build(lab: Lab) -> dict[str, Any]:
    fast = TrainConfig(**PRESETS["fast"])
    sources = list(SOURCES)
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            dataset = gr.Dropdown(list(DATASETS), value="mnist", label="Dataset", elem_id="train-dataset",
                                  allow_custom_value=True,  # Training.settings checks it
                                  info="'folder' is your own images: upload a zip with one folder per class")
            source = gr.Dropdown(sources, value="auto", allow_custom_value=True,  # a folder, locally
                                 label="Data source", elem_id="train-source",
                                 info="auto: the full data when found or downloadable, else the small sample "
                                      "(the log says which and why)"
                                      + ("" if lab.policy.public else "; or type a folder on this machine"))
            upload = gr.File(label="Your images (zip of class folders)", file_types=[".zip"], visible=False,
                             elem_id="train-upload")
            view = CheckedRadio(["handwriting", "photos"], value="handwriting", label="Your images are", visible=False)
            arch = gr.Dropdown(list_models(), value=fast.arch, label="Architecture", elem_id="train-arch",
                               allow_custom_value=True)
            start = CheckedRadio([SCRATCH, ACTIVE], value=SCRATCH, label="Start", elem_id="train-start")
            freeze = CheckedRadio([WHOLE, HEAD], value=WHOLE, label="When starting from a model", visible=False)
            epochs = CheckedSlider(1, lab.policy.max_epochs, value=3, step=1, label="Epochs", elem_id="train-epochs")
            batch_size = CheckedSlider(16, lab.policy.max_batch_size, value=fast.batch_size, step=16,
                                       label="Batch size")
            lr = CheckedNumber(fast.lr, label="Peak learning rate (one-cycle)", minimum=0)
            optimizer = CheckedRadio(list(OPTIMIZERS), value="adamw", label="Optimizer")
            augment = gr.Checkbox(True, label="Augment (shifts, turns, stroke width; flips for photos)")
            compile_ = gr.Checkbox(False, label="torch.compile (falls back with a note where it cannot run)")
            seed = CheckedNumber(0, precision=0, label="Seed")
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary", elem_id="train-button")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-button")
        with gr.Column(scale=2):
            status = gr.Markdown(IDLE, elem_id="train-status")
            with gr.Row():
                # Epochs as ordered categories: the axis reads 1, 2, 3, never 1.000000 or 1.2.
                epoch_order = [str(e) for e in range(1, lab.policy.max_epochs + 1)]
                loss_plot = gr.LinePlot(x="epoch", y="loss", color="split", color_map=CURVE_COLOURS, title="Loss",
                                        height=240, x_title="epoch", sort=epoch_order, elem_id="loss-plot")
                acc_plot = gr.LinePlot(x="epoch", y="accuracy", color="split", color_map=CURVE_COLOURS,
                                       title="Accuracy (%)", height=240, x_title="epoch", sort=epoch_order,
                                       elem_id="acc-plot")
            log = gr.Textbox(label="Log", lines=6, max_lines=12, interactive=False, autoscroll=True,
                             elem_id="train-log")
            with gr.Row():
                use_btn = gr.Button("Use this model", interactive=False, elem_id="use-button")
                download = gr.File(label="Download (zip: safetensors + config + card)", height=90)
            gr.Markdown("**Test images, as the model reads them after each epoch** (green: right, red: wrong)")
            watch = gr.HTML("", elem_id="train-watch")
            with gr.Row():
                model_summary = gr.Code(label="Model summary", language=None, lines=8, scale=3)
                with gr.Column(scale=2):
                    gr.Markdown("**Training samples**")  # a label chip would hide the top row
                    grid = gr.Image(show_label=False, container=False, interactive=False, format="png", buttons=[])
    with gr.Accordion("Compare your runs", open=False, elem_id="compare-runs"):
        runs_table = gr.Dataframe(pd.DataFrame(columns=COMPARE_COLUMNS), interactive=False, elem_id="runs-table")
        runs_plot = gr.LinePlot(x="epoch", y="test accuracy", color="run", title="Test accuracy per epoch",
                                height=260, sort=[str(e) for e in range(1, lab.policy.max_epochs + 1)],
                                elem_id="runs-plot")
    return dict(dataset=dataset, source=source, upload=upload, view=view, arch=arch, start=start, freeze=freeze,
                epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, augment=augment, compile=compile_,
                seed=seed, train=train_btn, stop=stop_btn, status=status, loss=loss_plot, acc=acc_plot, log=log,
                use=use_btn, download=download, summary=model_summary, grid=grid, watch=watch, runs_table=runs_table,
                runs_plot=runs_plot)

"""The Train tab: the form is TrainConfig's form settings, one widget each; a run is a Job in the lab's line.

The form opens on the dataset's recipe (training.config.RECIPES) and follows the dataset it is set to,
saying why; the settings it does not show come from the same recipe. Train submits the run to the job
service (training.jobs) and presents its events; Stop leaves the line or ends the run after its batch.
Below the form, the command that repeats the run and a standalone PyTorch script of it.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from digitlab.data.negatives import has_negatives
from digitlab.data.registry import DATASETS, OWN, SOURCES
from digitlab.data.specs import SPECS
from digitlab.hub import save_model
from digitlab.models import list_models, summary
from digitlab.serve.sessions import Visitor
from digitlab.training import standalone
from digitlab.training.config import FREEZE, RECIPES, TrainConfig, form_settings, train_argv
from digitlab.training.jobs import AlreadyTraining, LineFull
from digitlab.training.protocol import Job
from digitlab.ui import runs
from digitlab.ui.answers import require_trainable
from digitlab.ui.components import stored_file
from digitlab.ui.lab import plain
from digitlab.ui.page import Page
from digitlab.ui.pictures import curves, sample_grid
from digitlab.ui.text import LANGUAGES, L, said, say
from digitlab.ui.train_form import ACTIVE, SCRATCH, widget
from digitlab.vision.imageio import ImageError

SPLITS = {"train": "#2563eb", "test": "#f97316"}  # each split's curve colour, whatever language names it
CURVE_COLOURS = {say(lang, f"train.{split}_split"): colour for lang in LANGUAGES for split, colour in SPLITS.items()}


def offers_decline(dataset: str, view: str) -> bool:
    """Whether the form offers learning to decline: where negatives ship for the data's view
    (digitlab.data.negatives). Hidden, the checkbox says nothing: the run and its command leave it out."""
    return view == "glyph" if dataset == OWN else dataset in SPECS and has_negatives(SPECS[dataset])


class Train:
    """The tab's components and handlers."""

    def __init__(self, page: Page):
        self.page, self.lab = page, page.lab

    def build(self) -> None:
        lab = self.lab
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                self.recipe = gr.Markdown(self.recipe_text("mnist", "en"), elem_id="train-recipe")
                self.form = {}
                for f in form_settings():
                    self.form[f.name] = widget(f.name, lab)
                    if f.name == "dataset":
                        self.images_zip = gr.File(label=L("train.images_zip"), file_types=[".zip"], visible=False,
                                                  elem_id="train-upload")
                with gr.Row():
                    self.start = gr.Button(L("train.button"), variant="primary", elem_id="train-button")
                    self.stop = gr.Button(L("train.stop"), variant="stop", elem_id="stop-button")
                with gr.Accordion(L("train.code"), open=False, elem_id="train-code"):
                    gr.Markdown(L("train.code_note"))
                    self.command = gr.Code(self.command_of(self.default_config()), language="shell",
                                           label=L("train.command"), interactive=False, elem_id="train-command")
                    self.script_button = gr.Button(L("train.script_button"), elem_id="train-script-button")
                    self.script = gr.File(label=L("train.script"), height=80, elem_id="train-script")
            with gr.Column(scale=2):
                self.status = gr.Markdown(L("train.idle"), elem_id="train-status")
                with gr.Row():
                    epoch_order = [str(e) for e in range(1, lab.policy.max_epochs + 1)]  # 1, 2, 3; never 1.5
                    self.loss = gr.LinePlot(x="epoch", y="loss", color="split", color_map=CURVE_COLOURS,
                                            title=L("train.loss"), height=240, x_title=L("train.epoch"),
                                            y_title=L("train.loss_axis"), color_title=L("train.split"), sort=epoch_order, elem_id="loss-plot")
                    self.acc = gr.LinePlot(x="epoch", y="accuracy", color="split", color_map=CURVE_COLOURS,
                                           title=L("train.accuracy"), height=240, x_title=L("train.epoch"),
                                           y_title=L("train.acc_axis"), color_title=L("train.split"), sort=epoch_order, elem_id="acc-plot")
                self.log = gr.Textbox(label=L("train.log"), lines=6, max_lines=12, interactive=False, autoscroll=True,
                                      elem_id="train-log")
                with gr.Row():
                    self.use = gr.Button(L("train.use"), interactive=False, elem_id="use-button")
                    self.download = gr.File(label=L("train.download"), height=90, elem_id="train-download")
                gr.Markdown(L("train.watch"))
                self.watch = gr.HTML("", elem_id="train-watch")
                with gr.Row():
                    self.summary = gr.Code(label=L("train.summary"), language=None, lines=8, scale=3)
                    with gr.Column(scale=2):
                        gr.Markdown(L("train.samples"))
                        self.grid = gr.Image(show_label=False, container=False, interactive=False, format="png",
                                             buttons=[])
        with gr.Group(elem_id="compare-runs"):
            gr.Markdown(L("train.compare"), elem_id="compare-title")
            self.runs_table = gr.Dataframe(pd.DataFrame(), interactive=False, elem_id="runs-table")
            self.runs_plot = gr.HTML("", elem_id="runs-plot")
            self.keep = gr.CheckboxGroup([], label=L("train.keep"), elem_id="runs-keep")
        self.page.follow_model([self.form["init"], self.form["freeze"], self.runs_table, self.runs_plot, self.keep],
                               self.follow)
        self.page.later(self.wire_use)
        self.wire()

    # -- the form ---------------------------------------------------------------------------------------
    @property
    def inputs(self) -> list:
        return [*self.form.values(), self.images_zip]

    @property
    def outputs(self) -> list:
        """In this order for programs: log, loss, accuracy, status, download, summary, samples, use, watched,
        compare table, compare chart; then the keep list."""
        return [self.log, self.loss, self.acc, self.status, self.download, self.summary, self.grid, self.use,
                self.watch, self.runs_table, self.runs_plot, self.keep]

    def default_config(self) -> TrainConfig:
        return RECIPES["mnist"].config(dataset="mnist")

    def recipe_text(self, dataset: str, lang: str) -> str:
        """The dataset's recipe in a sentence; it follows the language switch (the page's load sets it too)."""
        lang = lang if lang in LANGUAGES else "en"
        recipe = RECIPES.get(dataset, RECIPES[OWN])
        if dataset not in SPECS:
            return say(lang, "train.recipe_folder", arch=recipe.arch, epochs=recipe.epochs)
        return say(lang, "train.recipe", dataset=dataset, arch=recipe.arch, epochs=recipe.epochs, lr=recipe.lr,
                   augment=say(lang, "train.with_augment") if recipe.augment else "", reach=recipe.reach,
                   seconds=round(recipe.seconds))

    def command_of(self, cfg: TrainConfig) -> str:
        return "python -m digitlab " + " ".join(train_argv(cfg))

    def follow(self, visitor: Visitor) -> dict:
        table, plot = runs.compare(visitor)
        return {self.runs_table: table, self.runs_plot: plot, **self.keep_choices(visitor)}

    def keep_choices(self, visitor: Visitor) -> dict:
        return {self.keep: gr.CheckboxGroup(choices=[(runs.run_name(r, visitor.lang), r.number) for r in visitor.runs],
                                            value=[r.number for r in visitor.runs if r.kept])}

    def wire(self) -> None:
        lab, form = self.lab, self.form
        self.page.language.change(lab.handler(self.recipe_text), [form["dataset"], self.page.language], [self.recipe],
                                  api_visibility="private", show_progress="hidden")
        form["dataset"].change(lab.handler(self.dataset_changed), [form["dataset"]], [self.recipe, form["data"], form["view"],
                                                                         self.images_zip, form["arch"], form["epochs"],
                                                                         form["batch_size"], form["lr"],
                                                                         form["optimizer"], form["augment"],
                                                                         form["decline"]],
                               api_visibility="private", queue=False)
        form["view"].change(lambda dataset, view: gr.Checkbox(visible=offers_decline(dataset, view)),
                            [form["dataset"], form["view"]], form["decline"], api_visibility="private", queue=False)
        form["init"].change(lambda start: gr.Radio(visible=start == ACTIVE), form["init"], form["freeze"],
                            api_visibility="private", queue=False)
        gr.on([c.change for c in form.values()], self.command_changed, list(form.values()), self.command,
              api_visibility="private", queue=False, trigger_mode="always_last")
        self.script_button.click(lab.handler(self.with_form(self.make_script)), list(form.values()), self.script,
                                 api_name="training_script")
        self.start.click(lab.handler(self.with_form(self.train, "images_zip")), self.inputs, self.outputs,
                         api_name="train",
                         concurrency_limit=lab.policy.max_line + 8, concurrency_id="train",
                         show_progress_on=[self.status])  # the curves and log stay visible as they grow
        self.stop.click(lab.handler(self.stop_run), None, self.status, api_name="stop_training", queue=False)
        self.keep.input(lab.handler(self.set_kept), self.keep, [self.runs_table, self.runs_plot, self.keep],
                        api_visibility="private")

    def wire_use(self) -> None:
        self.page.model_event(self.use.click(self.lab.handler(self.page.showing_model(self.use_trained)), None,
                                             self.page.model_outputs, api_name="use_trained"))

    def dataset_changed(self, dataset: str, request: gr.Request) -> tuple:
        """The form follows the dataset: its recipe's architecture, epochs, batch, learning rate and augmentation;
        learning to decline is offered where negatives ship for its view (digitlab.data.negatives)."""
        recipe = RECIPES.get(dataset, RECIPES[OWN])
        own = dataset == OWN
        visitor = self.lab.sessions.by_session(request.session_hash)
        return (self.recipe_text(dataset, visitor.lang if visitor else "en"), gr.Dropdown(visible=not own),
                gr.Radio(visible=own, value="glyph"), gr.File(visible=own), recipe.arch, recipe.epochs,
                recipe.batch_size, recipe.lr, recipe.optimizer, recipe.augment,
                gr.Checkbox(visible=offers_decline(dataset, "glyph")))  # your own images: handwriting at first

    def command_changed(self, *values: Any) -> str:
        try:
            return self.command_of(self.config_of(dict(zip(self.form, values, strict=True)), None, check=False))
        except Exception:  # a half-typed number: the command shows the last good one
            return gr.skip()

    # -- a run -----------------------------------------------------------------------------------------
    def config_of(self, values: dict, visitor: Visitor | None, check: bool = True) -> TrainConfig:
        """The form's values as a TrainConfig on the dataset's recipe, each value checked: a stranger's "abc"
        or -5 gets a plain message naming the setting."""
        lab, lang = self.lab, visitor.lang if visitor else "en"
        dataset = lab.text(values["dataset"], "dataset", lang)
        if dataset not in DATASETS:
            raise plain(f"Unknown dataset {dataset[:40]!r}; choose from {', '.join(DATASETS)}.")
        data = lab.text(values["data"], "data source", lang) or "auto"
        if check and dataset != OWN and data not in SOURCES:
            if lab.policy.public:
                raise plain(say(lang, "train.public_data"))
            if not Path(data).expanduser().exists():
                raise plain(say(lang, "train.no_folder", path=data))
        form = dict(
            dataset=dataset, data=data, view=values["view"], arch=values["arch"],
            epochs=lab.whole(values["epochs"], "number of epochs", 1, lab.policy.max_epochs, lang=lang),
            batch_size=lab.whole(values["batch_size"], "batch size", 1, lab.policy.max_batch_size, lang=lang),
            lr=lab.positive(values["lr"], "learning rate", 10.0, lang=lang), optimizer=values["optimizer"],
            augment=lab.flag(values["augment"], "augment", lang),
            decline=lab.flag(values["decline"], "decline", lang) and offers_decline(dataset, values["view"]),
            freeze=values["freeze"], compile=lab.flag(values["compile"], "compile", lang),
            seed=lab.whole(values["seed"], "seed", 0, 2**31 - 1, default=0, lang=lang))
        if values["arch"] not in list_models():
            raise plain(f"Unknown architecture {str(values['arch'])[:40]!r}; choose from {', '.join(list_models())}.")
        if values["init"] not in (SCRATCH, ACTIVE) or values["freeze"] not in FREEZE:
            raise plain("Choose how to start: from scratch or from the active model, and what to train.")
        if values["freeze"] != "none" and values["init"] != ACTIVE:
            raise plain(say(lang, "train.head_needs_model"))
        recipe = RECIPES.get(dataset, RECIPES[OWN])
        try:
            return recipe.config(**form, init="active" if values["init"] == ACTIVE else "").validate()
        except ValueError as err:
            raise plain(str(err)) from err

    def with_form(self, fn, *extra: str):
        """A handler taking the form's settings by name (then `extra` inputs, then the request), calling
        fn({setting: value}, *extra values, request): its API parameters are TrainConfig's form settings."""
        names = list(self.form)

        if inspect.isasyncgenfunction(fn):
            async def handler(*args: Any):
                *values, request = args
                async for frame in fn(dict(zip(names, values[:len(names)], strict=True)), *values[len(names):],
                                      request):
                    yield frame
        else:
            def handler(*args: Any):
                *values, request = args
                return fn(dict(zip(names, values[:len(names)], strict=True)), *values[len(names):], request)

        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        handler.__name__ = fn.__name__
        handler.__signature__ = inspect.Signature([inspect.Parameter(name, kind) for name in (*names, *extra)]
                                                  + [inspect.Parameter("request", kind, annotation=gr.Request)])
        handler.__annotations__ = {"request": gr.Request}
        return handler

    async def train(self, values: dict, images_zip: Any, request: gr.Request):
        """Stream the run: (log, loss, accuracy, status, download, summary, samples, use, watched, compare...)."""
        lab = self.lab
        visitor = lab.visitor(request)
        lang = visitor.lang
        cfg = self.config_of(values, visitor)
        if lab.jobs.has(visitor.session):
            raise plain(say(lang, "train.already"))
        if cfg.freeze != "none" and not cfg.init:
            raise plain(say(lang, "train.head_needs_model"))
        number = visitor.next_run_number()
        if cfg.dataset == OWN:
            cfg = cfg_with(cfg, data=str(self.own_images(visitor, images_zip, number)))
        if cfg.init:
            cfg = cfg_with(cfg, init=self.save_active(visitor), arch=visitor.active.predictor.model.arch)
        out = visitor.folder / "runs" / f"run-{number}"
        job = Job(cfg.to_dict(), str(out), argv=self.argv_of(cfg, visitor))
        try:
            ticket = lab.jobs.submit(visitor.session, job)
        except AlreadyTraining:
            raise plain(say(lang, "train.already")) from None
        except LineFull as err:
            raise plain(str(err)) from None
        dropping = visitor.droppable()
        last = None
        async for state in runs.follow(visitor, ticket, number):
            if dropping is not None and state.log == [] and not state.ended:
                state.status += "  \n" + say(lang, "runs.will_drop", number=dropping.number)
            last = state
            yield self.outputs_of(state, visitor)
        if last is not None and last.failed:
            raise plain(last.failed)

    def outputs_of(self, state: runs.RunState, visitor: Visitor) -> tuple:
        """One update of every output; the curves only once there are points to draw."""
        keep = gr.skip()
        names = {split: say(visitor.lang, f"train.{split}_split") for split in SPLITS}
        df = curves(state.records, names).astype({"epoch": "str"}) if state.records else gr.skip()
        answers = state.records[-1].get("watched", []) if state.records else []
        watched = runs.watch_html(state.gallery, answers, state.names)
        if state.run is None:
            return ("\n".join(state.log), df, df, state.status, None, "", gr.skip() if state.gallery else None,
                    gr.Button(interactive=False, variant="secondary"), watched, gr.skip(), gr.skip(), keep)
        run = state.run
        table, plot = runs.compare(visitor)
        notes = self.advice(state, visitor.lang)
        status = state.status + ("  \n" + "  \n".join(notes) if notes else "")
        return ("\n".join(state.log), df, df, status, str(run.zip_path), summary(run.choice.predictor.model),
                run_samples(run), gr.Button(interactive=True, variant="primary"), watched, table, plot,
                self.keep_choices(visitor)[self.keep])

    def advice(self, state: runs.RunState, lang: str) -> list[str]:
        """What a beginner should know about this result: far below the dataset's reach, trained on the sample,
        or test accuracy above training accuracy (and why that is normal)."""
        notes, run = [], state.run
        last = run.records[-1] if run.records else None
        recipe = RECIPES.get(run.config["dataset"])
        if run.data.endswith(" sample"):
            notes.append(say(lang, "train.sample_note", n=state.train_images))
        elif recipe and recipe.reach and run.test_acc is not None and run.test_acc < recipe.reach - 5:
            notes.append(say(lang, "train.far_below", dataset=run.config["dataset"], reach=recipe.reach))
        if last and last["test_acc"] > last["train_acc"]:
            notes.append(say(lang, "train.test_above"))
        return notes

    def own_images(self, visitor: Visitor, upload: Any, number: int) -> Path:
        """The visitor's zip, copied into their own folder under its own name. Gradio's copy is left to Gradio's
        own clean-up: the path comes from the caller, and may name a file another visitor is still to download."""
        lang = visitor.lang
        if upload is None:
            raise plain(say(lang, "train.upload_first"))
        try:
            path = stored_file(upload)
        except ImageError as err:
            raise plain(said(err, lang)) from err
        if path.stat().st_size > self.lab.policy.max_zip_bytes:
            raise plain(say(lang, "train.zip_too_large", mb=self.lab.policy.max_zip_bytes // 2**20))
        stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in Path(path).stem)[:40].strip("-") or "images"
        target = visitor.folder / "uploads" / f"run-{number}" / f"{stem}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return target

    def save_active(self, visitor: Visitor) -> str:
        """The active model as a folder the worker can start from (shipped models already are one)."""
        choice = visitor.active
        require_trainable(choice, visitor.lang)
        if choice.shipped:
            return choice.source
        folder = visitor.folder / "init" / choice.key.replace(":", "-").replace("/", "-")[:80]
        if not folder.is_dir():
            save_model(choice.predictor.model, folder, card=choice.card)
        return str(folder)

    def argv_of(self, cfg: TrainConfig, visitor: Visitor) -> list[str]:
        """The command that repeats the run, for its card: the visitor's files named as theirs, not by path."""
        shown = cfg_with(cfg, data=Path(cfg.data).name if cfg.dataset == OWN else cfg.data,
                         init=visitor.active.source if cfg.init and visitor.active.shipped else
                         ("the-active-model" if cfg.init else ""))
        return train_argv(shown)

    def make_script(self, values: dict, request: gr.Request) -> str:
        visitor = self.lab.visitor(request)
        cfg = self.config_of(values, visitor, check=False)
        path = visitor.folder / "scripts" / f"train_{cfg.arch}_{cfg.dataset}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(standalone.script(cfg))
        return str(path)

    def stop_run(self, request: gr.Request) -> str:
        """Stop this visitor's run (never another's); say so plainly when nothing is running."""
        visitor = self.lab.visitor(request)
        said = self.lab.jobs.stop(visitor.session)
        return say(visitor.lang, {"stopping": "train.stopping", "left": "train.left"}.get(said, "train.nothing"))

    def use_trained(self, request: gr.Request) -> None:
        visitor = self.lab.visitor(request)
        trained = [r for r in visitor.runs if r.kind == "train"]
        if not trained:
            raise plain(say(visitor.lang, "train.first"))
        visitor.active = trained[-1].choice

    def set_kept(self, numbers: Any, request: gr.Request) -> tuple:
        visitor = self.lab.visitor(request)
        chosen = {n for n in numbers if type(n) is int} if isinstance(numbers, list) else set()
        for run in visitor.runs:
            run.kept = run.number in chosen
        table, plot = runs.compare(visitor)
        return table, plot, self.keep_choices(visitor)[self.keep]


def cfg_with(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    from dataclasses import replace

    return replace(cfg, **changes)


def run_samples(run) -> Any:
    """A grid of the training data's first image of each class, as the model saw them (from its sample)."""
    from digitlab.data.registry import load_sample

    spec = run.choice.predictor.spec
    if spec.name not in SPECS:
        return None
    data = load_sample(spec.name)
    return sample_grid(data.train_images, data.train_labels)


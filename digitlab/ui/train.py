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

from digitlab.data.registry import DATASETS, OWN, SOURCES
from digitlab.data.specs import SPECS
from digitlab.hub import save_model
from digitlab.models import list_models, summary
from digitlab.serve.sessions import Visitor
from digitlab.training import standalone
from digitlab.training.config import FREEZE, OPTIMIZERS, RECIPES, TrainConfig, form_settings, train_argv
from digitlab.training.jobs import AlreadyTraining, LineFull
from digitlab.training.protocol import Job
from digitlab.ui import runs
from digitlab.ui.answers import require_trainable
from digitlab.ui.components import CheckedDropdown, CheckedNumber, CheckedRadio, CheckedSlider, stored_file
from digitlab.ui.lab import Lab, plain
from digitlab.ui.page import Page
from digitlab.ui.pictures import curves, sample_grid
from digitlab.ui.text import L, say, words
from digitlab.vision.imageio import ImageError

CURVE_COLOURS = {"train": "#2563eb", "test": "#f97316"}
SCRATCH, ACTIVE = "scratch", "active"

words({
    "tab.train": ("Train", "训练"),
    "train.dataset": ("Dataset", "数据集"),
    "train.dataset.info": ("What the model learns to read. 'folder' is your own images: a zip with one folder per "
                           "class.", "模型要学会识别什么。「folder」是你自己的图片：一个每类一个文件夹的 zip。"),
    "train.data": ("Data source", "数据来源"),
    "train.data.info": ("auto: the full data where it is found or can be downloaded, else the small sample shipped "
                        "with digitlab (the log says which).", "auto：能找到或下载完整数据就用完整数据，否则用 digitlab "
                        "自带的小样本（日志会说明用了哪个）。"),
    "train.data.local": ("; or type a folder on this machine", "；也可以输入本机上的一个文件夹"),
    "train.images_zip": ("Your images (zip of class folders)", "你的图片（每类一个文件夹的 zip）"),
    "train.view": ("Your images are", "你的图片是"),
    "train.view.info": ("Handwriting is read as ink on paper, photos as they are.", "手写字按纸上的墨迹读取，照片按原样读取。"),
    "train.view.glyph": ("handwriting", "手写"), "train.view.photo": ("photos", "照片"),
    "train.arch": ("Architecture", "网络结构"),
    "train.arch.info": ("The network's shape. speednet is small and quick; digitnet deeper and more accurate; mlp "
                        "has no convolutions.", "网络的形状。speednet 小而快；digitnet 更深、更准；mlp 没有卷积层。"),
    "train.epochs": ("Epochs", "轮数（epoch）"),
    "train.epochs.info": ("One epoch is one pass over all the training images.", "一轮就是把所有训练图片看一遍。"),
    "train.batch_size": ("Batch size", "批大小（batch）"),
    "train.batch_size.info": ("Images the model looks at before each step of learning.", "每学习一步之前模型看的图片数。"),
    "train.lr": ("Peak learning rate", "最大学习率"),
    "train.lr.info": ("How big each step is. It rises to this and falls to almost nothing by the end (one-cycle).",
                      "每一步走多大。先升到这个值，再在结束前降到几乎为零（one-cycle）。"),
    "train.optimizer": ("Optimizer", "优化器"),
    "train.optimizer.info": ("How each step is taken: AdamW adapts to each weight; SGD follows the gradient with "
                             "momentum.", "每一步怎么走：AdamW 为每个权重自适应；SGD 带动量沿梯度走。"),
    "train.augment": ("Augment", "数据增强"),
    "train.augment.info": ("Shows each image a little shifted, turned, thicker or thinner (photos: mirrored), so "
                           "the model reads writing it has not seen.",
                           "每张图会被稍微平移、旋转、加粗或变细（照片：镜像），让模型能读懂没见过的写法。"),
    "train.init": ("Start", "起点"),
    "train.init.info": ("From scratch, or from the active model's weights (a new head when the classes differ).",
                        "从头开始，或从当前模型的权重开始（类别不同时换一个新的输出层）。"),
    "train.init.scratch": ("from scratch", "从头开始"), "train.init.active": ("from the active model", "从当前模型开始"),
    "train.freeze": ("When starting from a model", "从模型开始时"),
    "train.freeze.info": ("Fine-tune every layer, or train only the new head on top of the learned features.",
                          "微调所有层，或只训练新的输出层（保留学到的特征）。"),
    "train.freeze.none": ("fine-tune everything", "全部微调"), "train.freeze.backbone": ("train only the new head",
                                                                                      "只训练新的输出层"),
    "train.compile": ("torch.compile", "torch.compile"),
    "train.compile.info": ("Compiles the network for speed; falls back with a note where it cannot run.",
                           "编译网络以加快速度；无法运行时会自动退回并提示。"),
    "train.seed": ("Seed", "随机种子"),
    "train.seed.info": ("The same seed and settings give the same run.", "相同的种子和设置会得到相同的训练结果。"),
    "train.button": ("Train", "开始训练"), "train.stop": ("Stop", "停止"),
    "train.idle": ("Pick the settings and press **Train**; the active model stays in use.",
                   "选好设置后按 **开始训练**；当前模型会一直可用。"),
    "train.loss": ("Loss", "损失"), "train.accuracy": ("Accuracy (%)", "准确率（%）"), "train.epoch": ("epoch", "轮"),
    "train.log": ("Log", "日志"), "train.use": ("Use this model", "使用这个模型"),
    "train.download": ("Download (zip: safetensors + config + card)", "下载（zip：safetensors + 配置 + 模型卡）"),
    "train.watch": ("**Test images, as the model reads them after each epoch** (green: right, red: wrong)",
                    "**每轮之后模型对测试图片的识别**（绿色：对，红色：错）"),
    "train.summary": ("Model summary", "模型结构"), "train.samples": ("**Training samples**", "**训练样本**"),
    "train.code": ("The code behind this run", "这次训练的代码"),
    "train.command": ("The command that repeats it", "重复这次训练的命令"),
    "train.script_button": ("Make a standalone PyTorch script", "生成独立的 PyTorch 脚本"),
    "train.script": ("train.py: torch, torchvision and safetensors only", "train.py：只需要 torch、torchvision 和 safetensors"),
    "train.code_note": ("The script trains the same architecture on the same data with the same recipe, written to "
                        "be read like a tutorial; its saved folder loads back into digitlab.",
                        "这个脚本用同样的数据、同样的方法训练同样的网络，写得像教程一样好读；它保存的文件夹可以再载入 digitlab。"),
    "train.compare": ("### Compare your runs", "### 比较你的训练"),
    "train.keep": ("Keep these runs (never dropped to make room)", "保留这些训练（不会为腾空间而删除）"),
    "train.recipe": ("**{dataset}**: {arch}, {epochs} epochs at learning rate {lr:g}{augment}. On the full data it "
                     "reaches about {reach}% in {seconds} s on two CPU cores.",
                     "**{dataset}**：{arch}，{epochs} 轮，学习率 {lr:g}{augment}。在完整数据上，两个 CPU 核大约 "
                     "{seconds} 秒达到约 {reach}%。"),
    "train.recipe_folder": ("**Your images**: {arch}, {epochs} epochs, augmented: few images need many passes and "
                            "varied copies.", "**你的图片**：{arch}，{epochs} 轮，带数据增强：图片少，需要多看几遍、"
                            "多些变化。"),
    "train.with_augment": (", augmented", "，带数据增强"),
    "train.far_below": ("This is well below what {dataset} usually reaches with these settings (about {reach}%): "
                        "try more epochs, the recipe's learning rate, or the full data instead of the sample.",
                        "这比 {dataset} 用这些设置通常能达到的（约 {reach}%）低很多：试试更多轮数、推荐的学习率，"
                        "或用完整数据代替样本。"),
    "train.sample_note": ("This run learned from the small sample ({n:,} images); the full data reaches more.",
                          "这次训练只用了小样本（{n:,} 张图片）；用完整数据能达到更高。"),
    "train.test_above": ("Test accuracy is above training accuracy here, and that is normal: training accuracy is "
                         "counted on augmented images while the weights still change during the epoch (and dropout "
                         "is on); test images are read clean by the finished epoch's model.",
                         "这里测试准确率高于训练准确率，这是正常的：训练准确率是在增强过的图片上、在一轮中权重还在变化时"
                         "（并且开着 dropout）统计的；测试图片是干净的，由一轮结束后的模型读取。"),
    "train.already": ("You already have a training running; stop it or wait for it to end.",
                      "你已经有一个训练在进行了；请先停止它或等它结束。"),
    "train.public_data": ("This public lab trains on named data only: choose auto, sample or download, or upload a "
                          "zip of your own images.", "这个公共实验室只用有名字的数据训练：请选择 auto、sample 或 "
                          "download，或上传你自己的图片 zip。"),
    "train.no_folder": ("The data folder {path} does not exist.", "数据文件夹 {path} 不存在。"),
    "train.upload_first": ("Upload a zip of your images first: one folder per class, e.g. cats/1.jpg, dogs/2.png.",
                           "请先上传你的图片 zip：每类一个文件夹，例如 cats/1.jpg、dogs/2.png。"),
    "train.zip_too_large": ("The zip is too large: the limit is {mb} MB.", "zip 太大了：上限是 {mb} MB。"),
    "train.head_needs_model": ("Training only the head needs a model to start from: choose 'from the active model'.",
                               "只训练输出层需要一个起点模型：请选择「从当前模型开始」。"),
    "train.stopping": ("Stopping after the current batch…", "将在当前这一批之后停止…"),
    "train.left": ("Leaving the line; nothing will be trained.", "已离开队列；不会进行训练。"),
    "train.nothing": ("Nothing is training right now.", "现在没有正在进行的训练。"),
    "train.first": ("Train a model first; there is no new model to use yet.", "请先训练一个模型；现在还没有新模型可用。"),
})


def widget(name: str, lab: Lab) -> gr.components.Component:
    """The form's widget of one TrainConfig setting."""
    policy, label, info = lab.policy, L(f"train.{name}"), L(f"train.{name}.info")
    if name == "dataset":
        return CheckedDropdown(list(DATASETS), value="mnist", label=label, info=info, elem_id="train-dataset")
    if name == "data":
        return CheckedDropdown(list(SOURCES), value="auto", label=label, info=info, elem_id="train-source",
                               allow_custom_value=not policy.public)  # a folder on this machine, locally
    if name == "view":
        return CheckedRadio([(L("train.view.glyph"), "glyph"), (L("train.view.photo"), "photo")], value="glyph",
                            label=label, info=info, visible=False, elem_id="train-view")
    if name == "arch":
        return CheckedDropdown(list_models(), value="speednet", label=label, info=info, elem_id="train-arch")
    if name == "epochs":
        return CheckedSlider(1, policy.max_epochs, value=3, step=1, label=label, info=info, elem_id="train-epochs")
    if name == "batch_size":
        return CheckedSlider(16, policy.max_batch_size, value=256, step=16, label=label, info=info,
                             elem_id="train-batch")
    if name == "lr":
        return CheckedNumber(1e-2, label=label, info=info, minimum=0, elem_id="train-lr")
    if name == "optimizer":
        return CheckedRadio(list(OPTIMIZERS), value="adamw", label=label, info=info, elem_id="train-optimizer")
    if name == "augment":
        return gr.Checkbox(True, label=label, info=info, elem_id="train-augment")
    if name == "init":
        return CheckedRadio([(L("train.init.scratch"), SCRATCH), (L("train.init.active"), ACTIVE)], value=SCRATCH,
                            label=label, info=info, elem_id="train-start")
    if name == "freeze":
        return CheckedRadio([(L("train.freeze.none"), "none"), (L("train.freeze.backbone"), "backbone")],
                            value="none", label=label, info=info, visible=False, elem_id="train-freeze")
    if name == "compile":
        return gr.Checkbox(False, label=label, info=info, elem_id="train-compile")
    if name == "seed":
        return CheckedNumber(0, precision=0, label=label, info=info, elem_id="train-seed")
    raise ValueError(f"the Train form has no widget for the setting {name!r}")


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
                                            sort=epoch_order, elem_id="loss-plot")
                    self.acc = gr.LinePlot(x="epoch", y="accuracy", color="split", color_map=CURVE_COLOURS,
                                           title=L("train.accuracy"), height=240, x_title=L("train.epoch"),
                                           sort=epoch_order, elem_id="acc-plot")
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
        return {self.keep: gr.CheckboxGroup(choices=[(runs.run_name(r), r.number) for r in visitor.runs],
                                            value=[r.number for r in visitor.runs if r.kept])}

    def wire(self) -> None:
        lab, form = self.lab, self.form
        form["dataset"].change(lab.handler(self.dataset_changed), [form["dataset"]], [self.recipe, form["data"], form["view"],
                                                                         self.images_zip, form["arch"], form["epochs"],
                                                                         form["batch_size"], form["lr"],
                                                                         form["optimizer"], form["augment"]],
                               api_visibility="private", queue=False)
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
        """The form follows the dataset: its recipe's architecture, epochs, batch, learning rate and augmentation."""
        recipe = RECIPES.get(dataset, RECIPES[OWN])
        own = dataset == OWN
        visitor = self.lab.sessions.by_session(request.session_hash)
        return (self.recipe_text(dataset, visitor.lang if visitor else "en"), gr.Dropdown(visible=not own), gr.Radio(visible=own),
                gr.File(visible=own), recipe.arch, recipe.epochs, recipe.batch_size, recipe.lr, recipe.optimizer,
                recipe.augment)

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
            augment=bool(values["augment"]), freeze=values["freeze"], compile=bool(values["compile"]),
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
            yield self.frame(state, visitor)
        if last is not None and last.failed:
            raise plain(last.failed)

    def frame(self, state: runs.RunState, visitor: Visitor) -> tuple:
        """One update of every output; the curves only once there are points to draw."""
        keep = gr.skip()
        df = curves(state.records).astype({"epoch": "str"}) if state.records else gr.skip()
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
            raise plain(str(err)) from err
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


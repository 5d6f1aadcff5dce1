"""The Teach tab: the visitor's corrections, a short fine-tune on them, and sharing them.

Every "Wrong? It's a …" saved on Sketch or Upload lands here, as the model read it, with the classes of
the model it was made with. A fine-tune on them (with a replay of the model's own data, training.finetune)
is a job in the lab's line like any run; the corrections go as a zip of class folders or to the Hub as a
dataset repo, as the visitor.
"""

from __future__ import annotations

import html
import shutil
import zipfile
from collections import Counter
from typing import Any

import gradio as gr
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from digitlab.data.dataset import safe_name
from digitlab.data.negatives import OWN_FOLDER
from digitlab.data.specs import SPECS
from digitlab.hub.transport import HUB_ERRORS, hub_error
from digitlab.serve.sessions import Correction, Visitor
from digitlab.training.finetune import NOT_ONE, finetune_config, save_corrections
from digitlab.training.jobs import AlreadyTraining, LineFull
from digitlab.training.protocol import Job
from digitlab.ui import runs
from digitlab.ui.answers import not_one_text, require_trainable
from digitlab.ui.components import CheckedNumber
from digitlab.ui.evaluate import crisp
from digitlab.ui.lab import as_text, plain
from digitlab.ui.page import Page
from digitlab.ui.text import L, say, words
from digitlab.vision.pictures import png_bytes, view_image

words({
    "tab.teach": ("Teach", "教它"),
    "teach.intro": ("Every **Wrong? It's a …** you save on Sketch or Upload lands here, as the model read it. "
                    "Fine-tune the active model on them (mixed with its own training data, so it does not forget), "
                    "then press **Use this model**. For a drawing that is no digit at all but got an answer, pick **not "
                    "a digit** (**none of these** for other models that can decline): the fine-tune teaches it to "
                    "say so. Your browser keeps your corrections when you reload the page.",
                    "你在「手写」或「上传」页保存的每个 **认错了？它是……** 都会出现在这里，保留模型当时看到的样子。"
                    "用它们微调当前模型（混入模型自己的训练数据，这样它不会忘记学过的东西），然后按 **使用这个模型**。"
                    "如果画的根本不是数字却得到了答案，就选 **不是数字**（其他能拒绝的模型选 **都不是**）：微调会教它这么说。"
                    "刷新页面后，你的浏览器会保留这些更正。"),
    "teach.gallery": ("Your corrections (click one to pick it)", "你的更正（点一个选中它）"),
    "teach.none": ("No corrections yet.", "还没有更正。"),
    "teach.count": ("{n} correction(s) in your session; {fit} of them fit the active model (it reads {names}).",
                    "你的会话里有 {n} 个更正；其中 {fit} 个适用于当前模型（它识别 {names}）。"),
    "teach.other": (" The others were made with another model's classes ({other}): pick that model to use them.",
                    " 其余的是用另一个模型的类别（{other}）做的：选回那个模型才能用它们。"),
    "teach.cannot_decline": (" {n} of them say it is none of the classes, and this model answers everything (it did "
                             "not learn to decline): they cannot teach it.",
                             " 其中 {n} 个说它都不是，而这个模型对什么都会给出答案（它没有学过拒绝）：这些更正教不了它。"),
    "teach.only_not_one": ("Your corrections for this model's classes all say it is none of them, and this model answers "
                           "everything (it did not learn to decline): they cannot teach it. Pick a model that declines, "
                           "or save a correction with a class.",
                           "你对这个模型的更正都说它都不是，而这个模型对什么都会给出答案（它没有学过拒绝）：这些更正教不了它。"
                           "请选一个会拒绝的模型，或保存一个指明类别的更正。"),
    "teach.index": ("Correction number", "更正编号"), "teach.number": ("correction number", "更正编号"),
    "teach.remove": ("Remove it", "删除它"), "teach.clear": ("Clear all", "全部清除"),
    "teach.finetune": ("Fine-tune on my corrections", "用我的更正微调"),
    "teach.log": ("Log", "日志"), "teach.use": ("Use this model", "使用这个模型"),
    "teach.export": ("Download my corrections (zip)", "下载我的更正（zip）"),
    "teach.exported": ("Corrections (one folder per class)", "更正（每类一个文件夹）"),
    "teach.push_title": ("Push them to the Hub as a dataset", "推送到 Hub 作为数据集"),
    "teach.repo": ("Dataset repo id", "数据集仓库 id"), "teach.private": ("Private repo", "私有仓库"),
    "teach.push": ("Push corrections", "推送更正"),
    "teach.first": ("Save a correction first: draw or upload, press Wrong?, pick the right label.",
                    "请先保存一个更正：手写或上传，按「认错了？」，选出正确的标签。"),
    "teach.first_fit": ("None of your corrections are for the active model's classes; pick the model you made them "
                        "with, or save one with this model.", "你的更正都不属于当前模型的类别；请选回做更正时用的模型，"
                        "或用这个模型保存一个更正。"),
    "teach.unknown_data": ("Fine-tuning replays the model's own training data, and {name} is not known here; correct "
                           "a built-in or a freshly trained model.", "微调会重放模型自己的训练数据，而这里不知道 {name}；"
                           "请更正内置模型或刚训练的模型。"),
    "teach.nothing_export": ("There are no corrections for the active model's classes to export yet.",
                             "还没有属于当前模型类别的更正可以导出。"),
    "teach.bad_repo": ("{repo} is not a Hub repo id; use the form 'your-name/my-digits'.",
                       "{repo} 不是 Hub 仓库 id；格式应为「你的名字/my-digits」。"),
    "teach.pushed": ("Pushed your corrections to [{repo}]({url}) (commit `{commit}`).",
                     "已把你的更正推送到 [{repo}]({url})（提交 `{commit}`）。"),
    "teach.was_read": ("{label} (was read {was})", "{label}（被认成 {was}）"),
})


class Teach:
    """The tab's components and handlers."""

    def __init__(self, page: Page):
        self.page, self.lab = page, page.lab

    def build(self) -> None:
        lab = self.lab
        gr.Markdown(L("teach.intro"))
        with gr.Row():
            with gr.Column(scale=3):
                self.gallery = gr.Gallery(label=L("teach.gallery"), columns=8, height=300, elem_id="corrections",
                                          allow_preview=False, preview=False, object_fit="contain", format="png")
                self.status = gr.Markdown(L("teach.none"), elem_id="corrections-status")
                with gr.Row():
                    self.index = CheckedNumber(1, precision=0, label=L("teach.index"), minimum=1, scale=1,
                                               elem_id="correction-index")
                    self.remove = gr.Button(L("teach.remove"), scale=1, elem_id="remove-correction")
                    self.clear = gr.Button(L("teach.clear"), variant="stop", scale=1, elem_id="clear-corrections")
            with gr.Column(scale=2):
                self.finetune = gr.Button(L("teach.finetune"), variant="primary", elem_id="finetune")
                self.tune_status = gr.Markdown("", elem_id="finetune-status")
                self.tune_log = gr.Textbox(label=L("teach.log"), lines=5, interactive=False, elem_id="finetune-log")
                self.use = gr.Button(L("teach.use"), interactive=False, elem_id="finetune-use")
                self.export = gr.Button(L("teach.export"), elem_id="export-corrections")
                self.exported = gr.File(label=L("teach.exported"), height=80)
                with gr.Accordion(L("teach.push_title"), open=False):
                    self.repo_id = gr.Textbox(label=L("teach.repo"), placeholder="your-name/my-digit-corrections",
                                              max_length=lab.policy.max_text)
                    self.private = gr.Checkbox(True, label=L("teach.private"))
                    self.push = gr.Button(L("teach.push"))
                    self.pushed = gr.Markdown()
        self.page.follow_model([self.gallery, self.status], self.listed)
        self.page.later(self.wire)

    def wire(self) -> None:
        lab, page = self.lab, self.page
        listed = [self.gallery, self.status, self.index]
        page.store.change(lab.handler(self.show), None, listed, api_visibility="private", show_progress="hidden")
        self.gallery.select(lab.handler(self.pick), None, self.index, api_visibility="private", queue=False)
        page.remember(self.remove.click(lab.handler(self.remove_one), self.index, listed,
                                        api_name="remove_correction", show_progress_on=[self.status]))
        page.remember(self.clear.click(lab.handler(self.clear_all), None, listed, api_name="clear_corrections",
                                       show_progress_on=[self.status]))
        self.finetune.click(lab.handler(self.fine_tune), None, [self.tune_log, self.tune_status, self.use],
                            api_name="finetune", concurrency_limit=lab.policy.max_line + 8, concurrency_id="train",
                            show_progress_on=[self.tune_status])
        page.model_event(self.use.click(lab.handler(page.showing_model(self.use_tuned)), None, page.model_outputs,
                                        api_name="use_finetuned"))
        self.export.click(lab.handler(self.export_zip), None, self.exported, api_name="export_corrections")
        self.push.click(lab.handler(self.push_dataset), [self.repo_id, page.hub_token, self.private], self.pushed,
                        api_name="push_corrections", show_progress_on=[self.pushed])

    # -- the list -----------------------------------------------------------------------------------------
    def of_classes(self, visitor: Visitor) -> list[Correction]:
        """The corrections made with the active model's classes (and views of its shape)."""
        predictor = visitor.active.predictor
        spec = predictor.spec
        shape = (spec.channels, spec.size, spec.size)
        return [c for c in visitor.corrections if tuple(c.names) == tuple(predictor.names) and c.view.shape == shape]

    def fit(self, visitor: Visitor) -> list[Correction]:
        """Those the active model can learn from: a model that answers everything learns nothing from NOT_ONE."""
        declines = visitor.active.predictor.decline is not None
        return [c for c in self.of_classes(visitor) if c.label != NOT_ONE or declines]

    def listed(self, visitor: Visitor) -> dict:
        lang = visitor.lang
        items = []
        for c in visitor.corrections:
            label = c.names[c.label] if c.label != NOT_ONE else not_one_text(c.names, lang)
            items.append((crisp(c.view), say(lang, "teach.was_read", label=label, was=c.names[c.answer])))
        if not visitor.corrections:
            text = say(lang, "teach.none")
        else:
            names = visitor.active.predictor.names
            fit = self.fit(visitor)
            text = say(lang, "teach.count", n=len(visitor.corrections), fit=len(fit),
                       names=as_text(", ".join(names[:10]) + (", …" if len(names) > 10 else "")))
            mine = {id(c) for c in self.of_classes(visitor)}
            others = {", ".join(c.names[:6]) for c in visitor.corrections if id(c) not in mine}
            if others:
                text += say(lang, "teach.other", other=as_text("; ".join(sorted(others))[:120]))
            if len(mine) > len(fit):
                text += say(lang, "teach.cannot_decline", n=len(mine) - len(fit))
        return {self.gallery: items, self.status: text}

    def show(self, request: gr.Request) -> tuple:
        visitor = self.lab.visitor(request)
        listed = self.listed(visitor)
        return listed[self.gallery], listed[self.status], max(1, len(visitor.corrections))

    def pick(self, event: gr.EventData) -> Any:
        """Clicking a thumbnail picks it: its number goes into the box Remove reads."""
        index = (event._data or {}).get("index") if isinstance(event._data, dict) else None
        return index + 1 if type(index) is int and index >= 0 else gr.skip()

    def remove_one(self, index: Any, request: gr.Request) -> tuple:
        visitor = self.lab.visitor(request)
        index = self.lab.whole(index, say(visitor.lang, "teach.number"), 1, max(1, len(visitor.corrections)),
                               lang=visitor.lang)
        with visitor.lock:
            if visitor.corrections:
                visitor.corrections.pop(index - 1)
        return self.show(request)

    def clear_all(self, request: gr.Request) -> tuple:
        visitor = self.lab.visitor(request)
        with visitor.lock:
            visitor.corrections.clear()
        return self.show(request)

    # -- fine-tuning ----------------------------------------------------------------------------------------
    async def fine_tune(self, request: gr.Request):
        """Fine-tune the visitor's active model on their corrections; streamed as (log, status, use-button)."""
        lab = self.lab
        visitor = lab.visitor(request)
        lang, choice = visitor.lang, visitor.active
        require_trainable(choice, lang)
        if not visitor.corrections:
            raise plain(say(lang, "teach.first"))
        corrections = self.fit(visitor)
        if not corrections:
            raise plain(say(lang, "teach.only_not_one" if self.of_classes(visitor) else "teach.first_fit"))
        spec = choice.predictor.spec
        run = next((r for r in visitor.runs if r.choice is choice), None)
        if run is not None:
            dataset, source = run.config["dataset"], run.config["data"]
        elif spec.name in SPECS:
            dataset, source = spec.name, "auto"
        else:
            raise plain(say(lang, "teach.unknown_data", name=repr(spec.name[:40])))
        if lab.jobs.has(visitor.session):
            raise plain(say(lang, "train.already"))
        number = visitor.next_run_number()
        init = self.page.train.save_active(visitor)
        path = save_corrections(visitor.folder / "corrections" / f"run-{number}.npz", [c.view for c in corrections],
                                [c.label for c in corrections])
        cfg = finetune_config(init, dataset, source, choice.predictor.model.arch,
                              decline=choice.predictor.decline is not None)
        job = Job(cfg.to_dict(), str(visitor.folder / "runs" / f"run-{number}"), corrections=str(path))
        try:
            ticket = lab.jobs.submit(visitor.session, job, kind="finetune")
        except AlreadyTraining:
            raise plain(say(lang, "train.already")) from None
        except LineFull as err:
            raise plain(str(err)) from None
        async for state in runs.follow(visitor, ticket, number, kind="finetune"):
            use = gr.Button(interactive=state.run is not None, variant="primary" if state.run else "secondary")
            yield "\n".join(state.log), state.status, use
        if state.failed:
            raise plain(state.failed)

    def use_tuned(self, request: gr.Request) -> None:
        visitor = self.lab.visitor(request)
        tuned = [r for r in visitor.runs if r.kind == "finetune"]
        if not tuned:
            raise plain(say(visitor.lang, "train.first"))
        visitor.active = tuned[-1].choice

    # -- sharing ---------------------------------------------------------------------------------------------
    def export_zip(self, request: gr.Request) -> str:
        """The corrections as a zip of <label>/<n>.png folders: the own-images layout, ready to train on."""
        visitor = self.lab.visitor(request)
        corrections = self.fit(visitor)
        if not corrections:
            raise plain(say(visitor.lang, "teach.nothing_export"))
        names = visitor.active.predictor.names
        labels = visitor.active.predictor.spec.labels
        path = visitor.folder / "corrections" / "my-corrections.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as z:
            for i, c in enumerate(corrections):
                folder = safe_name(labels[c.label]) if c.label != NOT_ONE else OWN_FOLDER
                z.writestr(f"corrections/{folder}/{i:04d}.png", png_bytes(view_image(c.view)))
            z.writestr("corrections/README.md", corrections_card(names, corrections, visitor.active.title))
        return str(path)

    def push_dataset(self, repo_id: Any, token: Any, private: Any, request: gr.Request,
                     oauth_token: gr.OAuthToken | None = None) -> str:
        """Upload the corrections to a Hub dataset repo, as the visitor (never the server's own token)."""
        from digitlab.ui.hub import NEEDS_TOKEN

        lab = self.lab
        visitor = lab.visitor(request)
        repo_id, private = lab.text(repo_id, "repo id", visitor.lang), lab.flag(private, "private", visitor.lang)
        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            raise plain(say(visitor.lang, "teach.bad_repo", repo=repr(repo_id[:96]))) from None
        acting = self.page.hub.identity(token, oauth_token, visitor.lang)
        if acting is None:
            acting = get_token()
        if not acting:
            raise plain(NEEDS_TOKEN if lab.policy.public else "Pushing needs a Hub token: paste a write token.")
        zipped = self.export_zip(request)
        folder = zipped.removesuffix(".zip")
        shutil.unpack_archive(zipped, folder)
        try:
            api = HfApi(token=acting)
            repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True).repo_id
            info = api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=f"{folder}/corrections",
                                     commit_message="Corrections made in digitlab")
        except HUB_ERRORS as err:
            raise plain(str(hub_error(err, repo_id, push=True))) from err
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return say(visitor.lang, "teach.pushed", repo=as_text(repo), url=f"{api.endpoint}/datasets/{repo}",
                   commit=info.oid[:8])


def corrections_card(names: list[str], corrections: list[Correction], model: str) -> str:
    counts = Counter(names[c.label] if c.label != NOT_ONE else f"{OWN_FOLDER}/ (none of the classes)"
                     for c in corrections)
    rows = "\n".join(f"| {html.escape(n)} | {k} |" for n, k in counts.items())
    none = (f" Images in `{OWN_FOLDER}/` are none of the classes: the model should have declined them, and a run "
            "that learns to decline (the default) learns them so.") if any(
        c.label == NOT_ONE for c in corrections) else ""
    return ("---\nlicense: cc-by-4.0\ntags:\n- digitlab\n- image-classification\n---\n\n"
            f"# Corrections made in digitlab\n\nImages a model ({html.escape(model)}) read wrong, with the label "
            "they should have had, as the model saw them. One folder per class (torchvision's ImageFolder "
            "layout): train on them with `python -m digitlab train --dataset folder --data-dir .`." + none +
            f"\n\n| class | images |\n|---|---|\n{rows}\n")

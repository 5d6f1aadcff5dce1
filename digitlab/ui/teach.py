"""Corrections that teach: "Wrong? It's a …" saves what the model read with the right label, in the
visitor's session; a short fine-tune on them (with a replay of the model's own data) makes the
visitor's next model, theirs once they press Use; the corrections go as a zip or to the Hub as a
dataset repo, as the visitor.
"""

from __future__ import annotations

import html
import shutil
import zipfile
from typing import Any

import gradio as gr
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from digitlab import hub
from digitlab.data.dataset import safe_name
from digitlab.data.specs import SPECS
from digitlab.serve.sessions import Correction, Visitor
from digitlab.training.finetune import finetune_config, save_corrections
from digitlab.ui.components import CheckedNumber
from digitlab.ui.hubtab import NEEDS_TOKEN, HubActions
from digitlab.ui.insight import crisp
from digitlab.ui.lab import Lab, plain
from digitlab.ui.predict import read_sketch
from digitlab.ui.training import PROGRESS, Training
from digitlab.vision.imageio import EmptyImageError, ImageError
from digitlab.vision.pictures import png_bytes, view_image

MIN_CORRECTIONS = 1


class Teaching:
    """Handlers of "Wrong?" and of the Teach tab."""

    def __init__(self, lab: Lab, training: Training, hub_actions: HubActions):
        self.lab, self.training, self.hub = lab, training, hub_actions

    # -- /correct -----------------------------------------------------------------------------------
    def label_index(self, visitor: Visitor, label: Any) -> int:
        names = visitor.active.predictor.names
        label = self.lab.text(label, "label")
        if label not in names:
            raise plain(f"Pick what it really is from the model's classes ({', '.join(names[:15])}).")
        return names.index(label)

    def save(self, visitor: Visitor, view, label: Any) -> tuple[list, str, str]:
        index = self.label_index(visitor, label)
        choice = visitor.active
        answer = int(choice.predictor.probabilities([view])[0].argmax())
        visitor.add_correction(Correction(view, index, answer, choice.key))
        names = choice.predictor.names
        said = f"read as {names[answer]}" if answer != index else "already read right"
        count = f"{len(visitor.corrections)} correction(s) in your session"
        return (self.gallery(visitor), f"Saved: a **{names[index]}** ({said}). {count}; fine-tune on them in the "
                "Teach tab.", count + ".")

    def correct_sketch(self, sketch: dict | None, label: Any, request: gr.Request) -> tuple[list, str, str]:
        visitor = self.lab.visitor(request)
        view = read_sketch(sketch, visitor.active)
        if isinstance(view, str):
            raise plain("Draw something first: there is nothing to correct yet.")
        return self.save(visitor, view, label)

    def correct_upload(self, image: Any, label: Any, request: gr.Request) -> tuple[list, str, str]:
        visitor = self.lab.visitor(request)
        if not image or isinstance(image, dict):
            raise plain("Upload an image first: there is nothing to correct yet.")
        try:
            view = visitor.active.predictor.prepare(image)
        except (EmptyImageError, ImageError) as err:
            raise plain(str(err)) from err
        return self.save(visitor, view, label)

    # -- the corrections gallery ------------------------------------------------------------------------
    def gallery(self, visitor: Visitor) -> list:
        names = visitor.active.predictor.names
        items = []
        for c in visitor.corrections:
            label = names[c.label] if c.label < len(names) else str(c.label)
            was = names[c.answer] if c.answer < len(names) else str(c.answer)
            items.append((crisp(c.view), f"{label} (was read {was})"))
        return items

    def show(self, request: gr.Request) -> tuple[list, str]:
        visitor = self.lab.visitor(request)
        return self.gallery(visitor), f"{len(visitor.corrections)} correction(s) in your session."

    def remove(self, index: Any, request: gr.Request) -> tuple[list, str]:
        visitor = self.lab.visitor(request)
        index = self.lab.whole(index, "correction number", 1, max(1, len(visitor.corrections)))
        with visitor.lock:
            if visitor.corrections:
                visitor.corrections.pop(index - 1)
        return self.show(request)

    def clear(self, request: gr.Request) -> tuple[list, str]:
        visitor = self.lab.visitor(request)
        with visitor.lock:
            visitor.corrections.clear()
        return self.show(request)

    def mine(self, visitor: Visitor) -> list[Correction]:
        """The corrections that fit the active model (made with a model of the same classes and view)."""
        spec = visitor.active.predictor.spec
        shape = (spec.channels, spec.size, spec.size)
        return [c for c in visitor.corrections if c.view.shape == shape and c.label < spec.num_classes]

    # -- /finetune -----------------------------------------------------------------------------------------
    def finetune(self, request: gr.Request, progress: gr.Progress = PROGRESS):
        """Fine-tune the visitor's active model on their corrections; streamed as (log, status, use-button)."""
        visitor = self.lab.visitor(request)
        corrections = self.mine(visitor)
        if len(corrections) < MIN_CORRECTIONS:
            raise plain("Save a correction first: draw or upload, press Wrong?, pick the right label.")
        choice = visitor.active
        spec = choice.predictor.spec
        run = next((r for r in visitor.runs if r.choice is choice), None)
        if run is not None:
            dataset, source = run.config["dataset"], run.config["data"]
        elif spec.name in SPECS:
            dataset, source = spec.name, "auto"
        else:
            raise plain(f"Fine-tuning replays the model's own training data, and {spec.name!r} is not known "
                        "here; correct a built-in or a freshly trained model.")
        with visitor.lock:
            if visitor.job is not None or visitor.waiting:
                raise plain("You already have a training running; stop it or wait for it to end.")
            visitor.waiting, visitor.stop_requested = True, False
        try:
            init = self.training.save_active(visitor)
            path = save_corrections(visitor.folder / "corrections" / f"set-{visitor.next_run_number()}.npz",
                                    [c.view for c in corrections], [c.label for c in corrections])
            cfg = finetune_config(init, dataset, source)
        except (ValueError, OSError) as err:
            visitor.waiting = False
            raise plain(str(err)) from err
        for frame in self.training.run(visitor, cfg, spec.view, progress, kind="finetune", corrections=str(path)):
            yield frame[0], frame[3], frame[7]

    # -- export and /push_corrections -------------------------------------------------------------------
    def export(self, request: gr.Request) -> str:
        """The corrections as a zip of <label>/<n>.png folders: the own-images layout, ready to train on."""
        visitor = self.lab.visitor(request)
        corrections = self.mine(visitor)
        if not corrections:
            raise plain("There are no corrections for the active model's classes to export yet.")
        names = visitor.active.predictor.names
        labels = visitor.active.predictor.spec.labels
        path = visitor.folder / "corrections" / f"corrections-{visitor.next_run_number()}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as z:
            for i, c in enumerate(corrections):
                z.writestr(f"corrections/{safe_name(labels[c.label])}/{i:04d}.png", png_bytes(view_image(c.view)))
            z.writestr("corrections/README.md", corrections_card(names, corrections, visitor.active.title))
        return str(path)

    def push(self, repo_id: Any, token: Any, private: Any, request: gr.Request,
             oauth_token: gr.OAuthToken | None = None) -> str:
        """Upload the corrections to a Hub dataset repo, as the visitor (never the server's own token)."""
        lab = self.lab
        repo_id = lab.text(repo_id, "repo id")
        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            raise plain(f"{repo_id!r} is not a Hub repo id; use the form 'your-name/my-digits'.") from None
        acting = self.hub.identity(token, oauth_token)
        if acting is None:
            acting = get_token()
        if not acting:
            raise plain(NEEDS_TOKEN if lab.policy.public else "Pushing needs a Hub token: paste a write token.")
        zipped = self.export(request)
        folder = zipped.removesuffix(".zip")
        shutil.unpack_archive(zipped, folder)
        try:
            api = HfApi(token=acting)
            repo = api.create_repo(repo_id, repo_type="dataset", private=bool(private), exist_ok=True).repo_id
            info = api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=f"{folder}/corrections",
                                     commit_message="Corrections made in digitlab")
        except hub.HUB_ERRORS as err:
            raise plain(str(hub.hub_error(err, repo_id, push=True))) from err
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return f"Pushed your corrections to [{repo}]({api.endpoint}/datasets/{repo}) (commit `{info.oid[:8]}`)."


def corrections_card(names: list[str], corrections: list[Correction], model: str) -> str:
    counts = {}
    for c in corrections:
        counts[names[c.label]] = counts.get(names[c.label], 0) + 1
    rows = "\n".join(f"| {html.escape(n)} | {k} |" for n, k in counts.items())
    return ("---\nlicense: cc-by-4.0\ntags:\n- digitlab\n- image-classification\n---\n\n"
            f"# Corrections made in digitlab\n\nImages a model ({html.escape(model)}) read wrong, with the label "
            "they should have had, as the model saw them. One folder per class (torchvision's ImageFolder "
            "layout): train on them with `python -m digitlab train --dataset folder --data-dir .`.\n\n"
            f"| class | images |\n|---|---|\n{rows}\n")


def build(lab: Lab) -> dict[str, Any]:
    gr.Markdown("Every **Wrong? It's a …** you save on Sketch or Upload lands here, as the model read it. "
                "Fine-tune the active model on them (mixed with its own training data, so it does not forget), "
                "then press **Use this model**.")
    with gr.Row():
        with gr.Column(scale=3):
            gallery = gr.Gallery(label="Your corrections", columns=8, height=300, elem_id="corrections",
                                 allow_preview=False, preview=False, object_fit="contain", format="png")
            status = gr.Markdown("No corrections yet.", elem_id="corrections-status")
            with gr.Row():
                index = CheckedNumber(1, precision=0, label="Correction number", minimum=1, scale=1)
                remove = gr.Button("Remove it", scale=1)
                clear = gr.Button("Clear all", variant="stop", scale=1)
        with gr.Column(scale=2):
            finetune = gr.Button("Fine-tune on my corrections", variant="primary", elem_id="finetune")
            tune_status = gr.Markdown("", elem_id="finetune-status")
            tune_log = gr.Textbox(label="Log", lines=5, interactive=False, elem_id="finetune-log")
            use = gr.Button("Use this model", interactive=False, elem_id="finetune-use")
            export = gr.Button("Download my corrections (zip)")
            exported = gr.File(label="Corrections (one folder per class)", height=80)
            with gr.Accordion("Push them to the Hub as a dataset", open=False):
                repo_id = gr.Textbox(label="Dataset repo id", placeholder="your-name/my-digit-corrections",
                                     max_length=lab.policy.max_text)
                private = gr.Checkbox(True, label="Private repo")
                push = gr.Button("Push corrections")
                pushed = gr.Markdown()
    return dict(gallery=gallery, status=status, index=index, remove=remove, clear=clear, finetune=finetune,
                tune_status=tune_status, tune_log=tune_log, use=use, export=export, exported=exported,
                repo_id=repo_id, private=private, push=push, pushed=pushed)


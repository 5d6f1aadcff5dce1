"""Everything a model card says, gathered once: README.md text and metadata, and its pictures.

The card dict (saved as training.json beside the weights) may hold: arch, num_params, test_acc
(percent), data, epochs, seconds, config (dict), command, calibration (dict), records (the
per-epoch dicts), evaluation (per_class, confusion, labels). Missing facts read "not recorded".
"""

from __future__ import annotations

import json

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from digitlab.models import Classifier

# The Hub's dataset ids of the built-in datasets, for the card's metadata.
HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist",
                "cifar10": "uoft-cs/cifar10"}
CONFUSION_PNG, CURVES_PNG = "confusion.png", "curves.png"


MAX_RECORDS, MAX_TEXT = 1000, 2000  # epochs a card may list; characters of one of its texts


def checked_card(card: object, model: Classifier) -> dict:
    """A card dict from a stranger's training.json, kept only where it is what a card holds: numbers are
    numbers, texts are short, the records and the evaluation fit this model (the confusion matrix is
    K x K for its K classes), so nothing drawn or shown from it costs more than the model itself."""
    if not isinstance(card, dict):
        return {}
    out: dict = {}
    for key in ("test_acc", "seconds", "num_params", "epochs"):
        if isinstance(card.get(key), (int, float)) and not isinstance(card.get(key), bool):
            out[key] = card[key]
    for key in ("arch", "data", "command"):
        if isinstance(card.get(key), str) and len(card[key]) <= MAX_TEXT:
            out[key] = card[key]
    for key in ("config", "calibration", "rows"):
        if isinstance(card.get(key), dict) and len(json.dumps(card[key], default=str)) <= MAX_TEXT:
            out[key] = card[key]
    records = card.get("records")
    fields = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
    if isinstance(records, list) and len(records) <= MAX_RECORDS and all(
            isinstance(r, dict) and all(isinstance(r.get(f), (int, float)) for f in fields) for r in records):
        out["records"] = [{k: v for k, v in r.items() if isinstance(v, (int, float, str)) and len(str(v)) < 100}
                          for r in records]
    evaluation = card.get("evaluation")
    if isinstance(evaluation, dict):
        out["evaluation"] = checked_evaluation(evaluation, model.spec.num_classes)
    return out


def checked_evaluation(evaluation: dict, k: int) -> dict:
    """The per-class table and confusion matrix of a card, when they have this model's K classes."""
    out = {key: evaluation[key] for key in ("accuracy", "loss", "ece", "errors", "images", "temperature")
           if isinstance(evaluation.get(key), (int, float))}
    per_class = evaluation.get("per_class")
    if isinstance(per_class, list) and len(per_class) == k and all(
            isinstance(row, list) and len(row) == 2 and all(isinstance(v, (int, float)) for v in row)
            for row in per_class):
        out["per_class"] = per_class
    confusion = evaluation.get("confusion")
    if isinstance(confusion, list) and len(confusion) == k and all(
            isinstance(row, list) and len(row) == k and all(isinstance(v, int) for v in row) for row in confusion):
        out["confusion"] = confusion
    return out


def seconds_text(seconds: float) -> str:
    """A training time as people read it: "under a second", "4.5 s", "12 s", "3 min 20 s"."""
    if seconds < 1:
        return "under a second"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def dataset_title(model: Classifier, data: str) -> str:
    """How the card names the data: the spec's name, and the sample or folder it came from."""
    name = model.spec.name
    return name if data in ("", name) else f"{name} ({data})" if not data.startswith(name) else data


def model_card(model: Classifier, card: dict, name: str | None = None) -> ModelCard:
    """README.md: YAML metadata (library, tags, dataset, metric, model-index) + what was trained and how."""
    spec = model.spec
    title = name or f"digitlab {model.arch} ({spec.name})"
    acc, data = card.get("test_acc"), str(card.get("data") or spec.name)
    dataset = dataset_title(model, data)
    meta = model.generate_model_card().data.to_dict()  # library_name, license, tags, pipeline_tag of the class
    meta["tags"] = sorted({*meta.get("tags", []), spec.name, "digitlab"})
    meta.update(metrics=["accuracy"])
    if spec.name in HUB_DATASETS:
        meta.update(datasets=[HUB_DATASETS[spec.name]])
    if isinstance(acc, (int, float)):
        meta.update(model_name=title, eval_results=[EvalResult(
            task_type="image-classification", dataset_type=HUB_DATASETS.get(spec.name, spec.name),
            dataset_name=dataset, dataset_split="test", metric_type="accuracy", metric_value=round(acc / 100, 4),
            metric_name="Test accuracy")])
    calibration = card.get("calibration") or {}
    facts = [
        ("architecture", f"`{card.get('arch', model.arch)}`"),
        ("parameters", f"{card.get('num_params', model.num_params):,}"),
        ("dataset", dataset),
        ("input", f"{spec.size}x{spec.size} {'grey' if spec.channels == 1 else 'RGB'}, view `{spec.view}`"),
        ("test accuracy", f"{acc:.2f} %" if isinstance(acc, (int, float)) else "not recorded"),
        ("epochs", card.get("epochs", "not recorded")),
        ("training time", seconds_text(card["seconds"]) if isinstance(card.get("seconds"), (int, float)) else
         "not recorded"),
        ("calibration", f"temperature {model.temperature:.3g}"
         + (f", test ECE {calibration['test_ece_before']:.2f} % -> {calibration['test_ece_after']:.2f} %"
            if "test_ece_after" in calibration else "")),
    ]
    if model.decline is not None:
        facts.append(("not one of its classes", f"declined below a top probability of {model.decline:.3g}"))
    if model.rows is not None:
        rows = card.get("rows") if isinstance(card.get("rows"), dict) else {}
        facts.append(("numbers", f"also read whole by a row reader (CNN + GRU, CTC; {model.row_params:,} parameters)"
                      + (f"; {rows['validation_exact']} % of its validation rows read exactly"
                         if isinstance(rows.get("validation_exact"), (int, float)) else "")))
    lines = [
        f"# {title}", "",
        f"An image classifier made with digitlab: the `{model.arch}` architecture "
        f"trained on {dataset}. Classes: {', '.join(spec.display)}.", "",
        "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts], "",
    ]
    lines += per_class_lines(card.get("evaluation"), spec.display)
    if card.get("records"):
        lines += [f"![loss and accuracy per epoch]({CURVES_PNG})", ""]
    if card.get("config") or card.get("command"):
        lines += ["## Training settings", ""]
        if card.get("command"):
            lines += ["```bash", str(card["command"]), "```", ""]
        if card.get("config"):
            lines += ["```json", json.dumps(card["config"], indent=2, default=str), "```", ""]
    lines += [
        "## Use", "",
        "```python",
        "from digitlab.inference.predictor import Predictor",
        "",
        f'predictor = Predictor.from_pretrained("{name or "path/to/this/folder"}")',
        'print(predictor.predict("image.png"))',
        "```", "",
        "Files: `model.safetensors` (safetensors, no pickle), `config.json` (architecture, dataset spec: labels, "
        "size, channels, mean/std, view; temperature), `training.json` (the facts above).", "",
    ]
    return ModelCard(f"---\n{ModelCardData(**meta).to_yaml()}\n---\n\n" + "\n".join(lines))


def per_class_lines(evaluation: dict | None, display: tuple[str, ...]) -> list[str]:
    """The per-class accuracy table and the confusion-matrix picture, when the card has an evaluation."""
    if not evaluation or "per_class" not in evaluation:
        return []
    rows = [f"| {name} | {acc:.2f} % | {n} |" for name, (acc, n) in zip(display, evaluation["per_class"], strict=False)]
    return ["## Per class", "", "| class | accuracy | test images |", "|---|---|---|", *rows, "",
            f"![confusion matrix]({CONFUSION_PNG})", ""]


def card_pictures(model: Classifier, card: dict) -> dict[str, bytes]:
    """PNG files the card shows: the curves (when records are known) and the confusion matrix."""
    from digitlab.hub.pictures import MAX_DRAWN_CLASSES, confusion_png, curves_png

    pictures = {}
    if card.get("records"):
        pictures[CURVES_PNG] = curves_png(card["records"])
    evaluation = card.get("evaluation") or {}
    if "confusion" in evaluation and model.spec.num_classes <= MAX_DRAWN_CLASSES:
        pictures[CONFUSION_PNG] = confusion_png(evaluation["confusion"], list(model.spec.display))
    return pictures

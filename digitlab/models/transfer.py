"""Starting a model from another: the same backbone weights, a new head when the classes differ."""

from __future__ import annotations

from collections.abc import Callable

from digitlab.models.classifier import Classifier
from digitlab.models.registry import head_name


def start_from(source: Classifier, spec, arch_note: Callable[[str], None] | None = None) -> Classifier:
    """A model for `spec` with `source`'s weights; the head is new when the classes differ. On the same classes
    it keeps the source's temperature, its decision to decline what is not one of them and its row reader (a
    fine-tune on corrections, which holds nothing out to refit them, keeps them).

    Raises ValueError when the backbone's own weights cannot take the new data (an architecture
    whose layers depend on the image size, or another number of channels).
    """
    same_classes = list(source.spec.labels) == list(spec.labels)
    model = Classifier(source.arch, spec.to_dict(), rows=same_classes and source.rows is not None)
    head = head_name(model.arch) + "."
    theirs, ours = source.state_dict(), model.state_dict()
    for name, tensor in ours.items():
        if name.startswith(head) and not same_classes:
            continue  # a new head for new classes: keep its fresh initialisation
        if name not in theirs or theirs[name].shape != tensor.shape:
            raise ValueError(
                f"cannot start from this {source.arch} model: its {name} has shape "
                f"{tuple(theirs[name].shape) if name in theirs else 'none'}, this data needs {tuple(tensor.shape)} "
                f"({source.spec.channels} ch {source.spec.size} px -> {spec.channels} ch {spec.size} px); "
                "start from scratch or from a model made for images like these")
        tensor.copy_(theirs[name])
    if same_classes:  # its calibration too: the decision is a probability at the source's temperature
        model.temperature, model.decline = source.temperature, source.decline
    return model


def freeze_backbone(model: Classifier) -> None:
    """Train only the head: every other parameter frozen (and its batch norms kept in eval mode)."""
    head = head_name(model.arch) + "."
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(head))

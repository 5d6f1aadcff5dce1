"""The one Hub-ready classifier that wraps any registered backbone, and what a model may cost.

A Classifier carries its DatasetSpec and calibration (config.json), so a model pulled from the Hub
reads images as it was trained. check_budget prices a model from its config before it is built.
"""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from digitlab.models.registry import DEFAULT_ARCH, create_backbone
from digitlab.models.rows import ROW_ARCH, RowNet
from digitlab.spec import MNIST, DatasetSpec

# What a model may cost, checked from its config.json before anything is allocated (check_budget): every
# registered architecture on every built-in dataset fits (the largest: cnn on Chinese MNIST's 64 px, 7.4 M
# parameters; airnet there, 490 M multiply-adds), airnet at 128 px RGB (2.2 G) does not.


MAX_PARAMS = 8_000_000


MAX_MACS = 600_000_000  # multiply-adds of the backbone for one image


class ModelBudgetError(ValueError):
    """A model too costly to build or serve here; the message names the measure and its limit."""


def costs(arch: str, spec: DatasetSpec) -> tuple[int, int]:
    """(parameters, multiply-adds for one image) of `arch` for `spec`, measured on the meta device:
    shapes only, no memory for weights or activations."""
    macs = 0

    def count(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(layer, nn.Conv2d):
            macs += output.numel() * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, nn.Linear):
            macs += output.numel() * layer.in_features

    with torch.device("meta"):
        backbone = create_backbone(arch, spec.channels, spec.num_classes, spec.size)
        hooks = [m.register_forward_hook(count) for m in backbone.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        backbone.eval()(torch.zeros(1, spec.channels, spec.size, spec.size))
    for hook in hooks:
        hook.remove()
    return sum(p.numel() for p in backbone.parameters()), macs


def check_budget(arch: str, spec: DatasetSpec | dict) -> None:
    """Raise ModelBudgetError when the model would have more than MAX_PARAMS parameters or need more than
    MAX_MACS multiply-adds per image (the spec itself bounds classes and size: digitlab.spec)."""
    spec = DatasetSpec.from_dict(spec) if isinstance(spec, dict) else spec
    params, macs = costs(arch, spec)
    if params > MAX_PARAMS:
        raise ModelBudgetError(f"{params:,} parameters, over the limit of {MAX_PARAMS:,}")
    if macs > MAX_MACS:
        raise ModelBudgetError(f"{macs / 1e6:,.0f} million multiply-adds per image, over the limit of "
                               f"{MAX_MACS / 1e6:,.0f} million")


def checked_decline(value: object) -> float | None:
    """A decision from config.json: a probability strictly between 0 and 1, or None (answer everything)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) < 1:
        raise ValueError(f"config.json's decline must be a probability between 0 and 1, not {value!r}")
    return float(value)


def checked_rows(value: object) -> bool:
    """Whether config.json gives the model a row reader: {"arch": "rownet"} (or true, as the Hub mixin records the
    constructor's argument), or nothing (or false)."""
    if value is None or value is False:
        return False
    if value is not True and (not isinstance(value, dict) or value.get("arch") != ROW_ARCH):
        raise ValueError(f"config.json's rows must be {{'arch': {ROW_ARCH!r}}}, not {str(value)[:60]}")
    return True


class Classifier(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="digitlab",
    tags=["image-classification", "pytorch"],
    license="mit",
    pipeline_tag="image-classification",
):
    """A registered backbone plus everything needed to use it: its DatasetSpec and calibration.

    Input: (B, C, S, S) float pixels in [0, 1], prepared by the spec's view. Output: logits.
    Probabilities are softmax(logits / temperature); the temperature is fitted after training. `decline`, where
    a model was taught what is not one of its classes (scripts/train_decline.py), is the calibrated top
    probability below which it says so; None answers everything. `rows`: whether it has a row reader.
    """

    def __init__(self, arch: str = DEFAULT_ARCH, spec: dict | None = None, temperature: float = 1.0,
                 mirror: bool | None = None, decline: float | None = None, rows: bool = False):
        super().__init__()
        self.spec = DatasetSpec.from_dict(spec) if spec else MNIST
        self.arch, self.temperature = arch, float(temperature)
        self.decline = checked_decline(decline)
        # Photo models trained on mirrored photos answer for both; a config without the flag is such a model.
        self.mirror = self.spec.view == "photo" if mirror is None else bool(mirror) and self.spec.view == "photo"
        self.backbone = create_backbone(arch, self.spec.channels, self.spec.num_classes, self.spec.size)
        # A reader of whole rows of its classes (numbers), where one was trained for it (scripts/train_rows.py).
        self.rows = RowNet(self.spec.num_classes) if rows and self.spec.view == "glyph" else None
        shape = (1, self.spec.channels, 1, 1)
        self.register_buffer("mean", torch.tensor(self.spec.mean).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(self.spec.std).view(shape), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return logits, shape (B, num_classes).

        A photo model trained on mirrored photos too (`mirror`) answers with the mean of its logits for the
        photo and its mirror image (test-time augmentation, as airbench does): +0.7 points on CIFAR-10. One
        trained without flips does not: its mirror image is a picture it never saw (Fashion-MNIST, speednet,
        3 epochs without augmentation: 83.3 % with the mirror, 91.0 % without).
        """
        x = (pixels - self.mean) / self.std
        if self.training or not self.mirror:
            return self.backbone(x)
        return self.backbone(torch.cat([x, x.flip(-1)])).unflatten(0, (2, -1)).mean(0)

    @property
    def labels(self) -> list[str]:
        return list(self.spec.labels)

    @property
    def num_params(self) -> int:
        """The classifier's parameters (its architecture's); a row reader's are counted apart (row_params)."""
        return sum(p.numel() for name, p in self.named_parameters() if not name.startswith("rows."))

    @property
    def row_params(self) -> int:
        return sum(p.numel() for p in self.rows.parameters()) if self.rows is not None else 0

    def config(self) -> dict:
        """What config.json holds: enough to rebuild this model."""
        config = {"arch": self.arch, "spec": self.spec.to_dict(), "temperature": self.temperature,
                  "mirror": self.mirror}
        if self.decline is not None:
            config["decline"] = {"below": self.decline}
        if self.rows is not None:
            config["rows"] = {"arch": ROW_ARCH}
        return config


def summary(model: Classifier) -> str:
    """A per-layer table (the backbone's top-level layers): output shape and parameter count, plus the total."""
    spec, rows = model.spec, []
    layers = list(model.backbone.children()) or [model.backbone]

    def record(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        n = sum(p.numel() for p in layer.parameters())
        rows.append(f"{len(rows):>3}  {type(layer).__name__:<18} {str(tuple(output.shape[1:])):<16} {n:>9,}")

    hooks = [layer.register_forward_hook(record) for layer in layers]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, spec.channels, spec.size, spec.size))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    head = f"{'#':>3}  {'layer':<18} {'output':<16} {'params':>9}"
    return "\n".join([f"{model.arch}: {model.num_params:,} parameters", head, *rows])

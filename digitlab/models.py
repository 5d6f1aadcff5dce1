"""Architecture registry and the one Hub-ready classifier that wraps any of them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from digitlab.data import LABELS, MEAN, STD

MODELS: dict[str, Callable[..., nn.Module]] = {}
DEFAULT_ARCH = "digitnet"


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a backbone factory under its function name."""
    MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(MODELS)


def create_backbone(name: str, num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """Build a registered backbone: (B, 1, S, S) normalised pixels -> (B, num_classes) logits."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {list_models()}")
    return MODELS[name](num_classes=num_classes, input_size=input_size)


def conv_bn(c_in: int, c_out: int, k: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


@register_model
def mlp(num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """The classic fully connected net of the tutorials: 784-256-128-10."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(input_size * input_size, 256), nn.ReLU(inplace=True),
        nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
    )


@register_model
def cnn(num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """The PyTorch examples CNN: 2 conv + 2 fc with dropout."""
    side = (input_size - 4) // 2
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(inplace=True), nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(128, num_classes),
    )


@register_model
def lenet(num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling."""
    side = ((input_size) // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * side * side, 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )


@register_model
def speednet(num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """A tiny conv net that reaches 99 % in one epoch: few FLOPs, batch norm to learn fast."""
    side = ((input_size - 4) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.Conv2d(16, 48, 3, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(48), nn.ReLU(inplace=True),
        nn.Flatten(), nn.Linear(48 * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
    )


@register_model
def digitnet(num_classes: int = 10, input_size: int = 28) -> nn.Module:
    """The default: a small VGG-style CNN with batch norm, global pooling and dropout."""
    return nn.Sequential(
        *conv_bn(1, 32), *conv_bn(32, 32), nn.MaxPool2d(2),  # (B, 32, 14, 14)
        *conv_bn(32, 64), *conv_bn(64, 64), nn.MaxPool2d(2),  # (B, 64, 7, 7)
        *conv_bn(64, 128), *conv_bn(128, 128),  # (B, 128, 7, 7)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, num_classes),
    )


class DigitClassifier(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="digitlab",
    tags=["image-classification", "mnist", "digits", "pytorch"],
    license="mit",
    pipeline_tag="image-classification",
):
    """A registered backbone plus everything needed to use it: labels, input size, normalisation.

    Input: (B, 1, S, S) float pixels in [0, 1] with ink high (MNIST polarity). Output: logits.
    """

    def __init__(self, arch: str = DEFAULT_ARCH, labels: list[str] | None = None, input_size: int = 28,
                 mean: float = MEAN, std: float = STD):
        super().__init__()
        self.arch, self.labels = arch, list(labels or LABELS)
        self.input_size, self.mean, self.std = input_size, mean, std
        self.backbone = create_backbone(arch, len(self.labels), input_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return logits, shape (B, num_classes)."""
        return self.backbone((pixels - self.mean) / self.std)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def summary(model: DigitClassifier) -> str:
    """A per-layer table: output shape and parameter count, plus the total."""
    rows, x = [], torch.zeros(1, 1, model.input_size, model.input_size)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        x = (x - model.mean) / model.std
        for i, layer in enumerate(model.backbone):
            x = layer(x)
            n = sum(p.numel() for p in layer.parameters())
            rows.append(f"{i:>3}  {type(layer).__name__:<18} {str(tuple(x.shape[1:])):<16} {n:>9,}")
    model.train(was_training)
    head = f"{'#':>3}  {'layer':<18} {'output':<16} {'params':>9}"
    return "\n".join([f"{model.arch}: {model.num_params:,} parameters", head, *rows])

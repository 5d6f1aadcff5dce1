"""The architecture registry: each backbone by the name of its factory, with its head named.

Every registered backbone takes its shape from the data: `in_chans`, `num_classes` and `size`
(the square input side) come from the model's DatasetSpec, never from constants. Each names its
head (the layer that gives the logits, replaced when a model starts on new classes) and its first
layer, so no code has to guess them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_ARCH = "digitnet"


@dataclass(frozen=True)
class Architecture:
    """A registered backbone: its factory and the names of its first layer and its head (within it)."""

    name: str
    factory: Callable[..., nn.Module]
    first: str  # the layer that sees the pixels
    head: str  # the layer that gives the logits: a new one when a model starts on other classes


MODELS: dict[str, Architecture] = {}


def register_model(first: str, head: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a backbone factory under its function name, naming its first layer and its head."""

    def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS[fn.__name__] = Architecture(fn.__name__, fn, first, head)
        return fn

    return register


def list_models() -> list[str]:
    return sorted(MODELS)


def architecture(name: str) -> Architecture:
    if name not in MODELS:
        raise ValueError(f"unknown model {str(name)[:40]!r}; choose from {list_models()}")
    return MODELS[name]


def create_backbone(name: str, in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """Build a registered backbone: (B, in_chans, size, size) normalised pixels -> (B, num_classes) logits."""
    return architecture(name).factory(in_chans=in_chans, num_classes=num_classes, size=size)


def head_name(arch: str) -> str:
    """The qualified name of an architecture's head inside a Classifier ("backbone.23")."""
    return f"backbone.{architecture(arch).head}"


def conv_bn(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


@register_model(first="1", head="5")
def mlp(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """The classic fully connected net of the tutorials: 784-256-128-10 on MNIST."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(in_chans * size * size, 256), nn.ReLU(inplace=True),
        nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
    )


@register_model(first="0", head="10")
def cnn(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """The PyTorch examples CNN: 2 conv + 2 fc with dropout."""
    side = (size - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, 32, 3), nn.ReLU(inplace=True), nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(128, num_classes),
    )


@register_model(first="0", head="11")
def lenet(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling; the tutorials' CIFAR-10 net too."""
    side = (size // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * side * side, 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )


@register_model(first="0", head="11")
def speednet(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """A tiny conv net that reaches 99 % on MNIST in one epoch: few FLOPs, batch norm to learn fast."""
    side = ((size - 4) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, 16, 5, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.Conv2d(16, 48, 3, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(48), nn.ReLU(inplace=True),
        nn.Flatten(), nn.Linear(48 * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
    )


@register_model(first="0", head="23")
def digitnet(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """The default: a small VGG-style CNN with batch norm, global pooling and dropout.

    Inputs over 40 px (Chinese MNIST's 64) start with a stride-2 convolution: a quarter of the work,
    and the same weights, so a model trained on 28 px digits can start a 64 px one.
    """
    stride = 2 if size > 40 else 1
    return nn.Sequential(
        *conv_bn(in_chans, 32, stride=stride), *conv_bn(32, 32), nn.MaxPool2d(2),  # (B, 32, S/2, S/2)
        *conv_bn(32, 64), *conv_bn(64, 64), nn.MaxPool2d(2),  # (B, 64, S/4, S/4)
        *conv_bn(64, 128), *conv_bn(128, 128),  # (B, 128, S/4, S/4)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, num_classes),
    )


class AirNet(nn.Module):
    """airbench's 8-layer net (Jordan 2024, after Page 2018 and hlb-CIFAR10), at any size and channels.

    A frozen 2x2 patch-whitening stem fitted to the training images (init_from_data), then three
    conv-pool-norm groups with GELU and identity-initialised filters, a max pool over what is left
    and a scaled-down linear head.
    """

    def __init__(self, in_chans: int, num_classes: int, widths: tuple[int, int, int] = (64, 256, 256)):
        super().__init__()
        stem = 2 * in_chans * 4  # both signs of every 2x2 whitening direction
        self.whiten = nn.Conv2d(in_chans, stem, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        c_in = stem
        for i, width in enumerate(widths, 1):
            self.add_module(f"group{i}", nn.Sequential(
                nn.Conv2d(c_in, width, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(width),
                nn.GELU(), nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU()))
            c_in = width
        self.groups = len(widths)
        self.head = nn.Linear(c_in, num_classes, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is not self.whiten:
                    nn.init.dirac_(m.weight.data[:m.weight.shape[1]])  # identity on the first in_chans filters
            elif isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.4  # airbench: fast-moving statistics, for few epochs
                m.weight.requires_grad_(False)  # and no learned scale: the biases alone (at a high rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.whiten(x))
        for i in range(1, self.groups + 1):
            x = getattr(self, f"group{i}")(x)
        return self.head(F.adaptive_max_pool2d(x, 1).flatten(1)) / 9  # (B, num_classes)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor, eps: float = 5e-4) -> None:
        """Fit the whitening stem to normalised training images (B, C, H, W): ZCA-like, per 2x2 patch."""
        patches = x.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1] * 4)
        patches = patches.double()
        covariance = patches.T @ patches / len(patches)
        values, vectors = torch.linalg.eigh(covariance)
        filters = (vectors.T / torch.sqrt(values + eps)[:, None]).flip(0).reshape(-1, x.shape[1], 2, 2)
        self.whiten.weight.copy_(torch.cat([filters, -filters]).float())


@register_model(first="whiten", head="head")
def airnet(in_chans: int = 3, num_classes: int = 10, size: int = 32) -> nn.Module:
    """airbench94's net, widths 64-256-256 (1.97 M parameters): the CIFAR-10 and Fashion-MNIST model."""
    return AirNet(in_chans, num_classes)

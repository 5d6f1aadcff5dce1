"""Architecture registry and the one Hub-ready classifier that wraps any of them.

Every registered backbone takes its shape from the data: `in_chans`, `num_classes` and `size`
(the square input side) come from the model's DatasetSpec, never from constants.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from digitlab.spec import MNIST, DatasetSpec

MODELS: dict[str, Callable[..., nn.Module]] = {}
DEFAULT_ARCH = "digitnet"
# What a model may cost, checked from its config.json before anything is allocated (check_budget): every
# registered architecture on every built-in dataset fits (the largest: cnn on Chinese MNIST's 64 px, 7.4 M
# parameters; airnet there, 490 M multiply-adds), airnet at 128 px RGB (2.2 G) does not.
MAX_PARAMS = 8_000_000
MAX_MACS = 600_000_000  # multiply-adds of the backbone for one image


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a backbone factory under its function name."""
    MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(MODELS)


def create_backbone(name: str, in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """Build a registered backbone: (B, in_chans, size, size) normalised pixels -> (B, num_classes) logits."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {list_models()}")
    return MODELS[name](in_chans=in_chans, num_classes=num_classes, size=size)


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


def conv_bn(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


@register_model
def mlp(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """The classic fully connected net of the tutorials: 784-256-128-10 on MNIST."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(in_chans * size * size, 256), nn.ReLU(inplace=True),
        nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
    )


@register_model
def cnn(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """The PyTorch examples CNN: 2 conv + 2 fc with dropout."""
    side = (size - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, 32, 3), nn.ReLU(inplace=True), nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(128, num_classes),
    )


@register_model
def lenet(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling; the tutorials' CIFAR-10 net too."""
    side = (size // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * side * side, 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True),
        nn.Linear(84, num_classes),
    )


@register_model
def speednet(in_chans: int = 1, num_classes: int = 10, size: int = 28) -> nn.Module:
    """A tiny conv net that reaches 99 % on MNIST in one epoch: few FLOPs, batch norm to learn fast."""
    side = ((size - 4) // 2 - 2) // 2
    return nn.Sequential(
        nn.Conv2d(in_chans, 16, 5, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.Conv2d(16, 48, 3, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(48), nn.ReLU(inplace=True),
        nn.Flatten(), nn.Linear(48 * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes),
    )


@register_model
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


@register_model
def airnet(in_chans: int = 3, num_classes: int = 10, size: int = 32) -> nn.Module:
    """airbench94's net, widths 64-256-256 (1.97 M parameters): the CIFAR-10 and Fashion-MNIST model."""
    return AirNet(in_chans, num_classes)


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
    Probabilities are softmax(logits / temperature); the temperature is fitted after training.
    """

    def __init__(self, arch: str = DEFAULT_ARCH, spec: dict | None = None, temperature: float = 1.0):
        super().__init__()
        self.spec = DatasetSpec.from_dict(spec) if spec else MNIST
        self.arch, self.temperature = arch, float(temperature)
        self.backbone = create_backbone(arch, self.spec.channels, self.spec.num_classes, self.spec.size)
        shape = (1, self.spec.channels, 1, 1)
        self.register_buffer("mean", torch.tensor(self.spec.mean).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(self.spec.std).view(shape), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return logits, shape (B, num_classes).

        A photo model, trained on mirrored photos too, answers with the mean of its logits for the
        photo and its mirror image (test-time augmentation, as airbench does): +0.7 points on CIFAR-10.
        """
        x = (pixels - self.mean) / self.std
        if self.training or self.spec.view != "photo":
            return self.backbone(x)
        return self.backbone(torch.cat([x, x.flip(-1)])).unflatten(0, (2, -1)).mean(0)

    @property
    def labels(self) -> list[str]:
        return list(self.spec.labels)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def config(self) -> dict:
        """What config.json holds: enough to rebuild this model."""
        return {"arch": self.arch, "spec": self.spec.to_dict(), "temperature": self.temperature}


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

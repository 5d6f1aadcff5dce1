"""A run as one standalone PyTorch script: the dataset, the model class, the loop, evaluation and saving, in
one file that needs torch, torchvision and safetensors only, written to be read like the tutorials.

The script's pieces are digitlab's own code where it matters (the architecture and the augmentation are
copied from their source, so the network is the same to the last layer), and its loop draws its random
numbers in the same order as training.loop: the same seed gives the same run. It saves model.safetensors
and config.json in digitlab's format, so `Predictor.from_pretrained(folder)` and
`python -m digitlab predict --weights folder` read with it.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from dataclasses import replace

from digitlab.data import augment
from digitlab.data.specs import SPECS
from digitlab.models import registry
from digitlab.spec import MNIST
from digitlab.training import evaluate, loop, precision
from digitlab.training.config import TrainConfig, train_argv

HEADER = '''"""Train {arch} on {dataset}: a standalone PyTorch script made by digitlab.

It repeats this run:

    python -m digitlab {command}

(It leaves out learning to say "not one of mine": the letters, shapes and scribbles it learns that from ship
with digitlab, hence --no-decline above.)

Run it with the data as digitlab reads it, either
  - a folder with the four MNIST-format files (train-images-idx3-ubyte[.gz] ...), for MNIST and Fashion-MNIST;
  - or an .npz of views, uint8 arrays train_images (N, C, S, S), train_labels, test_images, test_labels:
    digitlab's shipped samples are such files (digitlab/data/sample/mnist_sample.npz), and
    `python -m digitlab views --dataset {dataset} --out views.npz` writes one for any dataset.

    python train.py --data path/to/data --out my-model

It needs torch, torchvision and safetensors; the folder it saves loads back into digitlab:
    python -m digitlab predict examples/digit_7.png --weights my-model
"""

import argparse
import gzip
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

# ---------------------------------------------------------------------------------------- the settings
SEED = {seed}
EPOCHS = {epochs}
BATCH_SIZE = {batch_size}
PEAK_LR = {lr!r}  # the one-cycle schedule rises to this in the first quarter, then falls to almost nothing
OPTIMIZER = "{optimizer}"
MOMENTUM = {momentum!r}  # SGD's
BETAS = {betas!r}  # AdamW's
WEIGHT_DECAY = {weight_decay!r}
NORM_LR = {norm_lr!r}  # batch-norm parameters learn this many times faster
CYCLE_MOMENTUM = {cycle_momentum!r}
LABEL_SMOOTHING = {label_smoothing!r}
AUGMENT = {augment!r}
PRECISION = "{precision}"  # the forward pass in float32 ("fp32"), bfloat16 ("bf16"), or bfloat16 where the chip has it
CALIBRATION = {calibration!r}  # share of the training images held out to fit the softmax temperature
# What the model reads: digitlab's dataset spec, saved with the weights so digitlab reads images the same way.
SPEC = {spec}
ARCH = "{arch}"
'''

DATA = '''

# ---------------------------------------------------------------------------------------- the data
def read_idx(path: Path) -> np.ndarray:
    """One MNIST-format file (raw or .gz) as a numpy array of its declared shape."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(raw[3]))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(shape)).reshape(shape)


def load_data(path: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train images, train labels, test images, test labels): images (N, C, S, S) uint8, labels int64."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as z:
            arrays = [z[k] for k in ("train_images", "train_labels", "test_images", "test_labels")]
    else:
        def find(stem: str) -> Path:
            return next(p for p in (path / stem, path / (stem + ".gz")) if p.is_file())

        arrays = [read_idx(find(name)) for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    x_train, y_train, x_test, y_test = (torch.from_numpy(np.array(a)) for a in arrays)
    if x_train.ndim == 3:  # (N, S, S): add the channel
        x_train, x_test = x_train.unsqueeze(1), x_test.unsqueeze(1)
    return x_train, y_train.long(), x_test, y_test.long()


def as_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, S, S) -> float in [0, 1]."""
    return images.float().div(255)
'''

MODEL = '''

# ---------------------------------------------------------------------------------------- the model
{backbone}


class Classifier(nn.Module):
    """The backbone, with the data's normalisation inside: float pixels in [0, 1] -> logits (B, classes)."""

    def __init__(self):
        super().__init__()
        self.backbone = {arch}(in_chans=SPEC["channels"], num_classes=len(SPEC["labels"]), size=SPEC["size"])
        shape = (1, SPEC["channels"], 1, 1)
        self.register_buffer("mean", torch.tensor(SPEC["mean"]).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(SPEC["std"]).view(shape), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels - self.mean) / self.std
        if self.training or not MIRROR:
            return self.backbone(x)
        # A photo model trained on mirrored photos answers for the photo and its mirror image.
        return self.backbone(torch.cat([x, x.flip(-1)])).unflatten(0, (2, -1)).mean(0)


MIRROR = AUGMENT and SPEC["view"] == "photo"
'''

LOOP = '''

# ---------------------------------------------------------------------------------------- the training
{holdout_split}


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """AdamW or SGD; batch-norm parameters at NORM_LR times the rate, with as much less weight decay."""
    norms = {{id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             for p in m.parameters(recurse=False)}}
    trained = [p for p in model.parameters() if p.requires_grad]
    groups = [dict(params=[p for p in trained if id(p) not in norms], lr=PEAK_LR),
              dict(params=[p for p in trained if id(p) in norms], lr=PEAK_LR * NORM_LR,
                   weight_decay=WEIGHT_DECAY / NORM_LR)]
    groups = [g for g in groups if g["params"]]
    if OPTIMIZER == "sgd":
        return torch.optim.SGD(groups, lr=PEAK_LR, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY)
    return torch.optim.AdamW(groups, lr=PEAK_LR, betas=BETAS, weight_decay=WEIGHT_DECAY)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(logits, accuracy %) of a whole split, 32 images at a time."""
    model.eval()
    logits = torch.cat([model(as_pixels(images[i:i + 32])) for i in range(0, len(images), 32)])
    return logits, 100.0 * (logits.argmax(1) == labels).float().mean().item()


{fit_temperature}


{precision_code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the MNIST-format folder or the .npz of views")
    parser.add_argument("--out", default="model", help="the folder to save the model in (default: model)")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    order_gen = torch.Generator().manual_seed(SEED)  # the order of the images, a new one each epoch
{aug_gen}    x_train, y_train, x_test, y_test = load_data(args.data)
    train_idx, held_idx = holdout_split(y_train, CALIBRATION, torch.Generator().manual_seed(SEED))
    images, labels = x_train[train_idx], y_train[train_idx]
    model = Classifier()
{init_from_data}
    optimizer = make_optimizer(model)
    steps = math.ceil(len(labels) / BATCH_SIZE)
    total = EPOCHS * steps + 1  # one step more: the schedule ends after the last step, never rises again
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total,
        pct_start=0.3 if total == 4 else 0.25, cycle_momentum=CYCLE_MOMENTUM)
    bf16 = uses_bf16(PRECISION, torch.device("cpu"))
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(len(labels), generator=order_gen)
        loss_sum, correct = 0.0, 0
        for step in range(steps):
            idx = order[step * BATCH_SIZE:(step + 1) * BATCH_SIZE]
            x, y = as_pixels(images[idx]), labels[idx]
{augment_lines}            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=LABEL_SMOOTHING)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
        _, test_acc = evaluate(model, x_test, y_test)
        print(f"epoch {{epoch}}/{{EPOCHS}}  train loss {{loss_sum / len(labels):.4f}} "
              f"acc {{100 * correct / len(labels):.2f}}%  test acc {{test_acc:.2f}}%")
    temperature = 1.0
    if len(held_idx) >= 50:  # calibrate: how sure the model says it is should match how often it is right
        held_logits, _ = evaluate(model, x_train[held_idx], y_train[held_idx])
        temperature = fit_temperature(held_logits, y_train[held_idx])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({{k: v.contiguous() for k, v in model.state_dict().items()}}, str(out / "model.safetensors"))
    config = {{"arch": ARCH, "spec": SPEC, "temperature": temperature, "mirror": MIRROR}}
    (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    print(f"saved to {{out}}: test accuracy {{test_acc:.2f}}%, temperature {{temperature:.3g}}")


if __name__ == "__main__":
    main()
'''


def source(obj) -> str:
    """A function's or class's source, without digitlab's registry decorator."""
    lines = inspect.getsource(obj).splitlines()
    return "\n".join(line for line in lines if not line.startswith("@register_model")) + "\n"


def backbone_code(arch: str) -> str:
    """The architecture's own code, as the registry builds it, with the helpers it uses."""
    parts = []
    if arch == "digitnet":
        parts.append(source(registry.conv_bn))
    if arch == "airnet":
        parts.append(source(registry.AirNet))
    parts.append(source(registry.architecture(arch).factory))
    return "\n\n".join(p.rstrip() for p in parts)


def augment_code(view: str) -> tuple[str, str]:
    fn = augment.AUGMENTATIONS[view]
    pieces = [source(augment.uniform), source(fn)] if fn is augment.augment_glyphs else [source(fn)]
    return "\n\n# ---------------------------------------------------------------------------------------- " \
           "augmentation\n" + "\n\n".join(p.rstrip() for p in pieces) + "\n", fn.__name__


def script(cfg: TrainConfig) -> str:
    """The standalone script of a run of `cfg` (a built-in dataset's spec; your own images: MNIST-style)."""
    spec = SPECS.get(cfg.dataset, MNIST)
    settings = {k: getattr(cfg, k) for k in ("seed", "epochs", "batch_size", "lr", "optimizer", "momentum",
                                             "weight_decay", "norm_lr", "cycle_momentum", "label_smoothing",
                                             "augment", "calibration", "arch", "precision")}
    text = HEADER.format(**settings, betas=tuple(cfg.betas), dataset=cfg.dataset,
                         command=" ".join(train_argv(replace(cfg, decline=False))),
                         spec=textwrap.indent(json.dumps(spec.to_dict(), ensure_ascii=False, indent=4), "").strip())
    text += DATA + MODEL.format(backbone=backbone_code(cfg.arch), arch=cfg.arch)
    lines = ""
    if cfg.augment:
        code, fn_name = augment_code(spec.view)
        text += code
        lines = f"            x = {fn_name}(x, aug_gen)  # each image a little different, every epoch\n"
    init = ("    if hasattr(model.backbone, \"init_from_data\"):  # airnet's whitening stem fits the data first\n"
            "        with torch.no_grad():\n"
            "            model.backbone.init_from_data((as_pixels(images[:5000]) - model.mean) / model.std)")
    aug_gen = "    aug_gen = torch.Generator().manual_seed(SEED + 1000)  # the augmentation's random draws\n"
    text += LOOP.format(init_from_data=init if cfg.arch == "airnet" else "", augment_lines=lines,
                        aug_gen=aug_gen if cfg.augment else "", holdout_split=source(loop.holdout_split).rstrip(),
                        fit_temperature=source(evaluate.fit_temperature).rstrip(),
                        precision_code="\n\n".join(source(f).rstrip() for f in (precision.native_bf16,
                                                                                  precision.uses_bf16)))
    return text

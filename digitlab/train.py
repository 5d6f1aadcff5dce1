"""The training loop as a generator: one EpochRecord per epoch, then a TrainResult.

Fast by design: both splits live on the device as tensors, augmentation is batched on the
device, and nothing runs per sample in Python. The UI, the CLI and the benchmarks all
iterate this same generator.
"""

from __future__ import annotations

import math
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from digitlab.config import TrainConfig
from digitlab.data import Digits, load_digits
from digitlab.models import DigitClassifier

# The threads torch started with, read at import on the main thread. Torch keeps a count per
# thread, and a worker thread that first ran torch while a prediction held the count at one
# (predict.one_thread) keeps one: each epoch sets it again, on whatever thread it resumes.
TORCH_THREADS = torch.get_num_threads()


@dataclass
class EpochRecord:
    epoch: int
    epochs: int
    train_loss: float
    train_acc: float  # percent
    test_loss: float
    test_acc: float  # percent
    lr: float  # learning rate at the end of the epoch
    seconds: float  # training time of this epoch only: no data loading, no evaluation
    samples_per_s: float
    data: str  # "mnist" or "sample"

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One human-readable log line; the CLI and the app print the same one."""
        return (f"epoch {self.epoch}/{self.epochs}  train loss {self.train_loss:.4f} acc {self.train_acc:.2f}%  "
                f"test loss {self.test_loss:.4f} acc {self.test_acc:.2f}%  lr {self.lr:.2e}  "
                f"{self.seconds:.1f}s ({self.samples_per_s:,.0f} samples/s)")


@dataclass
class TrainResult:
    model: DigitClassifier
    records: list[EpochRecord]
    config: TrainConfig
    stopped: bool  # True when the stop flag ended training early
    data: str
    extra: dict = field(default_factory=dict)

    @property
    def test_acc(self) -> float | None:
        return self.records[-1].test_acc if self.records else None


@dataclass
class Evaluation:
    loss: float
    accuracy: float  # percent
    predictions: torch.Tensor  # (N,) predicted class per test image


def card_data(result: TrainResult, argv: list[str]) -> dict:
    """What a model card states about a run; `argv` is the `python -m digitlab` command that repeats it."""
    return {"arch": result.model.arch, "num_params": result.model.num_params, "test_acc": result.test_acc,
            "data": result.data, "epochs": len(result.records), "config": asdict(result.config),
            "command": "python -m digitlab " + shlex.join(argv)}


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def as_pixels(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W) -> float (N, 1, H, W) in [0, 1] on `device`."""
    return images.to(device).unsqueeze(1).float().div_(255)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Batched random affine (rotate, scale, shear, shift) and stroke-width jitter, (B, 1, H, W)."""
    b, dev = x.shape[0], x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=gen, device=dev) * (hi - lo) + lo

    angle, scale = uniform(-0.2, 0.2), uniform(0.85, 1.15)  # radians, zoom
    shear, tx, ty = uniform(-0.2, 0.2), uniform(-0.12, 0.12), uniform(-0.12, 0.12)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    # Strokes in sketches are thicker or thinner than MNIST's: dilate a third, erode a sixth.
    pick = torch.rand(b, 1, 1, 1, generator=gen, device=dev)
    dilated = F.max_pool2d(x, 3, 1, 1)
    eroded = -F.max_pool2d(-x, 3, 1, 1)
    x = torch.where(pick < 0.33, 0.5 * (x + dilated), x)
    return torch.where(pick > 5 / 6, 0.5 * (x + eroded), x)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


@torch.no_grad()
def evaluate(model: torch.nn.Module, pixels: torch.Tensor, labels: torch.Tensor, batch_size: int = 2000) -> Evaluation:
    """Exact mean loss and accuracy over a whole split (pixels as from `as_pixels`)."""
    was_training = model.training
    model.eval()
    total_loss, preds = 0.0, []
    for i in range(0, len(labels), batch_size):
        logits = model(pixels[i:i + batch_size])
        total_loss += F.cross_entropy(logits, labels[i:i + batch_size], reduction="sum").item()
        preds.append(logits.argmax(1))
    model.train(was_training)
    predictions = torch.cat(preds)
    accuracy = 100.0 * (predictions == labels).float().mean().item()
    return Evaluation(total_loss / len(labels), accuracy, predictions.cpu())


def train_one_epoch(model, pixels, labels, optimizer, scheduler, cfg: TrainConfig, gen: torch.Generator,
                    stop: threading.Event | None, on_batch: Callable[[int, int], None] | None):
    """Run one epoch; return (mean loss, accuracy %, samples seen). Stops between batches on `stop`."""
    model.train()
    n = len(labels)
    order = torch.randperm(n, generator=gen, device=pixels.device)
    steps = math.ceil(n / cfg.batch_size)
    loss_sum = torch.zeros((), device=pixels.device)
    correct = torch.zeros((), device=pixels.device, dtype=torch.long)
    seen = 0
    for step in range(steps):
        if stop is not None and stop.is_set():
            break
        idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
        x, y = pixels[idx], labels[idx]
        if cfg.augment:
            x = augment(x, gen)
        logits = model(x.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if on_batch is not None:
            on_batch(step + 1, steps)
    seen = max(seen, 1)
    return loss_sum.item() / seen, 100.0 * correct.item() / seen, seen


def train(cfg: TrainConfig | None = None, data: Digits | None = None, stop: threading.Event | None = None,
          on_batch: Callable[[int, int], None] | None = None) -> Iterator[EpochRecord | TrainResult]:
    """Train a fresh model: yield an EpochRecord per epoch, then the TrainResult.

    Nothing outside this generator is touched: an app's active model stays as it was.
    """
    cfg = (cfg or TrainConfig()).validate()
    data = data if data is not None else load_digits(cfg.data)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    # channels_last: oneDNN's fastest convolution layout on CPU (about 1.5x here), fine on CUDA too
    model = DigitClassifier(arch=cfg.arch).to(device, memory_format=torch.channels_last)
    train_x, train_y = as_pixels(data.train_images, device), data.train_labels.to(device)
    test_x, test_y = as_pixels(data.test_images, device), data.test_labels.to(device)
    optimizer = make_optimizer(model, cfg)
    steps = math.ceil(len(train_y) / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps,
                                                    pct_start=0.25, cycle_momentum=cfg.cycle_momentum)
    records: list[EpochRecord] = []
    measured = None  # the weights the last record describes: a stop mid-epoch returns these
    stopped = False
    for epoch in range(1, cfg.epochs + 1):
        torch.set_num_threads(TORCH_THREADS)
        start = time.perf_counter()
        loss, acc, seen = train_one_epoch(model, train_x, train_y, optimizer, scheduler, cfg, gen, stop, on_batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        stopped = stop is not None and stop.is_set()
        if stopped and seen < len(train_y):
            if measured is not None:  # a partial epoch gets no record, so its weights are not kept either
                model.load_state_dict(measured)
            break
        test = evaluate(model, test_x, test_y, cfg.eval_batch_size)
        record = EpochRecord(epoch, cfg.epochs, loss, acc, test.loss, test.accuracy,
                             scheduler.get_last_lr()[0], seconds, seen / seconds, data.name)
        records.append(record)
        if stop is not None and epoch < cfg.epochs:
            measured = {k: v.detach().clone() for k, v in model.state_dict().items()}
        yield record
        if stopped:
            break
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()  # safetensors wants contiguous
    yield TrainResult(model, records, cfg, stopped, data.name)

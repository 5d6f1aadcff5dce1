"""The training loop as a generator: one EpochRecord per epoch, then a TrainResult.

Fast by design: both splits live on the device as uint8 tensors, augmentation is batched on the
device, and nothing runs per sample in Python. The model is built from the data's DatasetSpec
(or started from another model, with a new head when the classes differ), and calibrated at the
end on training images it never saw. The UI, the CLI and the benchmarks all iterate this one
generator; under torchrun (digitlab.training.distributed) each process trains on its shard of every batch.
"""

from __future__ import annotations

import math
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F

from digitlab.data.augment import AUGMENTATIONS
from digitlab.data.dataset import Dataset
from digitlab.data.negatives import negatives_for
from digitlab.data.registry import load_dataset
from digitlab.models import Classifier
from digitlab.models.threads import TORCH_THREADS
from digitlab.models.transfer import freeze_backbone, start_from
from digitlab.note import Note, note
from digitlab.training.config import TrainConfig
from digitlab.training.distributed import Group
from digitlab.training.evaluate import decline_threshold, evaluate, fit_temperature
from digitlab.training.precision import uses_bf16

# Outlier exposure in every run with cfg.decline where negatives ship (digitlab.data.negatives): from
# EXPOSED_FROM of the steps on, a quarter more images per step, the negatives' loss at half weight (as
# scripts/train_decline.py taught the shipped models); then decline what fewer than 1 - ACCEPT of the held-out
# images are read as unsurely as.
EXPOSED_FROM = 0.5  # of the run's steps: a model first learns its classes, then what they are not
NEGATIVE_SHARE = 0.25
NEGATIVE_WEIGHT = 0.5
ACCEPT = 0.998


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
    data: str  # the dataset's name, e.g. "mnist" or "chinese-mnist sample"
    watched: list[int] = field(default_factory=list)  # the answers for train(watch=...)'s test images

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One human-readable log line; the CLI and the app print the same one."""
        return (f"epoch {self.epoch}/{self.epochs}  train loss {self.train_loss:.4f} acc {self.train_acc:.2f}%  "
                f"test loss {self.test_loss:.4f} acc {self.test_acc:.2f}%  lr {self.lr:.2e}  "
                f"{self.seconds:.1f}s ({self.samples_per_s:,.0f} samples/s)")


@dataclass
class TrainResult:
    model: Classifier
    records: list[EpochRecord]
    config: TrainConfig
    stopped: bool  # True when the stop flag ended training early
    data: str
    notes: list[Note] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)  # temperature, held-out images, test ECE before / after
    evaluation: dict = field(default_factory=dict)  # the calibrated model on the test split: Evaluation.summary()

    @property
    def test_acc(self) -> float | None:
        return self.records[-1].test_acc if self.records else None

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)


def card_data(result: TrainResult, argv: list[str], program: str = "python -m digitlab") -> dict:
    """What a model card states about a run; `program` and its `argv` are the command that repeats it."""
    records = [{k: v for k, v in r.as_dict().items() if k != "watched"} for r in result.records]
    return {"arch": result.model.arch, "num_params": result.model.num_params, "test_acc": result.test_acc,
            "data": result.data, "epochs": len(result.records), "seconds": round(result.seconds, 1),
            "config": asdict(result.config), "calibration": result.calibration, "evaluation": result.evaluation,
            "records": records, "command": f"{program} {shlex.join(argv)}"}


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def as_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 views (N, C, S, S) -> float in [0, 1], channels_last (oneDNN's fastest layout on CPU)."""
    return images.float().div_(255).contiguous(memory_format=torch.channels_last)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD or AdamW over the trainable parameters; batch norms' at cfg.norm_lr times the rate (airbench)."""
    norms = {id(p) for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             for p in m.parameters(recurse=False)}
    trained = [p for p in model.parameters() if p.requires_grad]
    groups = [dict(params=[p for p in trained if id(p) not in norms], lr=cfg.lr),
              dict(params=[p for p in trained if id(p) in norms], lr=cfg.lr * cfg.norm_lr,
                   weight_decay=cfg.weight_decay / cfg.norm_lr)]  # the same decay per step
    groups = [g for g in groups if g["params"]]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


def train_mode(model: torch.nn.Module) -> None:
    """model.train(), but batch norms with frozen parameters keep their running statistics."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters()):
            m.eval()


def one_cycle(optimizer: torch.optim.Optimizer, steps: int, cycle_momentum: bool):
    """The one-cycle schedule over `steps` optimizer steps: a quarter rising, then annealed to the end.

    OneCycleLR's last phase ends at step `total_steps - 1`, and a run steps it `steps` times: given
    total_steps=steps, the cosine runs past its end at the last step and the rate rises again (a 10-step run:
    4e-08 after epoch 9, 4e-04 after epoch 10). One step more keeps the whole run inside the schedule.
    OneCycleLR also divides by pct_start * total_steps - 1, which must not be 0 (4 steps at a quarter).
    """
    total = steps + 1
    pct = 0.3 if total == 4 else 0.25
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                               total_steps=total, pct_start=pct, cycle_momentum=cycle_momentum)


def holdout_split(labels: torch.Tensor, share: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, held-out indices): `share` of each class held out for calibration, seeded."""
    keep, held = [], []
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n = int(round(share * len(idx)))
        held.append(idx[:n])
        keep.append(idx[n:])
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


def try_compile(model: torch.nn.Module, sample: torch.Tensor) -> tuple[torch.nn.Module, Note | None]:
    """torch.compile(model), proven on one forward and backward; else the model as it is and why not."""
    try:
        compiled = torch.compile(model)
        compiled(sample).sum().backward()
        model.zero_grad(set_to_none=True)
        return compiled, None
    except Exception as err:  # no compiler, an unsupported platform or op: train eagerly
        model.zero_grad(set_to_none=True)
        reason = " ".join(str(err).split())[:160] or type(err).__name__
        return model, note("train.no_compile", "torch.compile could not run here ({error}: {reason}); training "
                           "without it", error=type(err).__name__, reason=reason)


def exposure_start(scheduler) -> float:
    """The step from which a run shows its negatives (EXPOSED_FROM of its one-cycle schedule's steps)."""
    return EXPOSED_FROM * scheduler.total_steps


def train_one_epoch(model, step_model, images, labels, optimizer, scheduler, cfg: TrainConfig, view: str,
                    order_gen: torch.Generator, aug_gen: torch.Generator, stop: threading.Event | None,
                    on_batch: Callable[[int, int], None] | None, shard: tuple[int, int] = (0, 1), epoch: int = 0,
                    on_indices: Callable[[int, list[int]], None] | None = None, negatives: torch.Tensor | None = None):
    """Run one epoch; return (summed loss, correct, samples seen) of this process's shard.

    Every process draws the same permutation and takes its share of each global batch.
    Stops between batches on `stop`. `negatives`: views of what is none of the classes; each batch draws
    NEGATIVE_SHARE of its size from them and pulls them towards an even answer (outlier exposure).
    """
    train_mode(model)
    bf16 = uses_bf16(cfg.precision, images.device)
    rank, world = shard
    n = len(labels)
    order = torch.randperm(n, generator=order_gen, device=order_gen.device).to(images.device)
    steps = math.ceil(n / cfg.batch_size)
    loss_sum = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device, dtype=torch.long)
    seen, indices = 0, []
    for step in range(steps):
        if stop is not None and stop.is_set():
            break
        idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size][rank::world]
        if on_indices is not None:
            indices += idx.tolist()
        x, y = as_pixels(images[idx]), labels[idx]
        exposed = negatives is not None and scheduler.last_epoch >= exposure_start(scheduler)
        if exposed:
            drawn = torch.randint(len(negatives), (max(1, int(NEGATIVE_SHARE * len(y))),), generator=aug_gen,
                                  device=aug_gen.device)
            x = torch.cat([x, as_pixels(negatives[drawn])])
        if cfg.augment:
            x = AUGMENTATIONS[view](x, aug_gen).contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, torch.bfloat16, enabled=bf16):
            logits = step_model(x).float()
        logits, others = logits[:len(y)], logits[len(y):]
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)  # what the log and curves show
        optimizer.zero_grad(set_to_none=True)
        (loss - NEGATIVE_WEIGHT * others.log_softmax(1).mean() if exposed else loss).backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if on_batch is not None:
            on_batch(step + 1, steps)
    if on_indices is not None:
        on_indices(epoch, indices)
    return loss_sum, correct, seen


def epoch_record(model: Classifier, data: Dataset, cfg: TrainConfig, epoch: int, counts: tuple, seconds: float,
                 lr: float, watch: torch.Tensor | None) -> EpochRecord:
    """What an epoch did: its training loss and accuracy (`counts`: summed loss, correct, seen), the test
    split's, and the answers for the watched test images."""
    loss_sum, correct, seen = counts
    test = evaluate(model, data.test_images, data.test_labels, cfg.eval_batch_size, temperature=1.0)
    seen = max(int(seen), 1)
    watched = [] if watch is None else evaluate(model, watch, torch.zeros(len(watch), dtype=torch.long),
                                                 temperature=1.0).predictions.tolist()
    return EpochRecord(epoch, cfg.epochs, float(loss_sum) / seen, 100.0 * float(correct) / seen, test.loss,
                       test.accuracy, lr, seconds, seen / seconds, data.name, watched)


def build_model(cfg: TrainConfig, data: Dataset, train_idx: torch.Tensor) -> tuple[Classifier, TrainConfig]:
    """The model a run starts with, and its config: from scratch (a data-dependent first layer fitted to the
    training images), or from cfg.init (its architecture, a new head for new classes, maybe frozen)."""
    if cfg.init:
        from digitlab.hub import load_model  # only a run that starts from a model reads one

        source = load_model(cfg.init)
        model = start_from(source, data.spec)
        if source.arch != cfg.arch:
            cfg = replace(cfg, arch=source.arch)
        if cfg.freeze == "backbone":
            freeze_backbone(model)
        return model, cfg
    model = Classifier(cfg.arch, data.spec.to_dict())
    if hasattr(model.backbone, "init_from_data"):  # a data-dependent first layer (airnet's whitening)
        with torch.no_grad():
            model.backbone.init_from_data((as_pixels(data.train_images[train_idx[:5000]]) - model.mean) / model.std)
    return model, cfg


def train(cfg: TrainConfig | None = None, data: Dataset | None = None, stop: threading.Event | None = None,
          on_batch: Callable[[int, int], None] | None = None, watch: torch.Tensor | None = None,
          group: Group | None = None,
          on_indices: Callable[[int, list[int]], None] | None = None) -> Iterator[EpochRecord | Note | TrainResult]:
    """Train a model: yield Notes as they come, an EpochRecord per epoch, then the TrainResult.

    `watch`: test images (N, C, S, S) uint8 whose answers each record carries (the app's gallery of
    answers that change as the model learns). `group`: the torchrun group the caller joined (each process
    trains on its shard of every batch); `on_indices(epoch, indices)`: the training images this process saw.
    Nothing outside this generator is touched: an app's active model stays as it was.
    """
    cfg = (cfg or TrainConfig()).validate()
    data = data if data is not None else load_dataset(cfg.dataset, cfg.data, view=cfg.view)
    shard = (group.rank, group.world) if group else (0, 1)
    device = group.device if group else pick_device(cfg.device)
    notes = list(data.notes)
    yield from data.notes
    torch.manual_seed(cfg.seed)
    order_gen = torch.Generator().manual_seed(cfg.seed)  # the same on every process: one permutation per epoch
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1000 * shard[0])  # each process its own
    train_idx, held_idx = holdout_split(data.train_labels, cfg.calibration, torch.Generator().manual_seed(cfg.seed))
    train_x, train_y = data.train_images[train_idx].to(device), data.train_labels[train_idx].to(device)
    model, cfg = build_model(cfg, data, train_idx)
    negatives = (data.negatives if data.negatives is not None else negatives_for(data.spec)) if cfg.decline else None
    if negatives is not None:
        negatives = negatives.to(device)
    elif cfg.decline:  # asked for, where nothing ships to learn it from: say so rather than answer everything quietly
        why_not = note("train.no_negatives", "{data} has no examples of what is none of its classes to learn from "
                       "(they ship for 28 px handwriting only): this model will not learn to say \"not one of mine\" "
                       "and answers everything.", data=data.name)
        notes.append(why_not)
        yield why_not
    model.mirror = cfg.augment and data.spec.view == "photo"  # flips in training: the mirror reads too
    model = model.to(device, memory_format=torch.channels_last)
    step_model = group.wrap(model) if group else model
    if cfg.compile:
        step_model, why_not = try_compile(step_model, as_pixels(train_x[:2]))
        if why_not:
            notes.append(why_not)
            yield why_not
    optimizer = make_optimizer(model, cfg)
    steps = math.ceil(len(train_y) / cfg.batch_size)
    scheduler = one_cycle(optimizer, cfg.epochs * steps, cfg.cycle_momentum)
    records: list[EpochRecord] = []
    measured = None  # the weights the last record describes: a stop mid-epoch returns these
    stopped = False
    for epoch in range(1, cfg.epochs + 1):
        torch.set_num_threads(TORCH_THREADS)
        start = time.perf_counter()
        loss_sum, correct, seen = train_one_epoch(model, step_model, train_x, train_y, optimizer, scheduler, cfg,
                                                  data.spec.view, order_gen, aug_gen, stop, on_batch, shard, epoch,
                                                  on_indices, negatives)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        stopped = stop is not None and stop.is_set()
        if group:
            loss_sum, correct, seen, stopped = group.all_sum(loss_sum, correct, seen, stopped)
        if stopped and seen < len(train_y):
            if measured is not None:  # a partial epoch gets no record, so its weights are not kept either
                model.load_state_dict(measured)
            break
        record = epoch_record(model, data, cfg, epoch, (loss_sum, correct, seen), seconds,
                              scheduler.get_last_lr()[0], watch)
        records.append(record)
        if stop is not None and epoch < cfg.epochs:
            measured = {k: v.detach().clone() for k, v in model.state_dict().items()}
        yield record
        if stopped:
            break
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()  # safetensors wants contiguous
    learnt = negatives is not None and scheduler.last_epoch > exposure_start(scheduler)  # a step saw them
    calibration = calibrate(model, data, held_idx, cfg.eval_batch_size, learnt) if records else {}
    summary = evaluate(model, data.test_images, data.test_labels, cfg.eval_batch_size).summary() if records else {}
    yield TrainResult(model, records, cfg, stopped, data.name, notes, calibration, summary)


def calibrate(model: Classifier, data: Dataset, held_idx: torch.Tensor, batch_size: int, decline: bool = False) -> dict:
    """Fit the softmax temperature on the held-out training images, and with `decline` (the model learnt what
    is none of its classes) the top probability below which it declines; the test ECE before and after."""
    if len(held_idx) < 50:
        return {"temperature": model.temperature, "held_out": int(len(held_idx)), "note": "too few images to fit"}
    held = evaluate(model, data.train_images[held_idx], data.train_labels[held_idx], batch_size, temperature=1.0)
    model.temperature = fit_temperature(held.logits, held.labels)
    if decline:
        model.decline = decline_threshold((held.logits / model.temperature).softmax(1), ACCEPT)
    test = evaluate(model, data.test_images, data.test_labels, batch_size, temperature=1.0)
    before = test.ece()
    test.temperature = model.temperature
    return {"temperature": round(model.temperature, 4), "held_out": int(len(held_idx)),
            "test_ece_before": round(before, 3), "test_ece_after": round(test.ece(), 3),
            **({"decline_below": round(model.decline, 4)} if decline else {})}

"""One flat, typed set of training settings; `asdict(cfg)` travels with every record and model card."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

OPTIMIZERS = ("adamw", "sgd")
FREEZE = ("none", "backbone")


@dataclass
class TrainConfig:
    arch: str = "digitnet"  # registry name, see digitlab.models.list_models(); with `init`, that model's own
    dataset: str = "mnist"  # a built-in dataset (digitlab.data.DATASETS) or "folder" for your own images
    data: str = "auto"  # "auto", "sample", "download", or a folder / archive of the dataset
    epochs: int = 3
    batch_size: int = 128  # the global batch: under torchrun it is split between the processes
    lr: float = 3e-3  # peak learning rate of the one-cycle schedule
    optimizer: str = "adamw"  # "adamw" or "sgd" (Nesterov)
    momentum: float = 0.9  # SGD's
    weight_decay: float = 5e-4
    norm_lr: float = 1.0  # batch-norm parameters learn this many times faster (weight decay scaled down as much)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW's; lower ones adapt faster in one-epoch runs
    cycle_momentum: bool = True  # one-cycle also sweeps momentum / beta1 between 0.95 and 0.85
    label_smoothing: float = 0.1
    augment: bool = True  # batched on the device: affine + stroke width for glyphs, flip + shift for photos
    calibration: float = 0.05  # share of the training images held out to fit the softmax temperature; 0: none
    init: str = ""  # start from this model (folder or Hub repo id) instead of from scratch
    freeze: str = "none"  # with init: "backbone" trains only the (new) head, "none" fine-tunes everything
    compile: bool = False  # torch.compile the training model; falls back with a warning where it cannot run
    seed: int = 0
    device: str = "auto"  # "auto" picks CUDA when present, else CPU
    eval_batch_size: int = 0  # 0: as suits the device (digitlab.training.evaluate.CPU_BATCH, GPU_BATCH)

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first setting out of range."""
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose from {list(OPTIMIZERS)}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not self.norm_lr > 0:
            raise ValueError(f"the batch-norm learning-rate factor must be positive, got {self.norm_lr}")
        if not 0 <= self.calibration < 0.5:
            raise ValueError(f"the calibration share must be in [0, 0.5), got {self.calibration}")
        if self.freeze not in FREEZE:
            raise ValueError(f"unknown freeze {self.freeze!r}; choose from {list(FREEZE)}")
        if self.freeze != "none" and not self.init:
            raise ValueError("freezing the backbone needs a model to start from (init)")
        return self


# Named starting points: "fast" is the quickest route to >= 99 % on MNIST, "accurate" made weights/;
# "photos" is airbench's recipe (CIFAR-10, Fashion-MNIST).
PRESETS: dict[str, dict] = {
    "fast": dict(arch="speednet", epochs=1, batch_size=256, lr=1e-2, augment=False,
                 label_smoothing=0.0, weight_decay=0.0, betas=(0.7, 0.9), cycle_momentum=False),
    "accurate": dict(arch="digitnet", epochs=20, batch_size=128, lr=3e-3, augment=True),
    # airbench94's settings, as mean-loss SGD: lr 11.5 per 1024 images / (1 + 1/(1 - 0.85)) x 1024 = 1.5,
    # decoupled weight decay 0.0153 per 1024 images -> 1.33e-3, batch-norm biases at 64x the learning rate.
    "photos": dict(arch="airnet", epochs=10, batch_size=1024, lr=1.5, optimizer="sgd", momentum=0.85,
                   weight_decay=1.33e-3, norm_lr=64.0, cycle_momentum=False, label_smoothing=0.2, augment=True),
}


def preset(name: str, **overrides) -> TrainConfig:
    """Return the preset's TrainConfig with `overrides` applied (None values ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {list(PRESETS)}")
    known = {f.name for f in fields(TrainConfig)}
    kept = {k: v for k, v in overrides.items() if v is not None and k in known}
    return replace(TrainConfig(**PRESETS[name]), **kept)

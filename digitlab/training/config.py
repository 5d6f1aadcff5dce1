"""A training run, defined once: every setting is a field of TrainConfig, and each field says what the front
ends need (its help, its command-line flag, whether the Train form shows it, its bounds, its choices).
The CLI's options, the worker's argv, the Train form and the /train API are all made from these fields;
`asdict(cfg)` travels with every record and model card, and TrainConfig.from_dict reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

OPTIMIZERS = ("adamw", "sgd")
FREEZE = ("none", "backbone")
VIEWS = ("glyph", "photo")
PRECISIONS = ("fp32", "bf16", "auto")  # training.precision says what each means
SOURCES = ("auto", "sample", "download")  # or a folder / archive path (locally)


def setting(default: Any, help: str, *, form: bool = False, choices: Callable[[], list] | tuple | None = None,
            lo: float | None = None, hi: float | None = None, flag: str | None = None, what: str | None = None) -> Any:
    """A TrainConfig field: `help` (for --help and the form's hint), `form` (the Train tab shows it),
    `choices` (a tuple, or a function giving them: the registries load lazily), `lo`/`hi` (bounds),
    `flag` (the CLI option, when not --<name with dashes>), `what` (its name in messages, when not its own)."""
    meta = dict(help=help, form=form, choices=choices, lo=lo, hi=hi, flag=flag, what=what)
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def datasets() -> list[str]:
    from digitlab.data import DATASETS

    return list(DATASETS)


def architectures() -> list[str]:
    from digitlab.models import list_models

    return list_models()


@dataclass
class TrainConfig:
    dataset: str = setting("mnist", "what to learn: a built-in dataset, or 'folder' for your own images",
                           form=True, choices=datasets)
    data: str = setting("auto", "where the data comes from: 'auto' (the full data where found or downloadable, "
                        "else the shipped sample), 'sample', 'download', or a folder or archive of it",
                        form=True, flag="--data-dir")
    view: str = setting("glyph", "with --dataset folder: your images are handwriting (glyph) or photos (photo)",
                        form=True, choices=VIEWS)
    arch: str = setting("digitnet", "the architecture (with --init: that model's own)", form=True,
                        choices=architectures)
    epochs: int = setting(3, "passes over the training images", form=True, lo=1, hi=1000)
    batch_size: int = setting(128, "images per step (the global batch: under torchrun it is split between the "
                              "processes)", form=True, lo=1, hi=65536)
    lr: float = setting(3e-3, "peak learning rate of the one-cycle schedule", form=True, lo=1e-6, hi=10.0,
                        what="learning rate")
    optimizer: str = setting("adamw", "the optimizer: AdamW, or SGD with Nesterov momentum", form=True,
                             choices=OPTIMIZERS)
    momentum: float = setting(0.9, "SGD's momentum", lo=0.0, hi=0.999)
    weight_decay: float = setting(5e-4, "decoupled weight decay", lo=0.0, hi=1.0)
    norm_lr: float = setting(1.0, "batch-norm parameters learn this many times faster (their weight decay is "
                             "scaled down as much)", lo=1e-3, hi=1000.0)
    betas: tuple[float, float] = setting((0.9, 0.999), "AdamW's betas; lower ones adapt faster in one-epoch runs")
    cycle_momentum: bool = setting(True, "the one-cycle schedule also sweeps momentum (beta1) between 0.95 and 0.85")
    label_smoothing: float = setting(0.1, "label smoothing", lo=0.0, hi=0.999)
    augment: bool = setting(True, "random shifts, turns and stroke widths for glyphs; flips and shifts for photos",
                            form=True)
    calibration: float = setting(0.05, "share of the training images held out to fit the softmax temperature "
                                 "(0: none)", lo=0.0, hi=0.49)
    decline: bool = setting(True, "learn to say 'not one of mine' from letters, shapes and scribbles shipped with "
                            "the app, and decline what held-out images rarely look like (28 px handwriting: MNIST and "
                            "your own; turn it off when letters or shapes are your classes)", form=True)
    init: str = setting("", "start from this model (a folder or Hub repo id) instead of from scratch", form=True)
    freeze: str = setting("none", "with init: 'backbone' trains only the new head, 'none' fine-tunes everything",
                          form=True, choices=FREEZE)
    precision: str = setting("fp32", "the forward pass in float32, or bfloat16 under autocast (bf16; auto: where "
                             "the chip computes it natively, an AMX CPU or a recent GPU: about twice as fast)",
                             choices=PRECISIONS)
    compile: bool = setting(False, "torch.compile the training model (falls back with a note where it cannot run)",
                            form=True)
    seed: int = setting(0, "random seed", form=True, lo=0, hi=2**31 - 1)
    device: str = setting("auto", "cpu, cuda or auto (CUDA when present)")
    eval_batch_size: int = setting(0, "images per evaluation batch (0: as suits the device)", lo=0, hi=65536)

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first setting out of its bounds or choices."""
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            what = meta["what"] or f.name.replace("_", " ")
            choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
            if choices is not None and value not in choices:
                raise ValueError(f"unknown {what} {str(value)[:40]!r}; choose from {list(choices)}")
            if meta["lo"] is not None and not meta["lo"] <= value <= meta["hi"]:
                raise ValueError(f"{what} must be from {meta['lo']:g} to {meta['hi']:g}, got {value}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if self.freeze != "none" and not self.init:
            raise ValueError("freezing the backbone needs a model to start from (init)")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Rebuild from asdict() (JSON turns the betas into a list); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def settings() -> list:
    """The fields of TrainConfig, in order: what every front end is made from."""
    return list(fields(TrainConfig))


def form_settings() -> list:
    """The settings the Train tab shows (the rest come from the dataset's recipe)."""
    return [f for f in fields(TrainConfig) if f.metadata["form"]]


def default_of(f) -> Any:
    return f.default if f.default is not MISSING else f.default_factory()


def flag_of(f) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def train_argv(cfg: TrainConfig) -> list[str]:
    """The `python -m digitlab` arguments that repeat a run of `cfg`: the nearest preset plus what differs."""
    def differing(name: str) -> list:
        base = TrainConfig(**PRESETS[name])
        return [f for f in settings() if getattr(cfg, f.name) != getattr(base, f.name)
                and f.name not in ("dataset", "data", "device")]

    name = min(PRESETS, key=lambda n: len(differing(n)))
    argv = ["train", "--preset", name, "--dataset", cfg.dataset, "--data-dir", cfg.data]
    for f in differing(name):
        value = getattr(cfg, f.name)
        if isinstance(value, bool):
            argv.append(flag_of(f) if value else "--no-" + flag_of(f)[2:])
        elif isinstance(value, tuple):
            argv += [flag_of(f), *map(str, value)]
        else:
            argv += [flag_of(f), str(value)]
    return argv


# Named starting points: "fast" is the quickest route to >= 99 % on MNIST, "accurate" made weights/;
# "photos" is airbench's recipe (CIFAR-10, Fashion-MNIST). Each repeats its published figures, so none learns to
# decline (--decline adds it; the Train tab's recipes have it).
PRESETS: dict[str, dict] = {
    "fast": dict(arch="speednet", epochs=1, batch_size=256, lr=1e-2, augment=False, label_smoothing=0.0,
                 weight_decay=0.0, betas=(0.7, 0.9), cycle_momentum=False, precision="auto", decline=False),
    "accurate": dict(arch="digitnet", epochs=20, batch_size=128, lr=3e-3, augment=True, decline=False),
    # airbench94's settings, as mean-loss SGD: lr 11.5 per 1024 images / (1 + 1/(1 - 0.85)) x 1024 = 1.5,
    # decoupled weight decay 0.0153 per 1024 images -> 1.33e-3, batch-norm biases at 64x the learning rate.
    "photos": dict(arch="airnet", epochs=10, batch_size=1024, lr=1.5, optimizer="sgd", momentum=0.85,
                   weight_decay=1.33e-3, norm_lr=64.0, cycle_momentum=False, label_smoothing=0.2, augment=True,
                   decline=False),
}


def preset(name: str, **overrides) -> TrainConfig:
    """Return the preset's TrainConfig with `overrides` applied (None values ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {list(PRESETS)}")
    known = {f.name for f in fields(TrainConfig)}
    kept = {k: v for k, v in overrides.items() if v is not None and k in known}
    return replace(TrainConfig(**PRESETS[name]), **kept)


@dataclass(frozen=True)
class Recipe:
    """What the Train tab opens on for a dataset: the `fast` preset's hidden settings, these shown ones, and
    what it reaches on the full data (test accuracy %, training seconds on 2 CPU cores)."""

    epochs: int
    augment: bool
    reach: float  # test accuracy % on the full data
    seconds: float
    arch: str = "speednet"
    batch_size: int = 256
    lr: float = 1e-2
    optimizer: str = "adamw"
    precision: str = "auto"  # the fast preset's; float32 where bfloat16 measured lower

    def config(self, **form) -> TrainConfig:
        shown = dict(arch=self.arch, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                     optimizer=self.optimizer, augment=self.augment, decline=True)  # where negatives ship
        return preset("fast", **{**shown, "precision": self.precision, **form})


# Measured with `python scripts/bench_recipes.py --data ../shared/data` (2 CPU cores with AMX): speednet learns
# each of them in seconds to a minute, so a visitor sees a whole run; `accurate` and `photos` reach more in hours.
# In bfloat16 (auto) MNIST and Fashion-MNIST reach as much in less time (float32: 99.5 % in 15 s, 91.0 % in 12 s);
# Chinese MNIST and CIFAR-10 lost half a point or more (98.1 % in 12 s, 77.3 % in 44 s), so they stay float32.
# MNIST learns to decline as well (the form's default): 99.40 % in 12.3 s, mean of seeds 0-2, against 99.53 % in
# 10.8 s without (`python -m digitlab train --preset fast --dataset mnist --epochs 3 --augment --decline`).
RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(epochs=3, augment=True, reach=99.4, seconds=12),
    "fashion-mnist": Recipe(epochs=3, augment=False, reach=91.3, seconds=8),  # with flips (and the mirror): 89.8
    "chinese-mnist": Recipe(epochs=3, augment=False, reach=98.6, seconds=20, precision="fp32"),
    "cifar10": Recipe(epochs=10, augment=True, reach=78.0, seconds=60, precision="fp32"),
    "folder": Recipe(epochs=10, augment=True, reach=0.0, seconds=0),
}

"""DatasetSpec: what a model needs to know about its data, saved in its config.json.

Every loader returns one, train() builds the model from it, and the Predictor reads it back, so a
model pulled from the Hub reads images the way it was trained with nothing else to know. Nothing
outside this module knows 28, 1 or 10.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

VIEWS = ("glyph", "photo")  # recipes in digitlab.vision.views
POLARITIES = ("light-on-dark", "natural")
# A spec read from a stranger's config.json is bounded before any model is built from it.
MAX_CLASSES, MAX_NAME = 1000, 64  # classes, characters of a label or display name
MIN_SIZE, MAX_SIZE = 8, 128  # px, the square input side


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # "mnist", "fashion-mnist", "chinese-mnist", "cifar10", or an own dataset's name
    labels: tuple[str, ...]  # what each class is called in data and numbers: "7", "七", "airplane"
    display: tuple[str, ...] = ()  # what people are shown, e.g. "七 (7)"; empty: the labels
    size: int = 28  # the square input side, px
    channels: int = 1  # 1 grey, 3 RGB
    mean: tuple[float, ...] = (0.1307,)  # per channel, of the training pixels in [0, 1]
    std: tuple[float, ...] = (0.3081,)
    # How the model's input looks: "light-on-dark" (ink or object bright on black, as MNIST and
    # Fashion-MNIST) or "natural" (a photo as it is, as CIFAR-10).
    polarity: str = "light-on-dark"
    view: str = "glyph"  # the recipe that turns a user's image into model input
    stroke: float = 5.5 / 60  # glyph view: the data's median stroke width, a fraction of 3x the fit box
    notes: dict = field(default_factory=dict, compare=False)  # free-form facts for the card (source, licence)

    def __post_init__(self):
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))
        object.__setattr__(self, "display", tuple(str(d) for d in self.display) or self.labels)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that cannot describe a dataset."""
        if not 2 <= len(self.labels) <= MAX_CLASSES:
            raise ValueError(f"a dataset needs 2 to {MAX_CLASSES:,} classes, {self.name[:40]!r} has "
                             f"{len(self.labels):,}")
        if max(map(len, (self.name, *self.labels, *self.display))) > MAX_NAME:
            raise ValueError(f"names and labels may have up to {MAX_NAME} characters")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"the labels of {self.name!r} repeat: {list(self.labels)}")
        if len(self.display) != len(self.labels):
            raise ValueError(f"{self.name!r} has {len(self.labels)} labels but {len(self.display)} display names")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"the image size must be {MIN_SIZE} to {MAX_SIZE} px, got {self.size}")
        if len(self.mean) != self.channels or len(self.std) != self.channels or min(self.std) <= 0:
            raise ValueError(f"mean and std need one value per channel ({self.channels}) and std > 0")
        if self.view not in VIEWS:
            raise ValueError(f"unknown view {self.view!r}; choose from {list(VIEWS)}")
        if self.polarity not in POLARITIES:
            raise ValueError(f"unknown polarity {self.polarity!r}; choose from {list(POLARITIES)}")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict:
        """JSON-ready, as config.json stores it."""
        d = asdict(self)
        return {**d, "labels": list(self.labels), "display": list(self.display), "mean": list(self.mean),
                "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSpec:
        """Rebuild from to_dict(); unknown keys are ignored, so newer configs load in older code."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def with_stats(self, mean: tuple[float, ...], std: tuple[float, ...]) -> DatasetSpec:
        return replace(self, mean=tuple(mean), std=tuple(std))


DIGITS = tuple(str(d) for d in range(10))
MNIST = DatasetSpec("mnist", DIGITS, notes={"source": "MNIST (LeCun, Cortes & Burges)", "licence": "CC BY-SA 3.0"})


def legacy_spec(labels: list[str] | None = None, input_size: int = 28, mean: float = MNIST.mean[0],
                std: float = MNIST.std[0]) -> DatasetSpec:
    """The spec of a config.json written before specs existed: MNIST-style glyphs."""
    return replace(MNIST, labels=tuple(labels or DIGITS), display=(), size=input_size, mean=(mean,), std=(std,))

"""What the app and a training worker say to each other, typed on both sides.

The app writes one Job as a JSON line on the worker's stdin (then, maybe, the line "stop"); the worker
writes one event per line on stdout: Started, then Progress and Note and Record as they come, then
Done or Failed. Both sides import these classes: a field added here reaches both ends.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from digitlab.note import Note

STOP = "stop"  # a line on the worker's stdin: end after the current batch


@dataclass
class Job:
    """What a worker trains: the settings (TrainConfig.to_dict()), where to save, the command that repeats it."""

    config: dict
    out: str  # folder the model is saved to
    argv: list[str] = field(default_factory=list)  # the CLI command that repeats the run, for the card
    corrections: str | None = None  # fine-tune on these (an .npz, training.finetune) mixed with a replay of the data

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> Job:
        return cls(**json.loads(line))


@dataclass
class Started:
    data: str  # the dataset's name: "mnist sample"
    train: int  # images to train on
    test: int  # images to test on
    spec: dict  # DatasetSpec.to_dict()
    watched: list[dict]  # test images whose answers each record carries: {"png": base64, "label": int}


@dataclass
class Progress:
    step: int
    steps: int


@dataclass
class Record:
    epoch: dict  # EpochRecord.as_dict()


@dataclass
class Done:
    out: str | None  # the saved model's folder; None when no epoch finished
    stopped: bool
    arch: str
    data: str
    config: dict
    calibration: dict = field(default_factory=dict)
    before_after: dict = field(default_factory=dict)  # a fine-tune: accuracy on the corrections and test images


@dataclass
class Failed:
    message: str  # one plain sentence for the visitor, in English
    key: str = ""  # names it, where the app can say it in the visitor's language (a DataError's key)
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


Event = Started | Progress | Note | Record | Done | Failed
EVENTS: dict[str, type] = {cls.__name__: cls for cls in (Started, Progress, Note, Record, Done, Failed)}


def to_json(event: Event) -> str:
    return json.dumps({"event": type(event).__name__, **asdict(event)})


def from_json(line: str) -> Event | None:
    """The event a line carries; None for anything else (a library that printed to stdout)."""
    try:
        data = json.loads(line)
        cls = EVENTS[data.pop("event")]
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
    except (ValueError, KeyError, TypeError, AttributeError):
        return None

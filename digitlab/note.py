"""What a person training should read (a fallback taken, a setting changed), in words an interface can translate.

A Note is one plain English sentence, as the CLI prints it, plus the key and values it was made from: the app
says it in its visitor's language from them (ui.text.said), as it does an ImageError's. A value may itself be a
Note (a clause), and a Note crosses the training worker's pipe as the dict asdict makes of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Note:
    text: str  # the English sentence
    key: str = ""  # names its words; "" for a sentence only English has
    params: dict = field(default_factory=dict)  # the values in it (JSON values or Notes)

    def __str__(self) -> str:
        return self.text


def note(key: str, english: str, **params: object) -> Note:
    """The Note `key`, its English words filled with `params` (a Note among them reads as its text)."""
    return Note(english.format(**params), key, params)

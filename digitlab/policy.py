"""Public mode and every limit the app applies, decided once at start and kept in one place.

Public mode is for strangers (a Hugging Face Space, a --share link): visitors act only with their
own Hub identity, reach no server files, pick only named datasets and Hub repos, and may spend
bounded time. It is on when SPACE_ID is set (a Space), with --share, --public or DIGITLAB_PUBLIC=1,
and off for `python app.py` on one's own machine (where --local forces it off).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PUBLIC_ENV = "DIGITLAB_PUBLIC"


@dataclass(frozen=True)
class Policy:
    public: bool = False
    # Sessions: one per browser tab (or gradio_client); what each owns is removed when it ends.
    max_sessions: int = 500  # the least recently used beyond this is ended
    session_idle_seconds: float = 3600  # a session silent this long ends (tabs closed end at once)
    runs_kept: int = 4  # finished trainings a session keeps, newest first
    corrections_kept: int = 300  # corrected samples a session keeps
    # Training: one process at a time, beside the server, at a lower priority.
    trainings_waiting: int = 4  # more than this waiting, and Train says the lab is busy
    public_train_seconds: float = 240  # a public run is stopped after this much wall-clock time
    max_epochs: int = 30
    max_batch_size: int = 1024
    # Uploads of your own images (a zip): bounded before and while it is read.
    max_zip_bytes: int = 20 * 2**20  # as any upload: gradio stores every upload on disk, up to this size
    upload_disk_reserve: int = 2**30  # files over 1 MB pause while the disk they go to has less free; all at 1/4
    # Inputs: text fields are refused beyond this, and messages are cut to this.
    max_text: int = 200
    max_message: int = 400
    # The Gradio queue: events waiting beyond this are refused at once.
    queue_size: int = 256

    @property
    def train_seconds(self) -> float | None:
        """The wall-clock cap of one training run, None for none."""
        return self.public_train_seconds if self.public else None

    @property
    def train_time_text(self) -> str:
        """The cap as people say it: "4 minutes", "90 seconds"."""
        seconds = self.public_train_seconds
        if seconds >= 120 and seconds % 60 == 0:
            return f"{seconds / 60:.0f} minutes"
        return f"{seconds:.0f} seconds"

    def describe(self) -> str:
        if not self.public:
            return "local mode: your own machine, your own files and Hub login"
        return (f"public mode: your models and files are yours alone and go when you leave; Hub pushes use your "
                f"own token; a training run may take up to {self.train_time_text}")


def decide_public(share: bool = False, public: bool | None = None) -> bool:
    """Public on a Space, with --share or --public / DIGITLAB_PUBLIC=1; `public=False` (--local) wins."""
    if public is not None:
        return public
    env = os.environ.get(PUBLIC_ENV, "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    return bool(os.environ.get("SPACE_ID")) or share

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
    max_sessions: int = 500  # beyond this, sessions holding nothing end first (least recently seen first)
    session_idle_seconds: float = 3600  # a session silent this long ends (tabs closed end at once)
    new_sessions_per_minute: int = 60  # per client address: a classroom behind one address fits, a flood not
    runs_kept: int = 4  # finished trainings a session keeps (the active one and kept ones are never dropped)
    loaded_kept: int = 2  # Hub models a session keeps loaded, the active one included
    corrections_kept: int = 300  # corrected samples a session keeps
    # Training: one process at a time, beside the server, at a lower priority; a fair line before it.
    max_line: int = 64  # waiting runs beyond this, and Train says the lab is busy
    public_train_seconds: float = 240  # a public run is stopped after this much wall-clock time (less in a long line)
    max_epochs: int = 30
    max_batch_size: int = 1024
    # Costly work (decoding, forward passes, numbers, explanations) on a few threads, each visitor in turn.
    work_threads: int = 2
    waiting_per_visitor: int = 4  # requests of one visitor waiting for those threads
    held_image_bytes: int = 128 * 2**20  # request bodies the JSON and sketch routes hold at once, waiting included
    # Uploads: bounded per request, per client and minute, and paused while the disk is nearly full.
    max_zip_bytes: int = 20 * 2**20  # as any upload: gradio stores every upload on disk, up to this size
    files_per_upload: int = 4  # files in one upload request (the page sends one)
    uploads_per_minute: int = 300  # upload requests per client address (public mode; a script predicting fits)
    upload_disk_reserve: int = 2**30  # files over 1 MB pause while the disk they go to has less free; all at 1/4
    upload_inode_reserve: int = 50_000  # uploads pause while the disk has fewer free inodes than this
    sketches_per_second: float = 20  # the page's sketch route, per session
    # Inputs: text fields are refused beyond this.
    max_text: int = 200
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
                f"own token; a training run may take up to {self.train_time_text} (less while many wait)")


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

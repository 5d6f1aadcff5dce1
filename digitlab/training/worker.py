"""A training run in its own process, so the server keeps answering while it learns.

The app starts `python -m digitlab.training.worker` at a lower CPU priority with one JSON job on stdin; the
worker runs the same train() generator and writes one JSON event per line on stdout (a note,
batch progress, an epoch record, then the saved model's folder or a plain error). A line "stop"
on stdin ends the run after the current batch; closing the session kills the process, and with it
every byte of memory the run used.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

NICE = 10  # below the server: a prediction never waits behind a training batch
STOP = "stop"


@dataclass
class Job:
    """What the worker trains: the settings (TrainConfig fields), where the data comes from, where to save."""

    config: dict
    out: str  # folder the model is saved to
    view: str = "glyph"  # own images: glyph or photo
    argv: list[str] = field(default_factory=list)  # the CLI command that repeats the run, for the card
    corrections: str | None = None  # fine-tune on these (an .npz, training.finetune) mixed with a replay of the data


@dataclass
class Event:
    kind: str  # "note", "progress", "record", "done", "error"
    data: dict


class TrainingProcess:
    """One running worker: iterate events(), stop() between batches, kill() at once."""

    def __init__(self, job: Job, threads: int | None = None, nice: int = NICE):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DIGITLAB_NICE": str(nice)}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digitlab.training.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, text=True, bufsize=1,
        )
        self.proc.stdin.write(json.dumps(asdict(job)) + "\n")
        self.proc.stdin.flush()
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stopped = False

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def events(self, poll: float = 0.5) -> Iterator[Event | None]:
        """Events as they come; None every `poll` seconds of silence (time to check a deadline)."""
        while True:
            try:
                line = self.lines.get(timeout=poll)
            except queue.Empty:
                yield None
                continue
            if line is None:
                code = self.proc.wait()
                if code != 0:
                    yield Event("error", {"message": "The training process ended unexpectedly "
                                                     f"(exit code {code}); try fewer epochs or a smaller batch."})
                return
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a library printed to stdout; not ours
            yield Event(event.get("kind", ""), event.get("data", {}))

    def stop(self) -> None:
        """End after the current batch; the epochs done so far are kept."""
        if self.stopped or self.proc.poll() is not None:
            return
        self.stopped = True
        try:
            self.proc.stdin.write(STOP + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    @property
    def running(self) -> bool:
        return self.proc.poll() is None


# ---------------------------------------------------------------- the worker side


def emit(kind: str, **data) -> None:
    sys.stdout.write(json.dumps({"kind": kind, "data": data}) + "\n")
    sys.stdout.flush()


WATCHED = 20  # test images whose answers the app shows changing, epoch by epoch


def watched(data) -> list[int]:
    """A fixed handful of test images, of every class in turn."""
    per_class = [(data.test_labels == c).nonzero().flatten().tolist() for c in range(data.spec.num_classes)]
    picks = [pool[i] for i in range(WATCHED) for pool in per_class if i < len(pool)]
    return sorted(picks[:WATCHED], key=lambda i: int(data.test_labels[i]))


def run(job: Job, stop: threading.Event) -> None:
    """Train as the job says and save the result; every failure becomes one "error" event."""
    from digitlab.data.dataset import DataError
    from digitlab.data.registry import load_dataset
    from digitlab.hub import WeightsError, load_model, save_model
    from digitlab.training.config import TrainConfig
    from digitlab.training.loop import Note, TrainResult, card_data, train
    from digitlab.vision.pictures import png_bytes, view_image

    try:
        cfg = TrainConfig(**{**job.config, "betas": tuple(job.config.get("betas", (0.9, 0.999)))}).validate()
        data = base = load_dataset(cfg.dataset, cfg.data, view=job.view)
        if job.corrections:
            from digitlab.training.finetune import with_corrections

            data = with_corrections(base, Path(job.corrections), cfg.seed)
        watch = watched(base)
        import base64

        gallery = [{"png": base64.b64encode(png_bytes(view_image(base.test_images[i].numpy()))).decode(),
                    "label": int(base.test_labels[i])} for i in watch]
        emit("start", data=str(data), train=len(data.train_labels), test=len(data.test_labels),
             spec=data.spec.to_dict(), watched=gallery)
        shown = 0.0

        def on_batch(step: int, steps: int) -> None:
            nonlocal shown
            if time.monotonic() - shown > 0.25 or step == steps:  # no more than 4 updates a second
                shown = time.monotonic()
                emit("progress", step=step, steps=steps)

        for item in train(cfg, data=data, stop=stop, on_batch=on_batch, watch=base.test_images[watch]):
            if isinstance(item, Note):
                emit("note", text=item.text)
            elif isinstance(item, TrainResult):
                compared = {}
                if item.records:
                    save_model(item.model, job.out, card=card_data(item, job.argv))
                    if job.corrections:
                        from digitlab.training.finetune import before_after

                        compared = before_after(load_model(cfg.init), item.model, data, Path(job.corrections),
                                                item.evaluation.get("accuracy"))
                emit("done", out=job.out if item.records else None, stopped=item.stopped,
                     calibration=item.calibration, arch=item.model.arch, data=item.data,
                     config=asdict(item.config), notes=item.notes, before_after=compared)
            else:
                emit("record", **item.as_dict())
    except (DataError, WeightsError, ValueError, OSError) as err:
        emit("error", message=" ".join(str(err).split()))
    except Exception as err:  # never a traceback to the visitor: the type names what went wrong
        emit("error", message=f"Training failed ({type(err).__name__}).")


def main() -> None:
    if hasattr(os, "nice"):
        os.nice(int(os.environ.get("DIGITLAB_NICE", "0")))
    job = Job(**json.loads(sys.stdin.readline()))
    stop = threading.Event()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == STOP:
                stop.set()
        stop.set()  # the server went away: end after this batch

    threading.Thread(target=watch_stdin, daemon=True).start()
    run(job, stop)


if __name__ == "__main__":
    main()

"""A training run in its own process, so the server keeps answering while it learns.

The app starts `python -m digitlab.training.worker` at a lower CPU priority; the worker loads torch and
the training code first, then waits for its Job on stdin (so a process started ahead of time is warm),
trains with the same train() generator as the CLI, and writes typed events (training.protocol) on
stdout. "stop" on stdin ends the run after the current batch; killing the process frees every byte the
run used. Its stderr (a library's warning, the traceback of a failure) goes to the server's log.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from digitlab.training import protocol
from digitlab.training.protocol import STOP, Done, Event, Failed, Job, Progress, Record, Started

NICE = 10  # below the server: a prediction never waits behind a training batch
WATCHED = 20  # test images whose answers the app shows changing, epoch by epoch
log = logging.getLogger(__name__)


class WorkerProcess:
    """One worker process: start() it ahead of time, run(job) when it is needed, then iterate events();
    stop() ends the run between batches, kill() at once."""

    def __init__(self, threads: int | None = None, nice: int = NICE):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DIGITLAB_NICE": str(nice)}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        self.proc = subprocess.Popen([sys.executable, "-m", "digitlab.training.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stopped = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._log_stderr, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _log_stderr(self) -> None:
        for line in self.proc.stderr:
            if line.strip():
                log.warning("training worker %s: %s", self.proc.pid, line.rstrip())

    def run(self, job: Job) -> None:
        self.proc.stdin.write(job.to_json() + "\n")
        self.proc.stdin.flush()

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
                if code != 0 and not self.stopped:
                    log.warning("training worker %s ended with exit code %s", self.proc.pid, code)
                    yield Failed("The training process ended unexpectedly; try fewer epochs or a smaller batch.")
                return
            event = protocol.from_json(line)
            if event is not None:
                yield event

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


# ---------------------------------------------------------------- the worker side


def emit(event: Event) -> None:
    sys.stdout.write(protocol.to_json(event) + "\n")
    sys.stdout.flush()


def watched(data) -> list[int]:
    """A fixed handful of test images, of every class in turn."""
    per_class = [(data.test_labels == c).nonzero().flatten().tolist() for c in range(data.spec.num_classes)]
    picks = [pool[i] for i in range(WATCHED) for pool in per_class if i < len(pool)]
    return sorted(picks[:WATCHED], key=lambda i: int(data.test_labels[i]))


def run(job: Job, stop: threading.Event) -> None:
    """Train as the job says and save the result; every failure becomes one Failed event."""
    from digitlab.data.dataset import DataError
    from digitlab.hub import WeightsError

    try:
        train_job(job, stop)
    except (DataError, WeightsError, ValueError, OSError) as err:
        emit(Failed(" ".join(str(err).split()), getattr(err, "key", ""), getattr(err, "params", {})))
    except Exception:  # the visitor gets a sentence; the server's log the traceback (this stderr)
        traceback.print_exc()
        emit(Failed("Training failed on an unexpected error; it is in the server's log."))


def train_job(job: Job, stop: threading.Event) -> None:
    from digitlab.data.registry import load_dataset
    from digitlab.hub import load_model, save_model
    from digitlab.training import loop
    from digitlab.training.config import TrainConfig
    from digitlab.vision.pictures import png_bytes, view_image

    cfg = TrainConfig.from_dict(job.config).validate()
    data = base = load_dataset(cfg.dataset, cfg.data, view=cfg.view)
    if job.corrections:
        from digitlab.training.finetune import with_corrections

        data = with_corrections(base, Path(job.corrections), cfg.seed)
    watch = watched(base)
    gallery = [{"png": base64.b64encode(png_bytes(view_image(base.test_images[i].numpy()))).decode(),
                "label": int(base.test_labels[i])} for i in watch]
    emit(Started(data.name, len(data.train_labels), len(data.test_labels), data.spec.to_dict(), gallery))
    shown = 0.0

    def on_batch(step: int, steps: int) -> None:
        nonlocal shown
        if time.monotonic() - shown > 0.25 or step == steps:  # no more than 4 updates a second
            shown = time.monotonic()
            emit(Progress(step, steps))

    for item in loop.train(cfg, data=data, stop=stop, on_batch=on_batch, watch=base.test_images[watch]):
        if isinstance(item, loop.Note):
            emit(item)
        elif isinstance(item, loop.EpochRecord):
            emit(Record(item.as_dict()))
        else:
            compared = {}
            if item.records:
                save_model(item.model, job.out, card=loop.card_data(item, job.argv))
                if job.corrections:
                    from digitlab.training.finetune import before_after

                    compared = before_after(load_model(cfg.init), item.model, data, Path(job.corrections),
                                            item.evaluation.get("accuracy"))
            emit(Done(job.out if item.records else None, item.stopped, item.model.arch, item.data,
                      asdict(item.config), item.calibration, compared))


def main() -> None:
    if hasattr(os, "nice"):
        os.nice(int(os.environ.get("DIGITLAB_NICE", "0")))
    import digitlab.training.loop  # noqa: F401 - torch and the loop load before the job comes: a spare is warm

    line = sys.stdin.readline()
    if not line.strip():
        return  # the app closed a spare it did not need
    job = Job.from_json(line)
    stop = threading.Event()

    def watch_stdin() -> None:
        for command in sys.stdin:
            if command.strip() == STOP:
                stop.set()
        stop.set()  # the server went away: end after this batch

    threading.Thread(target=watch_stdin, daemon=True).start()
    run(job, stop)


if __name__ == "__main__":
    main()

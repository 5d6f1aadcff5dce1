"""Torch's thread count: what the process started with, and one thread for small predictions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

# The threads torch started with, read at import on the main thread. Torch keeps a count per
# thread, and a worker thread that first ran torch while a prediction held the count at one
# (one_thread) keeps one: training sets it again each epoch, on whatever thread it resumes.
TORCH_THREADS = torch.get_num_threads()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on this thread alone: a few small images are too small to split, and waking a
    second thread costs more CPU than it saves (1.3 vs 0.9 ms for one digitnet image; ~1.5 ms a
    JSON prediction under load). Back to the process's count after, whatever another thread did
    meanwhile."""
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(TORCH_THREADS)

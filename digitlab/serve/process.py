"""Process settings that let one small CPU serve many sketching users; apply before torch loads.

Each was measured with scripts/bench_serve.py (2 cores, 32 gradio_client users drawing):
- glibc hands large freed buffers back to the OS at once, so each decoded 800x800 canvas
  (2.5 MB) is page-faulted in afresh, ~1 ms per MB on this VM. Kept in the heap for reuse,
  a sketch PNG decodes in 1 ms instead of 6.
- Gradio's queue rebuilds a pandas DataFrame of its last 10,000 events after every event, for
  its monitoring page: ~4 ms per prediction, and more as the server ages. Once per 1,000 events
  over the last 1,000 keeps that page working at a thousandth of the cost.
- Idle OpenMP threads sleep instead of spinning: a 1 ms prediction otherwise burns ~40 ms of CPU
  whenever another thread (a second request, a training job) holds the other core.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
REUSE_BELOW = 64 * 2**20  # bytes: allocations under this come from (and return to) the heap


def tune_process() -> None:
    """Set the serving defaults above; environment variables already set win."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    keep_freed_memory()


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed buffers for reuse; False where the C library has no mallopt (macOS)."""
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, REUSE_BELOW)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * REUSE_BELOW))

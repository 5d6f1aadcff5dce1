"""Training under torchrun: PyTorch's own DistributedDataParallel, gloo on CPU, NCCL on CUDA.

`torchrun --nproc-per-node N -m digitlab train ...` starts N processes with RANK, WORLD_SIZE and a
rendezvous in their environment; current() joins the group once and says who this process is.
A single process (no WORLD_SIZE, or 1) gets None: no process group, no DDP wrapper, the same path as ever.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import torch


@dataclass(frozen=True)
class Group:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, writes records and saves or pushes weights."""
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as DDP trains it: gradients averaged over the processes at each step."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def all_sum(self, *values) -> tuple:
        """Sum numbers (or 0-d tensors, or flags) over all processes; every process gets the totals."""
        import torch.distributed as dist

        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        out = t.tolist()
        return tuple(bool(o) if isinstance(v, bool) else o for o, v in zip(out, values, strict=True))


TRACE_ENV = "DIGITLAB_TRACE_SHARDS"  # a folder: each process writes the training images it saw, per epoch


def trace(rank: int, epoch: int, indices: list[int]) -> None:
    """Record which training images this process trained on in `epoch` (for tests of the sharding)."""
    folder = os.environ.get(TRACE_ENV)
    if folder:
        import json

        with open(os.path.join(folder, f"rank-{rank}.jsonl"), "a") as f:
            f.write(json.dumps({"epoch": epoch, "indices": indices}) + "\n")


@cache
def current() -> Group | None:
    """This process's place in the torchrun group, joined on first call; None for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Group(rank, world, device)

"""Training under torchrun: PyTorch's own DistributedDataParallel, gloo on CPU, NCCL on CUDA.

`torchrun --nproc-per-node N -m digitlab train ...` starts N processes with RANK, WORLD_SIZE and a
rendezvous in their environment; the entry point joins the group (join) and leaves it at its end (leave),
and hands the Group to train(). A single process gets None: no process group, no DDP wrapper.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

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


def shard_tracer(folder: str, group: Group | None) -> Callable[[int, list[int]], None]:
    """An on_indices callback for train(): each process appends the training images it saw, per epoch, to
    <folder>/rank-<n>.jsonl (the tests of the sharding read them)."""
    rank = group.rank if group else 0

    def write(epoch: int, indices: list[int]) -> None:
        with open(os.path.join(folder, f"rank-{rank}.jsonl"), "a") as f:
            f.write(json.dumps({"epoch": epoch, "indices": indices}) + "\n")

    return write


def join() -> Group | None:
    """Join the torchrun group this process was started in (its entry point calls this once, and leave() at
    its end); None for a single process: no process group, no DDP, the same path as ever."""
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
    dist.init_process_group(backend)
    return Group(rank, world, device)


def leave(group: Group | None) -> None:
    """Destroy the process group join() made."""
    if group is not None:
        import torch.distributed as dist

        dist.destroy_process_group()

"""The number format a run's forward pass computes in: float32, or bfloat16 where the chip does it natively.

bfloat16 keeps float32's range with fewer mantissa bits; under torch.autocast the convolutions and matrix
products run in it while the weights, the loss and the optimizer stay float32. On a CPU with AMX tiles
(Intel Sapphire Rapids and later) oneDNN runs those in hardware: speednet's training step takes about half
the time (11.5 vs 21-25 ms a batch of 256 on the 2-core machine). A CPU without them would emulate it, which is
slower than float32, so "auto" asks the chip first.
"""

from __future__ import annotations

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 products in hardware: a CUDA GPU that supports it, a CPU with AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private, so asked with care
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # an older or newer torch that answers differently: float32 is always right
        return False


def uses_bf16(precision: str, device: torch.device) -> bool:
    """Whether a run set to `precision` computes its forward pass in bfloat16 on `device`."""
    return precision == "bf16" or (precision == "auto" and native_bf16(device))

"""Augmentation batched on the device: random affine and stroke width for glyphs, flips and shifts for photos."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def uniform(b: int, lo: float, hi: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(b, generator=gen, device=device) * (hi - lo) + lo


def augment_glyphs(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Batched random affine (rotate, scale, shear, shift) and stroke-width jitter, (B, C, H, W)."""
    b, dev = x.shape[0], x.device
    angle, scale = uniform(b, -0.2, 0.2, gen, dev), uniform(b, 0.85, 1.15, gen, dev)  # radians, zoom
    shear = uniform(b, -0.2, 0.2, gen, dev)
    tx, ty = uniform(b, -0.12, 0.12, gen, dev), uniform(b, -0.12, 0.12, gen, dev)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    # Strokes in sketches are thicker or thinner than the data's: dilate a third, erode a sixth.
    pick = torch.rand(b, 1, 1, 1, generator=gen, device=dev)
    dilated = F.max_pool2d(x, 3, 1, 1)
    eroded = -F.max_pool2d(-x, 3, 1, 1)
    x = torch.where(pick < 0.33, 0.5 * (x + dilated), x)
    return torch.where(pick > 5 / 6, 0.5 * (x + eroded), x)


def augment_photos(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Batched random left-right flip and a shift of up to `shift` px (reflected edges), (B, C, H, W)."""
    b, _, h, w = x.shape
    flip = torch.rand(b, 1, 1, 1, generator=gen, device=x.device) < 0.5
    x = torch.where(flip, x.flip(-1), x)
    padded = F.pad(x, (shift,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * shift + 1, (b,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * shift + 1, (b,), generator=gen, device=x.device)
    rows = (torch.arange(h, device=x.device) + dy[:, None])[:, None, :, None]  # (B, 1, H, 1)
    cols = (torch.arange(w, device=x.device) + dx[:, None])[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "glyph": augment_glyphs, "photo": augment_photos}

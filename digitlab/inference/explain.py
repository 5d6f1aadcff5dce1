"""Why this answer: which pixels pushed the model to it, and what each convolution layer saw.

Attributions are Captum's integrated gradients (Sundararajan et al. 2017) from a blank input (no
ink, or the data's mean colour for photos) to the model's view, for the answer's logit; activations
are the first channels of every Conv2d, read with forward hooks in one pass. Computed on request,
never on the per-stroke path (~50 ms for digitnet on a 28x28 view).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients

from digitlab.models import Classifier

STEPS = 32  # integration steps: enough for a smooth map of a small view
CHANNELS = 16  # activation maps shown per layer


@dataclass
class Layer:
    """One convolution's activation maps, described by what it is: the n-th of `of`, its filters and size."""

    number: int  # 1 for the first convolution
    of: int  # convolutions in the model
    filters: int  # its output channels
    height: int
    width: int
    maps: np.ndarray  # (CHANNELS, h, w) float activations in [0, 1], its first channels


@dataclass
class Explanation:
    answer: int  # the class explained (the model's answer unless another was asked for)
    attribution: np.ndarray  # (S, S) float: positive pushed towards the answer, negative away
    layers: list[Layer]


def baseline_of(model: Classifier, view: torch.Tensor) -> torch.Tensor:
    """Nothing to see: no ink on a glyph view, the data's mean colour on a photo."""
    if model.spec.view == "glyph":
        return torch.zeros_like(view)
    return model.mean.expand_as(view).clone()


def explain(model: Classifier, view: np.ndarray, answer: int | None = None) -> Explanation:
    """Attributions and activations for one (C, S, S) uint8 view."""
    model = model.eval()
    x = torch.from_numpy(np.asarray(view)).float().div(255).unsqueeze(0)  # (1, C, S, S)
    layers: list[tuple[str, torch.Tensor]] = []
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: layers.append((name, out.detach())))
             for name, m in convs]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    answer = int(logits.argmax(1)) if answer is None else int(answer)
    attribution = IntegratedGradients(model).attribute(x, baselines=baseline_of(model, x), target=answer,
                                                       n_steps=STEPS, internal_batch_size=STEPS)
    shown = []
    for number, (_, out) in enumerate(layers, 1):
        maps = out[0, :CHANNELS].relu()
        peak = maps.flatten(1).max(1).values.clamp_min(1e-6)[:, None, None]
        shown.append(Layer(number, len(layers), out.shape[1], out.shape[2], out.shape[3], (maps / peak).numpy()))
    return Explanation(answer, attribution[0].sum(0).detach().numpy(), shown)


def heatmap(view: np.ndarray, attribution: np.ndarray, scale: int = 8) -> np.ndarray:
    """The view in grey with the attribution laid over it: red towards the answer, blue away. (H, W, 3) uint8."""
    grey = view.mean(0) if view.shape[0] > 1 else view[0].astype(np.float32)
    limit = float(np.abs(attribution).max()) or 1.0
    a = np.clip(attribution / limit, -1, 1)
    base = 0.35 * grey[..., None] / 255 * np.ones(3)
    red, blue = np.clip(a, 0, 1)[..., None], np.clip(-a, 0, 1)[..., None]
    rgb = base * (1 - np.maximum(red, blue)) + red * np.array([1.0, 0.2, 0.1]) + blue * np.array([0.1, 0.4, 1.0])
    out = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return out.repeat(scale, 0).repeat(scale, 1)


def activation_grid(maps: np.ndarray, columns: int = 8, gap: int = 2, side: int = 48) -> np.ndarray:
    """(N, h, w) maps in [0, 1] tiled in rows of `columns`, grey uint8, each enlarged to at least `side` px."""
    n, h, w = maps.shape
    scale = max(1, side // max(h, w))
    tiles = (maps * 255).astype(np.uint8).repeat(scale, 1).repeat(scale, 2)
    rows = (n + columns - 1) // columns
    th, tw = tiles.shape[1:]
    grid = np.full((rows * (th + gap) - gap, columns * (tw + gap) - gap), 90, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * (th + gap):r * (th + gap) + th, c * (tw + gap):c * (tw + gap) + tw] = tile
    return grid

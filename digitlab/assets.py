"""Where the shipped models (weights/<dataset>/) and the Upload tab's samples (examples/) are: inside the
package once installed (`pip install .` puts them in digitlab/shipped/), at the top of a checkout otherwise."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    installed = PACKAGE / "shipped" / name
    return installed if installed.is_dir() else PACKAGE.parent / name


WEIGHTS_DIR = shipped("weights")  # one folder per dataset: model.safetensors, config.json, the card
EXAMPLES_DIR = shipped("examples")  # MNIST digits; examples/<dataset>/ for the other shipped models

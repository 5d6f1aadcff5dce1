"""Save and load DigitClassifier weights: safetensors + config.json, never pickle."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from digitlab.models import DigitClassifier, list_models

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".pkl", ".ckpt")


class WeightsError(ValueError):
    """Weights that cannot become the active model; the message is for users."""


def save_model(model: DigitClassifier, folder: str | Path, card: dict | None = None) -> Path:
    """Write model.safetensors, config.json and a model card (README.md) to `folder`."""
    folder = Path(folder)
    model.save_pretrained(folder, model_card_kwargs=card or {})
    return folder


def model_from_files(config_path: Path, weights_path: Path, where: str) -> DigitClassifier:
    """Build the model the config names and load the tensors strictly, checking every shape."""
    try:
        config = json.loads(Path(config_path).read_text())
    except (OSError, ValueError) as err:
        raise WeightsError(f"{where} has no readable config.json ({err.__class__.__name__}).") from err
    arch = config.get("arch")
    if arch not in list_models():
        raise WeightsError(f"{where} names an unknown architecture {arch!r}; digitlab knows {list_models()}.")
    model = DigitClassifier(**config)
    try:
        tensors = load_file(str(weights_path))
        model.load_state_dict(tensors, strict=True)
    except Exception as err:
        raise WeightsError(f"The weights in {where} do not fit the {arch!r} architecture its config names.") from err
    return model.eval()


def load_local(folder: str | Path) -> DigitClassifier:
    """Load a model saved by `save_model` from a local folder."""
    folder = Path(folder)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        if any(p.suffix in PICKLE_SUFFIXES for p in folder.glob("*")):
            raise WeightsError(f"{folder} holds only pickle weights (.bin/.pth); digitlab loads safetensors only.")
        raise WeightsError(f"{folder} has no model.safetensors.")
    return model_from_files(folder / "config.json", weights, str(folder))


def load_model(source: str | Path | None = None, revision: str | None = None) -> DigitClassifier:
    """Load from a local folder (default: the shipped weights) or, later, a Hub repo id."""
    source = Path(source or DEFAULT_WEIGHTS)
    if not source.is_dir():
        raise WeightsError(f"{source} is not a folder of digitlab weights.")
    return load_local(source)

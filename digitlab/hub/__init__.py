"""Weights on disk and on the Hugging Face Hub: safetensors + config.json, never pickle, always as the
caller's own identity (transport); what a model card says (card) and shows (pictures)."""

from digitlab.hub.transport import (
    DEFAULT_WEIGHTS,
    HubError,
    Loaded,
    WeightsError,
    load,
    load_local,
    load_model,
    push_model,
    read_card_data,
    save_model,
    shipped_weights,
)

__all__ = ["DEFAULT_WEIGHTS", "HubError", "Loaded", "WeightsError", "load", "load_local", "load_model", "push_model",
           "read_card_data", "save_model", "shipped_weights"]

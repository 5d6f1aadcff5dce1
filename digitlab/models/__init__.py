"""Models: the architecture registry (each backbone with its first layer and head named), the Hub-ready
Classifier with its spec, calibration and cost budget, transfer to new classes, and ONNX."""

from digitlab.models.classifier import (
    MAX_MACS,
    MAX_PARAMS,
    Classifier,
    ModelBudgetError,
    check_budget,
    costs,
    summary,
)
from digitlab.models.registry import MODELS, architecture, create_backbone, head_name, list_models, register_model

__all__ = ["MAX_MACS", "MAX_PARAMS", "MODELS", "Classifier", "ModelBudgetError", "architecture", "check_budget",
           "costs", "create_backbone", "head_name", "list_models", "register_model", "summary"]

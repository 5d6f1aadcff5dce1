"""Inference: the Predictor (any image in, top-k out, read the way the model's data was) and explanations."""

from digitlab.inference.predictor import Predictor

__all__ = ["Predictor"]

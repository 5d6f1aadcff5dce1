"""ONNX: a digitlab model for other runtimes (onnxruntime, the browser), and back into a Predictor.

The exported graph takes (B, C, S, S) float pixels in [0, 1] (the spec's view, normalisation
inside) and gives (B, K) logits, with a dynamic batch size; the DatasetSpec, the architecture and
the temperature travel in the file's metadata, so `Predictor.from_pretrained("model.onnx")` reads
images exactly as the PyTorch model does. `int8=True` quantises the weights dynamically
(onnxruntime.quantization), for a smaller file and faster CPU inference.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import torch

from digitlab.models import Classifier
from digitlab.models.classifier import checked_decline
from digitlab.spec import DatasetSpec

INPUT, OUTPUT = "pixels", "logits"
OPSET = 17


class OnnxClassifier(torch.nn.Module):
    """An exported model run by onnxruntime, behaving as a Classifier for the Predictor and evaluate()."""

    def __init__(self, path: str | Path):
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("DIGITLAB_ONNX_THREADS", "1"))  # as the Predictor's torch
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "digitlab.spec" not in meta:
            raise ValueError(f"{path} is not a digitlab ONNX model (it has no digitlab.spec metadata)")
        self.spec = DatasetSpec.from_dict(json.loads(meta["digitlab.spec"]))
        self.arch = meta.get("digitlab.arch", "onnx")
        self.temperature = float(meta.get("digitlab.temperature", 1.0))
        self.decline = checked_decline(float(meta["digitlab.decline"]) if "digitlab.decline" in meta else None)
        self.num_params = int(meta.get("digitlab.num_params", 0))
        self.path = Path(path)

    @property
    def labels(self) -> list[str]:
        return list(self.spec.labels)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return logits, shape (B, num_classes)."""
        x = pixels.detach().to(torch.float32).contiguous().cpu().numpy()
        return torch.from_numpy(self.session.run([OUTPUT], {INPUT: x})[0])


def export_onnx(model: Classifier, out: str | Path, int8: bool = False) -> dict:
    """Write the model as ONNX at `out` (metadata: spec, arch, temperature); return {"bytes": size}."""
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = model.spec
    model = model.eval().to(memory_format=torch.contiguous_format)
    dummy = torch.rand(2, spec.channels, spec.size, spec.size)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():  # TorchScript's exporter: 5x faster than dynamo's for these small nets
            warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export",
                                    DeprecationWarning)
            torch.onnx.export(model, (dummy,), str(plain), input_names=[INPUT], output_names=[OUTPUT],
                              dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, opset_version=OPSET,
                              dynamo=False)
        graph = onnx.load(str(plain))
        meta = {"digitlab.spec": json.dumps(spec.to_dict()), "digitlab.arch": model.arch,
                "digitlab.temperature": repr(float(model.temperature)), "digitlab.num_params": str(model.num_params),
                **({"digitlab.decline": repr(model.decline)} if model.decline is not None else {}),
                "digitlab.input": "float pixels in [0, 1], (batch, channels, size, size), as the spec's view "
                                  "makes them"}
        for key, value in meta.items():
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, str(plain))
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic
            from onnxruntime.quantization.shape_inference import quant_pre_process

            prepared = Path(tmp) / "prepared.onnx"  # onnxruntime's advised first step: shapes inferred, graph tidied
            quant_pre_process(str(plain), str(prepared))
            quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8)
            quantized = onnx.load(str(out))  # quantize_dynamic keeps the graph; the metadata goes again
            del quantized.metadata_props[:]
            for key, value in meta.items():
                quantized.metadata_props.add(key=key, value=value)
            onnx.save(quantized, str(out))
        else:
            plain.replace(out)
    return {"bytes": out.stat().st_size}


def load_onnx(path: str | Path) -> OnnxClassifier:
    return OnnxClassifier(path)

"""ONNX: a digitlab model for other runtimes (onnxruntime, the browser), and back into a Predictor.

The exported graph takes (B, C, S, S) float pixels in [0, 1] (the spec's view, normalisation
inside) and gives (B, K) logits, with a dynamic batch size; the DatasetSpec, the architecture and
the temperature travel in the file's metadata, so `Predictor.from_pretrained("model.onnx")` reads
images exactly as the PyTorch model does. `int8=True` quantises the weights dynamically
(onnxruntime.quantization), for a smaller file and faster CPU inference.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from digitlab.models import Classifier
from digitlab.models.classifier import checked_decline
from digitlab.spec import DatasetSpec
from digitlab.vision.numbers import ROW_HEIGHT

INPUT, OUTPUT = "pixels", "logits"
OPSET = 17


class OnnxClassifier(torch.nn.Module):
    """An exported model run by onnxruntime, behaving as a Classifier for the Predictor and evaluate()."""

    def __init__(self, source: str | Path | bytes):
        """`source`: an .onnx file, or a serialised graph (runtime_copy's)."""
        super().__init__()
        self.session = session_of(source)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "digitlab.spec" not in meta:
            what = "the graph" if isinstance(source, bytes) else source
            raise ValueError(f"{what} is not a digitlab ONNX model (it has no digitlab.spec metadata)")
        self.spec = DatasetSpec.from_dict(json.loads(meta["digitlab.spec"]))
        self.arch = meta.get("digitlab.arch", "onnx")
        self.temperature = float(meta.get("digitlab.temperature", 1.0))
        self.decline = checked_decline(float(meta["digitlab.decline"]) if "digitlab.decline" in meta else None)
        self.num_params = int(meta.get("digitlab.num_params", 0))

    @property
    def labels(self) -> list[str]:
        return list(self.spec.labels)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return logits, shape (B, num_classes)."""
        x = pixels.detach().to(torch.float32).contiguous().cpu().numpy()
        return torch.from_numpy(self.session.run([OUTPUT], {INPUT: x})[0])


def session_of(source: str | Path | bytes):
    """An onnxruntime session as digitlab runs one: on the CPU, DIGITLAB_ONNX_THREADS threads (default 1,
    as the Predictor's torch), and no memory arena, which would keep a big batch's memory (an evaluation's)
    for the model's whole life."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("DIGITLAB_ONNX_THREADS", "1"))
    options.enable_cpu_mem_arena = False
    graph = source if isinstance(source, bytes) else str(source)
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


EXPORTING = threading.Lock()  # torch.onnx keeps its exporting state in module globals


def exported(module: torch.nn.Module, example: torch.Tensor, names: tuple[str, str], dynamic: dict) -> bytes:
    """A module's ONNX graph, serialised: input and output named `names`, their axes in `dynamic` left free."""
    graph = io.BytesIO()
    with EXPORTING, warnings.catch_warnings():  # TorchScript's exporter: 5x faster than dynamo's for these small nets
        warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export",
                                DeprecationWarning)
        # Said of every GRU with a free length (its input-size check becomes a constant; the row reader runs one
        # row at a time, as it is exported): tests/test_rows.py reads rows of any width through the export.
        warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size other than 1", UserWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(module, (example,), graph, input_names=[names[0]], output_names=[names[1]],
                          dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    return graph.getvalue()


def graph_of(model: Classifier) -> onnx.ModelProto:
    """The model's ONNX graph, with the metadata that makes it a digitlab model (spec, arch, temperature)."""
    spec = model.spec
    model = model.eval().to(memory_format=torch.contiguous_format)
    dummy = torch.rand(2, spec.channels, spec.size, spec.size)
    proto = onnx.load_from_string(exported(model, dummy, (INPUT, OUTPUT), {INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}))
    set_metadata(proto, model)
    return proto


def set_metadata(proto: onnx.ModelProto, model: Classifier) -> None:
    meta = {"digitlab.spec": json.dumps(model.spec.to_dict()), "digitlab.arch": model.arch,
            "digitlab.temperature": repr(float(model.temperature)), "digitlab.num_params": str(model.num_params),
            **({"digitlab.decline": repr(model.decline)} if model.decline is not None else {}),
            "digitlab.input": "float pixels in [0, 1], (batch, channels, size, size), as the spec's view makes them"}
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)


def runtime_copy(model: Classifier) -> OnnxClassifier:
    """The model in onnxruntime, in memory: what a Predictor serves one image with.

    Per image, PyTorch's Python and dispatch cost more than the arithmetic: onnxruntime reads one
    MNIST view in 0.28 ms against the fused PyTorch graph's 0.68 ms (one thread each), and a batch
    of 128 in 37 against 53 ms. Building it costs ~40 ms.
    """
    return OnnxClassifier(graph_of(model).SerializeToString())


class OnnxRows:
    """A model's row reader (RowNet) in onnxruntime, in memory: one row, (1, 1, 32, W) ink in [0, 1] -> (1, W / 4,
    classes + 2) log-probabilities, any width. 4x faster than PyTorch's (a 4-digit row: 0.5 against 2.3 ms)."""

    def __init__(self, rows: torch.nn.Module):
        example = torch.zeros(1, 1, ROW_HEIGHT, 64)
        self.session = session_of(exported(rows.eval(), example, ("rows", "columns"),
                                           {"rows": {3: "width"}, "columns": {1: "steps"}}))  # one row at a time

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"rows": rows})[0]


def export_onnx(model: Classifier, out: str | Path, int8: bool = False) -> dict:
    """Write the model as ONNX at `out` (metadata: spec, arch, temperature); return {"bytes": size}."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = graph_of(model)
    if not int8:
        onnx.save(graph, str(out))
        return {"bytes": out.stat().st_size}
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared = Path(tmp) / "model.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(graph, str(plain))
        quant_pre_process(str(plain), str(prepared))  # onnxruntime's advised first step: shapes inferred, graph tidied
        quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8)
    quantized = onnx.load(str(out))  # quantize_dynamic keeps the graph; the metadata goes again
    set_metadata(quantized, model)
    onnx.save(quantized, str(out))
    return {"bytes": out.stat().st_size}


def load_onnx(path: str | Path) -> OnnxClassifier:
    return OnnxClassifier(path)

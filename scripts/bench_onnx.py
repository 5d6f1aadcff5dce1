"""ONNX beside PyTorch: do they agree, what int8 costs in accuracy, and how fast each is on the CPU.

For a model (default: the shipped MNIST one) it exports the float and the int8 ONNX files, then
- reads the sketch-realism kinds (scripts/eval_sketch.py's, MNIST test digits as the app receives
  them) with PyTorch, onnxruntime and onnxruntime int8: top-1 agreement and accuracy of each;
- times one 28x28 view and a batch of 32, PyTorch (the model's own graph, batch norm folded) and
  onnxruntime (the copy a Predictor serves with, and the exported files), one thread each, in one run.

    python scripts/bench_onnx.py --data-dir ../shared/data/mnist [--weights weights/mnist] [--n 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_sketch import MNIST_KINDS, mnist_examples  # noqa: E402

from digitlab.data.registry import load_dataset  # noqa: E402
from digitlab.hub import load_model  # noqa: E402
from digitlab.inference.predictor import Predictor  # noqa: E402
from digitlab.models.onnx import export_onnx  # noqa: E402
from digitlab.models.threads import one_thread  # noqa: E402
from digitlab.vision.imageio import ImageError  # noqa: E402


def p50_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", help="model folder or Hub repo id (default: the shipped MNIST model)")
    ap.add_argument("--data-dir", default="auto", help="MNIST folder (default: auto)")
    ap.add_argument("--n", type=int, default=1000, help="digits per sketch kind (default: 1000)")
    args = ap.parse_args()
    model = load_model(args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        plain, small = Path(tmp) / "model.onnx", Path(tmp) / "model-int8.onnx"
        sizes = {"onnx": export_onnx(model, plain)["bytes"], "onnx int8": export_onnx(model, small, int8=True)["bytes"]}
        served = Predictor(model)
        pytorch = fuse(model.eval()).to(memory_format=torch.channels_last)

        def torch_probabilities(views: list[np.ndarray]) -> torch.Tensor:
            with torch.inference_mode(), one_thread():  # as the Predictor ran it
                batch = torch.from_numpy(np.stack(views)).float().div_(255)
                return (pytorch(batch) / served.temperature).softmax(1)

        readers = {"torch": torch_probabilities, "served": served.probabilities,
                   "onnx": Predictor.from_pretrained(plain).probabilities,
                   "onnx int8": Predictor.from_pretrained(small).probabilities}
        data = load_dataset("mnist", args.data_dir)
        images, labels = data.test_images[:, 0].numpy(), data.test_labels.numpy()
        views, truth = [], []
        for kind in MNIST_KINDS:
            for source, label in mnist_examples(kind, images, labels, args.n, 0):
                try:
                    views.append(served.prepare(source))
                    truth.append(label)
                except ImageError:
                    continue
        truth = np.array(truth)
        answers = {name: np.concatenate([read(views[i:i + 256]).argmax(1).numpy()
                                         for i in range(0, len(views), 256)]) for name, read in readers.items()}
        print(f"model: {model.arch} ({model.spec.name}), {len(views)} sketch-realism views "
              f"({', '.join(MNIST_KINDS)}); torch {sum(t.numel() * 4 for t in model.state_dict().values()) / 1e6:.2f} "
              f"MB of float32 weights")
        for name, got in answers.items():
            agree = 100 * float((got == answers["torch"]).mean())
            size = f", file {sizes[name] / 1e6:.2f} MB" if name in sizes else ""
            print(f"  {name:<10} accuracy {100 * float((got == truth).mean()):6.2f} %  top-1 agreement with torch "
                  f"{agree:7.3f} %{size}")
        one, batch = views[:1], views[:32]
        print("latency p50, one thread each (ms):")
        for name, read in readers.items():
            read(batch)  # warm-up
            print(f"  {name:<10} one view {p50_ms(lambda r=read: r(one), 300):6.3f}   "
                  f"batch of 32 {p50_ms(lambda r=read: r(batch), 100):7.3f}")


if __name__ == "__main__":
    main()

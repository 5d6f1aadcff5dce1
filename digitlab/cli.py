"""python -m digitlab train|eval|predict|push|pull — thin wrappers over the package."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

import torch

from digitlab.config import OPTIMIZERS, PRESETS, TrainConfig, preset
from digitlab.data import load_digits
from digitlab.models import list_models

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
JSON_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds")


class CLIError(Exception):
    """A failure the user can fix; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m digitlab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save it to --out")
    t.add_argument("--preset", choices=list(PRESETS), default="fast", help="starting settings (default: fast)")
    t.add_argument("--arch", choices=list_models(), help="architecture (default: the preset's)")
    t.add_argument("--epochs", type=int, help="epochs (default: the preset's)")
    t.add_argument("--batch-size", type=int, help="batch size (default: the preset's)")
    t.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, help="optimizer (default: adamw)")
    t.add_argument("--seed", type=int, help="random seed (default: 0)")
    t.add_argument("--no-augment", dest="augment", action="store_false", default=None, help="turn augmentation off")
    t.add_argument("--data-dir", help="folder of MNIST idx files, 'sample', or 'download' (default: auto)")
    t.add_argument("--device", help="cpu, cuda or auto (default: auto)")
    t.add_argument("--out", default="runs/latest", help="where to save the model (default: runs/latest)")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")
    t.add_argument("--dry-run", action="store_true", help="one batch on the shipped sample, save nothing")

    e = sub.add_parser("eval", help="test accuracy, per-class accuracy and confusion matrix")
    e.add_argument("--weights", help="folder or Hub repo id (default: the shipped weights)")
    e.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    e.add_argument("--data-dir", default="auto", help="folder of MNIST idx files or 'sample' (default: auto)")

    r = sub.add_parser("predict", help="read digits from image files or folders")
    r.add_argument("files", nargs="+", help="image files or folders of images")
    r.add_argument("--top-k", type=int, default=3, help="how many answers per image (default: 3)")
    r.add_argument("--weights", help="folder or Hub repo id (default: the shipped weights)")
    r.add_argument("--revision", help="Hub revision")
    r.add_argument("--json", action="store_true", help="one JSON object per file")

    u = sub.add_parser("push", help="upload weights to a Hub repo")
    u.add_argument("repo_id", help="e.g. user/digitlab-cnn")
    u.add_argument("--weights", help="folder to upload (default: the shipped weights)")
    u.add_argument("--token", help="Hub token (default: $HF_TOKEN or the saved login)")
    u.add_argument("--private", action="store_true", help="create the repo private")

    g = sub.add_parser("pull", help="download weights from a Hub repo into a folder")
    g.add_argument("repo_id")
    g.add_argument("--revision", help="branch, tag or commit")
    g.add_argument("--token", help="Hub token for private repos")
    g.add_argument("--out", help="folder to save into (default: runs/<repo name>)")
    return p


def train_argv(cfg: TrainConfig) -> list[str]:
    """The `python -m digitlab` arguments that repeat a run of `cfg` (the "accurate" preset = the defaults)."""
    argv = ["train", "--preset", "accurate", "--arch", cfg.arch, "--epochs", str(cfg.epochs),
            "--batch-size", str(cfg.batch_size), "--lr", str(cfg.lr), "--optimizer", cfg.optimizer,
            "--seed", str(cfg.seed), "--data-dir", cfg.data]
    return argv + ([] if cfg.augment else ["--no-augment"])


def run_train(args: argparse.Namespace, argv: list[str]) -> None:
    from tqdm import tqdm

    from digitlab.hub import save_model
    from digitlab.train import TrainResult, card_data, train

    data_source = "sample" if args.dry_run else (args.data_dir or "auto")
    cfg = preset(args.preset, arch=args.arch, epochs=1 if args.dry_run else args.epochs,
                 batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, seed=args.seed,
                 augment=args.augment, device=args.device, data=data_source)
    cfg.validate()
    data = load_digits(cfg.data)
    print(f"training {cfg.arch} on {data} for {cfg.epochs} epoch(s)", file=sys.stderr)
    stop = threading.Event()
    bar = tqdm(total=0, unit="batch", leave=False, disable=args.json, file=sys.stderr)

    def on_batch(step: int, steps: int) -> None:
        bar.total = steps
        bar.n = step
        bar.refresh()
        if args.dry_run:
            stop.set()

    for item in train(cfg, data=data, stop=stop, on_batch=on_batch):
        if isinstance(item, TrainResult):
            result = item
            break
        bar.clear()
        if args.json:
            print(json.dumps({k: getattr(item, k) for k in JSON_KEYS}), flush=True)
        else:
            print(item.line(), file=sys.stderr, flush=True)
    bar.close()
    if args.dry_run:
        print("dry run: one batch trained, nothing saved", file=sys.stderr)
        return
    save_model(result.model, args.out, card=card_data(result, argv))
    print(f"saved to {args.out} (test accuracy {result.test_acc:.2f}%)", file=sys.stderr)


def run_eval(args: argparse.Namespace) -> None:
    from digitlab.hub import load_model
    from digitlab.train import as_pixels, evaluate

    model = load_model(args.weights, args.revision)
    data = load_digits(args.data_dir)
    labels = data.test_labels
    result = evaluate(model, as_pixels(data.test_images, torch.device("cpu")), labels)
    n = len(model.labels)
    confusion = torch.bincount(labels * n + result.predictions, minlength=n * n).reshape(n, n)
    print(f"accuracy: {result.accuracy:.2f}%")
    print(f"data: {data}  loss: {result.loss:.4f}  errors: {int((result.predictions != labels).sum())}")
    print("per-class accuracy:")
    for i, name in enumerate(model.labels):
        total = int(confusion[i].sum())
        print(f"  {name}: {100.0 * int(confusion[i, i]) / max(total, 1):6.2f}%  ({total} images)")
    print("confusion matrix (rows: true, columns: predicted):")
    print("      " + "".join(f"{name:>6}" for name in model.labels))
    for i, name in enumerate(model.labels):
        print(f"{name:>6}" + "".join(f"{int(v):>6}" for v in confusion[i]))


def expand_files(paths: list[str]) -> list[Path]:
    """Files as given; folders become their image files, sorted."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(p)
    return files


def run_predict(args: argparse.Namespace) -> int:
    from digitlab.predict import Predictor
    from digitlab.preprocess import ImageError

    predictor = Predictor.from_pretrained(args.weights, args.revision)
    failures = 0
    for path in expand_files(args.files):
        try:
            if not path.is_file():
                raise ImageError(f"No such file: {path}")
            confidences = predictor.predict(path, top_k=args.top_k)
        except ImageError as err:
            failures += 1
            line = json.dumps({"file": str(path), "error": str(err)}) if args.json else f"{path}: error: {err}"
            print(line, flush=True)
            continue
        label = next(iter(confidences))
        if args.json:
            print(json.dumps({"file": str(path), "label": label, "confidences": confidences}), flush=True)
        else:
            rest = "  ".join(f"{k} {v:.1%}" for k, v in confidences.items())
            print(f"{path}: {label}  ({rest})", flush=True)
    return 1 if failures else 0


def run_push(args: argparse.Namespace) -> None:
    from digitlab import hub

    model = hub.load_model(args.weights)
    result = hub.push_model(model, args.repo_id, token=args.token, private=args.private,
                            card=hub.read_card_data(args.weights))
    print(f"pushed {result.repo_id} to {result.url} (commit {result.commit})")


def run_pull(args: argparse.Namespace) -> None:
    from digitlab import hub

    model = hub.load_model(args.repo_id, args.revision, token=args.token)
    out = Path(args.out or Path("runs") / args.repo_id.split("/")[-1])
    hub.save_model(model, out, card=hub.read_card_data(args.repo_id, args.revision), name=args.repo_id)
    print(f"pulled {args.repo_id} ({model.arch}, {model.num_params:,} parameters) into {out}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from digitlab.hub import WeightsError

    try:
        if args.command == "train":
            run_train(args, argv)
        elif args.command == "eval":
            run_eval(args)
        elif args.command == "predict":
            return run_predict(args)
        elif args.command == "push":
            run_push(args)
        elif args.command == "pull":
            run_pull(args)
    except (CLIError, WeightsError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0

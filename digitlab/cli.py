"""python -m digitlab train|eval|predict|export|push|pull — thin wrappers over the package."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from digitlab.data.dataset import DataError
from digitlab.data.registry import DATASETS, load_dataset
from digitlab.training.config import PRESETS, TrainConfig, default_of, flag_of, preset, settings
from digitlab.vision.imageio import IMAGE_SUFFIXES

JSON_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds")
DATA_HELP = ("the dataset's folder or archive, 'sample' (shipped with digitlab), 'download' (the standard "
             "download, where one exists) or 'auto' (default: $DIGITLAB_DATA_DIR, else a download, else the sample)")


class CLIError(Exception):
    """A failure the user can fix; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m digitlab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save it to --out")
    t.add_argument("--preset", choices=list(PRESETS), default="fast", help="starting settings (default: fast)")
    add_settings(t)
    t.add_argument("--out", default="runs/latest", help="where to save the model (default: runs/latest)")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")
    t.add_argument("--dry-run", action="store_true", help="one batch on the shipped sample, save nothing")
    t.add_argument("--trace-shards", help=argparse.SUPPRESS)  # tests: each process writes the images it trained on

    e = sub.add_parser("eval", help="test accuracy, per-class accuracy and confusion matrix")
    e.add_argument("--dataset", choices=[d for d in DATASETS], default="mnist", help="default: mnist")
    e.add_argument("--data-dir", default="auto", help=DATA_HELP)
    e.add_argument("--view", choices=("glyph", "photo"), default="glyph", help="with --dataset folder")
    e.add_argument("--weights", help="folder, Hub repo id or .onnx file (default: the shipped model for the dataset)")
    e.add_argument("--revision", help="Hub revision (branch, tag or commit)")

    r = sub.add_parser("predict", help="read images (files or folders of images)")
    r.add_argument("files", nargs="+", help="image files or folders of images")
    r.add_argument("--top-k", type=int, default=3, help="how many answers per image (default: 3)")
    r.add_argument("--weights", help="folder, Hub repo id or .onnx file (default: the shipped MNIST model)")
    r.add_argument("--revision", help="Hub revision")
    r.add_argument("--number", action="store_true", help="read a whole number written in a row (e.g. 2026)")
    r.add_argument("--json", action="store_true", help="one JSON object per file")

    v = sub.add_parser("views", help="write a dataset's views (what its models read) as one .npz")
    v.add_argument("--dataset", choices=list(DATASETS), default="mnist", help="default: mnist")
    v.add_argument("--data-dir", default="auto", help=DATA_HELP)
    v.add_argument("--view", choices=("glyph", "photo"), default="glyph", help="with --dataset folder")
    v.add_argument("--out", default="views.npz", help="the .npz to write (default: views.npz)")

    x = sub.add_parser("export", help="export a model to ONNX, its spec and calibration in the metadata")
    x.add_argument("--weights", help="folder or Hub repo id (default: the shipped MNIST model)")
    x.add_argument("--revision", help="Hub revision")
    x.add_argument("--out", default="model.onnx", help="the .onnx file to write (default: model.onnx)")
    x.add_argument("--int8", action="store_true", help="dynamic int8 quantisation of the weights")

    u = sub.add_parser("push", help="upload weights to a Hub repo")
    u.add_argument("repo_id", help="the Hub repo to create or update, e.g. your-name/digitlab-cnn")
    u.add_argument("--weights", help="folder to upload (default: the shipped MNIST model)")
    u.add_argument("--token", help="Hub token (default: $HF_TOKEN or the saved login)")
    u.add_argument("--private", action="store_true", help="create the repo private")
    u.add_argument("--onnx", action="store_true", help="also upload model.onnx, exported from the weights")

    g = sub.add_parser("pull", help="download weights from a Hub repo into a folder")
    g.add_argument("repo_id", help="the Hub repo to download, e.g. your-name/digitlab-cnn")
    g.add_argument("--revision", help="branch, tag or commit")
    g.add_argument("--token", help="Hub token for private repos")
    g.add_argument("--out", help="folder to save into (default: runs/<repo name>)")
    return p


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field, from the field itself; None (not given) keeps the preset's value."""
    for f in settings():
        meta, default = f.metadata, default_of(f)
        choices = meta["choices"]() if callable(meta["choices"]) else meta["choices"]
        help = f"{meta['help']} (default: the preset's, else {default!r})"
        if isinstance(default, bool):
            parser.add_argument(flag_of(f), dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help)
        elif isinstance(default, tuple):
            parser.add_argument(flag_of(f), dest=f.name, type=float, nargs=len(default), default=None, help=help)
        else:
            parser.add_argument(flag_of(f), dest=f.name, type=type(default), choices=choices, default=None,
                                help=help)


def config_from(args: argparse.Namespace) -> TrainConfig:
    values = {f.name: getattr(args, f.name) for f in settings()}
    if args.dry_run:
        values.update(epochs=1, data="sample")
    if values["betas"] is not None:
        values["betas"] = tuple(values["betas"])
    return preset(args.preset, **values).validate()


def run_train(args: argparse.Namespace, argv: list[str]) -> None:
    from digitlab.training import distributed

    cfg = config_from(args)
    data = load_dataset(cfg.dataset, cfg.data, view=cfg.view)
    group = distributed.join()  # this entry point owns the torchrun process group (None for one process)
    try:
        main = group is None or group.is_main  # under torchrun, rank 0 alone logs and saves
        say = (lambda text: print(text, file=sys.stderr, flush=True)) if main else (lambda text: None)
        say(f"training {cfg.arch} on {data} for {cfg.epochs} epoch(s)"
            + (f" on {group.world} processes" if group else ""))
        show = not args.json and main
        run_and_save(args, argv, cfg, data, group, say, show)
    finally:
        distributed.leave(group)


def run_and_save(args, argv, cfg, data, group, say, show: bool) -> None:
    """Iterate the training generator: log each record (or print it as JSON), then save on rank 0."""
    from tqdm import tqdm

    from digitlab.hub import save_model
    from digitlab.training.distributed import shard_tracer
    from digitlab.training.loop import Note, TrainResult, card_data, train

    stop = threading.Event()
    bar = None  # made at the first batch: no empty bar before the data is ready

    def on_batch(step: int, steps: int) -> None:
        nonlocal bar
        if show and bar is None:
            bar = tqdm(total=steps, unit="batch", leave=False, file=sys.stderr)
        if bar is not None:
            bar.total, bar.n = steps, step
            bar.refresh()
        if args.dry_run:
            stop.set()

    tracer = shard_tracer(args.trace_shards, group) if args.trace_shards else None
    result = None
    for item in train(cfg, data=data, stop=stop, on_batch=on_batch, group=group, on_indices=tracer):
        if isinstance(item, TrainResult):
            result = item
            break
        if bar is not None:
            bar.clear()
        if isinstance(item, Note):
            say(f"note: {item.text}")
        elif args.json and (group is None or group.is_main):
            print(json.dumps({k: getattr(item, k) for k in JSON_KEYS}), flush=True)
        else:
            say(item.line())
    if bar is not None:
        bar.close()
    if args.dry_run:
        say("dry run: one batch trained, nothing saved")
        return
    if group is None or group.is_main:
        save_model(result.model, args.out, card=card_data(result, argv))
        say(f"saved to {args.out} (test accuracy {result.test_acc:.2f}%, "
            f"temperature {result.model.temperature:.3g})")
        if result.model.decline is not None:
            say(f"it declines what it reads less surely than {result.model.decline:.0%}: not one of its classes")


def run_eval(args: argparse.Namespace) -> None:
    from digitlab.hub import load_model, shipped_weights
    from digitlab.training.evaluate import evaluate

    weights = args.weights
    if weights is None:
        shipped = shipped_weights()
        if args.dataset not in shipped:
            raise CLIError(f"there is no shipped model for {args.dataset}; give one with --weights")
        weights = str(shipped[args.dataset])
    runtime = load_model(weights, args.revision)
    data = load_dataset(args.dataset, args.data_dir, view=args.view)
    if list(data.spec.labels) != list(runtime.spec.labels):
        raise CLIError(f"the model reads {runtime.spec.name} ({len(runtime.spec.labels)} classes), "
                       f"not {data.spec.name}; pass the matching --dataset")
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    result = evaluate(runtime, data.test_images, data.test_labels)
    names = list(runtime.spec.display)
    confusion = result.confusion()
    print(f"accuracy: {result.accuracy:.2f}%")
    print(f"data: {data}  loss: {result.loss:.4f}  errors: {result.errors}  "
          f"calibration error (ECE): {result.ece():.2f}% at temperature {result.temperature:.3g}")
    print("per-class accuracy:")
    width = max(len(n) for n in names)
    for name, (accuracy, total) in zip(names, result.per_class(), strict=True):
        print(f"  {name:<{width}}  {accuracy:6.2f}%  ({total} images)")
    print("confusion matrix (rows: true, columns: answered):")
    cell = max(6, max(len(str(int(confusion.max()))), *(len(n) for n in names)) + 1)
    print(" " * (width + 2) + "".join(f"{name[:cell - 1]:>{cell}}" for name in names))
    for i, name in enumerate(names):
        print(f"{name:>{width + 2}}" + "".join(f"{int(v):>{cell}}" for v in confusion[i]))


def expand_files(paths: list[str]) -> list[Path]:
    """Files as given; folders become their image files, sorted (other files in them are left out)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(p)
    return files


def run_predict(args: argparse.Namespace) -> int:
    from digitlab.inference.predictor import Predictor
    from digitlab.vision.imageio import ImageError

    predictor = Predictor.from_pretrained(args.weights, args.revision)
    failures = 0
    for path in expand_files(args.files):
        try:
            if not path.is_file():
                raise ImageError(f"No such file: {path}")
            if args.number:
                reading = predictor.read_number(path, k=args.top_k)
                row = {"file": str(path), **reading.as_dict()}
                digits = "  ".join(f"{d.name} {d.confidence:.1%}" for d in reading.digits)
                text = f"{path}: {reading.number or '(no number found)'}  ({reading.confidence:.1%}: {digits})"
            else:
                answer = predictor.answer(path, k=args.top_k)
                row = {"file": str(path), **answer.as_dict()}
                said = answer.reason if answer.declined else answer.label
                text = f"{path}: {said}  (" + "  ".join(f"{k} {v:.1%}" for k, v in answer.top.items()) + ")"
        except ImageError as err:
            failures += 1
            row, text = {"file": str(path), "error": str(err)}, f"{path}: error: {err}"
        print(json.dumps(row, ensure_ascii=False) if args.json else text, flush=True)
    return 1 if failures else 0


def run_views(args: argparse.Namespace) -> None:
    import numpy as np

    from digitlab.data.dataset import to_arrays

    data = load_dataset(args.dataset, args.data_dir, view=args.view)
    np.savez_compressed(args.out, **to_arrays(data))
    print(f"wrote the views of {data} to {args.out}")


def run_export(args: argparse.Namespace) -> None:
    from digitlab.hub import load_model
    from digitlab.models.onnx import export_onnx

    model = load_model(args.weights, args.revision)
    info = export_onnx(model, args.out, int8=args.int8)
    print(f"exported {model.arch} ({model.spec.name}) to {args.out}: {info['bytes'] / 1e6:.2f} MB"
          + (", int8 weights" if args.int8 else ""))


def run_push(args: argparse.Namespace) -> None:
    from digitlab import hub

    model = hub.load_model(args.weights)
    result = hub.push_model(model, args.repo_id, token=args.token, private=args.private,
                            card=hub.read_card_data(args.weights), onnx=args.onnx)
    print(f"pushed {result.repo_id} to {result.url} (commit {result.commit})")


def run_pull(args: argparse.Namespace) -> None:
    from digitlab import hub

    loaded = hub.load(args.repo_id, args.revision, token=args.token)
    model = loaded.model
    out = Path(args.out or Path("runs") / args.repo_id.split("/")[-1])
    hub.save_model(model, out, card=loaded.card, name=args.repo_id)
    print(f"pulled {args.repo_id} ({model.arch}, {model.spec.name}, {model.num_params:,} parameters) into {out}")


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
        elif args.command == "views":
            run_views(args)
        elif args.command == "export":
            run_export(args)
        elif args.command == "push":
            run_push(args)
        elif args.command == "pull":
            run_pull(args)
    except (CLIError, WeightsError, DataError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


"""A training run as the visitor sees it: its ticket's events (training.jobs) followed into a RunState, the
finished run kept in their session, and every run of the session compared in one table and one chart.

Train and Teach present the same RunState in their own components; neither owns any part of the job.
"""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from digitlab.hub import WeightsError, load_local, read_card_data
from digitlab.inference.predictor import Predictor
from digitlab.serve.sessions import TRAINED_HERE, ModelChoice, Run, Visitor
from digitlab.training import protocol
from digitlab.training.jobs import Begun, Capped, Left, Queued, Ticket
from digitlab.ui.text import said, say, words

words({
    "runs.waiting": ("Waiting for the trainer: {ahead} run(s) ahead of yours, about {wait} to wait…",
                     "等待训练：前面还有 {ahead} 个任务，大约要等 {wait}…"),
    "runs.starting": ("Starting the trainer…", "正在启动训练…"),
    "runs.cap": (" (this run may take {cap} s)", "（本次最多 {cap} 秒）"),
    "runs.training": ("Training…", "训练中…"),
    "runs.batch": ("Training: epoch {epoch}/{epochs}, batch {step}/{steps}…", "训练中：第 {epoch}/{epochs} 轮，第 {step}/{steps} 批…"),
    "runs.epoch_done": ("Epoch {epoch}/{epochs} done…", "第 {epoch}/{epochs} 轮完成…"),
    "runs.log_start": ("training {arch} on {data} ({train:,} train / {test:,} test) for {epochs} epoch(s)",
                       "在 {data}（训练图 {train:,} 张，测试图 {test:,} 张）上训练 {arch}，共 {epochs} 轮"),
    "runs.log_line": ("epoch {epoch}/{epochs}  train loss {train_loss:.4f} acc {train_acc:.2f}%  test loss "
                      "{test_loss:.4f} acc {test_acc:.2f}%  lr {lr:.2e}  {seconds:.1f}s",
                      "第 {epoch}/{epochs} 轮  训练损失 {train_loss:.4f} 准确率 {train_acc:.2f}%  测试损失 "
                      "{test_loss:.4f} 准确率 {test_acc:.2f}%  学习率 {lr:.2e}  {seconds:.1f} 秒"),
    "runs.note": ("note: {text}", "提示：{text}"),
    "runs.capped": ("stopped: a run on this public lab may take {cap} seconds", "已停止：在这个公共实验室里一次训练最多 {cap} 秒"),
    "runs.capped_busy": ("stopped: a run on this public lab may take {cap} seconds while others wait",
                         "已停止：有人排队时，在这个公共实验室里一次训练最多 {cap} 秒"),
    "runs.ended_cap": ("ended: the run did not stop within a minute of its time cap",
                       "已结束：训练在到时后一分钟内没有停下"),
    "runs.error": ("error: {text}", "错误：{text}"),
    "runs.failed": ("**Training failed:** {text}", "**训练失败：** {text}"),
    "runs.nothing": ("Stopped before the first epoch ended; nothing to keep.", "在第一轮结束前就停止了，没有可保留的模型。"),
    "runs.finished": ("**Finished**: test accuracy {acc:.2f}%. Your active model stays as it is until you press "
                      "**Use this model**.", "**完成**：测试准确率 {acc:.2f}%。在你按 **使用这个模型** 之前，当前模型不变。"),
    "runs.stopped": ("**Stopped after {done}/{epochs} epochs**: test accuracy {acc:.2f}%. Your active model stays "
                     "as it is until you press **Use this model**.",
                     "**在第 {done}/{epochs} 轮后停止**：测试准确率 {acc:.2f}%。在你按 **使用这个模型** 之前，当前模型不变。"),
    "runs.log_end": ("{how}: test accuracy {acc:.2f}%, confidences calibrated at temperature {t:.3g}",
                     "{how}：测试准确率 {acc:.2f}%，置信度已按温度 {t:.3g} 校准"),
    "runs.log_decline": ("it learnt to say \"not one of mine\": it declines what it reads less surely than {p:.0%} "
                         "(trained on the full MNIST, such a model declines about 7 in 10 letters, shapes and "
                         "scribbles it never saw)", "它学会了说「这不是我认识的」：把握低于 {p:.0%} 的东西它会拒认"
                         "（用完整的 MNIST 训练时，这样的模型会拒认它从没见过的字母、图形和乱涂中的大约十分之七）"),
    "runs.status_decline": (" It learnt to say \"not one of mine\" too: after using it, draw a star or a letter on "
                            "the Sketch tab.", "它也学会了说「这不是我认识的」：使用它之后，在「手写」页上画一颗星或"
                            "一个字母试试。"),
    "runs.how_finished": ("finished", "完成"),
    "runs.how_stopped": ("stopped after {done}/{epochs} epochs", "在第 {done}/{epochs} 轮后停止"),
    "runs.tuned": ("**Fine-tuned**: your corrections {cb:.0f}% -> {ca:.0f}% right, {n:,} test images {tb:.2f}% -> "
                   "{ta:.2f}%. Press **Use this model** to read with it.",
                   "**微调完成**：你的更正 {cb:.0f}% -> {ca:.0f}% 正确，{n:,} 张测试图片 {tb:.2f}% -> {ta:.2f}%。"
                   "按 **使用这个模型** 用它来识别。"),
    "runs.tuned_log": ("on your corrections: {cb:.0f}% -> {ca:.0f}% right; {n:,} test images: {tb:.2f}% -> {ta:.2f}%",
                       "你的更正：{cb:.0f}% -> {ca:.0f}% 正确；{n:,} 张测试图片：{tb:.2f}% -> {ta:.2f}%"),
    "runs.dropped": ("run {number} made room for this one (a session keeps {kept} runs: the active one and those "
                     "you keep stay)", "为这次训练腾出空间，删除了第 {number} 次训练（每个会话保留 {kept} 次训练；"
                     "当前使用的和你选择保留的不会被删）"),
    "runs.will_drop": ("When this run finishes, run {number} will make room for it. Download it now or tick "
                       "**Keep** beside it in *Compare your runs* to keep it.",
                       "这次训练结束时，会删除第 {number} 次训练来腾出空间。如要保留，请现在下载，"
                       "或在「比较你的训练」中勾选 **保留**。"),
    "runs.title": ("Run {number}: {arch} on {data}, {how}{acc}", "第 {number} 次：{arch}，{data}，{how}{acc}"),
    "runs.title_tuned": ("Run {number}: {arch} fine-tuned on corrections, {how}{acc}",
                         "第 {number} 次：{arch} 用更正微调，{how}{acc}"),
    "runs.epochs": ("{n} epochs", "{n} 轮"),
    "runs.stopped_at": ("stopped at {done}/{epochs} epochs", "停在第 {done}/{epochs} 轮"),
    "runs.unreadable": ("The trained model could not be read back ({reason}).", "训练好的模型无法读回（{reason}）。"),
    "runs.name": ("run {number}: {arch} on {data}", "第 {number} 次：{arch}，{data}"),
    "runs.name_tuned": (" (fine-tune)", "（微调）"),
    "runs.col_run": ("run", "训练"), "runs.col_arch": ("architecture", "架构"),
    "runs.col_params": ("parameters", "参数"), "runs.col_data": ("dataset", "数据集"),
    "runs.col_epochs": ("epochs", "轮数"), "runs.col_seconds": ("seconds", "秒"),
    "runs.col_acc": ("test accuracy %", "测试准确率 %"), "runs.col_kept": ("kept", "保留"),
    "runs.col_decline": ("declines below", "低于此把握就拒认"),
    "runs.minutes": ("{n} min", "{n} 分钟"), "runs.seconds": ("{n} s", "{n} 秒"),
    "runs.your_upload": ("your upload", "你上传的文件"),
    "runs.chart_title": ("Test accuracy (%) per epoch, one line per run", "每轮的测试准确率（%），每次训练一条线"),
})


@dataclass
class RunState:
    """What a presenter shows of a run now."""

    log: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    status: str = ""
    gallery: list[dict] = field(default_factory=list)  # the watched test images: {"png", "label"}
    train_images: int = 0
    names: list[str] = field(default_factory=list)
    run: Run | None = None
    failed: str | None = None
    ended: bool = False


def private_paths_out(message: str, visitor: Visitor) -> str:
    """A message without the server's path to the visitor's files: "…/images.zip has…" -> "your upload has…"."""
    path = re.escape(str(visitor.folder)) + r"(?:[^\s:;,」]*[^\s:;,.」])?"  # to the path's end, not the sentence's
    return re.sub(path, say(visitor.lang, "runs.your_upload"), message)


def wait_text(seconds: float, lang: str) -> str:
    return say(lang, "runs.minutes", n=round(seconds / 60)) if seconds >= 90 else \
        say(lang, "runs.seconds", n=int(max(5, seconds)))


async def follow(visitor: Visitor, ticket: Ticket, number: int, kind: str = "train") -> AsyncIterator[RunState]:
    """The ticket's events, each folded into the run's state; the finished run is kept in the session."""
    lang, state = visitor.lang, RunState()
    epochs = ticket.job.config["epochs"]
    progress = 0.0
    async for event in ticket.watch():
        if isinstance(event, Queued):
            state.status = say(lang, "runs.waiting", ahead=event.ahead, wait=wait_text(event.wait, lang))
        elif isinstance(event, Begun):
            state.status = say(lang, "runs.starting") + (say(lang, "runs.cap", cap=round(event.cap))
                                                          if event.cap else "")
        elif isinstance(event, protocol.Started):
            state.gallery, state.names = event.watched, event.spec.get("display") or event.spec["labels"]
            state.train_images = event.train
            state.log.append(say(lang, "runs.log_start", arch=ticket.job.config["arch"], data=event.data,
                                 train=event.train, test=event.test, epochs=epochs))
            state.status = say(lang, "runs.training")
        elif isinstance(event, protocol.Progress):
            import time

            if time.monotonic() - progress < 0.5 and event.step != event.steps:
                continue  # the page needs no more than two updates a second
            progress = time.monotonic()
            state.status = say(lang, "runs.batch", epoch=len(state.records) + 1, epochs=epochs, step=event.step,
                               steps=event.steps)
        elif isinstance(event, protocol.Note):
            state.log.append(say(lang, "runs.note", text=private_paths_out(said(event, lang), visitor)))
        elif isinstance(event, protocol.Record):
            state.records.append(event.epoch)
            state.log.append(say(lang, "runs.log_line", **event.epoch))
            state.status = say(lang, "runs.epoch_done", epoch=event.epoch["epoch"], epochs=epochs)
        elif isinstance(event, Capped):
            key = "runs.ended_cap" if event.ended else "runs.capped_busy" if event.shrunk else "runs.capped"
            state.log.append(say(lang, key, cap=round(event.cap)))
        elif isinstance(event, protocol.Failed):
            message = private_paths_out(said(event, lang), visitor)
            state.log.append(say(lang, "runs.error", text=message))
            from digitlab.ui.lab import as_text  # lab imports this module

            state.status, state.failed, state.ended = say(lang, "runs.failed", text=as_text(message)), message, True
        elif isinstance(event, Left):
            state.status, state.ended = event.text, True
        elif isinstance(event, protocol.Done):
            state.ended = True
            if not event.out:
                state.log.append(say(lang, "runs.nothing"))
                state.status = say(lang, "runs.nothing")
            else:
                # Loading, zipping and the Predictor's onnxruntime copy: 0.1-0.2 s, off the event loop that
                # every other visitor's page waits on; meanwhile the session is not ended as idle or surplus.
                visitor.keeping = True
                try:
                    state.run = await asyncio.to_thread(keep, visitor, number, Path(event.out), state.records,
                                                        event, kind)
                except Exception:
                    if visitor.closed:
                        return  # the tab closed meanwhile: its files are gone, and no one is there to tell
                    raise
                finally:
                    visitor.keeping = False
                if visitor.closed:
                    return
                finish(state, visitor, event, epochs)
        yield state


def finish(state: RunState, visitor: Visitor, done: protocol.Done, epochs: int) -> None:
    lang, run = visitor.lang, state.run
    how = say(lang, "runs.how_stopped", done=len(state.records), epochs=epochs) if run.stopped else \
        say(lang, "runs.how_finished")
    state.log.append(say(lang, "runs.log_end", how=how, acc=run.test_acc, t=run.choice.predictor.temperature))
    learnt = run.choice.predictor.decline is not None and run.kind != "finetune"  # a fine-tune keeps the source's
    if learnt:
        state.log.append(say(lang, "runs.log_decline", p=run.choice.predictor.decline))
    compared = run.before_after
    if compared:
        values = dict(cb=compared["corrections_before"], ca=compared["corrections_after"], n=compared["test_images"],
                      tb=compared["test_before"], ta=compared["test_after"])
        state.log.append(say(lang, "runs.tuned_log", **values))
        state.status = say(lang, "runs.tuned", **values)
    elif run.stopped:
        state.status = say(lang, "runs.stopped", done=len(state.records), epochs=epochs, acc=run.test_acc)
    else:
        state.status = say(lang, "runs.finished", acc=run.test_acc)
    if learnt and not compared:
        state.status += say(lang, "runs.status_decline")
    if run.dropped is not None:
        state.log.append(say(lang, "runs.dropped", number=run.dropped, kept=visitor.policy.runs_kept))


def keep(visitor: Visitor, number: int, folder: Path, records: list[dict], done: protocol.Done, kind: str) -> Run:
    """The finished run as one of the visitor's models, with its zip for download."""
    from digitlab.ui.lab import plain

    try:
        model = load_local(folder)
    except WeightsError as err:
        raise plain(say(visitor.lang, "runs.unreadable", reason=err)) from err
    card = read_card_data(folder)
    zip_path = Path(shutil.make_archive(str(folder.parent / f"digitlab-{model.arch}-run-{number}"), "zip", folder))
    run = Run(number, ModelChoice(f"run:{number}", "", Predictor(model), TRAINED_HERE, card=card), records,
              done.config, done.data, sum(r["seconds"] for r in records), bool(done.stopped), done.calibration,
              folder, zip_path, kind, done.before_after, card.get("command", ""))
    run.choice = ModelChoice(run.choice.key, run_title(run, visitor.lang), run.choice.predictor, TRAINED_HERE,
                             card=card)
    dropped = visitor.add_run(run)
    run.dropped = dropped.number if dropped is not None else None
    return run


def run_title(run: Run, lang: str) -> str:
    epochs = run.config["epochs"]
    how = say(lang, "runs.stopped_at", done=len(run.records), epochs=epochs) if run.stopped else \
        say(lang, "runs.epochs", n=len(run.records))
    acc = f", {run.test_acc:.1f} %" if run.test_acc is not None else ""
    key = "runs.title_tuned" if run.kind == "finetune" else "runs.title"
    return say(lang, key, number=run.number, arch=run.config["arch"], data=run.data, how=how, acc=acc)


def run_name(run: Run, lang: str) -> str:
    """A run's name in the table and the chart alike: the chart's lines are the table's rows."""
    name = say(lang, "runs.name", number=run.number, arch=run.config["arch"], data=run.data)
    return name + (say(lang, "runs.name_tuned") if run.kind == "finetune" else "")


PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"]


def compare(visitor: Visitor) -> tuple[pd.DataFrame, str]:
    """Every run of the session in one table, and the same runs drawn: one line per row, named as its row."""
    lang = visitor.lang
    columns = [say(lang, f"runs.col_{c}") for c in ("run", "arch", "params", "data", "epochs", "seconds", "acc",
                                                      "decline", "kept")]
    rows = []
    for run in visitor.runs:
        model = run.choice.predictor.model
        rows.append([run_name(run, lang), model.arch, model.num_params, run.data, len(run.records), round(run.seconds, 1),
                     round(run.test_acc, 2) if run.test_acc is not None else None,
                     f"{run.choice.predictor.decline:.0%}" if run.choice.predictor.decline is not None else "—",
                     "✓" if run.kept or run.choice is visitor.active else ""])
    return pd.DataFrame(rows, columns=columns), chart(visitor.runs, lang)


def chart(all_runs: list[Run], lang: str, width: int = 640, height: int = 240) -> str:
    """Test accuracy per epoch of each run as an SVG line chart with its legend (names as text, never markup)."""
    if not all_runs:
        return ""
    points = [(r["epoch"], r["test_acc"]) for run in all_runs for r in run.records]
    epochs = max((e for e, _ in points), default=1)
    low = min((a for _, a in points), default=0)
    low = max(0.0, 10 * (low // 10))
    left, right, top, bottom = 44, 12, 10, 28

    def x(epoch: float) -> float:
        return left + (width - left - right) * ((epoch - 1) / max(epochs - 1, 1) if epochs > 1 else 0.5)

    def y(acc: float) -> float:
        return top + (height - top - bottom) * (100 - acc) / max(100 - low, 1)

    marks = []
    for tick in range(int(low), 101, 10):
        marks.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>')
    for epoch in range(1, epochs + 1):
        marks.append(f'<text x="{x(epoch):.1f}" y="{height - 10}" text-anchor="middle" font-size="11">{epoch}</text>')
    legend = []
    for i, run in enumerate(all_runs):
        colour, name = PALETTE[i % len(PALETTE)], html.escape(run_name(run, lang))
        line = " ".join(f"{x(r['epoch']):.1f},{y(r['test_acc']):.1f}" for r in run.records)
        marks.append(f'<polyline class="run-line" data-run="{name}" points="{line}" fill="none" stroke="{colour}" '
                     'stroke-width="2.5"/>')
        marks += [f'<circle cx="{x(r["epoch"]):.1f}" cy="{y(r["test_acc"]):.1f}" r="3" fill="{colour}"/>'
                  for r in run.records]
        legend.append(f'<span style="display:inline-flex;align-items:center;gap:4px;margin-right:12px">'
                      f'<span style="width:14px;height:3px;background:{colour}"></span>{name}</span>')
    title = html.escape(say(lang, "runs.chart_title"))
    return (f'<figure class="runs-chart" style="margin:0"><figcaption style="font-size:13px">{title}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" role="img" '
            f'aria-label="{title}">{"".join(marks)}</svg><div class="runs-legend" style="font-size:12px">'
            f'{"".join(legend)}</div></figure>')


def watch_html(gallery: list[dict], answers: list[int], names: list[str]) -> str:
    """The watched test images with the model's current answer: green when right, red when wrong."""
    if not gallery:
        return ""
    cells = []
    for i, item in enumerate(gallery):
        answer = answers[i] if i < len(answers) else None
        right = answer == item["label"]
        colour = "#94a3b8" if answer is None else "#16a34a" if right else "#dc2626"
        said = "…" if answer is None else html.escape(str(names[answer]))
        cells.append(f'<figure style="margin:2px;text-align:center"><img src="data:image/png;base64,{item["png"]}" '
                     f'width="48" height="48" style="image-rendering:pixelated;border:2px solid {colour}" '
                     f'alt="{html.escape(str(names[item["label"]]))}"><figcaption '
                     f'style="font-size:11px;color:{colour}">{said}</figcaption></figure>')
    return f'<div class="watched" style="display:flex;flex-wrap:wrap">{"".join(cells)}</div>'

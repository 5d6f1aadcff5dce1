"""digitlab's web app: python app.py [--weights REPO_ID_OR_DIR] [--revision REV] [--share] [--public | --local]
[--port N] [--host H]. Flags fall back to DIGITLAB_WEIGHTS / DIGITLAB_REVISION / DIGITLAB_PUBLIC and Gradio's
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Hugging Face Spaces sets the last two to 0.0.0.0:7860).
The lab itself is digitlab.ui.app: the tabs, each building and wiring itself.
"""

# ruff: noqa: E402 - the serving settings must be in place before torch and gradio load
from __future__ import annotations

from digitlab.serve.process import tune_process

tune_process()

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import gradio as gr

from digitlab.inference.predictor import Predictor
from digitlab.policy import Policy, decide_public
from digitlab.ui import app as lab_app
from digitlab.ui.lab import Lab


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description="digitlab web app")
    p.add_argument("--weights", default=env("DIGITLAB_WEIGHTS"),
                   help="the default model: Hub repo id or local folder (default: $DIGITLAB_WEIGHTS, else the "
                        "shipped MNIST model); POST /api/predict always answers with it")
    p.add_argument("--revision", default=env("DIGITLAB_REVISION"), help="Hub branch, tag or commit of --weights")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (turns public mode on)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--public", dest="public", action="store_const", const=True,
                      help="public mode: per-visitor identity only, no server files, bounded runs "
                           "(default on a Space, with --share, or DIGITLAB_PUBLIC=1)")
    mode.add_argument("--local", dest="public", action="store_const", const=False,
                      help="local mode even with --share: your own files and Hub login")
    p.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT, else 7860 or the next free one)")
    p.add_argument("--host", help="interface (default: $GRADIO_SERVER_NAME, else 127.0.0.1)")
    return p.parse_args(argv)


def launch(source: Predictor | str | Path | None = None, revision: str | None = None, public: bool = False,
           policy: Policy | None = None, **launch_kwargs: Any) -> gr.Blocks:
    """The lab on `source` (None: the shipped models), served; a Space's proxy names the clients."""
    policy = policy or Policy(public=public)
    lab = Lab(policy, source, revision, behind_proxy=bool(os.environ.get("SPACE_ID")))
    return lab_app.launch(lab, **launch_kwargs)


def build_app(source: Predictor | str | Path | None = None, revision: str | None = None,
              policy: Policy | None = None) -> gr.Blocks:
    """The lab's Blocks, not launched (tests look inside them)."""
    return lab_app.build_app(Lab(policy or Policy(), source, revision))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    public = decide_public(args.share, args.public)
    try:
        demo = launch(args.weights, args.revision, public=public, server_name=args.host, server_port=args.port,
                      share=args.share, quiet=True, prevent_thread_lock=True)
    except (gr.Error, ValueError) as err:  # bad --weights: one line, not a traceback
        print(f"error: {getattr(err, 'message', err)}", file=sys.stderr)
        return 2
    print(f"digitlab is running on {demo.local_url} ({demo.lab.policy.describe()})")
    if demo.share_url:
        print(f"public link: {demo.share_url}")
    elif not os.environ.get("SPACE_ID"):
        print("for a public link, run python app.py --share; press Ctrl+C to stop")
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

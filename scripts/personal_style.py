"""Personal style: teach the app a way of writing its model misreads, through its own API, and measure.

The style is hollow (outlined) digits, drawn from the handwriting fonts with only their outline
inked: the shipped model reads many of them wrong. Through gradio_client, as a visitor would:
1. 3 corrections per digit (from 8 of the fonts): /predict_upload, then /correct_upload with the
   right label;
2. /finetune, timed, and /use_finetuned;
3. unseen samples of the same style (the other fonts, other sizes and places): accuracy before
   (a second visitor, still on the shipped model) and after;
4. /evaluate on the full MNIST test set, before and after.

    python scripts/personal_style.py --data-dir ../shared/data   (a folder with mnist/ in it)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from sketches import find_fonts, font_glyph  # noqa: E402


def hollow(font: Path, digit: int, size: int, rng: np.random.Generator) -> Image.Image:
    """One digit of `font` with only its outline inked, black on a white 448 px canvas, at a random place."""
    ink = Image.fromarray((font_glyph(font, digit, size) * 255).astype(np.uint8)).point(lambda v: 255 * (v > 100))
    ink = ink.filter(ImageFilter.MaxFilter(15))  # a broad pen first, so the outline has two clear edges
    outer, inner = ink.filter(ImageFilter.MaxFilter(7)), ink.filter(ImageFilter.MinFilter(7))
    edge = np.asarray(outer, bool) & ~np.asarray(inner, bool)
    canvas = Image.new("L", (448, 448), 255)
    x = int(rng.integers(8, max(9, 448 - edge.shape[1] - 8)))
    y = int(rng.integers(8, max(9, 448 - edge.shape[0] - 8)))
    canvas.paste(0, (x, y), Image.fromarray((edge * 255).astype(np.uint8)))
    return canvas


def accuracy_text(summary: str) -> float:
    return float(re.search(r"accuracy \*\*(\d+\.\d+) %\*\*", summary).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/data", help="a folder holding mnist/ (default: ../shared/data)")
    ap.add_argument("--unseen", type=int, default=20, help="unseen samples per digit (default: 20)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ["DIGITLAB_DATA_DIR"] = str(Path(args.data_dir).resolve())  # the replay and /evaluate: full MNIST
    from gradio_client import Client, handle_file

    import app
    from tests.conftest import free_port

    fonts = find_fonts()
    if len(fonts) < 10:
        sys.exit("needs the handwriting fonts (apt-get install fonts-dkg-handwriting fonts-breip ...)")
    taught, unseen_fonts = fonts[:8], fonts[8:]
    rng = np.random.default_rng(args.seed)
    demo = app.launch(None, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="personal-style-"))
    try:
        url = demo.local_url
        me, before = Client(url, verbose=False), Client(url, verbose=False)
        shown = 0
        for digit in range(10):
            for k in range(3):
                path = tmp / f"teach-{digit}-{k}.png"
                hollow(taught[(digit + 3 * k) % len(taught)], digit, int(rng.integers(200, 320)), rng).save(path)
                me.predict(handle_file(str(path)), 3, "one character", api_name="/predict_upload")
                me.predict(handle_file(str(path)), str(digit), api_name="/correct_upload")
                shown += 1
        print(f"saved {shown} corrections (3 per digit, hollow digits of {len(taught)} fonts)")
        start = time.monotonic()
        log, status = me.predict(api_name="/finetune")
        seconds = time.monotonic() - start
        print(f"fine-tune: {seconds:.1f} s wall-clock (worker start included); {status}")
        me.predict(api_name="/use_finetuned")
        right, total = {"before": 0, "after": 0}, 0
        for digit in range(10):
            for k in range(args.unseen):
                path = tmp / f"unseen-{digit}-{k}.png"
                hollow(unseen_fonts[k % len(unseen_fonts)], digit, int(rng.integers(160, 360)), rng).save(path)
                file = handle_file(str(path))
                for client, counts in ((before, "before"), (me, "after")):
                    said = client.predict(file, 1, "one character", api_name="/predict_upload")[0]["label"]
                    right[counts] += said == str(digit)
                total += 1
        err_before, err_after = 100 * (1 - right["before"] / total), 100 * (1 - right["after"] / total)
        print(f"unseen hollow digits ({len(unseen_fonts)} other fonts, {total} images): accuracy "
              f"{100 - err_before:.1f} % -> {100 - err_after:.1f} %; error rate "
              f"{err_before:.1f} % -> {err_after:.1f} % ({100 * (1 - err_after / max(err_before, 1e-9)):.0f} % fewer "
              "errors; goal >= 70 %)")
        mnist_before = accuracy_text(before.predict(api_name="/evaluate")[0])
        mnist_after = accuracy_text(me.predict(api_name="/evaluate")[0])
        print(f"MNIST test: {mnist_before:.2f} % -> {mnist_after:.2f} % ({mnist_after - mnist_before:+.2f} points; "
              "goal: within 0.2)")
        me.close(), before.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()

"""The whole lab as one Gradio app: the page's top, then the Sketch, Upload, Train, Evaluate, Teach and Hub
tabs, each building and wiring itself; the routes beside the UI (the JSON endpoint, the sketch route) and
the limits in front of every request.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from digitlab.serve.api import json_routes
from digitlab.serve.limits import body_limits
from digitlab.serve.sketch import sketch_routes
from digitlab.ui import text
from digitlab.ui.evaluate import Evaluate
from digitlab.ui.hub import Hub
from digitlab.ui.lab import Lab
from digitlab.ui.page import Page
from digitlab.ui.sketch import Sketch
from digitlab.ui.teach import Teach
from digitlab.ui.train import Train
from digitlab.ui.upload import Upload
from digitlab.vision.imageio import MAX_BYTES

log = logging.getLogger("digitlab.ui")

CSS = """
#page-head { align-items: center; }
#page-title h1 { margin: 0; }
#active-model p { font-size: 0.95em; }
#language { max-width: 220px; }
.answer-actions button { min-height: 40px; }
#sketch-why img, #upload-why img, #cell-why img { max-width: 100%; }
.answer-block { border-width: 1px !important; border-color: var(--border-color-primary) !important; }
.why-title { margin: 6px 0; }
/* a table cell is clicked to open it, not to select its row or column */
#confusion .selection-button, #per-class .selection-button { display: none !important; }
/* Gradio stretches a gallery's few items over the whole row; thumbnails keep their size instead */
#corrections .grid-container, #cell-gallery .grid-container {
  grid-template-columns: repeat(auto-fill, minmax(88px, 1fr)) !important; }
/* a correction's caption says what it is and what it was read as: all of it, under the whole drawing */
#corrections .grid-container { grid-auto-rows: auto !important; grid-template-rows: none !important; }
#corrections .thumbnail-item { aspect-ratio: auto !important; height: auto !important; display: flex;
  flex-direction: column; }
#corrections .thumbnail-item img { width: 100%; aspect-ratio: 1 / 1; height: auto; object-fit: contain; }
#corrections .caption-label { position: static; white-space: normal; max-width: none; border: none;
  border-radius: 0; opacity: 1; }
.why-text { font-size: 14px; margin: 4px 0; }
/* a run's status says itself that it failed: Gradio's "Error" pill would sit over those words */
#train-status [data-testid=status-tracker]:has(.error), #corrections-status [data-testid=status-tracker]:has(.error) {
  display: none !important; }
@media (max-width: 600px) {
  #try-this, #page-intro { font-size: 13px; }
  #page-title h1 { font-size: 22px; }
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
}
"""

# A menu closes when keyboard focus leaves it: Gradio's dropdown closes on Escape and on a click elsewhere, not on Tab.
# A pop-up's heading is said in the page's language: the server sends it (lab.handler), but Gradio 6.31's page reads
# it from a field its client never fills (`_title`) and always shows "Error".
PAGE_JS = """() => {
  document.addEventListener('focusin', (event) => {
    document.querySelectorAll('ul[role=listbox]').forEach((list) => {
      const block = list.closest('.block');
      const input = block && !block.contains(event.target) && block.querySelector('input');
      if (input) input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
    });
  });
  const headings = {'zh-CN': {'Error': '出错了', 'Warning': '注意', 'Info': '提示'}};
  new MutationObserver(() => {
    const lang = document.querySelector('#language input:checked')?.value;
    document.querySelectorAll('.toast-title').forEach((title) => {
      const text = title.firstChild;  // the heading's words; Svelte's anchors follow them
      const said = text && text.nodeType === Node.TEXT_NODE && (headings[lang] || {})[text.nodeValue.trim()];
      if (said) text.nodeValue = said + ' ';
    });
  }).observe(document.body, {childList: true, subtree: true});
}"""


class SafeBlocks(gr.Blocks):
    """Blocks whose inputs a stranger may send in any shape: a payload that does not fit a component (a list for
    an image, a number for a file) is refused in one sentence, with no traceback in the server's log."""

    async def preprocess_data(self, block_fn, inputs, state, explicit_call: bool = False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as err:
            name = getattr(block_fn, "api_name", None) or getattr(block_fn, "name", "this event")
            log.info("refused a malformed payload for %s: %s", name, type(err).__name__)
            raise gr.Error(f"The values sent to {name} are not what it takes: check their types and shapes "
                           "(see the API page).", print_exception=False) from None


def build_app(lab: Lab) -> gr.Blocks:
    """The lab as Blocks, queued, not launched."""
    page = Page(lab)
    # Every tab's files (the JSON routes, the canvas) answer with each visitor's own model; see serve/.
    # Uploads are kept on disk until Gradio's sweep: every 10 minutes, those older than 30 go.
    with SafeBlocks(title="digitlab", delete_cache=(600, 1800)) as demo:
        page.build()
        with gr.Tabs():
            tabs = [(Sketch, "tab.sketch"), (Upload, "tab.upload"), (Train, "tab.train"), (Evaluate, "tab.evaluate"),
                    (Teach, "tab.teach"), (Hub, "tab.hub")]
            for tab, key in tabs:
                with gr.Tab(text.L(key), id=key.split(".")[1], elem_id=f"tab-{key.split('.')[1]}"):
                    built = tab(page)
                    if tab is Train:
                        page.train = built
                    built.build()
        page.wire(demo)
    demo.lab, demo.page = lab, page
    # Queue positions go out once a second, not to every waiting client whenever any event starts. api_open=False:
    # Gradio's plain REST routes (/run/<name>) skip the queue and its limits; programs join the queue with a
    # session as the browser does (gradio_client does).
    return demo.queue(status_update_rate=1, max_size=lab.policy.queue_size, api_open=False)


def launch(lab: Lab, **launch_kwargs: Any) -> gr.Blocks:
    """Build the lab and serve it, with the JSON endpoint and the sketch route beside it."""
    demo = build_app(lab)
    policy = lab.policy
    launch_kwargs.setdefault("max_file_size", max(MAX_BYTES, policy.max_zip_bytes))
    launch_kwargs.setdefault("state_session_capacity", policy.max_sessions)
    launch_kwargs.setdefault("css", CSS)
    launch_kwargs.setdefault("js", PAGE_JS)
    launch_kwargs.setdefault("i18n", text.i18n())
    # Gradio's run history is a list of internal events, and can save a visitor's runs to a Hub bucket with the
    # host's own saved login (gradio.history.resolve_token): off, and no footer link to it.
    launch_kwargs.setdefault("run_history", False)
    launch_kwargs.setdefault("footer_links", ["api", "gradio", "settings"])
    routes = (json_routes(lambda: lab.default.predictor, lab.pool, lab.bodies, lab.behind_proxy)
              + sketch_routes(lab.sessions.by_token, lab.pool, lab.bodies, policy.sketches_per_second, text.said))
    demo.launch(app_kwargs={"routes": routes, "middleware": body_limits(policy, lab.behind_proxy)}, **launch_kwargs)
    return demo

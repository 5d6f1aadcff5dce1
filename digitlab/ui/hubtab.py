"""The Hub tab: load a model by repo id (or, locally, a folder), push one, always as the visitor.

Which Hub identity acts: a token pasted in the field, else the visitor's "Sign in with Hugging
Face" token (on a Space); in local mode also the machine's own login ($HF_TOKEN, `hf auth
login`), as on the command line. In public mode the server's token is never used for a visitor:
a push without their token is refused, and a pull without one is anonymous.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from huggingface_hub import get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from digitlab import hub
from digitlab.serve.sessions import ModelChoice, Visitor
from digitlab.ui.components import CheckedRadio
from digitlab.ui.lab import Lab, load_predictor, plain

ACTIVE, TRAINED = "active model", "last trained model"
NEEDS_TOKEN = ("Pushing needs your own Hub identity: sign in with Hugging Face or paste a write token above. "
               "This public lab never pushes with its own token.")


def oauth_available() -> bool:
    """Sign in with Hugging Face works on a Space whose README asks for it (hf_oauth: true).

    Gradio takes a Space to be one where SYSTEM=spaces too; elsewhere it mocks the login and crashes
    at launch on a machine without a saved token, so the button is left out there."""
    import os

    from gradio.utils import get_space

    return bool(get_space() and os.environ.get("OAUTH_CLIENT_ID"))


class HubActions:
    """Handlers of the Hub tab; see build() for the wiring."""

    def __init__(self, lab: Lab):
        self.lab = lab

    def identity(self, pasted: Any, oauth_token: gr.OAuthToken | None) -> str | bool | None:
        """The token to act with: pasted, else signed in, else (locally) the machine's; False: none at all."""
        pasted = self.lab.text(pasted, "token")
        if pasted:
            return pasted
        if oauth_token is not None and getattr(oauth_token, "token", None):
            return oauth_token.token
        return None if not self.lab.policy.public else False

    def load(self, source: Any, revision: Any, token: Any, request: gr.Request,
             oauth_token: gr.OAuthToken | None = None) -> ModelChoice:
        """Load a model and make it the visitor's active one; on failure their model stays."""
        lab = self.lab
        visitor = lab.visitor(request)
        source, revision = lab.text(source, "repo id"), lab.text(revision, "revision")
        if not source:
            raise plain("Enter a Hub repo id (user/name)" + ("." if lab.policy.public else
                                                            " or a local folder of digitlab weights."))
        if lab.policy.public:
            try:
                validate_repo_id(source)
            except HFValidationError:
                raise plain(f"{source!r} is not a Hub repo id; this public lab loads models by repo id "
                            "(user/name) only.") from None
        predictor, card = load_predictor(source, revision, token=self.identity(token, oauth_token),
                                         public=lab.policy.public)
        key = f"hub:{source}@{revision or 'main'}"
        choice = ModelChoice(key, f"{source}" + (f" @ {revision}" if revision else "") + " · loaded", predictor,
                             source, revision or None, card)
        visitor.add_loaded(choice)
        visitor.active = choice
        return choice

    def push(self, repo_id: Any, token: Any, private: Any, which: Any, request: gr.Request,
             oauth_token: gr.OAuthToken | None = None) -> str:
        """Upload the visitor's active or last trained model with its card, as the visitor."""
        lab = self.lab
        visitor = lab.visitor(request)
        repo_id = lab.text(repo_id, "repo id")
        if not repo_id:
            raise plain("Enter the repo id to push to, e.g. your-name/digitlab-cnn.")
        choice = self.pushed_model(visitor, which)
        acting = self.identity(token, oauth_token)
        if acting is None:
            acting = get_token()  # local mode: the machine's own login, as the CLI uses
        if not acting:
            raise plain(NEEDS_TOKEN if lab.policy.public else
                        "Pushing needs a Hub token: paste a write token above, or set HF_TOKEN where the app runs.")
        try:
            pushed = hub.push_model(choice.predictor.model, repo_id, token=acting, private=bool(private),
                                    card=choice.card)
        except hub.WeightsError as err:
            raise plain(str(err)) from err
        except Exception as err:  # only the type: an unforeseen error's text may quote a URL
            raise plain(f"Could not push to {repo_id!r} ({type(err).__name__}).") from err
        return f"Pushed to [{pushed.repo_id}]({pushed.url}) (commit `{pushed.commit[:8]}`)."

    def pushed_model(self, visitor: Visitor, which: Any) -> ModelChoice:
        if which == TRAINED:
            if not visitor.runs:
                raise plain("There is no trained model in your session yet; train one first.")
            return visitor.runs[-1].choice
        if which != ACTIVE:
            raise plain(f"Choose {ACTIVE!r} or {TRAINED!r}.")
        return visitor.active


def build(lab: Lab) -> dict[str, Any]:
    public = lab.policy.public
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Your Hub identity")
            login = gr.LoginButton() if oauth_available() else None
            token = gr.Textbox("", label="Hub token (optional)", type="password", elem_id="hub-token",
                               placeholder="hf_…",
                               info=("Sign in, or paste a write token: pushes go to your account. "
                                     if login is not None else "Paste a write token: pushes go to your account. ")
                               + ("This public lab never uses its own token for you." if public else
                                  "Empty: this machine's login ($HF_TOKEN or `hf auth login`)."))
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Load a model and make it active")
            source = gr.Textbox(label="Hub repo id" if public else "Hub repo id or local folder",
                                placeholder="your-name/digitlab-cnn", max_length=lab.policy.max_text)
            revision = gr.Textbox("", label="Revision (optional)", placeholder="main, a tag or a commit",
                                  max_length=lab.policy.max_text)
            load_btn = gr.Button("Load", variant="primary")
        with gr.Column():
            gr.Markdown("### Push a model with its model card")
            repo_id = gr.Textbox(label="Repo id", placeholder="your-name/digitlab-cnn", max_length=lab.policy.max_text)
            private = gr.Checkbox(True, label="Private repo")
            which = CheckedRadio([ACTIVE, TRAINED], value=ACTIVE, label="Which model")
            push_btn = gr.Button("Push", variant="primary")
            pushed = gr.Markdown()
    return dict(login=login, token=token, source=source, revision=revision, load=load_btn, repo_id=repo_id,
                private=private, which=which, push=push_btn, pushed=pushed)

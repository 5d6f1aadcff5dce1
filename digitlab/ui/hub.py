"""The Hub tab: load a model by repo id (or, locally, a folder), push one, always as the visitor.

Which Hub identity acts: a token pasted in the field, else the visitor's "Sign in with Hugging Face"
token (on a Space); in local mode also the machine's own login ($HF_TOKEN, `hf auth login`), as on
the command line. In public mode the server's token is never used for a visitor: a push without their
token is refused, and a pull without one is anonymous. Every load asks the Hub as that identity first
(hub.transport): a model another visitor pulled is never handed over from the server's cache.
"""

from __future__ import annotations

import os
from typing import Any

import gradio as gr
from huggingface_hub import get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from digitlab import hub
from digitlab.serve.sessions import ModelChoice, Visitor
from digitlab.ui import store
from digitlab.ui.answers import require_trainable
from digitlab.ui.components import CheckedRadio
from digitlab.ui.lab import as_text, load_predictor, plain
from digitlab.ui.page import Page
from digitlab.ui.text import L, say, words

ACTIVE, TRAINED = "active model", "last trained model"

words({
    "tab.hub": ("Hub", "Hub"),
    "hub.identity": ("### Your Hub identity", "### 你的 Hub 身份"),
    "hub.token": ("Hub token (optional)", "Hub 令牌（可选）"),
    "hub.token_public": ("Sign in, or paste a write token: pushes go to your account. This public lab never uses its "
                         "own token for you.", "登录，或粘贴一个写权限令牌：推送会进入你的账号。这个公共实验室从不用它自己的令牌替你操作。"),
    "hub.token_local": ("Paste a write token: pushes go to your account. Empty: this machine's login ($HF_TOKEN or "
                        "`hf auth login`).", "粘贴一个写权限令牌：推送会进入你的账号。留空：用这台机器的登录（$HF_TOKEN "
                        "或 `hf auth login`）。"),
    "hub.load_title": ("### Load a model and make it active", "### 载入一个模型并使用它"),
    "hub.source": ("Hub repo id", "Hub 仓库 id"), "hub.source_local": ("Hub repo id or local folder", "Hub 仓库 id 或本地文件夹"),
    "hub.revision": ("Revision (optional)", "版本（可选）"), "hub.load": ("Load", "载入"),
    "hub.yours": ("Your Hub models (kept by your browser)", "你的 Hub 模型（浏览器会记住）"),
    "hub.push_title": ("### Push a model with its model card", "### 推送一个模型及其模型卡"),
    "hub.repo": ("Repo id", "仓库 id"), "hub.private": ("Private repo", "私有仓库"),
    "hub.which": ("Which model", "哪个模型"), "hub.which_active": ("active model", "当前模型"),
    "hub.which_trained": ("last trained model", "最近训练的模型"), "hub.push": ("Push", "推送"),
    "hub.enter": ("Enter a Hub repo id (user/name){local}.", "请输入 Hub 仓库 id（用户/名字）{local}。"),
    "hub.or_folder": (" or a local folder of digitlab weights", "或 digitlab 权重所在的本地文件夹"),
    "hub.repo_only": ("{source} is not a Hub repo id; this public lab loads models by repo id (user/name) only.",
                      "{source} 不是 Hub 仓库 id；这个公共实验室只按仓库 id（用户/名字）载入模型。"),
    "hub.loaded": ("Loaded {source}: it is your active model now.", "已载入 {source}：它现在是你的当前模型。"),
    "hub.enter_push": ("Enter the repo id to push to, e.g. your-name/digitlab-cnn.", "请输入要推送到的仓库 id，例如 your-name/digitlab-cnn。"),
    "hub.needs_token_local": ("Pushing needs a Hub token: paste a write token above, or set HF_TOKEN where the app "
                              "runs.", "推送需要 Hub 令牌：请在上面粘贴一个写权限令牌，或在运行应用的地方设置 HF_TOKEN。"),
    "hub.pushed": ("Pushed to [{repo}]({url}) (commit `{commit}`).", "已推送到 [{repo}]({url})（提交 `{commit}`）。"),
    "hub.no_trained": ("There is no trained model in your session yet; train one first.", "你的会话里还没有训练好的模型；请先训练一个。"),
    "hub.choose": ("Choose 'active model' or 'last trained model'.", "请选择「当前模型」或「最近训练的模型」。"),
    "hub.push_failed": ("Could not push to {repo} ({kind}).", "无法推送到 {repo}（{kind}）。"),
})
NEEDS_TOKEN = ("Pushing needs your own Hub identity: sign in with Hugging Face or paste a write token above. "
               "This public lab never pushes with its own token.")
words({"hub.needs_token": (NEEDS_TOKEN, "推送需要你自己的 Hub 身份：请用 Hugging Face 登录，或在上面粘贴一个写权限令牌。"
                                        "这个公共实验室从不用它自己的令牌推送。")})


def oauth_available() -> bool:
    """Sign in with Hugging Face works on a Space whose README asks for it (hf_oauth: true).

    Gradio takes a Space to be one where SYSTEM=spaces too; elsewhere it mocks the login and crashes
    at launch on a machine without a saved token, so the button is left out there."""
    from gradio.utils import get_space

    return bool(get_space() and os.environ.get("OAUTH_CLIENT_ID"))


class Hub:
    """The tab's components and handlers."""

    def __init__(self, page: Page):
        self.page, self.lab = page, page.lab

    def build(self) -> None:
        lab, public = self.lab, self.lab.policy.public
        with gr.Row():
            with gr.Column():
                gr.Markdown(L("hub.identity"))
                self.login = gr.LoginButton() if oauth_available() else None
                self.token = gr.Textbox("", label=L("hub.token"), type="password", elem_id="hub-token",
                                        placeholder="hf_…", info=L("hub.token_public" if public else "hub.token_local"))
        with gr.Row():
            with gr.Column():
                gr.Markdown(L("hub.load_title"))
                self.source = gr.Textbox(label=L("hub.source" if public else "hub.source_local"),
                                         placeholder="your-name/digitlab-cnn", max_length=lab.policy.max_text,
                                         elem_id="hub-source")
                self.revision = gr.Textbox("", label=L("hub.revision"), placeholder="main, a tag or a commit",
                                           max_length=lab.policy.max_text, elem_id="hub-revision")
                self.yours = gr.Dropdown([], label=L("hub.yours"), elem_id="hub-yours", allow_custom_value=False)
                self.load = gr.Button(L("hub.load"), variant="primary", elem_id="hub-load")
                self.loaded = gr.Markdown("", elem_id="hub-loaded")
            with gr.Column():
                gr.Markdown(L("hub.push_title"))
                self.repo_id = gr.Textbox(label=L("hub.repo"), placeholder="your-name/digitlab-cnn",
                                          max_length=lab.policy.max_text, elem_id="hub-repo")
                self.private = gr.Checkbox(True, label=L("hub.private"))
                self.which = CheckedRadio([(L("hub.which_active"), ACTIVE), (L("hub.which_trained"), TRAINED)],
                                          value=ACTIVE, label=L("hub.which"))
                self.push = gr.Button(L("hub.push"), variant="primary", elem_id="hub-push")
                self.pushed = gr.Markdown(elem_id="hub-pushed")
        self.page.hub, self.page.hub_token = self, self.token
        self.page.follow_model([self.yours], lambda v: {self.yours: gr.Dropdown(choices=list(v.repos), value=None)})
        self.page.later(self.wire)

    def wire(self) -> None:
        lab, page = self.lab, self.page
        self.yours.input(lambda repo: repo, self.yours, self.source, api_visibility="private", queue=False)
        # A failed load says why here (and in a pop-up); the picker and header keep showing the model in use.
        loading = self.load.click(lab.handler(page.showing_model(self.load_model)),
                                  [self.source, self.revision, self.token], [*page.model_outputs, self.loaded],
                                  api_name="load_weights", show_progress_on=[self.loaded], concurrency_limit=4,
                                  concurrency_id="hub-load")
        page.model_event(loading)
        page.remember(loading)
        page.remember(self.push.click(lab.handler(self.push_model), [self.repo_id, self.token, self.private,
                                                                     self.which], self.pushed, api_name="push_to_hub",
                                      show_progress_on=[self.pushed]))

    def identity(self, pasted: Any, oauth_token: gr.OAuthToken | None, lang: str = "en") -> str | bool | None:
        """The token to act with: pasted, else signed in, else (locally) the machine's; False: none at all."""
        pasted = self.lab.text(pasted, "token", lang)
        if pasted:
            return pasted
        if oauth_token is not None and getattr(oauth_token, "token", None):
            return oauth_token.token
        return None if not self.lab.policy.public else False

    def load_model(self, source: Any, revision: Any, token: Any, request: gr.Request,
                   oauth_token: gr.OAuthToken | None = None) -> dict:
        """Load a model and make it the visitor's active one; on failure their model stays."""
        lab = self.lab
        visitor = lab.visitor(request)
        lang = visitor.lang
        source, revision = lab.text(source, "repo id", lang), lab.text(revision, "revision", lang)
        if not source:
            raise plain(say(lang, "hub.enter", local="" if lab.policy.public else say(lang, "hub.or_folder")))
        is_repo = True
        try:
            validate_repo_id(source)
        except HFValidationError:
            is_repo = False
            if lab.policy.public:
                raise plain(say(lang, "hub.repo_only", source=repr(source[:96]))) from None
        predictor, card = load_predictor(source, revision, token=self.identity(token, oauth_token, lang),
                                         public=lab.policy.public)
        key = f"hub:{source}@{revision or 'main'}"
        choice = ModelChoice(key, f"{source}" + (f" @ {revision}" if revision else "") + " · loaded", predictor,
                             source, revision or None, card)
        visitor.add_loaded(choice)
        visitor.active = choice
        if is_repo and source not in visitor.repos:
            visitor.repos = (visitor.repos + [source])[-store.MAX_REPOS:]
        return {self.loaded: say(lang, "hub.loaded", source=as_text(source))}

    def push_model(self, repo_id: Any, token: Any, private: Any, which: Any, request: gr.Request,
                   oauth_token: gr.OAuthToken | None = None) -> str:
        """Upload the visitor's active or last trained model with its card, as the visitor."""
        lab = self.lab
        visitor = lab.visitor(request)
        lang = visitor.lang
        repo_id, private = lab.text(repo_id, "repo id", lang), lab.flag(private, "private", lang)
        if not repo_id:
            raise plain(say(lang, "hub.enter_push"))
        choice = self.pushed_model(visitor, which)
        require_trainable(choice, lang)
        acting = self.identity(token, oauth_token, lang)
        if acting is None:
            acting = get_token()  # local mode: the machine's own login, as the CLI uses
        if not acting:
            raise plain(say(lang, "hub.needs_token" if lab.policy.public else "hub.needs_token_local"))
        try:
            pushed = hub.push_model(choice.predictor.model, repo_id, token=acting, private=private,
                                    card=choice.card)
        except hub.WeightsError as err:
            raise plain(str(err)) from err
        if pushed.repo_id not in visitor.repos:
            visitor.repos = (visitor.repos + [pushed.repo_id])[-store.MAX_REPOS:]
        return say(lang, "hub.pushed", repo=as_text(pushed.repo_id), url=pushed.url, commit=pushed.commit[:8])

    def pushed_model(self, visitor: Visitor, which: Any) -> ModelChoice:
        if which == TRAINED:
            if not visitor.runs:
                raise plain(say(visitor.lang, "hub.no_trained"))
            return visitor.runs[-1].choice
        if which != ACTIVE:
            raise plain(say(visitor.lang, "hub.choose"))
        return visitor.active


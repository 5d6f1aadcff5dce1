"""Gradio's queue spoken over raw HTTP, as a stranger's script would: any payload, any session."""

from __future__ import annotations

import json
import urllib.request
import uuid


def fn_index(url: str, api_name: str) -> int:
    """The id of the event an api_name names, from the app's /config."""
    with urllib.request.urlopen(f"{url}/config", timeout=10) as response:
        config = json.load(response)
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name.lstrip("/"):
            return dep["id"]
    raise KeyError(api_name)


def call(url: str, api_name: str, data: list, session: str | None = None, oauth_token: str | None = None,
         timeout: float = 30, event_data: object = None) -> dict:
    """Join the queue with `data` as it is, read the event stream to its end; the last message.

    {"msg": "process_completed", "success": bool, "output": {"data": [...]} or {"error": ...}}.
    """
    session = session or uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index(url, api_name), "session_hash": session, "trigger_id": None,
            "event_data": event_data}
    if oauth_token is not None:
        body["oauth_token"] = oauth_token
    join = urllib.request.Request(f"{url}/gradio_api/queue/join", data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(join, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    last = {}
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") not in (None, event_id):
                continue
            last = message
            if message.get("msg") in ("process_completed", "unexpected_error"):
                break
    return last


def error_of(message: dict) -> str:
    """The error text a finished event carries, "" when it succeeded."""
    if message.get("success"):
        return ""
    output = message.get("output") or {}
    return f"{message.get('title') or 'Error'}: {output.get('error') or message.get('message') or ''}"

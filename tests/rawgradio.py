"""Gradio's queue spoken over raw HTTP, as a stranger's script would: any payload, any session."""

from __future__ import annotations

import json
import urllib.error
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
         timeout: float = 30, event_data: object = None, fn: int | None = None) -> dict:
    """Join the queue with `data` as it is, read the event stream to its end; the last message.

    {"msg": "process_completed", "success": bool, "output": {"data": [...]} or {"error": ...}}.
    """
    session = session or uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index(url, api_name) if fn is None else fn, "session_hash": session,
            "trigger_id": None,
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


def run(url: str, api_name: str, data: list, timeout: float = 30) -> tuple[int, dict]:
    """POST /gradio_api/run/<api_name>, Gradio's plain REST route: (HTTP status, JSON body)."""
    request = urllib.request.Request(f"{url}/gradio_api/run/{api_name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def simple_call(url: str, api_name: str, data: list, timeout: float = 30) -> tuple[str, str]:
    """POST /gradio_api/call/<api_name> (no session), then read its result: (event, the data line)."""
    request = urllib.request.Request(f"{url}/gradio_api/call/{api_name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    event = line = ""
    with urllib.request.urlopen(f"{url}/gradio_api/call/{api_name}/{event_id}", timeout=timeout) as stream:
        for raw in stream:
            text = raw.decode().strip()
            if text.startswith("event:"):
                event = text[6:].strip()
            elif text.startswith("data:"):
                line = text[5:].strip()
                if event in ("complete", "error"):
                    break
    return event, line

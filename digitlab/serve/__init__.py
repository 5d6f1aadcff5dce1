"""Serving many strangers on a small CPU: the JSON endpoint (api), the canvas's one-round-trip route (sketch),
request and upload limits in front of Gradio (limits), fair shares of the work threads (budgets), process
settings (process), and each visitor's own state and its lifetime (sessions)."""

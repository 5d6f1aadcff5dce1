"""Serving many strangers on a small CPU: the JSON endpoint and request limits (api), process settings
(process), and each visitor's own state and its lifetime (sessions)."""

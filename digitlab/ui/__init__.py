"""The Gradio app: one small builder and handler class per tab, wired in app.py."""

"""The Gradio app: the page (header, picker, language) and one class per tab that builds its components and
wires its own events; app.py assembles them. Words live with each tab in English and Chinese (text)."""

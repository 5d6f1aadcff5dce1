"""digitlab: read handwritten characters, train your own model, share it on the Hugging Face Hub.

The packages follow the flows, each importing only those listed before it:

    spec, policy    values everything reads: a dataset's spec, the app's public mode and limits
    vision/         untrusted pixels -> the view a model reads (files, sketches, glyphs, numbers)
    data/           datasets by name -> uint8 views plus their spec (formats, archives, cache, downloads)
    models/         the architecture registry, the Hub-ready Classifier and what it may cost, transfer, ONNX
    hub/            weights on disk and on the Hub, always as the caller's identity; model cards
    training/       one run defined once (TrainConfig), the loop, evaluation, the worker and its jobs
    inference/      the Predictor (any image in, top-k out) and "Why this answer?"
    serve/          the JSON endpoint, request budgets, visitors' sessions
    ui/             the Gradio tabs, each building and wiring itself
    cli             python -m digitlab train|eval|predict|export|push|pull
"""

"""The serving pieces: the Sketchpad that passes images through, and the process settings."""

import io
import os
import platform

from gradio.components.image_editor import EditorData, EditorDataBlobs
from gradio.data_classes import FileData
from PIL import Image

from digitlab import serving
from digitlab.api import canvas_sized
from digitlab.sketchpad import MAX_WAITING, RawSketchpad


def test_a_browser_sketch_arrives_as_the_blobs_it_sent_ahead_and_they_are_freed():
    pad = RawSketchpad()
    pad.blob_storage["abc"] = EditorDataBlobs(background=b"bg", layers=[b"ink", None], composite=b"all")
    value = pad.preprocess(EditorData(id="abc"))
    assert value == {"background": b"bg", "layers": [b"ink"], "composite": b"all"}
    assert "abc" not in pad.blob_storage  # one canvas per stroke: kept, they would pile up
    assert pad.preprocess(EditorData(id="never-sent")) is None


def test_canvases_whose_events_never_came_are_dropped_oldest_first():
    pad = RawSketchpad()
    for i in range(MAX_WAITING + 50):  # strokes whose events the browser skipped
        pad.blob_storage[f"skipped-{i}"] = EditorDataBlobs(background=None, layers=[], composite=b"c")
    pad.blob_storage["now"] = EditorDataBlobs(background=None, layers=[], composite=b"now")
    assert pad.preprocess(EditorData(id="now"))["composite"] == b"now"
    assert len(pad.blob_storage) == MAX_WAITING
    assert f"skipped-{MAX_WAITING + 49}" in pad.blob_storage and "skipped-0" not in pad.blob_storage


def test_an_api_sketch_arrives_as_the_paths_of_its_uploads():
    pad = RawSketchpad()
    value = pad.preprocess(EditorData(composite=FileData(path="/tmp/c.png"), layers=[FileData(path="/tmp/l.png")]))
    assert value == {"background": None, "layers": ["/tmp/l.png"], "composite": "/tmp/c.png"}
    assert pad.preprocess(None) is None


def test_the_browser_gets_the_image_editor_it_knows():
    assert RawSketchpad().get_block_name() == "imageeditor"


def test_settings_already_in_the_environment_win(monkeypatch):
    monkeypatch.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", "7")
    monkeypatch.delenv("GRADIO_ANALYTICS_MAX_EVENTS", raising=False)
    serving.tune_process()
    assert os.environ["GRADIO_ANALYTICS_CACHE_FREQUENCY"] == "7"
    assert os.environ["GRADIO_ANALYTICS_MAX_EVENTS"] == "1000"


def test_glibc_takes_the_allocator_settings():
    assert serving.keep_freed_memory() == (platform.libc_ver()[0] == "glibc")


def png_of(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, "PNG")
    return out.getvalue()


def test_the_json_endpoint_reads_canvases_on_the_loop_and_photos_on_a_thread():
    assert canvas_sized(png_of(800, 800)) and canvas_sized(png_of(2000, 2000))
    assert not canvas_sized(png_of(2001, 2000))  # a photo: a worker thread decodes it
    assert canvas_sized(b"not an image")  # refused at once, wherever

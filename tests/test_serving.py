"""The serving pieces: the Sketchpad that passes images through, and the process settings."""

import os
import platform

import pytest
from gradio.components.image_editor import AcceptBlobs, EditorData, EditorDataBlobs
from gradio.data_classes import FileData

from digitlab.serve import process as serving
from digitlab.ui.components import MAX_WAITING, NOT_AN_UPLOAD, RawImage, RawSketchpad


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


def test_an_api_sketch_arrives_as_the_paths_of_its_uploads(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # the upload folder: where gradio stores uploads
    (tmp_path / "c.png").write_bytes(b"c")
    (tmp_path / "l.png").write_bytes(b"l")
    pad = RawSketchpad()
    value = pad.preprocess(EditorData(composite=FileData(path=str(tmp_path / "c.png")),
                                      layers=[FileData(path=str(tmp_path / "l.png"))]))
    assert value == {"background": None, "layers": [str(tmp_path / "l.png")], "composite": str(tmp_path / "c.png")}
    assert pad.preprocess(None) is None


@pytest.mark.parametrize("path", ["/etc/passwd", "/nonexistent/x.png", "/dev/zero", "/proc/self/fd/0", "/root"])
def test_a_path_that_was_not_uploaded_is_refused_in_the_same_words_whether_it_exists_or_not(path, tmp_path,
                                                                                            monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    pad = RawSketchpad()
    def said(value: dict) -> str:
        return str(value["error"])

    assert said(pad.preprocess(EditorData(composite=FileData(path=path)))) == NOT_AN_UPLOAD
    assert said(RawImage().preprocess(FileData(path=path))) == NOT_AN_UPLOAD
    link = tmp_path / "link.png"
    link.symlink_to(path)  # a link in the upload folder to a file outside it
    assert said(RawImage().preprocess(FileData(path=str(link)))) == NOT_AN_UPLOAD


def test_the_blob_route_takes_canvases_only_and_bounds_what_it_keeps():
    """One ~400-byte request with a huge layer index once grew the store by ~380 MB."""
    pad = RawSketchpad()
    pad.accept_blobs(AcceptBlobs(data={"type": "layer", "index": 10**8, "id": "x", "file": b""},
                                 files=[("blob", b"ink")]))
    pad.accept_blobs(AcceptBlobs(data={"type": "composite", "index": None, "id": "y" * 1000, "file": b""},
                                 files=[("blob", b"ink")]))
    assert pad.blob_storage == {}
    for i in range(MAX_WAITING + 10):
        pad.accept_blobs(AcceptBlobs(data={"type": "composite", "index": None, "id": f"c{i}", "file": b""},
                                     files=[("blob", b"png")]))
    assert len(pad.blob_storage) == MAX_WAITING and pad.blob_storage[f"c{MAX_WAITING + 9}"].composite == b"png"


def test_the_blob_store_holds_a_bounded_number_of_bytes_in_all(monkeypatch):
    """Blobs of up to 20 MB each, 256 canvases: ~10 GB, unless the store also counts its bytes."""
    from digitlab.ui import components

    monkeypatch.setattr(components, "STORE_BYTES", 10_000)
    pad = RawSketchpad()
    for i in range(30):
        pad.accept_blobs(AcceptBlobs(data={"type": "composite", "index": None, "id": f"c{i}", "file": b""},
                                     files=[("blob", bytes(1_000))]))
    assert sum(len(b.composite) for b in pad.blob_storage.values()) <= 10_000
    assert list(pad.blob_storage) == [f"c{i}" for i in range(20, 30)]  # the newest stay


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

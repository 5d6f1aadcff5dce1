"""Data arrives from a folder, a (local stand-in) download, or the shipped sample."""

import functools
import gzip
import hashlib
import http.server
import threading

import pytest
import torch

from digitlab import data
from tests.idx import write_idx, write_mnist_folder


@pytest.fixture(scope="module")
def sample():
    return data.load_sample()


def test_shipped_sample_is_real_mnist_and_small(sample):
    assert data.SAMPLE_PATH.stat().st_size <= 1.5 * 2**20
    assert sample.name == "sample"
    assert sample.train_images.shape == (2000, 28, 28) and sample.test_images.shape == (1000, 28, 28)
    assert sample.train_images.dtype == torch.uint8
    assert set(sample.train_labels.tolist()) == set(range(10))
    assert 0.10 < sample.train_images.float().mean().item() / 255 < 0.16  # MNIST's mean ink is 0.13


@pytest.mark.parametrize("gz", [True, False])
def test_folder_of_idx_files_loads_as_mnist(sample, tmp_path, gz):
    folder = write_mnist_folder(sample, tmp_path / "mnist", gz=gz)
    loaded = data.load_digits(folder)
    assert loaded.name == "mnist"
    assert torch.equal(loaded.test_images, sample.test_images)
    assert torch.equal(loaded.train_labels, sample.train_labels)


def test_missing_or_broken_folder_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_digits(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images"):
        data.load_digits(tmp_path)
    text = tmp_path / "text-idx"
    text.write_bytes(b"hello, this is not an idx file")
    with pytest.raises(ValueError, match="not an unsigned-byte idx file"):
        data.read_idx(text)
    short = tmp_path / "short-idx.gz"
    write_idx(short, torch.zeros(3, 2, 2, dtype=torch.uint8).numpy())
    short.write_bytes(gzip.compress(gzip.decompress(short.read_bytes())[:-1]))
    with pytest.raises(ValueError, match="header says"):
        data.read_idx(short)


def test_env_var_points_auto_at_a_folder(sample, tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(write_mnist_folder(sample, tmp_path / "m")))
    assert data.load_digits("auto").name == "mnist"


def test_auto_falls_back_to_the_sample_when_offline(monkeypatch, caplog):
    monkeypatch.delenv(data.DATA_ENV, raising=False)

    def offline(*args, **kwargs):
        raise RuntimeError("no route to host")

    monkeypatch.setattr(data, "download", offline)
    assert data.load_digits("auto").name == "sample"
    assert "sample" in caplog.text


def test_download_uses_torchvision_against_a_local_mirror(sample, tmp_path, monkeypatch):
    """The real download path, served by a stand-in mirror on 127.0.0.1."""
    from torchvision.datasets import MNIST

    served = write_mnist_folder(sample, tmp_path / "served")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        resources = [(f.name, hashlib.md5(f.read_bytes()).hexdigest()) for f in sorted(served.iterdir())]
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        monkeypatch.setattr(MNIST, "resources", resources)
        loaded = data.download(tmp_path / "cache")
    finally:
        server.shutdown()
    assert loaded.name == "mnist"
    assert torch.equal(loaded.train_images, sample.train_images)

"""Datasets by name: each built-in one from its own file format, a (local stand-in) download or the
shipped sample; your own images from class folders or a zip. Every loader returns its spec."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from digitlab.data import archives, download, formats, registry
from digitlab.data.dataset import DataError
from digitlab.data.formats import load_image_folder
from digitlab.data.registry import load_dataset, load_sample
from digitlab.data.specs import SPECS
from digitlab.spec import DatasetSpec
from tests.idx import write_idx, write_mnist_folder

SAMPLES = {"mnist": (2000, 1000), "fashion-mnist": (1000, 500), "chinese-mnist": (1500, 750), "cifar10": (600, 300)}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test caches into its own folder and sees no $DIGITLAB_DATA_DIR."""
    monkeypatch.setenv("DIGITLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(registry.DATA_ENV, raising=False)


@pytest.mark.parametrize("name", SPECS)
def test_every_built_in_dataset_ships_a_small_real_sample_with_its_spec(name):
    data = load_sample(name)
    spec = data.spec
    assert isinstance(spec, DatasetSpec) and spec.name == name and data.source == "sample"
    n_train, n_test = SAMPLES[name]
    assert data.train_images.shape == (n_train, spec.channels, spec.size, spec.size)
    assert data.test_images.shape == (n_test, spec.channels, spec.size, spec.size)
    assert data.train_images.dtype == torch.uint8 and data.train_labels.dtype == torch.int64
    assert set(data.train_labels.tolist()) == set(range(spec.num_classes))
    mean = (data.train_images.float() / 255).mean((0, 2, 3))
    assert torch.allclose(mean, torch.tensor(spec.mean), atol=0.03)  # the spec's statistics fit the data
    files = [registry.sample_path(name), registry.sample_path(name).with_suffix(".zip")]
    assert sum(f.stat().st_size for f in files if f.exists()) < 2 * 2**20


def test_the_specs_say_what_each_dataset_is():
    assert SPECS["chinese-mnist"].display[7] == "七 (7)" and SPECS["chinese-mnist"].labels[14] == "亿"
    assert (SPECS["chinese-mnist"].size, SPECS["chinese-mnist"].view) == (64, "glyph")
    assert (SPECS["cifar10"].channels, SPECS["cifar10"].size, SPECS["cifar10"].polarity) == (3, 32, "natural")
    assert SPECS["fashion-mnist"].labels[9] == "Ankle boot" and SPECS["fashion-mnist"].view == "photo"


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_a_folder_of_idx_files_loads(name, tmp_path, gz):
    sample = load_sample(name)
    folder = write_mnist_folder(sample, tmp_path / name, gz=gz)
    loaded = load_dataset(name, folder)
    assert loaded.spec == sample.spec and loaded.name == name
    assert torch.equal(loaded.test_images, sample.test_images)
    assert torch.equal(loaded.train_labels, sample.train_labels)


def test_missing_or_broken_idx_files_are_explained(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", tmp_path / "nowhere")
    with pytest.raises(DataError, match="train-images"):
        load_dataset("mnist", tmp_path)
    text = tmp_path / "text-idx"
    text.write_bytes(b"hello, this is not an idx file")
    with pytest.raises(DataError, match="not an unsigned-byte idx file"):
        formats.read_idx(text)
    short = tmp_path / "short-idx.gz"
    write_idx(short, np.zeros((3, 2, 2), np.uint8))
    import gzip

    short.write_bytes(gzip.compress(gzip.decompress(short.read_bytes())[:-1]))
    with pytest.raises(DataError, match="header says"):
        formats.read_idx(short)


def write_chinese_folder(folder: Path, suites: range, per_class: int = 2) -> Path:
    """Chinese-MNIST-named JPGs (input_{suite}_{sample}_{code}.jpg) made from the sample's views."""
    sample = load_sample("chinese-mnist")
    folder.mkdir(parents=True)
    for code in range(1, 16):
        views = sample.train_images[sample.train_labels == code - 1][: len(suites) * per_class]
        for i, view in enumerate(views):
            suite, n = suites[i // per_class], i % per_class + 1
            Image.fromarray(view[0].numpy()).save(folder / f"input_{suite}_{n}_{code}.jpg", quality=95)
    return folder


def test_chinese_mnist_is_split_by_writer(tmp_path):
    folder = write_chinese_folder(tmp_path / "data", range(76, 86))  # writers 76-80 train, 81-85 test
    data = load_dataset("chinese-mnist", folder)
    assert len(data.train_labels) == len(data.test_labels) == 15 * 5 * 2
    assert data.train_images.shape[1:] == (1, 64, 64) and data.spec.display[0] == "零 (0)"
    assert sorted(set(data.test_labels.tolist())) == list(range(15))


def test_cifar10_reads_its_binary_distribution_and_never_a_pickle(tmp_path):
    sample = load_sample("cifar10")
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    records = {
        "train": np.concatenate([sample.train_labels.numpy()[:, None].astype(np.uint8),
                                 sample.train_images.numpy().reshape(-1, 3072)], 1),
        "test": np.concatenate([sample.test_labels.numpy()[:, None].astype(np.uint8),
                                sample.test_images.numpy().reshape(-1, 3072)], 1),
    }
    for i, part in enumerate(np.array_split(records["train"], 5), 1):
        (folder / f"data_batch_{i}.bin").write_bytes(part.tobytes())
    (folder / "test_batch.bin").write_bytes(records["test"].tobytes())
    (folder / "data_batch_1").write_bytes(b"\x80\x04 a pickle that must never be opened")
    data = load_dataset("cifar10", folder)
    assert torch.equal(data.train_images, sample.train_images) and torch.equal(data.test_labels, sample.test_labels)


def test_cifar10_reads_an_image_folder_too(tmp_path):
    zipped = registry.sample_path("cifar10").with_suffix(".zip")
    with zipfile.ZipFile(zipped) as z:
        z.extractall(tmp_path / "cifar10")
    data = load_dataset("cifar10", tmp_path / "cifar10")
    assert torch.equal(data.train_labels, load_sample("cifar10").train_labels)


def own_folder(root: Path, classes: dict[str, int], broken: int = 0) -> Path:
    """Class folders of real sample digits in mixed formats and sizes; `broken` files that are not images."""
    sample = load_sample("mnist")
    formats = ["PNG", "JPEG", "WEBP", "BMP", "GIF"]
    for c, (name, n) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        views = sample.train_images[sample.train_labels == c][:n, 0].numpy()
        for i, view in enumerate(views):
            fmt = formats[i % len(formats)]
            img = Image.fromarray(255 - view).resize((40 + 13 * i, 40 + 13 * i))  # black on white, any size
            img.save(root / name / f"{i}.{fmt.lower()}", fmt)
    for i in range(broken):
        (root / next(iter(classes)) / f"broken-{i}.png").write_bytes(b"not an image at all")
    return root


def test_your_own_images_load_from_class_folders_of_mixed_formats(tmp_path):
    folder = own_folder(tmp_path / "my-digits", {"zero": 10, "one": 10, "two": 10}, broken=2)
    data = load_image_folder(folder)
    assert data.spec.labels == ("one", "two", "zero") and data.spec.name == "my-digits"
    assert data.spec.view == "glyph" and data.train_images.shape[1:] == (1, 28, 28)
    assert len(data.train_labels) + len(data.test_labels) == 30
    assert len(data.test_labels) == 6  # a fifth of each class
    assert any("2 file(s) could not be read" in str(note) for note in data.notes)
    photos = load_image_folder(folder, view="photo")
    assert photos.train_images.shape[1:] == (3, 32, 32) and photos.spec.polarity == "natural"


def test_images_in_the_none_folder_are_none_of_the_classes_and_join_the_shipped_negatives(tmp_path):
    """Teach exports corrections that are none of the classes in _none-of-these/: training on the folder learns to
    decline them, beside the shipped negatives (a photo view has only these)."""
    from digitlab.data.negatives import OWN_FOLDER, OWN_SHARE, stored

    folder = own_folder(tmp_path / "mine", {"zero": 6, "one": 6})
    (folder / OWN_FOLDER).mkdir()
    for i in range(3):
        mark = Image.new("L", (60, 60), 255)
        ImageDraw.Draw(mark).line([(30, 5), (12, 30), (40, 30), (20, 55)], fill=0, width=5)  # a lightning bolt
        mark.rotate(7 * i, fillcolor=255).save(folder / OWN_FOLDER / f"{i}.png")
    (folder / OWN_FOLDER / "broken.png").write_bytes(b"not an image")
    data = load_image_folder(folder)
    assert data.spec.labels == ("one", "zero") and len(data.train_labels) + len(data.test_labels) == 12
    shipped = len(stored())
    assert torch.equal(data.negatives[:shipped], stored())
    assert abs((len(data.negatives) - shipped) / len(data.negatives) - OWN_SHARE) < 0.01
    assert any("3 image(s) in _none-of-these/ are none of the classes" in str(n) for n in data.notes)
    assert any("1 file(s) could not be read" in str(n) for n in data.notes)
    photos = load_image_folder(folder, view="photo")
    assert photos.negatives.shape == (3, 3, 32, 32)
    assert any("nothing of the kind ships for this model's view: only these" in str(n) for n in photos.notes)


def test_your_own_images_load_from_a_zip(tmp_path):
    folder = own_folder(tmp_path / "digits", {"a": 6, "b": 6})
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in folder.rglob("*.*"):
            z.write(f, Path("digits") / f.relative_to(folder))
        z.writestr("__MACOSX/digits/a/._0.png", b"resource fork junk")
    data = load_dataset("folder", archive)
    assert data.spec.labels == ("a", "b") and len(data.train_labels) + len(data.test_labels) == 12


def bomb(tmp_path: Path, members: int, size: int) -> Path:
    """A zip of real class folders plus `members` files of `size` zero bytes named as images (they deflate ~1000:1)."""
    folder = own_folder(tmp_path / "digits", {"a": 6, "b": 6})
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in folder.rglob("*.*"):
            z.write(f, f.relative_to(folder))
        for i in range(members):
            z.writestr(f"a/zeros-{i}.png", bytes(size))
    return archive


def test_a_zip_member_that_unpacks_too_large_is_skipped_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MEMBER_MAX_BYTES", 2**20)
    archive = bomb(tmp_path, members=3, size=3 * 2**20)
    assert archive.stat().st_size < 2**16
    data = load_dataset("folder", archive)
    assert len(data.train_labels) + len(data.test_labels) == 12
    assert any("3 file(s) could not be read" in str(note) for note in data.notes)


def test_a_zip_that_unpacks_to_too_much_in_all_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "ARCHIVE_MAX_BYTES", 4 * 2**20)
    archive = bomb(tmp_path, members=8, size=2**20)  # each member is allowed; together they are not
    with pytest.raises(DataError, match="bomb.zip unpacks to more than 4 MB; give fewer or smaller images"):
        load_dataset("folder", archive)


@pytest.mark.parametrize("classes,words", [
    ({"only": 8}, "only the class 'only'"),
    ({"a": 8, "b": 3}, "at least 5 readable images: 'b' has 3"),
], ids=["one-class", "too-few"])
def test_own_images_that_cannot_be_learned_are_refused_plainly(tmp_path, classes, words):
    with pytest.raises(DataError, match=words):
        load_image_folder(own_folder(tmp_path / "x", classes))


def test_an_empty_folder_is_refused_plainly(tmp_path):
    with pytest.raises(DataError, match="no class folders"):
        load_image_folder(tmp_path)


def test_env_var_points_auto_at_a_folder_of_datasets(tmp_path, monkeypatch):
    write_mnist_folder(load_sample("fashion-mnist"), tmp_path / "data" / "fashion_mnist")
    monkeypatch.setenv(registry.DATA_ENV, str(tmp_path / "data"))
    assert load_dataset("fashion-mnist", "auto").name == "fashion-mnist"


def test_a_download_failure_is_said_in_plain_words_not_as_an_errno():
    import socket
    import urllib.error

    assert download.download_reason(urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))) == \
        "the server's name could not be looked up (no internet connection here?)"
    assert download.download_reason(urllib.error.URLError(TimeoutError("timed out"))) == \
        "the server did not answer in time"


def test_auto_falls_back_to_the_sample_and_says_why(monkeypatch):
    import socket
    import urllib.error

    def offline(url, timeout):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    data = load_dataset("mnist", "auto")
    assert data.source == "sample"
    assert [n.text for n in data.notes] == [
        "Could not download mnist: the server's name could not be looked up (no internet connection here?). Using the "
        "shipped sample instead (2,000 training and 1,000 test images)."]
    assert load_dataset("chinese-mnist", "auto").notes[0].text.startswith("chinese-mnist has no standard download")


@pytest.fixture
def mirror(tmp_path):
    """A stand-in download server on 127.0.0.1 serving the files of a folder."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def serve_from(monkeypatch, name: str, url: str, served: Path) -> None:
    """Point a dataset's download at the mirror, with the MD5s of the files it serves."""
    files = tuple((f.name, hashlib.md5(f.read_bytes()).hexdigest()) for f in sorted(served.iterdir()))
    monkeypatch.setitem(download.DOWNLOADS, name, replace(download.DOWNLOADS[name], mirrors=("http://127.0.0.1:9/",
                                                                                            url), files=files))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_a_download_takes_the_next_mirror_and_checks_every_file(name, mirror, tmp_path, monkeypatch):
    served, url = mirror
    sample = load_sample(name)
    write_mnist_folder(sample, served)
    serve_from(monkeypatch, name, url, served)
    loaded = registry.download(name, tmp_path / "cache" / name)
    assert loaded.source == "download" and torch.equal(loaded.train_images, sample.train_images)
    assert not list((tmp_path / "cache" / name).glob("*.part"))


def test_cifar10_downloads_its_binary_version_checked_by_md5(mirror, tmp_path, monkeypatch):
    import tarfile

    served, url = mirror
    sample = load_sample("cifar10")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        rows = np.concatenate([sample.train_labels.numpy()[:, None].astype(np.uint8),
                               sample.train_images.numpy().reshape(-1, 3072)], 1)
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        parts = [*np.array_split(rows, 5), np.concatenate([sample.test_labels.numpy()[:, None].astype(np.uint8),
                                                          sample.test_images.numpy().reshape(-1, 3072)], 1)]
        for member, part in zip(names, parts, strict=True):
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{member}")
            info.size = part.nbytes
            tar.addfile(info, io.BytesIO(part.tobytes()))
    (served / "cifar-10-binary.tar.gz").write_bytes(archive.getvalue())
    serve_from(monkeypatch, "cifar10", url, served)
    loaded = registry.download("cifar10", tmp_path / "cache" / "cifar10")
    assert torch.equal(loaded.test_images, sample.test_images)
    (served / "cifar-10-binary.tar.gz").write_bytes(archive.getvalue()[:-10])  # a damaged download is refused
    with pytest.raises(DataError, match="Could not download cifar10: .*is damaged"):
        registry.download("cifar10", tmp_path / "other")
    assert not any((tmp_path / "other").iterdir())  # and leaves nothing that looks whole


def test_a_folder_too_large_to_be_a_dataset_is_refused_quickly(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_FILES", 50)
    for i in range(60):
        (tmp_path / f"note-{i}.txt").write_text("x")
    with pytest.raises(DataError, match="holds more than 50 files: give the dataset's own folder"):
        load_dataset("chinese-mnist", tmp_path)

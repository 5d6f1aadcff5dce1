"""The built-in datasets' specs: their classes, sizes, statistics and views."""

from __future__ import annotations

from collections.abc import Iterable

from digitlab.spec import MNIST, DatasetSpec


def glyph_spec(name: str, labels: Iterable[str], size: int, **kw) -> DatasetSpec:
    return DatasetSpec(name, tuple(labels), size=size, view="glyph", polarity="light-on-dark", **kw)


FASHION_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot")


CHINESE = (("零", "0"), ("一", "1"), ("二", "2"), ("三", "3"), ("四", "4"), ("五", "5"), ("六", "6"), ("七", "7"),
           ("八", "8"), ("九", "9"), ("十", "10"), ("百", "100"), ("千", "1000"), ("万", "10000"), ("亿", "100000000"))


CIFAR_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


SPECS: dict[str, DatasetSpec] = {
    "mnist": MNIST,
    "fashion-mnist": DatasetSpec(
        "fashion-mnist", FASHION_LABELS, size=28, channels=1, mean=(0.2860,), std=(0.3530,), view="photo",
        polarity="light-on-dark", notes={"source": "Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando)",
                                         "licence": "MIT"}),
    # Mean, std and stroke width as measured on the training writers' views (scripts/measure_specs.py).
    "chinese-mnist": glyph_spec(
        "chinese-mnist", (c for c, _ in CHINESE), 64, display=tuple(f"{c} ({v})" for c, v in CHINESE),
        mean=(0.0502,), std=(0.1675,), stroke=0.0432,
        notes={"source": "Chinese MNIST (Nazarpour & Chen, Newcastle University)", "licence": "CC0",
               "split": "writers (suites) 1-80 train, 81-100 test"}),
    "cifar10": DatasetSpec(
        "cifar10", CIFAR_LABELS, size=32, channels=3, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
        view="photo", polarity="natural", notes={"source": "CIFAR-10 (Krizhevsky, 2009)"}),
}

"""Datasets by name -> whole-split uint8 tensors plus their DatasetSpec.

registry (by name: a folder, "sample", "download", "auto"), specs (the built-in datasets), formats (idx
files, Chinese MNIST, CIFAR-10, class folders), archives (bounded folder/zip/tar reading), cache (decoded
datasets on disk), download (the standard downloads), augment (batched on the device).
"""

from digitlab.data.dataset import DataError, Dataset
from digitlab.data.registry import DATASETS, OWN, SOURCES, load_dataset, load_sample
from digitlab.data.specs import SPECS

__all__ = ["DATASETS", "OWN", "SOURCES", "SPECS", "DataError", "Dataset", "load_dataset", "load_sample"]

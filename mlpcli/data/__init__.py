"""Datasets: labelled images from an image folder, CIFAR-10 batches, an npz file or the generator.

Every loader returns a ``Dataset`` (``dataset``); ``LOADERS`` (``loaders``) maps ``data.format``
to its loader; ``images`` decodes one file, ``folder`` many.
"""

from __future__ import annotations

from ..choices import DEFAULT_MAX_IMAGE_PIXELS
from .dataset import Dataset, relabel, resize_dataset
from .loaders import LOADERS, Loader, class_names, detect_format, load_dataset, load_labelled

__all__ = [
    "DEFAULT_MAX_IMAGE_PIXELS",
    "LOADERS",
    "Dataset",
    "Loader",
    "class_names",
    "detect_format",
    "load_dataset",
    "load_labelled",
    "relabel",
    "resize_dataset",
]

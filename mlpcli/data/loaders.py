"""``LOADERS``: one ``Loader`` per ``data.format``, each knowing how to read its format and
whether a path is in it, so that a new format is added in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..choices import DEFAULT_MAX_IMAGE_PIXELS
from ..errors import ConfigError, DataError
from .dataset import Dataset, resize_dataset


@dataclass(frozen=True)
class Loader:
    """How one ``data.format`` is read.

    ``load(data_config, seed, cache_dir) -> Dataset`` for training; ``classes(data_config) -> class
    names`` without decoding; ``detect(path) -> bool``: is ``path`` in this format (None: never
    given as a path); ``labelled(path, image_size, on_error, max_pixels) -> Dataset`` for
    ``evaluate --data``.
    """

    load: Callable
    classes: Callable
    detect: Callable | None = None
    labelled: Callable | None = None
    needs_path: bool = True


def _synthetic(data_config, seed, cache_dir):
    from .synthetic import make_synthetic

    return make_synthetic(data_config.n_per_class, data_config.image_size, seed)


def _synthetic_classes(data_config):
    from .synthetic import SHAPES

    return SHAPES


def _folder(data_config, seed, cache_dir):
    from .folder import load_folder

    return load_folder(data_config.path, data_config.image_size, data_config.on_error, cache_dir=cache_dir,
                       max_pixels=data_config.max_image_pixels)


def _folder_classes(data_config):
    from .folder import scan_folder

    return scan_folder(data_config.path)[2]


def _folder_labelled(path, image_size, on_error, max_pixels):
    from .folder import load_folder

    return load_folder(path, image_size, on_error, max_pixels=max_pixels)


def _cifar10(data_config, seed, cache_dir):
    from .cifar10 import load_cifar10

    return resize_dataset(load_cifar10(data_config.path, data_config.split), data_config.image_size)


def _cifar10_classes(data_config):
    from .cifar10 import cifar10_classes

    return cifar10_classes(data_config.path)


def _cifar10_detect(path: Path) -> bool:
    from .cifar10 import is_cifar10_dir

    return is_cifar10_dir(path)


def _cifar10_labelled(path, image_size, on_error, max_pixels):
    from .cifar10 import load_cifar10

    return resize_dataset(load_cifar10(path, "test"), image_size)


def _npz(data_config, seed, cache_dir):
    return _npz_labelled(data_config.path, data_config.image_size, None, None)


def _npz_classes(data_config):
    return _npz(data_config, None, None).class_names


def _npz_labelled(path, image_size, on_error, max_pixels):
    from .npz import load_npz

    return resize_dataset(load_npz(path), image_size)


#: ``data.format`` -> its loader; the keys are the allowed values of ``data.format``. Formats are
#: detected in this order (a CIFAR-10 folder is a folder too, so it is asked first).
LOADERS = {"synthetic": Loader(_synthetic, _synthetic_classes, needs_path=False),
           "cifar10": Loader(_cifar10, _cifar10_classes, _cifar10_detect, _cifar10_labelled),
           "npz": Loader(_npz, _npz_classes, lambda path: path.suffix.lower() == ".npz", _npz_labelled),
           "folder": Loader(_folder, _folder_classes, Path.is_dir, _folder_labelled)}


def load_dataset(data_config, seed: int, cache: bool = True) -> Dataset:
    """The dataset described by the ``data:`` section, resized to ``data.image_size``.

    Decoded image folders are cached on disk unless ``cache`` is False.
    """
    return _loader(data_config).load(data_config, seed, data_config.cache_dir if cache else None)


def class_names(data_config) -> tuple[str, ...]:
    """The classes the ``data:`` section describes, read without decoding its images."""
    return tuple(_loader(data_config).classes(data_config))


def _loader(data_config) -> Loader:
    loader = LOADERS[data_config.format]
    if loader.needs_path and data_config.path is None:
        raise ConfigError(f"data.path: required for data.format {data_config.format}")
    return loader


def detect_format(path) -> str:
    """The ``data.format`` of ``path``, asked of each loader in turn; DataError if none claims it."""
    path = Path(path)
    for name, loader in LOADERS.items():
        if loader.detect is not None and loader.detect(path):
            return name
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    readable = ", ".join(name for name, loader in LOADERS.items() if loader.detect is not None)
    raise DataError(f"{path}: not a labelled data set this version reads ({readable}); see data/README.md")


def load_labelled(path, image_size, on_error: str = "fail", max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Dataset:
    """Labelled images for evaluation, in the format its loader recognizes (``detect_format``):
    a CIFAR-10 python directory (its test split), an ``.npz`` file, or an image folder (decoded
    with ``on_error`` and the ``max_pixels`` limit, as ``folder.load_folder``)."""
    return LOADERS[detect_format(path)].labelled(Path(path), image_size, on_error, max_pixels)

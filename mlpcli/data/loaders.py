"""``LOADERS``: one ``Loader`` per ``data.format``, each knowing how to read its format and
whether a path is in it, so that a new format is added in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..choices import DEFAULT_MAX_IMAGE_PIXELS
from ..errors import ConfigError, DataError
from .dataset import Dataset, resize_dataset


@dataclass(frozen=True)
class Loader:
    """How one ``data.format`` is read.

    ``load(data_config, seed, cache_dir, mapper) -> Dataset`` for training (``mapper``: decode
    files on a cluster's workers, see ``shard_cache``); ``classes(data_config) -> class
    names`` without decoding; ``detect(path) -> bool``: is ``path`` in this format (None: never
    given as a path); ``labelled(path, image_size, on_error, max_pixels) -> Dataset`` for
    ``evaluate --data``.
    """

    load: Callable
    classes: Callable
    detect: Callable | None = None
    labelled: Callable | None = None
    needs_path: bool = True


def _arrays(dataset: Dataset, data_config) -> Dataset:
    """An in-memory data set brought to the ``data:`` section's shape, color and classes."""
    from .classes import select_dataset_classes
    from .shape import preprocess_of

    if data_config.val_path is not None:
        raise ConfigError(
            f"data.val_path: only for data.format folder or csv (not {data_config.format}); use data.val_fraction"
        )
    source = data_config.path or f"{data_config.format} data"
    return select_dataset_classes(resize_dataset(dataset, preprocess_of(data_config)), data_config.classes, source)


def _synthetic(data_config, seed, cache_dir, mapper):
    from .synthetic import make_synthetic

    return _arrays(make_synthetic(data_config.n_per_class, data_config.image_size, seed), data_config)


def _synthetic_classes(data_config):
    from .synthetic import SHAPES

    return SHAPES


#: How a config's user leaves unreadable images out (train, kfold, search have no --on-error).
CONFIG_SKIP_HINT = "data.on_error: skip in the config (--set data.on_error=skip)"


def _files(files, data_config, cache_dir, mapper):
    """Decode the listed files (and ``data.val_path``'s) as the ``data:`` section says."""
    from .filelist import load_files
    from .shape import preprocess_of
    from .validation import add_validation

    return load_files(
        add_validation(files, data_config),
        preprocess_of(data_config),
        data_config.on_error,
        cache_dir,
        data_config.max_image_pixels,
        mapper,
        skip_hint=CONFIG_SKIP_HINT,
    )


def _folder(data_config, seed, cache_dir, mapper):
    from .folder import folder_files

    return _files(folder_files(data_config.path, data_config.classes), data_config, cache_dir, mapper)


def _folder_classes(data_config):
    from .folder import scan_folder

    return scan_folder(data_config.path)[2]


def _folder_labelled(path, spec, on_error, max_pixels):
    from .folder import load_folder

    return load_folder(path, spec, on_error, max_pixels=max_pixels)


def _csv(data_config, seed, cache_dir, mapper):
    from .csvfile import csv_files

    rows = _csv_rows(Path(data_config.path), data_config.on_error, train=True)
    return _files(csv_files(data_config.path, rows, _csv_classes(data_config, rows)), data_config, cache_dir, mapper)


def _csv_classes(data_config, rows=None):
    from .classes import class_order
    from .csvfile import read_rows

    rows = rows or [row for row in read_rows(Path(data_config.path)) if row.split != "test"]
    return class_order({row.label for row in rows}, data_config.classes, data_config.path)


def _csv_rows(path: Path, on_error: str, train: bool):
    """The rows training reads (all but ``test``) or evaluation reads (``test`` if any, else all);
    missing files are one DataError unless ``on_error`` is skip (decoding then skips them)."""
    from .csvfile import check_files_exist, read_rows

    rows = read_rows(path)
    test = [row for row in rows if row.split == "test"]
    rows = [row for row in rows if row.split != "test"] if train else (test or rows)
    if not rows:
        raise DataError(f"{path}: every row is in the test split; mark training rows train (or val)")
    if on_error == "fail":
        check_files_exist(path, rows)
    return rows


def _csv_labelled(path, spec, on_error, max_pixels):
    from .csvfile import csv_files
    from .filelist import load_files

    rows = _csv_rows(path, on_error, train=False)
    files = csv_files(path, rows, tuple(sorted({row.label for row in rows})))
    return load_files(files, spec, on_error, None, max_pixels)


def _cifar10(data_config, seed, cache_dir, mapper):
    from .cifar10 import load_cifar10

    return _arrays(load_cifar10(data_config.path, data_config.split), data_config)


def _cifar10_classes(data_config):
    from .cifar10 import cifar10_classes

    return cifar10_classes(data_config.path)


def _cifar10_detect(path: Path) -> bool:
    from .cifar10 import is_cifar10_dir

    return is_cifar10_dir(path)


def _cifar10_labelled(path, spec, on_error, max_pixels):
    from .cifar10 import load_cifar10

    return resize_dataset(load_cifar10(path, "test"), spec)


def _npz(data_config, seed, cache_dir, mapper):
    from .npz import load_npz

    return _arrays(load_npz(data_config.path), data_config)


def _npz_classes(data_config):
    from .npz import load_npz

    return load_npz(data_config.path).class_names


def _npz_labelled(path, spec, on_error, max_pixels):
    from .npz import load_npz

    return resize_dataset(load_npz(path), spec)


def _suffix(suffix: str) -> Callable:
    return lambda path: path.suffix.lower() == suffix


#: ``data.format`` -> its loader; the keys are the allowed values of ``data.format``. Formats are
#: detected in this order (a CIFAR-10 folder is a folder too, so it is asked first).
LOADERS = {
    "synthetic": Loader(_synthetic, _synthetic_classes, needs_path=False),
    "cifar10": Loader(_cifar10, _cifar10_classes, _cifar10_detect, _cifar10_labelled),
    "npz": Loader(_npz, _npz_classes, _suffix(".npz"), _npz_labelled),
    "csv": Loader(_csv, _csv_classes, _suffix(".csv"), _csv_labelled),
    "folder": Loader(_folder, _folder_classes, Path.is_dir, _folder_labelled),
}


def load_dataset(data_config, seed: int, cache: bool = True, mapper=None) -> Dataset:
    """The dataset described by the ``data:`` section, resized to ``data.image_size``.

    Decoded image folders are cached on disk unless ``cache`` is False. ``mapper``: image files
    are decoded by a cluster's workers (see ``shard_cache.decode_shards``).
    """
    return _loader(data_config).load(data_config, seed, data_config.cache_dir if cache else None, mapper)


def class_names(data_config) -> tuple[str, ...]:
    """The classes the ``data:`` section describes (``data.classes`` if set), read without
    decoding its images."""
    from .classes import class_order

    names = tuple(_loader(data_config).classes(data_config))
    if data_config.classes is None:
        return names
    return class_order(names, data_config.classes, data_config.path or f"{data_config.format} data")


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


def load_labelled(path, target, on_error: str = "fail", max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Dataset:
    """Labelled images for evaluation, brought to ``target`` (a ``shape.Preprocess`` or an image
    size), in the format its loader recognizes (``detect_format``): a CIFAR-10 python directory
    (its test split), an ``.npz`` file, a ``.csv`` (its test rows if it has any, else all), or an
    image folder (files decoded with ``on_error`` and the ``max_pixels`` limit)."""
    from .shape import as_preprocess

    name = detect_format(path)
    labelled = LOADERS[name].labelled
    if labelled is None:
        raise DataError(f"{path}: data.format {name} cannot be evaluated; see data/README.md")
    return labelled(Path(path), as_preprocess(target), on_error, max_pixels)

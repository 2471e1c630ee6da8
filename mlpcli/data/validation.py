"""``data.val_path``: a fixed folder of validation images, instead of a held-out fraction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .filelist import Files, with_validation


def add_validation(files: Files, data_config) -> Files:
    """``files`` followed by the images of ``data.val_path`` as the fixed validation split
    (unchanged without one). Its class folders must be among ``files``' classes; with
    ``data.classes`` set, folders of other classes are left out, as in training."""
    if data_config.val_path is None:
        return files
    if files.val is not None and files.val.any():
        raise ConfigError(
            f"data.val_path: {data_config.path} already names validation images in its split "
            f"column; use one or the other"
        )
    return with_validation(
        files, validation_files(data_config.val_path, files.class_names, drop_others=data_config.classes is not None)
    )


def validation_files(val_path, class_names, drop_others: bool) -> Files:
    """The image folder ``val_path``, labels indexing the training ``class_names``; DataError for a
    class folder that is not a training class (unless ``drop_others``)."""
    from .folder import scan_folder

    root = Path(val_path)
    paths, labels, names = scan_folder(root)
    unknown = [name for name in names if name not in class_names]
    if unknown and not drop_others:
        raise DataError(
            f"{root}: data.val_path has class folder(s) {', '.join(map(repr, unknown))} that are not "
            f"training classes ({', '.join(class_names)}); rename or remove them, or list the "
            f"classes to use in data.classes"
        )
    index = np.array([class_names.index(name) if name in class_names else -1 for name in names], dtype=np.int64)
    mapped = index[labels]
    keep = mapped >= 0
    return Files(
        paths.where(keep), mapped[keep], tuple(class_names), root, tuple(str(root / name) for name in class_names)
    )

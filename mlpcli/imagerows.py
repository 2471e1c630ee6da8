"""``ImageRows``: the type of everything that reads like a stack of images.

Data loaders (``data/``), feature extractors (``features/``) and the trainer (``train/``) pass
images around as an ndarray, as memory-mapped shards or as augmented copies made on demand; this
module sits below all three so each can name the type without importing the others.
"""

from __future__ import annotations

from typing import Any, Protocol


class ImageRows(Protocol):
    """What reads like images (n_images, height, width, 3) uint8: an ndarray, ``ShardedImages``,
    or ``train.copies.AugmentedImages`` (an index gives an image, a slice or index array an array)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def ndim(self) -> int: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> Any: ...

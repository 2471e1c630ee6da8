"""How a decoded image becomes the model's input: its shape policy, its color, and the JPEG
draft scale that decodes no more pixels than that needs.

``Preprocess`` is saved with the model (``model.json``), so ``predict`` and ``evaluate`` turn a
file into the same pixels training did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: ``data.resize`` values: squash: stretch to the size (the aspect ratio is lost); center_crop:
#: the largest centred window of the target's aspect ratio, then resize; pad: resize to fit inside
#: and fill the rest with ``pad_fill``.
RESIZES = ("squash", "center_crop", "pad")
#: ``data.color`` values; gray keeps three equal channels, so every feature works unchanged.
COLORS = ("rgb", "gray")
#: The resize filter, Pillow's bilinear (``Image.Resampling.BILINEAR``): in ``resize`` it widens
#: its support when shrinking, so each output pixel averages every input pixel it covers
#: (antialiased), unlike a plain bilinear lookup. (Pillow is imported when an image is resized,
#: so that the config, which reads this module's choices, does not load it.)
FILTER = 2
#: EXIF orientations that swap rows and columns (a phone held upright).
_TRANSPOSED = (5, 6, 7, 8)


@dataclass(frozen=True)
class Preprocess:
    """``size`` (height, width) of the model's images, the ``resize`` policy, the ``color`` and
    the gray level ``pad_fill`` (0..255) of padding."""

    size: tuple[int, int]
    resize: str = "squash"
    color: str = "rgb"
    pad_fill: int = 0

    def describe(self) -> dict:
        """What ``model.json`` and cache keys record besides the size."""
        return {"resize": self.resize, "color": self.color, "pad_fill": self.pad_fill}


def as_preprocess(target) -> Preprocess:
    """A Preprocess, or an image size (height, width) meaning the defaults at that size."""
    if isinstance(target, Preprocess):
        return target
    height, width = (int(s) for s in target)
    return Preprocess((height, width))


def preprocess_of(data_config) -> Preprocess:
    """The ``data:`` section's Preprocess."""
    return Preprocess(tuple(data_config.image_size), data_config.resize, data_config.color, data_config.pad_fill)


def draft_size(stored: tuple[int, int], orientation: int, spec: Preprocess) -> tuple[int, int]:
    """(width, height) a JPEG stored at ``stored`` (width, height) must at least decode to, in its
    stored orientation, for ``spec``: every kept region still as large as the target, so the
    DCT scaling (1/2, 1/4, 1/8) never decodes fewer pixels than the resize averages over."""
    height, width = spec.size
    if spec.resize == "pad":
        upright = stored[::-1] if orientation in _TRANSPOSED else stored
        scale = min(width / upright[0], height / upright[1])
        width, height = math.ceil(upright[0] * scale), math.ceil(upright[1] * scale)
    return (height, width) if orientation in _TRANSPOSED else (width, height)


def fit(image, spec: Preprocess):
    """An upright RGB Pillow image -> a Pillow image of ``spec.size`` by ``spec.resize``, then
    ``spec.color``.

    An image already of the target's aspect ratio takes the squash path whatever the policy,
    so square inputs to square targets give the same bytes under every policy.
    """
    height, width = spec.size
    if image.size != (width, height):
        if spec.resize == "squash" or image.size[0] * height == image.size[1] * width:
            image = image.resize((width, height), FILTER)
        elif spec.resize == "center_crop":
            image = image.resize((width, height), FILTER, box=crop_box(image.size, (width, height)))
        else:
            image = _pad(image, spec)
    if spec.color == "gray":
        image = image.convert("L").convert("RGB")
    return image


def crop_box(size: tuple[int, int], target: tuple[int, int]) -> tuple[float, float, float, float]:
    """The largest centred (left, upper, right, lower) window of ``size`` (width, height) with
    the aspect ratio of ``target`` (width, height)."""
    width, height = size
    scale = min(width / target[0], height / target[1])
    crop_width, crop_height = target[0] * scale, target[1] * scale
    left, upper = (width - crop_width) / 2, (height - crop_height) / 2
    return left, upper, left + crop_width, upper + crop_height


def _pad(image, spec: Preprocess):
    """Shrink (or grow) ``image`` to fit inside ``spec.size`` and centre it on ``pad_fill``."""
    from PIL import Image

    height, width = spec.size
    scale = min(width / image.size[0], height / image.size[1])
    inner = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    canvas = Image.new("RGB", (width, height), (spec.pad_fill,) * 3)
    canvas.paste(image.resize(inner, FILTER), ((width - inner[0]) // 2, (height - inner[1]) // 2))
    return canvas


def fit_array(image: np.ndarray, spec: Preprocess) -> np.ndarray:
    """(height, width, 3) uint8 -> (spec.size, 3) uint8, as ``fit`` does for a decoded file."""
    from PIL import Image

    if image.shape[:2] == tuple(spec.size) and spec.color == "rgb":
        return image
    return np.asarray(fit(Image.fromarray(image), spec), dtype=np.uint8)

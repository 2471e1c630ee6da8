"""What the first layer learned, as image tiles: class templates, hidden units or conv filters.

Weights are stored ``(n_in, n_out)`` and applied as ``x @ W + b`` to standardized rows
``x = (pixels - mean) / std``. On raw pixels the input is ``images.reshape(n_images, -1)``, i.e.
flattened in (row, col, channel) order, so column ``j`` of ``W`` divided by ``std`` (the weight on
an unstandardized pixel, up to a constant) and reshaped to ``(height, width, 3)`` is the image that
output ``j`` responds to most: a class template for a linear classifier, a unit's preferred
pattern for a hidden layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn import Conv2D, Linear

MAX_UNITS = 64  # hidden units drawn for a hidden layer on raw pixels
TEMPLATE_SIDE, UNIT_SIDE, FILTER_SIDE = 128, 64, 48  # target tile sides in pixels after upscaling


@dataclass
class WeightPicture:
    """Tiles (each (height, width, channels), any float) with labels, ready for ``labelled_grid``."""

    kind: str  # "class_templates", "first_layer_units" or "conv_filters"
    file_name: str
    tiles: list
    labels: list
    scale: int
    columns: int
    note: str


def pixel_templates(W: np.ndarray, std: np.ndarray, image_size) -> np.ndarray:
    """W (height * width * 3, n_out), std (height * width * 3,) -> (n_out, height, width, 3) float64.

    Template ``j`` is ``W[:, j] / std`` un-flattened: the inverse of the raw features' (row, col,
    channel) flattening, with the standardization folded back into pixel space.
    """
    height, width = image_size
    n_in, n_out = W.shape
    if n_in != height * width * 3:
        raise ValueError(f"W has {n_in} inputs, not the {height}x{width}x3 raw pixels of the images")
    pixel_space = np.asarray(W, dtype=np.float64) / np.asarray(std, dtype=np.float64)[:, None]
    return pixel_space.T.reshape(n_out, height, width, 3)


def conv_filter_tiles(W: np.ndarray) -> np.ndarray:
    """Conv2D W (kernel, kernel, in_channels, filters) -> (filters, kernel, kernel, in_channels)."""
    return np.moveaxis(np.asarray(W, dtype=np.float64), -1, 0)


def _scale(side: int, target: int) -> int:
    return max(1, round(target / max(1, side)))


def weight_picture(predictor) -> WeightPicture | str:
    """The picture of ``predictor``'s first parameterized layer, or a note why there is none.

    ``predictor`` is a ``Predictor`` (``network``, ``features``, ``standardizer``,
    ``class_names``, ``image_size``).
    """
    layers = [layer for layer in predictor.network.layers if layer.params]
    if not layers:
        return "the network has no weights to draw"
    first = layers[0]
    if isinstance(first, Conv2D):
        return _conv_picture(first)
    if not isinstance(first, Linear):
        return f"first layer {type(first).__name__} has no picture"
    names = [feature.name for feature in predictor.features]
    if names != ["raw"]:
        return (
            f"features {', '.join(names)} are not pixels, so the weights have no picture in pixel "
            f"space (train with features: [raw] to see class templates)"
        )
    return _pixel_picture(first, len(layers), predictor)


def _pixel_picture(first: Linear, n_layers: int, predictor) -> WeightPicture:
    """Class templates (a linear classifier on raw pixels) or the first hidden layer's units."""
    templates = pixel_templates(first.params["W"], predictor.standardizer.std, predictor.image_size)
    side = max(predictor.image_size)
    if n_layers == 1:
        return WeightPicture(
            "class_templates",
            "class_templates.png",
            list(templates),
            list(predictor.class_names),
            _scale(side, TEMPLATE_SIDE),
            10,
            "linear classifier on raw pixels: one template per class (W[:, c] / std)",
        )
    shown = templates[:MAX_UNITS]
    return WeightPicture(
        "first_layer_units",
        "first_layer_units.png",
        list(shown),
        [f"unit {i}" for i in range(1, len(shown) + 1)],
        _scale(side, UNIT_SIDE),
        8,
        f"first hidden layer on raw pixels: {len(shown)} of {len(templates)} units",
    )


def _conv_picture(conv: Conv2D) -> WeightPicture:
    tiles = conv_filter_tiles(conv.params["W"])
    return WeightPicture(
        "conv_filters",
        "conv_filters.png",
        list(tiles),
        [str(i) for i in range(1, len(tiles) + 1)],
        _scale(conv.kernel, FILTER_SIDE),
        8,
        f"first convolution: {len(tiles)} filters of {conv.kernel}x{conv.kernel}"
        f"x{conv.in_channels} (on standardized pixels)",
    )

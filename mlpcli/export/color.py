"""``color_hist`` as ONNX operators, bin for bin the same as ``features.color_hist``.

Every quantity is a small integer until the final division, and float32 holds those exactly, so
each pixel lands in the same bin as in mlpcli: hue's sector formula by ``Where`` on the largest
channel, ``(numerator + denominator) * bins / denominator`` truncated (one correctly rounded
division, as NumPy's), RGB levels ``floor(value * bins / 256)``. Counting is a one-hot
comparison against the bin indices summed over the pixels: (n_images, height, width, n_bins)
values in the graph, so an RGB histogram with many bins is memory-hungry on large batches.
"""

from __future__ import annotations

import numpy as np


def color_hist_nodes(graph, images: str, height: int, width: int, params: dict, state) -> str:
    """uint8 images (n_images, height, width, 3) -> histograms (n_images, n_bins), rows sum to 1."""
    bins = int(params["bins"])
    red, green, blue = graph.op("Split", graph.cast(images), axis=3, outputs=3)
    if params["space"] == "hsv":
        codes, n_bins = _hue_bins(graph, red, green, blue, bins), bins
    else:
        codes, n_bins = _rgb_cells(graph, red, green, blue, bins), bins ** 3
    onehot = graph.op("Equal", codes, graph.const(np.arange(n_bins), "bin_index"))
    counts = graph.op("ReduceSum", graph.cast(onehot), graph.ints([1, 2], "axes"), keepdims=0)
    return graph.op("Div", counts, graph.const(float(height * width), "n_pixels"))


def _hue_bins(graph, red: str, green: str, blue: str, bins: int) -> str:
    """(n_images, height, width, 1) hue bin of each pixel, as ``color_hist._bin_codes``."""
    top = graph.op("Max", red, green, blue)
    spread = graph.op("Sub", top, graph.op("Min", red, green, blue))
    two_spread = graph.op("Add", spread, spread)
    # Sector formulas; on ties they agree, so the order of the Where's only mirrors mlpcli's.
    numerator = graph.op("Sub", graph.op("Add", graph.op("Mul", spread, graph.const(4.0, "four")), red), green)
    if_green = graph.op("Sub", graph.op("Add", two_spread, blue), red)
    numerator = graph.op("Where", graph.op("Equal", top, green), if_green, numerator)
    numerator = graph.op("Where", graph.op("Equal", top, red), graph.op("Sub", green, blue), numerator)
    denominator = graph.op("Mul", graph.op("Max", spread, graph.const(1.0, "one")), graph.const(6.0, "six"))
    # One extra turn makes every hue positive; truncation is then the floor.
    turned = graph.op("Mul", graph.op("Add", numerator, denominator), graph.const(float(bins), "bins"))
    position = graph.op("Floor", graph.op("Div", turned, denominator))
    return graph.op("Mod", position, graph.const(float(bins), "bins"), fmod=1)


def _rgb_cells(graph, red: str, green: str, blue: str, bins: int) -> str:
    """(n_images, height, width, 1) RGB cube cell, red-major: levels floor(value * bins / 256)."""
    scale = graph.const(bins / 256, "bins_per_level")  # a power-of-two division: exact
    levels = [graph.op("Floor", graph.op("Mul", channel, scale)) for channel in (red, green, blue)]
    n = graph.const(float(bins), "bins")
    return graph.op("Add", graph.op("Mul", graph.op("Add", graph.op("Mul", levels[0], n), levels[1]), n), levels[2])

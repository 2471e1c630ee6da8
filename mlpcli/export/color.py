"""``color_hist`` as ONNX operators, bin for bin the same as ``features.color_hist``.

Every quantity is a small integer until the final division, and float32 holds those exactly, so
each pixel lands in the same bin as in mlpcli: hue's sector formula by ``Where`` on the largest
channel, ``(numerator + denominator) * bins / denominator`` truncated (one correctly rounded
division, as NumPy's), RGB levels ``floor(value * bins / 256)``. Counting is a one-hot
comparison against the bin indices summed over the pixels.
"""

from __future__ import annotations

import numpy as np


def color_hist_nodes(graph, images: str, height: int, width: int, params: dict, state) -> str:
    """uint8 images (n_images, height, width, 3) -> histograms (n_images, n_bins), rows sum to 1."""
    bins = int(params["bins"])
    red, green, blue = graph.op("Split", graph.cast(images), axis=3, outputs=3)
    if params["space"] == "hsv":
        counts = _one_hot_counts(graph, _hue_bins(graph, red, green, blue, bins), bins, height * width)
    else:
        counts = _rgb_counts(graph, red, green, blue, bins, height * width)
    return graph.op("Div", counts, graph.const(float(height * width), "n_pixels"))


def _one_hot(graph, codes: str, n_bins: int, n_pixels: int) -> str:
    """(n, height, width, 1) float bin indices -> one-hot (n, n_pixels, n_bins) float."""
    onehot = graph.cast(graph.op("Equal", codes, graph.const(np.arange(n_bins), "bin_index")))
    return graph.op("Reshape", onehot, graph.ints([-1, n_pixels, n_bins]))


def _one_hot_counts(graph, codes: str, n_bins: int, n_pixels: int) -> str:
    """Pixels per bin (n, n_bins)."""
    return graph.op("ReduceSum", _one_hot(graph, codes, n_bins, n_pixels), graph.ints([1], "axes"), keepdims=0)


def _rgb_counts(graph, red: str, green: str, blue: str, bins: int, n_pixels: int) -> str:
    """Pixels per RGB cube cell (n, bins ** 3), red-major. The joint one-hot is built as the
    product of a red-green one-hot (n, n_pixels, bins ** 2) and the blue one with a MatMul over
    the pixels, so the graph holds bins ** 2 values per pixel, not bins ** 3; the counts are
    sums of zeros and ones, exact in float32."""
    scale = graph.const(bins / 256, "bins_per_level")  # a power-of-two division: exact
    red, green, blue = (
        _one_hot(graph, graph.op("Floor", graph.op("Mul", channel, scale)), bins, n_pixels)
        for channel in (red, green, blue)
    )
    red_green = graph.op(
        "Mul",
        graph.op("Unsqueeze", red, graph.ints([3], "axes")),
        graph.op("Unsqueeze", green, graph.ints([2], "axes")),
    )
    red_green = graph.op("Reshape", red_green, graph.ints([0, 0, bins * bins]))
    counts = graph.op("MatMul", graph.op("Transpose", red_green, perm=[0, 2, 1]), blue)
    return graph.op("Reshape", counts, graph.ints([0, bins**3]))


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

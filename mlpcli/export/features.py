"""Feature extractors as ONNX nodes: each takes the uint8 image batch and returns float rows.

``FEATURE_NODES[name](graph, images, height, width, params, state) -> rows`` with ``images``
the graph's input ``(n_images, height, width, 3) uint8`` and ``rows (n_images, n_features)``
in the graph's float type, the same values (up to float rounding) as ``features.<name>.extract``.
"""

from __future__ import annotations

import numpy as np

from .bow import bow_nodes
from .color import color_hist_nodes
from .hog import hog_nodes


def raw_nodes(graph, images: str, height: int, width: int, params: dict, state) -> str:
    """Pixels scaled to [0, 1], flattened in (row, col, channel) order, as ``features.raw``:
    the uint8 values cast to float, then multiplied by 1/255 rounded to the float type."""
    rows = graph.op("Reshape", graph.cast(images), graph.ints([0, -1]))
    return graph.op("Mul", rows, graph.const(np.asarray(1 / 255, graph.dtype), "one_255th"))


#: The extractors this exporter can write as ONNX operators, by ``FEATURES`` name.
FEATURE_NODES = {"raw": raw_nodes, "color_hist": color_hist_nodes, "hog": hog_nodes, "bow": bow_nodes}

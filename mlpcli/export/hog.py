"""HOG as ONNX operators, stage by stage as ``features.hog``.

- gray: mlpcli's float32 luma bit for bit as OpenBLAS computes it on a large batch (the
  training, evaluation and batch-predict path; see ``_gray``): a pixel whose two neighbours have
  the same exact luma has a zero gradient, bin 0, or a 1e-8 one, bin 8, by the last bit.
- gradients: Conv with the fixed kernels [-1, 0, 1] down the rows and along the cols, without
  padding, then zero rows/cols padded back: 0 on the border, as mlpcli.
- orientation bins without atan2 (ONNX has none): the gradient is folded onto the half plane of
  unsigned angles [0, 180), and its bin is the number of inner bin edges e_i it lies at or past,
  each test ``g_row cos(e_i) - g_col sin(e_i) >= 0`` (the sign of sin(angle - e_i)). The tests
  run in float64 on the float32 gradients (exact there), so a pixel falls in the bin mlpcli's
  float64 re-binning gives it unless its angle is within about 1e-15 of an edge. One limit:
  with ``orientations`` a multiple of 4 there are edges at 45 and 135 degrees, which gradients
  with |g_row| == |g_col| sit exactly on; whether they do depends on the last bit of the float32
  gray value, which mlpcli's BLAS rounds differently on small batches and on other BLAS builds,
  so such pixels can change bin and the features then differ by a cell's vote. The export logs a
  warning for those orientation counts.
- cell histograms: a one-hot of the bins times the magnitude, then AveragePool over cell x cell
  windows every cell pixels, which is the cell sum divided by the cell area and drops the
  bottom and right remainders, as mlpcli.
- blocks: block x block shifted slices of the cell grid concatenated in (cell_row, cell_col,
  orientation) order on the last axis, normalized there, flattened (block_row, block_col, ...).
"""

from __future__ import annotations

import numpy as np

from ..features.hog import _EPS, LUMA_SCALE, LUMA_WEIGHTS
from ..progress import log


def hog_nodes(graph, images: str, height: int, width: int, params: dict, state) -> str:
    """uint8 images (n_images, height, width, 3) -> hog rows (n_images, n_features)."""
    orientations, cell, block = (int(params[key]) for key in ("orientations", "cell", "block"))
    if orientations % 4 == 0:
        log.warning(
            "export: hog with %d orientations has bin edges at 45 and 135 degrees, where the "
            "last bit of the gray value decides a pixel's bin; onnxruntime may then differ "
            "from mlpcli on some images (9 orientations, the default, has no such edge)",
            orientations,
        )
    gray = _gray(graph, images)
    g_row, g_col = _gradients(graph, gray)
    magnitude = graph.op("Sqrt", graph.op("Add", graph.op("Mul", g_row, g_row), graph.op("Mul", g_col, g_col)))
    bins = _orientation_bins(graph, g_row, g_col, orientations)
    onehot = graph.cast(graph.op("Equal", bins, graph.const(np.arange(orientations).reshape(-1, 1, 1), dtype=np.int64)))
    votes = graph.op("Mul", onehot, magnitude)  # (n, orientations, height, width)
    hist = graph.op("AveragePool", votes, kernel_shape=[cell, cell], strides=[cell, cell])
    blocks = _blocks(graph, hist, block, height // cell - block + 1, width // cell - block + 1)
    normalized = NORM_NODES[params["block_norm"]](graph, blocks)
    return graph.op("Reshape", normalized, graph.ints([0, -1]))


def _gray(graph, images: str) -> str:
    """uint8 (n, height, width, 3) -> luma in [0, 1] (n, 1, height, width) float32, bit for bit
    as ``features.hog.rgb_to_gray``: the integer luma 299 red + 587 green + 114 blue summed
    exactly in int32, then one division by 255,000."""
    from onnx import TensorProto

    weights = graph.const(np.asarray(LUMA_WEIGHTS), "luma_weights", np.int32)
    weighted = graph.op("Mul", graph.op("Cast", images, to=TensorProto.INT32), weights)
    # Integer sums are exact, so the order ReduceSum adds in cannot change the luma.
    luma = graph.op("ReduceSum", weighted, graph.ints([3], "axes"), keepdims=1)
    gray = graph.op("Div", graph.op("Cast", luma, to=TensorProto.FLOAT), graph.const(float(LUMA_SCALE), "luma_scale"))
    return graph.op("Transpose", gray, perm=[0, 3, 1, 2])


def _gradients(graph, gray: str) -> tuple[str, str]:
    """Centred differences down the rows and along the cols, (n, 1, height, width) each."""
    kernel = np.array([-1.0, 0.0, 1.0])
    g_row = graph.op("Conv", gray, graph.const(kernel.reshape(1, 1, 3, 1), "d_row"))
    g_col = graph.op("Conv", gray, graph.const(kernel.reshape(1, 1, 1, 3), "d_col"))
    g_row = graph.op("Pad", g_row, graph.ints([0, 0, 1, 0, 0, 0, 1, 0], "pads"))
    g_col = graph.op("Pad", g_col, graph.ints([0, 0, 0, 1, 0, 0, 0, 1], "pads"))
    return g_row, g_col


def _orientation_bins(graph, g_row: str, g_col: str, orientations: int) -> str:
    """(n, 1, height, width) int64 unsigned-orientation bin of each pixel (see the module doc)."""
    from onnx import TensorProto

    rows, cols = (graph.op("Cast", g, to=TensorProto.DOUBLE) for g in (g_row, g_col))
    # Angles in [180, 360) and the negative col axis (180 degrees) fold onto [0, 180).
    zero = graph.const(0.0, "zero", np.float64)
    lower = graph.op(
        "Or", graph.op("Less", rows, zero), graph.op("And", graph.op("Equal", rows, zero), graph.op("Less", cols, zero))
    )
    rows, cols = (graph.op("Where", lower, graph.op("Neg", g), g) for g in (rows, cols))
    edges = np.pi * np.arange(1, orientations) / orientations
    if not len(edges):
        return graph.op("Cast", graph.op("Mul", rows, zero), to=TensorProto.INT64)
    past = graph.op(
        "Sub",
        graph.op("Mul", rows, graph.const(np.cos(edges).reshape(-1, 1, 1), "cos", np.float64)),
        graph.op("Mul", cols, graph.const(np.sin(edges).reshape(-1, 1, 1), "sin", np.float64)),
    )
    at_or_past = graph.op("Cast", graph.op("GreaterOrEqual", past, zero), to=TensorProto.INT64)
    return graph.op("ReduceSum", at_or_past, graph.ints([1], "axes"), keepdims=1)


def _blocks(graph, hist: str, block: int, n_blocks_row: int, n_blocks_col: int) -> str:
    """Cell histograms (n, orientations, n_cells_row, n_cells_col) -> blocks (n, n_blocks_row,
    n_blocks_col, block * block * orientations) in (cell_row, cell_col, orientation) order."""
    parts = []
    for row in range(block):
        for col in range(block):
            part = graph.op(
                "Slice",
                hist,
                graph.ints([row, col], "starts"),
                graph.ints([row + n_blocks_row, col + n_blocks_col], "ends"),
                graph.ints([2, 3], "axes"),
            )
            parts.append(graph.op("Transpose", part, perm=[0, 2, 3, 1]))
    return parts[0] if len(parts) == 1 else graph.op("Concat", *parts, axis=-1)


def _l1(graph, blocks: str) -> str:
    total = graph.op("ReduceSum", blocks, graph.ints([-1], "axes"), keepdims=1)
    return graph.op("Mul", blocks, graph.op("Reciprocal", graph.op("Add", total, graph.const(_EPS, "eps"))))


def _l2(graph, blocks: str) -> str:
    squares = graph.op("ReduceSumSquare", blocks, axes=[-1], keepdims=1)
    norm = graph.op("Sqrt", graph.op("Add", squares, graph.const(_EPS**2, "eps2")))
    return graph.op("Mul", blocks, graph.op("Reciprocal", norm))


def _l2_hys(graph, blocks: str) -> str:
    return _l2(graph, graph.op("Min", _l2(graph, blocks), graph.const(0.2, "clip")))


#: Block normalizations by ``hog.BLOCK_NORMS`` name: ``(graph, blocks) -> normalized blocks``.
NORM_NODES = {
    "L2-Hys": _l2_hys,
    "L2": _l2,
    "L1": _l1,
    "L1-sqrt": lambda graph, blocks: graph.op("Sqrt", _l1(graph, blocks)),
    "none": lambda graph, blocks: blocks,
}

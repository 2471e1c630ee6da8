"""The bag of visual words as ONNX operators, stage by stage as ``features.bow.encoding``.

- patches: a Conv whose (patch * patch * 3) output channels are one-hot kernels, so output
  channel v at each patch position is the v-th value of the patch in (row, col, channel) order,
  exactly (a sum of one product by 1 and zeros); stride as the features' stride, no padding.
- brightness and contrast normalization over each patch's values, as ``patches.normalize``.
- whitening ``z @ matrix - mean @ matrix`` (the shift folded once, as mlpcli), then squared
  distances to the words as one product, ``z @ (-2 C^T) + |z|^2 + |c|^2``.
- triangle codes ``max(0, mean_k(d_k) - d_k)`` on the distances, or hard one-hot (first nearest
  word on ties, like ArgMin), summed over the quadrants of the patch grid (slices: regions are
  rectangles; with an odd count the middle row or column goes to the top or left) or globally,
  then raised to ``power`` (a Pow node; none for power 1).
The whitening is applied after the normalization rather than folded into the patch convolution:
folded, the patch mean would be subtracted after the product, on the 0..255 scale, and the
cancellation costs more float32 precision than the 1e-4 agreement allows on flat patches.
"""

from __future__ import annotations

import numpy as np

from ..features.bow.encoding import regions
from ..features.bow.patches import CONTRAST_EPS, grid


def bow_nodes(graph, images: str, height: int, width: int, params: dict, state) -> str:
    """uint8 images (n_images, height, width, 3) -> codes (n_images, regions * words)."""
    patch, stride = int(params["patch"]), int(params["stride"])
    values = _patches(graph, images, patch, stride)  # (n, rows, cols, n_values)
    normalized = _normalize(graph, values, patch * patch * 3)
    whitened = normalized
    if params["whiten"]:
        matrix = state["whiten_matrix"].astype(np.float64)
        shift = state["whiten_mean"].astype(np.float64) @ matrix
        whitened = graph.op(
            "Sub", graph.op("MatMul", normalized, graph.const(matrix, "whiten")), graph.const(shift, "whiten_shift")
        )
    squared = _squared_distances(graph, whitened, state["vocabulary"])
    codes = (
        _triangle(graph, squared)
        if params["encoding"] == "triangle"
        else _hard(graph, squared, len(state["vocabulary"]))
    )
    rows, cols = grid(height, width, patch, stride)
    pooled = _pool(graph, codes, regions(rows, cols, params["pooling"]))
    power = float(params["power"])
    return pooled if power == 1 else graph.op("Pow", pooled, graph.const(power, "power"))


def _patches(graph, images: str, patch: int, stride: int) -> str:
    """(n, rows, cols, patch * patch * 3) patch values on the 0..255 scale."""
    n_values = patch * patch * 3
    kernel = np.zeros((n_values, 3, patch, patch))
    index = np.arange(n_values)
    kernel[index, index % 3, index // (3 * patch), (index // 3) % patch] = 1
    pixels = graph.op("Transpose", graph.cast(images), perm=[0, 3, 1, 2])
    values = graph.op(
        "Conv", pixels, graph.const(kernel, "patch_picker"), kernel_shape=[patch, patch], strides=[stride, stride]
    )
    return graph.op("Transpose", values, perm=[0, 2, 3, 1])


def _normalize(graph, values: str, size: int) -> str:
    """Each patch minus its mean, times 1 / sqrt(variance + CONTRAST_EPS)."""
    mean = graph.op(
        "Div", graph.op("ReduceSum", values, graph.ints([-1], "axes"), keepdims=1), graph.const(float(size), "n_values")
    )
    centred = graph.op("Sub", values, mean)
    variance = graph.op(
        "Div", graph.op("ReduceSumSquare", centred, axes=[-1], keepdims=1), graph.const(float(size), "n_values")
    )
    spread = graph.op("Sqrt", graph.op("Add", variance, graph.const(CONTRAST_EPS, "contrast_eps")))
    scale = graph.op("Reciprocal", spread)
    return graph.op("Mul", centred, scale)


def _squared_distances(graph, whitened: str, vocabulary: np.ndarray) -> str:
    """(n, rows, cols, words): |z|^2 - 2 z.c + |c|^2, as mlpcli's one augmented product."""
    words = vocabulary.astype(np.float64)
    products = graph.op("MatMul", whitened, graph.const(-2 * words.T, "minus_2_words"))
    norms = graph.op("ReduceSumSquare", whitened, axes=[-1], keepdims=1)
    word_norms = graph.const(np.einsum("ij,ij->i", words, words), "word_norms")
    return graph.op("Add", graph.op("Add", products, norms), word_norms)


def _triangle(graph, squared: str) -> str:
    """max(0, mean_k(d_k) - d_k) with d = sqrt(max(squared, 0))."""
    distances = graph.op("Sqrt", graph.op("Max", squared, graph.const(0.0, "zero")))
    mean = graph.op("ReduceMean", distances, axes=[-1], keepdims=1)
    return graph.op("Relu", graph.op("Sub", mean, distances))


def _hard(graph, squared: str, n_words: int) -> str:
    """One-hot of the nearest word (the first one on ties)."""
    nearest = graph.op("ArgMin", squared, axis=-1, keepdims=1)
    return graph.cast(graph.op("Equal", nearest, graph.ints(np.arange(n_words), "word_index")))


def _pool(graph, codes: str, region: np.ndarray) -> str:
    """Codes (n, rows, cols, words) summed over each rectangular region -> (n, regions * words)."""
    sums = []
    for index in range(int(region.max()) + 1):
        rows = np.flatnonzero((region == index).any(axis=1))
        cols = np.flatnonzero((region == index).any(axis=0))
        part = graph.op(
            "Slice",
            codes,
            graph.ints([rows[0], cols[0]], "starts"),
            graph.ints([rows[-1] + 1, cols[-1] + 1], "ends"),
            graph.ints([1, 2], "axes"),
        )
        sums.append(graph.op("ReduceSum", part, graph.ints([1, 2], "axes"), keepdims=0))
    return sums[0] if len(sums) == 1 else graph.op("Concat", *sums, axis=1)

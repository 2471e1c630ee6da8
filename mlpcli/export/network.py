"""An mlpcli ``Sequential`` as ONNX nodes, layer by layer, in prediction mode.

Dropout is the identity at prediction (inverted dropout scales at training), so it is left out.
A BatchNorm right after a Linear or Conv2D is folded into it: at prediction it is the affine map
``x * scale + shift`` per feature (scale = gamma / sqrt(running_var + eps), shift = beta -
running_mean * scale), so ``(x @ W + b) * scale + shift = x @ (W * scale) + (b * scale + shift)``.
The fold is computed in float64, so it rounds once, not twice.

Layouts: rows ``(n_samples, n_features)``; mlpcli's images are channels-last, ONNX's Conv and
MaxPool channels-first, so ``ImageReshape`` reshapes the row to (n, height, width, channels) and
transposes to (n, channels, height, width), and ``Flatten`` transposes back before flattening:
the MLP then sees the features in mlpcli's (row, col, channel) order.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArtifactError

#: Element-wise activations by layer type: the ONNX operator of each.
ACTIVATION_OPS = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}


def network_nodes(graph, x: str, network) -> str:
    """Append the nodes of ``network`` applied to rows ``x`` (n_samples, n_features); returns the
    name of its class scores (n_samples, n_classes). Raises ArtifactError for a layer type this
    exporter does not know."""
    layers = list(network.layers)
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        norm = following if type(following).__name__ == "BatchNorm" else None
        x = _layer_nodes(graph, x, layer, norm)
        index += 2 if norm is not None and type(layer).__name__ in FOLDING else 1
    return x


def _layer_nodes(graph, x: str, layer, norm) -> str:
    """The nodes of one layer (with the BatchNorm ``norm`` after it folded in, if a Linear or
    Conv2D)."""
    kind = type(layer).__name__
    if kind in ACTIVATION_OPS:
        return graph.op(ACTIVATION_OPS[kind], x)
    if kind == "Dropout":
        return x
    if kind in FOLDING:
        return FOLDING[kind](graph, x, layer, norm)
    if kind not in SHAPING:
        raise ArtifactError(
            f"cannot export a {kind} layer to ONNX: no conversion for it "
            f"(known: {', '.join([*FOLDING, *SHAPING, *ACTIVATION_OPS, 'Dropout'])})"
        )
    return SHAPING[kind](graph, x, layer)


def _scale_shift(norm) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm at prediction as float64 ``(scale, shift)`` (n_features,) each."""
    gamma, beta = (norm.params[key].astype(np.float64) for key in ("gamma", "beta"))
    mean, var = (norm.buffers[key].astype(np.float64) for key in ("running_mean", "running_var"))
    scale = gamma / np.sqrt(var + norm.eps)
    return scale, beta - mean * scale


def _folded(weights: np.ndarray, bias, norm) -> tuple[np.ndarray, np.ndarray]:
    """Weights (..., n_out) and bias (n_out,) with ``norm`` (or nothing) folded in, float64."""
    weights = weights.astype(np.float64)
    bias = np.zeros(weights.shape[-1]) if bias is None else bias.astype(np.float64)
    if norm is None:
        return weights, bias
    scale, shift = _scale_shift(norm)
    return weights * scale, bias * scale + shift


def _linear(graph, x, layer, norm) -> str:
    """x @ W + b: (n_samples, n_in) -> (n_samples, n_out)."""
    weights, bias = _folded(layer.params["W"], layer.params.get("b"), norm)
    out = graph.op("MatMul", x, graph.const(weights, "W"))
    return graph.op("Add", out, graph.const(bias, "b")) if layer.bias or norm is not None else out


def _conv(graph, x, layer, norm) -> str:
    """Channels-first Conv; mlpcli's W (k, k, in, filters) is ONNX's (filters, in, k, k)."""
    weights, bias = _folded(layer.params["W"], layer.params.get("b"), norm)
    pads = [layer.padding] * 4
    return graph.op(
        "Conv",
        x,
        graph.const(weights.transpose(3, 2, 0, 1), "conv_W"),
        graph.const(bias, "conv_b"),
        kernel_shape=[layer.kernel] * 2,
        strides=[layer.stride] * 2,
        pads=pads,
    )


def _batchnorm(graph, x, layer) -> str:
    """A BatchNorm with no Linear or Conv2D before it: the affine map on the feature axis (axis
    1 of channels-first images, the last axis of rows)."""
    scale, shift = _scale_shift(layer)
    shape = (-1, 1, 1) if graph.layout == "images" else (-1,)
    out = graph.op("Mul", x, graph.const(scale.reshape(shape), "bn_scale"))
    return graph.op("Add", out, graph.const(shift.reshape(shape), "bn_shift"))


def _maxpool(graph, x, layer) -> str:
    """Floor mode (rows and cols that do not fill a window are dropped), as ``MaxPool2D``."""
    return graph.op("MaxPool", x, kernel_shape=[layer.pool] * 2, strides=[layer.stride] * 2)


def _image_reshape(graph, x, layer) -> str:
    """Rows -> channels-last images -> channels-first."""
    images = graph.op("Reshape", x, graph.ints([-1, layer.height, layer.width, layer.channels]))
    graph.layout = "images"
    return graph.op("Transpose", images, perm=[0, 3, 1, 2])


def _flatten(graph, x, layer) -> str:
    """Channels-first -> channels-last -> rows in mlpcli's (row, col, channel) order."""
    if graph.layout == "images":
        x = graph.op("Transpose", x, perm=[0, 2, 3, 1])
    graph.layout = "rows"
    return graph.op("Reshape", x, graph.ints([0, -1]))


#: Layers a following BatchNorm folds into: ``(graph, x, layer, norm or None) -> output``.
FOLDING = {"Linear": _linear, "Conv2D": _conv}
#: The other layers: ``(graph, x, layer) -> output``.
SHAPING = {"BatchNorm": _batchnorm, "MaxPool2D": _maxpool, "ImageReshape": _image_reshape, "Flatten": _flatten}

"""A small builder for ONNX graphs: nodes, constants and fresh names, nothing model-specific.

Every tensor of an exported graph is channels-last where mlpcli is (images
``(n_images, height, width, channels)``), except between a Conv and the layer after the last
pooling, where ONNX's Conv and MaxPool want channels-first ``(n_images, channels, height, width)``.
"""

from __future__ import annotations

import numpy as np

#: The operator set the graphs use (onnxruntime has supported it since 1.14).
OPSET = 17
#: The IR version that goes with OPSET, so older runtimes load the file too.
IR_VERSION = 8


def _onnx():
    """The onnx module, imported only when a model is exported (the optional ``export`` extra)."""
    import onnx

    return onnx


class Graph:
    """Nodes and initializers of one graph; ``dtype`` is the float type every value computes in."""

    def __init__(self, dtype="float32") -> None:
        self.dtype = np.dtype(dtype)
        self.nodes: list = []
        self.initializers: list = []
        #: "rows" or "images" (channels-first): what the value being built is, for layers such
        #: as BatchNorm that act on a different axis in each.
        self.layout = "rows"
        self._count = 0

    def name(self, hint: str) -> str:
        """A name not used before in this graph, readable in a viewer (``hint_7``)."""
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str = "const", dtype=None) -> str:
        """An initializer holding ``value`` (in the graph's float type unless ``dtype``)."""
        from onnx import numpy_helper

        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values, hint: str = "shape") -> str:
        """An int64 initializer: a shape, axes or indices."""
        return self.const(np.asarray(values, np.int64), hint, np.int64)

    def op(self, op_type: str, *inputs: str, outputs: int = 1, name: str | None = None, **attributes):
        """Append one node; returns its output name (a tuple of names when ``outputs > 1``).
        ``name`` fixes the (first) output's name, for the graph's outputs."""
        from onnx import helper

        names = [name or self.name(op_type.lower())] + [self.name(op_type.lower()) for _ in range(outputs - 1)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self.name(op_type), **attributes))
        return names[0] if outputs == 1 else tuple(names)

    def float_type(self) -> int:
        """The ONNX element type of ``dtype``."""
        from onnx import TensorProto

        return TensorProto.DOUBLE if self.dtype == np.float64 else TensorProto.FLOAT

    def cast(self, value: str) -> str:
        """``value`` cast to the graph's float type."""
        return self.op("Cast", value, to=self.float_type())


def make_model(graph: Graph, inputs: list, outputs: list, metadata: dict, doc: str = ""):
    """The ModelProto of ``graph`` with ``inputs``/``outputs`` value infos and string metadata."""
    onnx = _onnx()
    body = onnx.helper.make_graph(graph.nodes, "mlpcli", inputs, outputs, graph.initializers, doc_string=doc)
    model = onnx.helper.make_model(
        body, producer_name="mlpcli", ir_version=IR_VERSION, opset_imports=[onnx.helper.make_opsetid("", OPSET)]
    )
    onnx.helper.set_model_props(model, {key: str(value) for key, value in metadata.items()})
    return model

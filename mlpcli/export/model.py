"""A whole mlpcli model as one ONNX graph: uint8 images -> features -> standardization ->
network(s) -> softmax -> (mean over the fold ensemble) -> probabilities and predicted indices.

Inputs and outputs:
- ``images`` ``(n_images, height, width, 3) uint8``, RGB, channels-last, already resized to the
  model's image size (as ``predict`` has them after decoding); or, with ``input="features"``,
  ``features (n_samples, n_features)`` float32 (unstandardized).
Every value computes in float32, a float64 model's weights rounded to it.
- ``probabilities`` ``(n_images, n_classes)``: the softmax of the scores (the mean of the
  members' softmaxes for an ensemble), as ``Predictor.predict_proba``; for a model with
  ``tta: flip``, the mean of that for the images and for their left-right mirror (the two
  stacked along the batch axis, so the features and networks run once on 2 x n_images).
- ``predicted`` ``(n_images,) int64``: the index of the most probable class.
Metadata (``metadata_props``): ``classes`` (a JSON list in class-index order), ``image_size``,
``features``, ``tta``, ``resize`` (the steps, in Pillow calls, from a file to the image mlpcli
gives the model: its ``data.resize`` policy and ``data.color``), ``preprocess`` (a JSON object:
``size`` [height, width], ``resize``, ``color``, ``pad_fill``) and ``mlpcli_version``.
"""

from __future__ import annotations

import json

import numpy as np

from .. import __version__
from ..errors import ArtifactError
from .features import FEATURE_NODES
from .graph import Graph, make_model
from .network import network_nodes
from .preprocess import preprocess_json, resize_text


def build_model(model, input: str = "images"):
    """The ModelProto of ``model`` (a Predictor or FoldEnsemble); ArtifactError naming what
    cannot be exported."""
    from onnx import TensorProto, helper

    members = getattr(model, "members", [model])
    # float32 whatever the model's dtype: onnxruntime has no float64 Conv, and float32 keeps the
    # probabilities of a float64 model within the 1e-4 the tests hold every export to.
    graph = Graph("float32")
    height, width = model.image_size
    flip = getattr(model, "tta", "none") == "flip"
    if input == "images":
        source = helper.make_tensor_value_info("images", TensorProto.UINT8, ["n_images", height, width, 3])
        features = _feature_nodes(graph, _with_mirror(graph, "images") if flip else "images", model)
    else:
        _refuse_flip_of_features(flip)
        n_features = int(members[0].standardizer.mean.shape[0])
        source = helper.make_tensor_value_info("features", graph.float_type(), ["n_images", n_features])
        features = "features"
    if flip:
        _mean_with_mirror(graph, _probabilities(graph, features, members, "both_probabilities"))
    else:
        _probabilities(graph, features, members, "probabilities")
    outputs = [
        helper.make_tensor_value_info("probabilities", graph.float_type(), ["n_images", len(model.class_names)]),
        helper.make_tensor_value_info("predicted", TensorProto.INT64, ["n_images"]),
    ]
    graph.op("ArgMax", "probabilities", name="predicted", axis=1, keepdims=0)
    return make_model(graph, [source], outputs, _metadata(model), doc=__doc__.split("\n\n")[0])


def _feature_nodes(graph, images: str, model) -> str:
    """The concatenated feature rows (n_images, n_features) of ``model``'s extractors."""
    height, width = model.image_size
    missing = [f.name for f in model.features if f.name not in FEATURE_NODES]
    if missing:
        raise ArtifactError(
            f"cannot export the feature extractor(s) {', '.join(missing)} as ONNX "
            f"operators (exportable: {', '.join(FEATURE_NODES)}); export with "
            f"--input features to start the graph at the feature vector"
        )
    parts = [
        FEATURE_NODES[f.name](graph, images, height, width, f.params, state)
        for f, state in zip(model.features, model.states)
    ]
    return parts[0] if len(parts) == 1 else graph.op("Concat", *parts, axis=1)


def _with_mirror(graph, images: str) -> str:
    """(n_images, height, width, 3) -> (2 n_images, height, width, 3): the images, then their
    left-right mirror (the column axis reversed, as ``predictor.Mirrored``)."""
    mirror = graph.op(
        "Slice", images, graph.ints([-1]), graph.ints([np.iinfo(np.int64).min]), graph.ints([2]), graph.ints([-1])
    )
    return graph.op("Concat", images, mirror, axis=0)


def _mean_with_mirror(graph, both: str) -> str:
    """(2 n_images, n_classes) -> ``probabilities`` (n_images, n_classes): (images' + mirror's)
    / 2, in ``predictor.flip_average``'s order."""
    images, mirror = graph.op("Split", both, outputs=2, axis=0)
    total = graph.op("Add", images, mirror)
    return graph.op("Div", total, graph.const(2.0, "two"), name="probabilities")


def _refuse_flip_of_features(flip: bool) -> None:
    if flip:
        raise ArtifactError(
            "the model was trained with tta: flip (it averages each image's probabilities with "
            "its mirror's), and a graph that starts at the feature vector never sees the image "
            "to mirror; export with --input images"
        )


def _probabilities(graph, features: str, members, name: str) -> str:
    """Each member's softmax of its scores on the standardized features; their mean, named
    ``name`` (added in member order, then divided, as ``FoldEnsemble``)."""
    total = None
    for member in members:
        rows = graph.op("Sub", features, graph.const(member.standardizer.mean, "mean"))
        # Multiply by the stored 1/std, as Standardizer.transform does (not a division).
        rows = graph.op("Mul", rows, graph.const(1 / member.standardizer.std.astype(np.float64), "inv_std"))
        graph.layout = "rows"
        probabilities = graph.op("Softmax", network_nodes(graph, rows, member.network), axis=-1)
        total = probabilities if total is None else graph.op("Add", total, probabilities)
    if len(members) == 1:
        return graph.op("Identity", total, name=name)
    return graph.op("Div", total, graph.const(float(len(members)), "n_members"), name=name)


def _metadata(model) -> dict:
    height, width = model.image_size
    return {
        "classes": json.dumps(list(model.class_names)),
        "image_size": json.dumps([height, width]),
        "features": json.dumps([{"name": f.name, **f.params} for f in model.features]),
        "tta": getattr(model, "tta", "none"),
        "resize": resize_text(model.preprocess),
        "preprocess": preprocess_json(model.preprocess),
        "mlpcli_version": __version__,
    }

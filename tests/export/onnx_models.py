"""Models with random weights of every kind mlpcli trains, and a runner for exported graphs."""

from __future__ import annotations

import numpy as np

from mlpcli.features import FeatureConfig, validate_feature
from mlpcli.features.pipeline import extract_features
from mlpcli.features.standardize import Standardizer
from mlpcli.nn.extractor import build_extractor
from mlpcli.nn.network import Sequential, mlp_layers
from mlpcli.predictor import FoldEnsemble, Predictor

CLASSES = ("circle", "square", "triangle", "star")


def images(n: int = 200, size=(12, 10), seed: int = 0) -> np.ndarray:
    """(n, height, width, 3) uint8: random blobs over smooth ramps, so gradients and hues vary."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: size[0], : size[1]]
    ramp = rows[None, :, :, None] * rng.uniform(0, 20, (n, 1, 1, 3)) + cols[None, :, :, None] * rng.uniform(
        0, 20, (n, 1, 1, 3)
    )
    noise = rng.normal(0, 40, (n, *size, 3))
    return np.clip(ramp + noise + rng.uniform(0, 120, (n, 1, 1, 3)), 0, 255).astype(np.uint8)


def _standardizer(X: np.ndarray) -> Standardizer:
    return Standardizer.fit(X)


def _randomize(network: Sequential, rng) -> None:
    """Random weights and BatchNorm statistics, so folding the statistics is really tested."""
    for _, layer, name in network.named_parameters():
        value = layer.params[name]
        value[...] = rng.normal(0, 1 / np.sqrt(max(1, value.shape[0])), value.shape)
        if name == "gamma":
            value += 1
    for _, layer, name in network.named_buffers():
        value = layer.buffers[name]
        value[...] = rng.uniform(0.5, 1.5, value.shape) if name == "running_var" else rng.normal(0, 0.3, value.shape)


def mlp_predictor(train_images, features=("raw",), hidden=(16, 8), seed=0, states=None, **kwargs) -> Predictor:
    """An MLP on ``features`` (names, mappings or FeatureConfig; fitted ones with ``states``) with
    random weights; ``kwargs`` go to ``mlp_layers`` (activation, batchnorm, dropout)."""
    rng = np.random.default_rng(seed)
    configs = [f if isinstance(f, FeatureConfig) else validate_feature(f, "features") for f in features]
    X = extract_features(train_images, configs, np.float32, states=states)
    network = Sequential(mlp_layers(X.shape[1], len(CLASSES), list(hidden), rng=rng, **kwargs))
    _randomize(network, rng)
    return Predictor(network, _standardizer(X), CLASSES, train_images.shape[1:3], configs, states=states)


def conv_predictor(train_images, batchnorm=True, seed=0, norm_after_pool=False) -> Predictor:
    """End-to-end: raw pixels -> two conv blocks (one with stride 2) -> MLP, random weights;
    ``norm_after_pool`` puts each block's BatchNorm behind its pool, where no Conv2D folds it."""
    rng = np.random.default_rng(seed)
    height, width = train_images.shape[1:3]
    blocks = [{"filters": 6, "kernel": 3, "pool": 2}, {"filters": 5, "kernel": 3, "pool": 2, "stride": 1, "padding": 0}]
    layers, n_features = build_extractor(
        blocks, (height, width, 3), rng=rng, batchnorm=batchnorm, norm_after_pool=norm_after_pool
    )
    network = Sequential(layers + mlp_layers(n_features, len(CLASSES), [8], rng=rng, batchnorm=batchnorm))
    _randomize(network, rng)
    configs = [validate_feature("raw", "features")]
    X = extract_features(train_images, configs, np.float32)
    return Predictor(network, _standardizer(X), CLASSES, (height, width), configs)


def ensemble(train_images, k: int = 5, **kwargs) -> FoldEnsemble:
    return FoldEnsemble([mlp_predictor(train_images, seed=seed, **kwargs) for seed in range(k)])


def run_onnx(path, images_or_features, input_name="images"):
    """(probabilities, predicted) from onnxruntime on one CPU thread."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["probabilities", "predicted"], {input_name: images_or_features})

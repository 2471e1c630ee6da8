"""The configuration's schema: a tree of frozen dataclasses, validated from plain data.

Each leaf field carries a ``check`` in its metadata that validates and normalizes the raw value, and
a ``doc`` line (the config reference is generated from them); allowed names come from the
registries (``LOADERS``, ``ACTIVATIONS``, ``LOSSES``, ``FEATURES`` ...) so validation, help and docs
share one source. Every value is checked once, here, and messages name the full key path:
``model.activation: must be one of ...; got 'rleu'``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .. import checks as c
from ..choices import TTA_MODES
from ..data import DEFAULT_MAX_IMAGE_PIXELS, LOADERS
from ..data.shape import COLORS, RESIZES
from ..errors import ConfigError
from ..features import FEATURES, FeatureConfig, validate_feature
from ..nn import ACTIVATIONS, DTYPES, INITS, LOSSES, OPTIMIZERS, SCHEDULES
from ..nn.extractor import EXTRACTOR_INITS, extractor_output_size
from . import search as search_space
from .fields import build as _build
from .fields import leaf as _leaf
from .fields import node as _node


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are split (formats: see data/README.md)."""

    format: str = _leaf(
        "synthetic",
        c.one_of(LOADERS),
        "synthetic: built-in shapes, no download; folder: one sub-folder per class; "
        "cifar10: the official Python batches; npz: arrays images and labels; csv: a CSV "
        "of path,label[,split] (paths relative to it; a split column of train/val/test "
        "replaces val_fraction, test rows are only for evaluate)",
    )
    path: str | None = _leaf(None, c.optional(c.path), "the data's folder or file; required unless format is synthetic")
    val_path: str | None = _leaf(
        None,
        c.optional(c.path),
        "an image folder (one sub-folder per class) to validate on instead of "
        "val_fraction's held-out images; format folder and csv only",
    )
    classes: tuple | None = _leaf(
        None,
        c.optional(c.class_list),
        "the classes to read, in this order (a subset leaves the others out); "
        "default: every class, sorted (CIFAR-10: its own order)",
    )
    resize: str = _leaf(
        "squash",
        c.one_of(RESIZES),
        "how an image of another aspect ratio meets image_size: squash stretches it (the "
        "default: existing configs and models keep their results); center_crop keeps the "
        "centre at its shape, the usual choice for photos; pad fits it whole on pad_fill. "
        "Images of the target's aspect ratio are the same under all three",
    )
    pad_fill: int = _leaf(
        0,
        c.described(lambda value, key: _byte(value, key), "integer", "an integer 0..255"),
        "gray level of the padding of resize: pad",
    )
    color: str = _leaf("rgb", c.one_of(COLORS), "rgb, or gray: luma (ITU-R 601) in all three channels")
    split: str = _leaf("train", c.one_of(("train", "test")), "which CIFAR-10 batches to read (format cifar10 only)")
    image_size: tuple = _leaf((32, 32), c.image_size, "images are resized to this size in pixels (one number: square)")
    val_fraction: float = _leaf(
        0.2, c.number(0.0, 0.9), "fraction of the images held out, stratified, to validate on (0: none)"
    )
    n_per_class: int = _leaf(250, c.integer(2), "images per shape (format synthetic only)")
    on_error: str = _leaf(
        "fail",
        c.one_of(("fail", "skip")),
        "an unreadable image stops the run (fail) or is left out with a warning (skip); formats folder and csv",
    )
    max_image_pixels: int = _leaf(
        DEFAULT_MAX_IMAGE_PIXELS,
        c.integer(1),
        "larger images are refused as possible decompression bombs; raise it for real photos of more pixels",
    )
    cache_dir: str = _leaf(".mlpcli-cache", c.path, "where decoded images and extracted features are cached")
    cache_max_gb: float = _leaf(
        20.0,
        c.number(0.0, exclusive_min=True),
        "the cache folder is kept under this many GB after each run, least recently "
        "used entries out first (this run's stay); see mlpcli cache info|clear",
    )


def _byte(value, key) -> int:
    if not c.is_int(value) or not 0 <= value <= 255:
        raise c.fail(key, "an integer 0..255", value)
    return value


@dataclass(frozen=True)
class BlockConfig:
    """One convolution -> ReLU -> max-pool block of the end-to-end extractor."""

    filters: int = _leaf(32, c.integer(1), "number of convolution filters (output channels)")
    kernel: int = _leaf(
        3, c.integer(1), "side of the square convolution kernel; padding keeps the size for odd kernels"
    )
    pool: int = _leaf(2, c.integer(1), "side of the max-pool window (and its stride); 1: no pooling")


_BLOCKS_CHECK = c.described(
    lambda value, key: _dataclass_list(BlockConfig, value, key),
    "list of mappings",
    "a non-empty list of {filters, kernel, pool} mappings",
)


@dataclass(frozen=True)
class ExtractorConfig:
    """The learnable feature extractor in front of the MLP; used only with ``mode: end_to_end``."""

    blocks: tuple = field(
        default=(BlockConfig(), BlockConfig(filters=64)),
        metadata={"check": _BLOCKS_CHECK, "doc": "the blocks, applied in order", "item": BlockConfig},
    )
    init: str = _leaf(
        "gradient",
        c.one_of(EXTRACTOR_INITS),
        "gradient: the first block starts as oriented derivative filters (a learnable HOG); "
        "random: He initialization everywhere",
    )
    trainable: bool = _leaf(True, c.boolean, "false freezes the extractor at its initialization; only the MLP learns")
    batchnorm: bool = _leaf(
        False, c.boolean, "batch normalization after each convolution, per channel (the convolution then has no bias)"
    )
    norm_after_pool: bool = _leaf(
        False,
        c.boolean,
        "with batchnorm: normalize each block's pooled maps instead of the convolution's output "
        "(conv -> max-pool -> batch norm -> ReLU): statistics over pool**2 fewer values, a faster step",
    )


@dataclass(frozen=True)
class ModelConfig:
    """The MLP: layer sizes, nonlinearity, loss and weight initialization."""

    hidden: tuple = _leaf(
        (128,), c.int_list(1), "hidden layer sizes; [] is a linear classifier (one template per class)"
    )
    activation: str = _leaf("relu", c.one_of(ACTIVATIONS), "nonlinearity after each hidden layer")
    loss: str = _leaf(
        "softmax", c.one_of(LOSSES), "softmax: softmax cross-entropy; squared: squared error on one-hot targets"
    )
    init: str = _leaf("auto", c.one_of(("auto", *INITS)), "weight initialization; auto: he for relu, xavier otherwise")
    dtype: str = _leaf("float32", c.one_of(DTYPES), "precision of features and weights")
    weight_decay: float = _leaf(0.0, c.number(0.0), "L2 penalty on the weights (never the biases)")
    bias: bool = _leaf(True, c.boolean, "false: linear layers without a bias term")
    dropout: float = _leaf(
        0.0,
        c.number(0.0, 0.95),
        "probability of zeroing each hidden unit after its activation while training (0: off); none at prediction",
    )
    batchnorm: bool = _leaf(
        False,
        c.boolean,
        "batch normalization after each hidden linear layer, before its activation (that layer then has no bias)",
    )
    label_smoothing: float = _leaf(
        0.0,
        c.number(0.0, 0.5),
        "training targets (1 - e) one-hot + e / n_classes (softmax only); the "
        "validation loss stays plain cross-entropy",
    )


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes to each training image, drawn from the seeded generator, in every mode.

    Raw pixels (``features: [raw]`` and ``mode: end_to_end``) are augmented in each minibatch, before
    standardization. The fixed features (hog, color_hist, bow, or raw beside another feature) are
    extracted once from ``copies`` augmented copies of every image and cached; each epoch every
    training row is drawn from its original or one of its copies (re-extracting them every epoch
    would cost an extraction per epoch: ~9% of an epoch for HOG + color, 5x for bow; README,
    Configuration). Validation rows are never augmented.
    """

    flip: bool = _leaf(False, c.boolean, "mirror each training image left-right with probability 1/2")
    crop_padding: int = _leaf(
        0,
        c.integer(0),
        "pad each training image by this many black pixels and cut a "
        "random window of the original size back out (0: off)",
    )
    brightness: float = _leaf(
        0.0,
        c.number(0.0, 1.0),
        "multiply each training image's pixel values by a "
        "factor uniform in [1 - b, 1 + b], clipped to the "
        "pixel range (0: off)",
    )
    contrast: float = _leaf(
        0.0,
        c.number(0.0, 1.0),
        "scale each training image's deviations from its mean "
        "value by a factor uniform in [1 - c, 1 + c], clipped "
        "(0: off); applied after brightness",
    )
    erase: float = _leaf(
        0.0,
        c.number(0.0, 1.0),
        "random erasing: the probability that a training image "
        "gets one rectangle (2-40% of its area, aspect ratio "
        "0.3-3.3) filled with mid-gray (0: off)",
    )
    copies: int = _leaf(
        4,
        c.integer(1),
        "fixed features only (not features: [raw] nor mode end_to_end): "
        "augmented copies of every image extracted once and cached "
        "(disk: copies x the feature matrix); each epoch draws every "
        "training row from its original or one of its copies",
    )


@dataclass(frozen=True)
class TrainConfig:
    """Minibatch training: the optimizer, how long, how fast, and when to stop."""

    epochs: int = _leaf(20, c.integer(1), "passes over the training rows")
    batch_size: Any = _leaf(128, c.batch_size, "rows per SGD step; full: classic full-batch gradient descent")
    lr: float = _leaf(0.01, c.number(0.0, exclusive_min=True), "learning rate at the first epoch")
    optimizer: str = _leaf(
        "sgd",
        c.one_of(OPTIMIZERS),
        "sgd: with momentum; adam: Kingma & Ba, weight decay added to the gradient; adamw: decoupled weight decay",
    )
    momentum: float = _leaf(
        0.9,
        c.number(0.0, 0.999),
        "SGD momentum (0: plain SGD); optimizer sgd only (another value with adam or adamw is refused)",
    )
    nesterov: bool = _leaf(
        False, c.boolean, "use Nesterov momentum; optimizer sgd only (true with adam or adamw is refused)"
    )
    betas: tuple = _leaf(
        (0.9, 0.999),
        c.described(
            lambda value, key: _betas(value, key), "list of numbers", "two numbers in [0, 1), e.g. [0.9, 0.999]"
        ),
        "Adam's decay rates of the gradient's mean and of its square; adam and adamw only",
    )
    eps: float = _leaf(
        1e-8,
        c.number(0.0, exclusive_min=True),
        "added to Adam's denominator sqrt(v) for numerical safety; adam and adamw only",
    )
    schedule: str = _leaf(
        "constant",
        c.one_of(SCHEDULES),
        "learning-rate schedule over the epochs; step: times gamma every step_size epochs; cosine: down to 0",
    )
    step_size: int = _leaf(10, c.integer(1), "epochs between learning-rate drops (schedule step only)")
    gamma: float = _leaf(
        0.1, c.number(0.0, 1.0, exclusive_min=True), "factor of each learning-rate drop (schedule step only)"
    )
    warmup_epochs: int = _leaf(
        0,
        c.integer(0),
        "epochs of linear learning-rate warmup towards train.lr before "
        "the schedule starts (0: none; a run shorter than "
        "the warmup never reaches train.lr)",
    )
    patience: int | None = _leaf(
        None,
        c.optional(c.integer(1)),
        "stop after this many validations (epochs, with train.val_every 1) without a "
        "better validation accuracy and keep the best validated epoch's weights; "
        "null: train every epoch",
    )
    val_every: int = _leaf(
        1,
        c.integer(1),
        "validate after every this many epochs and after the last one (Keras's "
        "validation_freq); the epochs between record no validation scores (nan in "
        "history.csv) and train the same weights",
    )
    tta: str = _leaf(
        "none",
        c.one_of(TTA_MODES),
        "test-time flips: flip scores each validation image as the "
        "mean of its and its left-right mirror's probabilities, and "
        "is recorded in the model so predict and evaluate do the same "
        "(--tta none overrides)",
    )
    ema: float | None = _leaf(
        None,
        c.optional(c.number(0.0, 1.0, exclusive_max=True)),
        "decay of an exponential moving average of the weights (and batch-norm "
        "statistics), updated after each step and validated and saved instead of "
        "the raw weights, e.g. 0.999; 0 or null: off",
    )
    augment: AugmentConfig = _node(AugmentConfig)
    class_weight: Any = _leaf(
        "none",
        c.described(
            lambda value, key: _class_weight(value, key),
            "none, balanced or mapping",
            "none, balanced, or a mapping {class name: number >= 0}",
        ),
        "weight of each sample's loss and gradient by its class, normalized by the "
        "batch's summed weight (so train.lr keeps its meaning); balanced: n / (k * n_c) "
        "from the training rows; a mapping names classes (the others keep weight 1)",
    )
    sampler: str = _leaf(
        "shuffle",
        c.one_of(("shuffle", "balanced")),
        "shuffle: each epoch a permutation of the training rows; balanced: each epoch as "
        "many rows drawn with replacement, every class equally likely (row probability "
        "proportional to 1/n_c)",
    )
    rebalance_after: int = _leaf(
        0,
        c.integer(0),
        "epochs trained plainly before train.class_weight and train.sampler take effect "
        "(deferred re-weighting, Cao et al. 2019: the features are learned from every row as "
        "it comes, then the classifier is rebalanced); 0: from the first epoch",
    )
    mixup: float = _leaf(
        0.0,
        c.number(0.0),
        "mixup's alpha: each minibatch is blended with a shuffled copy of "
        "itself, lambda ~ Beta(alpha, alpha), targets blended alike "
        "(soft targets; composes with label smoothing); 0: off",
    )


@dataclass(frozen=True)
class KFoldConfig:
    """``mlpcli kfold``: cross-validation and which model to keep."""

    k: int = _leaf(5, c.integer(2), "number of stratified folds (--k overrides it)")
    select: str = _leaf(
        "ensemble",
        c.one_of(("best", "ensemble")),
        "final model: the fold with the best validation accuracy, or all folds averaging "
        "their probabilities (--select overrides it)",
    )
    holdout: float = _leaf(
        0.0, c.number(0.0, 0.5), "fraction of the images kept out of every fold and scored once at the end (0: none)"
    )


@dataclass(frozen=True)
class OutputConfig:
    """Where runs are written."""

    dir: str = _leaf("runs", c.path, "each run is a new folder in here; <dir>/latest points at the newest")


_SEARCH_CHECK = c.optional(
    c.described(search_space.parse_search, "mapping", "a mapping with strategy, trials, space (and halving); see below")
)

_FEATURES_CHECK = c.described(
    lambda value, key: _feature_list(value, key),
    "list of names or mappings",
    f"a non-empty list of feature names or {{name: ...}} mappings (names: {', '.join(FEATURES)})",
)


@dataclass(frozen=True)
class Config:
    """A whole configuration; every key has a default."""

    seed: int | None = _leaf(
        0,
        c.optional(c.integer(0)),
        "one seed drives initialization, shuffling, splits and folds; null draws one (recorded in the run)",
    )
    data: DataConfig = _node(DataConfig)
    features: tuple = field(
        default=(FeatureConfig("raw", {}),),
        metadata={
            "check": _FEATURES_CHECK,
            "doc": "the fixed extractors whose outputs, concatenated in order, the "
            "MLP is trained on (mode features only)",
        },
    )
    mode: str = _leaf(
        "features",
        c.one_of(("features", "end_to_end")),
        "features: the MLP learns from the fixed features; end_to_end: from the raw image "
        "through the learnable extractor, trained by the same loss",
    )
    extractor: ExtractorConfig = _node(ExtractorConfig)
    model: ModelConfig = _node(ModelConfig)
    train: TrainConfig = _node(TrainConfig)
    kfold: KFoldConfig = _node(KFoldConfig)
    output: OutputConfig = _node(OutputConfig)
    search: search_space.SearchConfig | None = field(
        default=None,
        metadata={
            "check": _SEARCH_CHECK,
            "section": search_space.SearchConfig,
            "doc": "`mlpcli search`: which keys each trial varies and how they are drawn; null: no search",
        },
    )


def from_dict(raw: dict) -> Config:
    """Validate a raw mapping into a ``Config``; raises ``ConfigError`` naming the key at fault."""
    config = _build(Config, raw, "")
    if config.mode == "end_to_end":
        if "features" in raw:
            raise ConfigError(
                "features: must not be set when mode is end_to_end (the extractor learns "
                "the features from the raw image); remove the features section"
            )
        _check_extractor_fits(config)
        if config.extractor.norm_after_pool and not config.extractor.batchnorm:
            raise ConfigError(
                "extractor.norm_after_pool: only used with extractor.batchnorm: true; "
                "set extractor.batchnorm: true or remove extractor.norm_after_pool"
            )
    elif "extractor" in raw:
        raise ConfigError("extractor: only used with mode: end_to_end; set mode: end_to_end or remove it")
    _check_training(config)
    if config.train.patience is not None and config.data.val_fraction == 0:
        raise ConfigError(
            "train.patience: early stopping needs a validation split; "
            "set data.val_fraction above 0 or remove train.patience"
        )
    if config.search is not None:
        # Trials override the rest of the config, which is checked without its search section.
        search_space.check_search(config.search, dataclasses.replace(config, search=None))
    return config


def _check_extractor_fits(config: Config) -> None:
    """A block that the image is too small for fails here, at load, not after the data is read."""
    blocks = [dataclasses.asdict(block) for block in config.extractor.blocks]
    try:
        extractor_output_size(blocks, config.data.image_size)
    except ValueError as exc:
        height, width = config.data.image_size
        raise ConfigError(f"extractor.blocks: {exc} (data.image_size is {height}x{width})") from None


def _check_training(config: Config) -> None:
    """Combinations of keys that cannot train."""
    train, model = config.train, config.model
    # One rule for SGD's keys: changed from their default with another optimizer, they would be
    # ignored, so they are refused (Adam's own momentum is train.betas[0]).
    for name in ("momentum", "nesterov"):
        if train.optimizer != "sgd" and getattr(train, name) != getattr(TrainConfig, name):
            raise ConfigError(
                f"train.{name}: only used with optimizer sgd, got optimizer {train.optimizer}; "
                f"remove train.{name} or set train.optimizer: sgd (Adam's momentum is "
                f"train.betas[0])"
            )
    if model.label_smoothing and model.loss != "softmax":
        raise ConfigError(
            f"model.label_smoothing: only used with loss softmax, got loss {model.loss}; "
            f"remove model.label_smoothing or set model.loss: softmax"
        )
    if train.rebalance_after:
        if train.class_weight == "none" and train.sampler == "shuffle":
            raise ConfigError(
                "train.rebalance_after: only used with train.class_weight (balanced or a mapping) "
                "or train.sampler: balanced; remove train.rebalance_after or set one of them"
            )
        if train.rebalance_after >= train.epochs:
            raise ConfigError(
                f"train.rebalance_after: {train.rebalance_after} is not below train.epochs ({train.epochs}), "
                f"so train.class_weight and train.sampler would never take effect; lower it"
            )
    if model.batchnorm and train.batch_size == 1:
        raise ConfigError(
            "train.batch_size: batch normalization needs at least 2 samples per batch; "
            "set train.batch_size above 1 or model.batchnorm: false"
        )


def _class_weight(value, key):
    """``none``, ``balanced`` or {class name: weight >= 0}; class names are checked against the
    data when it is loaded (``train.imbalance.class_weights``)."""
    expected = "none, balanced, or a mapping {class name: number >= 0}"
    if value in ("none", "balanced"):
        return value
    if not isinstance(value, dict) or not value:
        raise c.fail(key, expected, value)
    weight = c.number(0.0)
    return {str(name): weight(w, f"{key}.{name}") for name, w in value.items()}


def _betas(value, key) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise c.fail(key, "two numbers in [0, 1), e.g. [0.9, 0.999]", value)
    beta = c.number(0.0, 0.999999)
    return tuple(beta(v, f"{key}[{i}]") for i, v in enumerate(value))


def _dataclass_list(cls, value, key) -> tuple:
    if not isinstance(value, list) or not value:
        raise c.fail(key, "a non-empty list of mappings", value)
    return tuple(_build(cls, item, f"{key}[{i}].") for i, item in enumerate(value))


def _feature_list(value, key) -> tuple:
    """``[raw, {name: hog, cell: 8}, ...]`` -> FeatureConfigs with every parameter filled in."""
    if not isinstance(value, list) or not value:
        raise c.fail(
            key, f"a non-empty list of feature names or {{name: ...}} mappings (names: {', '.join(FEATURES)})", value
        )
    return tuple(validate_feature(item, f"{key}[{i}]") for i, item in enumerate(value))


def to_dict(config: Config) -> dict:
    """Plain data (lists, dicts, scalars) for YAML/JSON; ``from_dict(to_dict(c)) == c``."""
    data = dataclasses.asdict(config)
    data["features"] = [{"name": f.name, **f.params} for f in config.features]
    if config.mode == "end_to_end":
        del data["features"]
    else:
        del data["extractor"]
    if config.search is None:
        del data["search"]
    else:
        data["search"] = search_space.to_dict(config.search)
    return _plain(data)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

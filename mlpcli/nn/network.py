"""A network is a list of layers applied in order; backward walks them in reverse.

Parameters are addressed by path ``"<layer index>.<name>"`` (e.g. ``"0.W"``): the optimizer keys
its state and the model bundle keys its arrays by these paths.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .activations import ACTIVATIONS
from .batchnorm import BatchNorm
from .dropout import Dropout
from .init import AUTO_INIT, INITS
from .layers import Layer, Linear


class Sequential:
    """layers[0] ... layers[-1]; input (n_samples, ...) -> scores (n_samples, n_classes)."""

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = list(layers)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dscores: np.ndarray) -> None:
        """Fill every layer's ``grads`` from dL/dscores.

        Stops at the first trainable layer: nothing below it learns, so its dx would be wasted.
        """
        stop = self._first_trainable()
        for index in range(len(self.layers) - 1, stop - 1, -1):
            layer = self.layers[index]
            layer.needs_input_grad = index > stop
            dx = layer.backward(dscores)
            if dx is None:  # the layer at ``stop``: no input gradient asked for
                break
            dscores = dx

    def _first_trainable(self) -> int:
        for index, layer in enumerate(self.layers):
            if layer.trainable and layer.params:
                return index
        return len(self.layers)

    def named_parameters(self, trainable_only: bool = False) -> Iterator[tuple[str, Layer, str]]:
        """Yield ``(path, layer, name)`` for each parameter array, in layer order."""
        for index, layer in enumerate(self.layers):
            if trainable_only and not layer.trainable:
                continue
            for name in layer.params:
                yield f"{index}.{name}", layer, name

    def named_buffers(self) -> Iterator[tuple[str, Layer, str]]:
        """Yield ``(path, layer, name)`` for each buffer (state that is not trained, such as
        BatchNorm's running statistics), in layer order."""
        for index, layer in enumerate(self.layers):
            for name in layer.buffers:
                yield f"{index}.{name}", layer, name

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer by path: what a saved model or a checkpoint must hold."""
        return dict(self._arrays())

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the existing parameters and buffers; shapes must match exactly."""
        expected = dict(self._arrays())
        if set(state) != set(expected):
            raise ValueError(f"parameter names differ: expected {sorted(expected)}, got {sorted(state)}")
        # Check every shape before copying any, so a rejected state leaves the network unchanged.
        for path, target in expected.items():
            if np.shape(state[path]) != target.shape:
                raise ValueError(f"parameter {path}: expected shape {target.shape}, got {np.shape(state[path])}")
        for path, target in expected.items():
            target[...] = state[path]

    def _arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """(path, array) of each parameter, then each buffer, of each layer in order."""
        for index, layer in enumerate(self.layers):
            for name, array in (*layer.params.items(), *layer.buffers.items()):
                yield f"{index}.{name}", array

    @property
    def dtype(self) -> np.dtype:
        for _, layer, name in self.named_parameters():
            return layer.params[name].dtype
        return np.dtype("float64")

    def spec(self) -> list[dict]:
        return [layer.spec() for layer in self.layers]

    def shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The per-sample shape after each layer for samples of ``input_shape``.

        Raises ValueError naming the first layer that cannot take what it is given.
        """
        shapes = []
        for index, layer in enumerate(self.layers):
            try:
                input_shape = layer.output_shape(input_shape)
            except ValueError as exc:
                raise ValueError(f"layer {index} ({type(layer).__name__}) {exc}") from None
            shapes.append(input_shape)
        return shapes

    def values_per_layer(self, input_shape: tuple[int, ...]) -> list[int]:
        """Values one sample occupies at each layer: its output plus the layer's working memory."""
        values, shape = [], input_shape
        for layer, out in zip(self.layers, self.shapes(input_shape)):
            values.append(int(np.prod(out)) + layer.working_values(shape))
            shape = out
        return values

    def values_per_sample(self, input_shape: tuple[int, ...]) -> int:
        """The most values one sample occupies at any layer, its input included."""
        return max([int(np.prod(input_shape)), *self.values_per_layer(input_shape)])


def build_mlp(
    n_features: int,
    n_classes: int,
    hidden: list[int],
    activation: str = "relu",
    init: str = "auto",
    rng: np.random.Generator | None = None,
    dtype="float32",
    bias: bool = True,
    dropout: float = 0.0,
    batchnorm: bool = False,
) -> Sequential:
    """An MLP: Linear -> activation for each hidden size, then a Linear to the class scores.

    ``hidden=[]`` gives the lecture's linear classifier: one W of shape (n_features, n_classes).
    """
    return Sequential(mlp_layers(n_features, n_classes, hidden, activation, init, rng, dtype, bias, dropout, batchnorm))


def mlp_layers(
    n_features,
    n_classes,
    hidden,
    activation="relu",
    init="auto",
    rng=None,
    dtype="float32",
    bias=True,
    dropout=0.0,
    batchnorm=False,
) -> list[Layer]:
    """The layers of ``build_mlp``, initialized, for appending after other layers.

    Each hidden layer is Linear -> [BatchNorm] -> activation -> [Dropout(dropout)]. A Linear
    followed by BatchNorm has no bias: BatchNorm subtracts the batch mean, so a bias there would
    have a zero gradient (BatchNorm's beta is the shift).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    init_fn = INITS[AUTO_INIT[activation] if init == "auto" else init]
    sizes = [n_features, *hidden, n_classes]
    layers: list[Layer] = []
    for position, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        is_hidden = position < len(hidden)
        linear = Linear(n_in, n_out, bias=bias and not (is_hidden and batchnorm), dtype=dtype)
        linear.params["W"][...] = init_fn((n_in, n_out), n_in, n_out, rng, dtype)
        layers.append(linear)
        if is_hidden:
            if batchnorm:
                layers.append(BatchNorm(n_out, dtype=dtype))
            layers.append(ACTIVATIONS[activation](inplace=True))
            if dropout:
                layers.append(Dropout(dropout))
    return layers

"""The layer contract and the fully connected layer.

Every layer is an object with ``params`` and ``grads`` (dicts with the same keys and shapes) and
``buffers`` (arrays saved with the model that are not trained).
``forward(x, training)`` keeps what ``backward`` needs; ``backward(dout)`` overwrites ``grads``
(never accumulates) and returns ``dx``, the gradient with respect to the layer's input.

Weights are stored ``(n_in, n_out)`` and applied as ``x @ W + b``: the transpose of the lecture's
``Wx``, so that a batch ``x (n_samples, n_in)`` multiplies without a transpose.
"""

from __future__ import annotations

import numpy as np

from . import products

#: The floating-point types a network may compute in.
DTYPES = ("float32", "float64")

#: Layer classes by the ``type`` in their spec: the only list of layer types. ``register`` fills it.
LAYERS: dict[str, type[Layer]] = {}


def register(cls):
    """Class decorator: make ``cls`` rebuildable from its spec, ``LAYERS[spec["type"]](**rest)``."""
    LAYERS[cls.__name__] = cls
    return cls


class Layer:
    """Base class: a layer without parameters that passes values through unchanged."""

    #: Names in ``params`` that L2 weight decay applies to (weights, never biases).
    decayed: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        # State saved with the model but not trained (BatchNorm's running statistics): no
        # gradient, no optimizer update, no decay; names distinct from those in ``params``.
        self.buffers: dict[str, np.ndarray] = {}
        self.trainable = True
        # The first layer of a network has no one to pass dx to; skipping it saves a matmul.
        self.needs_input_grad = True

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        return dout

    def kink_pattern(self) -> np.ndarray | None:
        """Which piece of a piecewise function the last training pass was on, or None for a
        smooth layer. Gradient checks compare it before and after a finite-difference step: a step
        that changes it crossed a kink, where the difference does not estimate the derivative."""
        return None

    def spec(self) -> dict:
        """Hyperparameters as plain JSON data; ``LAYERS[spec['type']](**rest)`` rebuilds the layer."""
        return {"type": type(self).__name__}

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape one sample has after this layer, given the shape it arrives with.

        Raises ValueError saying why the layer cannot take ``shape``.
        """
        return shape

    def working_values(self, shape: tuple[int, ...]) -> int:
        """Values one sample occupies inside the layer besides its output (e.g. im2col rows)."""
        return 0

    @classmethod
    def n_parameters(cls, **kwargs) -> int:
        """Parameter values the constructor would allocate for these (checked) arguments."""
        return 0

    def allocate_grads(self) -> None:
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}


@register
class Linear(Layer):
    """Fully connected layer: ``out = x @ W + b``.

    x (n_samples, n_in) -> out (n_samples, n_out); W (n_in, n_out); b (n_out,).
    Naive reference: ``reference.linear_forward`` and ``linear_backward``.
    """

    decayed = ("W",)

    def __init__(self, n_in: int, n_out: int, bias: bool = True, dtype="float32") -> None:
        super().__init__()
        self.n_in, self.n_out, self.bias = int(n_in), int(n_out), bool(bias)
        self.dtype = np.dtype(dtype)
        self.params["W"] = np.zeros((self.n_in, self.n_out), dtype=self.dtype)
        if self.bias:
            self.params["b"] = np.zeros(self.n_out, dtype=self.dtype)
        self.allocate_grads()
        self._x: np.ndarray | None = None
        self._ones = np.ones(0, dtype=self.dtype)

    def forward(self, x, training=True):
        # Scoring keeps nothing (as Conv2D): the first layer's x is a whole chunk of standardized
        # rows, which would stay alive beside the next chunk (33 MB at 1,024 rows of HOG + color).
        self._x = x if training else None
        out = products.matmul(x, self.params["W"])
        if self.bias:
            out += self.params["b"]
        return out

    def backward(self, dout):
        # dW = x^T dout and dx = dout W^T: the Jacobian is applied, never built.
        products.matmul(self._x.T, dout, out=self.grads["W"])
        if self.bias:
            # db = sum of dout over samples, as ones @ dout: a BLAS gemv, twice as fast as np.sum.
            if self._ones.shape[0] != dout.shape[0] or self._ones.dtype != dout.dtype:
                self._ones = np.ones(dout.shape[0], dtype=dout.dtype)
            np.matmul(self._ones, dout, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        return products.matmul(dout, self.params["W"].T)

    def spec(self):
        return {"type": "Linear", "n_in": self.n_in, "n_out": self.n_out, "bias": self.bias, "dtype": self.dtype.name}

    def output_shape(self, shape):
        if shape != (self.n_in,):
            raise ValueError(f"takes rows of {self.n_in} values but receives {shape}")
        return (self.n_out,)

    @classmethod
    def n_parameters(cls, n_in=1, n_out=1, bias=True, **kwargs):
        return n_in * n_out + (n_out if bias else 0)

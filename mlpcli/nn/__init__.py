"""The lecture's backpropagation chapter as code: layers, activations, losses, networks, SGD.

No I/O, no configuration: plain NumPy objects. See ``layers`` for the layer contract.
"""

from .activations import ACTIVATIONS, ReLU, Sigmoid, Tanh
from .conv import Conv2D
from .extractor import EXTRACTOR_INITS, Flatten, ImageReshape, build_extractor
from .init import AUTO_INIT, INITS
from .layers import Layer, Linear
from .losses import LOSSES, softmax, softmax_cross_entropy, squared_error
from .network import Sequential, build_mlp, mlp_layers
from .optim import SGD
from .pooling import MaxPool2D
from .schedules import SCHEDULES

#: Layer classes by the ``type`` in their spec, for rebuilding a saved network.
LAYERS = {cls.__name__: cls for cls in (Linear, ReLU, Sigmoid, Tanh,
                                        Conv2D, MaxPool2D, Flatten, ImageReshape)}


def network_from_spec(specs: list[dict]) -> Sequential:
    """Rebuild a network (weights zeroed) from ``Sequential.spec()`` output."""
    layers = []
    for spec in specs:
        kwargs = dict(spec)
        layer_type = kwargs.pop("type")
        if layer_type not in LAYERS:
            raise ValueError(f"unknown layer type {layer_type!r}; known: {', '.join(sorted(LAYERS))}")
        layers.append(LAYERS[layer_type](**kwargs))
    return Sequential(layers)

"""The lecture's backpropagation chapter as code: layers, activations, losses, networks, optimizers.

No I/O, no configuration: plain NumPy objects. See ``layers`` for the layer contract.
"""

from .activations import ACTIVATIONS, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dropout import Dropout
from .extractor import EXTRACTOR_INITS, Flatten, ImageReshape, build_extractor
from .init import AUTO_INIT, INITS
from .layers import DTYPES, LAYERS, Layer, Linear, register
from .losses import (LOSSES, SOFT_LOSSES, smoothed_targets, soft_cross_entropy, soft_squared_error, softmax,
                     softmax_cross_entropy, squared_error)
from .network import Sequential, build_mlp, mlp_layers
from .optim import OPTIMIZERS, SGD, Adam, AdamW, Optimizer
from .pooling import MaxPool2D
from .schedules import SCHEDULES, with_warmup
from .spec import MAX_PARAMETERS, network_from_spec

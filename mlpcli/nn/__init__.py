"""The lecture's backpropagation chapter as code: layers, activations, losses, networks, optimizers.

No I/O, no configuration: plain NumPy objects. See ``layers`` for the layer contract.

Two versions of each optimized piece, by one convention: the class in its own module (``Linear``
in ``layers``, ``Conv2D`` in ``conv``, ``BatchNorm`` in ``batchnorm``, ``MaxPool2D`` in
``pooling``, ``SGD``, ``Adam`` and ``AdamW`` in ``optim``) is the fast one training runs; the
naive reference, written as the lecture writes it (loops, textbook formulas), is a plain function
named after it in ``reference``: ``conv2d_forward`` and ``conv2d_backward`` for ``Conv2D``,
``sgd_step`` for ``SGD``, and so on. The tests hold each class to its reference.
"""

from .activations import ACTIVATIONS, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dropout import Dropout
from .extractor import EXTRACTOR_INITS, Flatten, ImageReshape, build_extractor
from .init import AUTO_INIT, INITS
from .layers import DTYPES, LAYERS, Layer, Linear, register
from .losses import (
    LOSSES,
    SOFT_LOSSES,
    smoothed_targets,
    soft_cross_entropy,
    soft_squared_error,
    softmax,
    softmax_cross_entropy,
    squared_error,
)
from .network import Sequential, build_mlp, mlp_layers
from .optim import OPTIMIZERS, SGD, Adam, AdamW, Optimizer
from .pooling import MaxPool2D
from .schedules import SCHEDULES, with_warmup
from .spec import MAX_PARAMETERS, network_from_spec

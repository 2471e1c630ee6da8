"""Optimizers: each updates a network's trainable parameters in place from their gradients.

``OPTIMIZERS`` maps the config names to the classes; its keys are the allowed values.
"""

from .adam import Adam, AdamW
from .base import BLOCK, Optimizer, blocks, for_blocks
from .sgd import SGD

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}

__all__ = ["BLOCK", "OPTIMIZERS", "Adam", "AdamW", "Optimizer", "SGD", "blocks", "for_blocks"]

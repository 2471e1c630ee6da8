"""Optimizers: each updates a network's trainable parameters in place from their gradients."""

from .base import BLOCK, Optimizer, Scratch, blocks
from .sgd import SGD

__all__ = ["BLOCK", "Optimizer", "SGD", "Scratch", "blocks"]

"""A built-in labelled image set: shapes drawn at random over a noisy background.

Each image shows one shape (the class) at a random position, size, rotation and color, so a model
has to learn shape rather than place or color. Seeded: the same seed gives the same images.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from PIL import Image, ImageDraw

from .. import seeding
from .dataset import Dataset

SHAPES = ("circle", "square", "triangle", "cross")


def make_synthetic(n_per_class: int = 250, image_size=(32, 32), seed: int = 0) -> Dataset:
    """``n_per_class`` images per shape -> Dataset of (n_per_class * 4, height, width, 3) uint8."""
    rng = seeding.rng(seed, "data")
    height, width = image_size
    n = n_per_class * len(SHAPES)
    labels = np.repeat(np.arange(len(SHAPES), dtype=np.int64), n_per_class)
    images = _noisy_backgrounds(rng, n, height, width)
    for index, label in enumerate(labels):
        images[index] = _draw_shape(images[index], SHAPES[label], rng)
    fingerprint = hashlib.sha256(f"synthetic:{n_per_class}:{height}x{width}:{seed}".encode()).hexdigest()[:24]
    return Dataset(images, labels, SHAPES, fingerprint, [f"synthetic:{i}" for i in range(n)])


def _noisy_backgrounds(rng, n, height, width) -> np.ndarray:
    """(n, height, width, 3) uint8: a random dark base color per image plus per-pixel noise."""
    base = rng.uniform(0, 110, size=(n, 1, 1, 3))
    noise = rng.normal(0, 18, size=(n, height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _draw_shape(background: np.ndarray, shape: str, rng) -> np.ndarray:
    height, width = background.shape[:2]
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    side = min(height, width)
    radius = rng.uniform(0.22, 0.38) * side
    center_row = rng.uniform(radius, height - radius)
    center_col = rng.uniform(radius, width - radius)
    angle = rng.uniform(0, 2 * math.pi)
    color = tuple(int(v) for v in rng.integers(140, 256, size=3))
    if shape == "circle":
        draw.ellipse([center_col - radius, center_row - radius, center_col + radius, center_row + radius], fill=color)
    elif shape == "cross":
        for bar_angle in (angle, angle + math.pi / 2):
            draw.polygon(_rotated_rect(center_row, center_col, radius, radius * 0.32, bar_angle), fill=color)
    else:
        corners = 4 if shape == "square" else 3
        points = [
            (
                center_col + radius * math.cos(angle + 2 * math.pi * k / corners),
                center_row + radius * math.sin(angle + 2 * math.pi * k / corners),
            )
            for k in range(corners)
        ]
        draw.polygon(points, fill=color)
    return np.asarray(image)


def _rotated_rect(center_row, center_col, half_length, half_width, angle):
    """Corner points (col, row) of a bar centred on the given point, rotated by ``angle``."""
    along = (math.cos(angle), math.sin(angle))
    across = (-along[1], along[0])
    return [
        (
            center_col + a * half_length * along[0] + b * half_width * across[0],
            center_row + a * half_length * along[1] + b * half_width * across[1],
        )
        for a, b in ((1, 1), (1, -1), (-1, -1), (-1, 1))
    ]


def write_synthetic(out, n_per_class: int, size: int, seed: int) -> int:
    """Write the shapes to ``out/<class>/<index>.png`` (``out`` new or empty); returns how many."""
    from pathlib import Path

    from ..errors import ConfigError

    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: already exists and is not empty; choose a new folder")
    dataset = make_synthetic(n_per_class, (size, size), seed)
    for name in dataset.class_names:
        (out / name).mkdir(parents=True, exist_ok=True)
    for index, label in enumerate(dataset.labels):
        Image.fromarray(dataset.images[index]).save(out / dataset.class_names[label] / f"{index:05d}.png")
    return len(dataset)

"""HOG as a picture: in each cell, one stroke per orientation bin, as bright as the bin is full.

The hog feature (``mlpcli.features.hog``) bins each pixel's gradient angle, measured from the
+col axis towards +row, into unsigned bins over [0, 180) degrees. Edges run perpendicular to the
gradient across them, so the stroke for a bin is drawn through the cell centre perpendicular to
the bin's centre angle: a vertical edge (brightness changing along cols) gives a vertical stroke.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from ..features.hog import hog, rgb_to_gray

STROKE_LENGTH = 0.9  # fraction of the cell side


def cell_histograms(image: np.ndarray, orientations: int = 9, cell: int = 8) -> np.ndarray:
    """image (height, width, 3) uint8 -> (n_cells_row, n_cells_col, orientations) float64.

    The per-cell histograms hog computes before block normalization: ``block=1`` with
    ``block_norm="none"`` lays the output out as (cell_row, cell_col, orientation).
    Raises ValueError if the image is smaller than one cell.
    """
    gray = rgb_to_gray(image[None], "float64")
    flat = hog(gray, orientations=orientations, cell=cell, block=1, block_norm="none")
    return flat.reshape(image.shape[0] // cell, image.shape[1] // cell, orientations)


def stroke_ends(
    center: tuple[float, float], bin_index: int, orientations: int, half_length: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(row, col) of both ends of bin ``bin_index``'s stroke through ``center = (row, col)``.

    The bin's centre gradient angle theta points along (d_row, d_col) = (sin, cos)(theta); the
    edge, perpendicular to it, along (cos, -sin)(theta).
    """
    theta = math.pi * (bin_index + 0.5) / orientations
    d_row, d_col = math.cos(theta) * half_length, -math.sin(theta) * half_length
    row, col = center
    return (row - d_row, col - d_col), (row + d_row, col + d_col)


def draw_strokes(hist: np.ndarray, cell: int, scale: int, shape: tuple[int, int]) -> Image.Image:
    """hist (n_cells_row, n_cells_col, orientations) -> an RGB picture of ``shape = (height,
    width)`` image pixels times ``scale``: white strokes on black, brightness proportional to the
    bin value over the largest bin in the image (remainder pixels outside every cell stay black)."""
    n_cells_row, n_cells_col, orientations = hist.shape
    canvas = Image.new("RGB", (shape[1] * scale, shape[0] * scale), (0, 0, 0))  # Pillow: (width, height)
    draw = ImageDraw.Draw(canvas)
    peak = float(hist.max())
    if peak <= 0:
        return canvas  # a flat image has no gradients: nothing to draw
    side = cell * scale
    width = max(1, scale // 3)
    for cell_row in range(n_cells_row):
        for cell_col in range(n_cells_col):
            center = ((cell_row + 0.5) * side, (cell_col + 0.5) * side)
            # Weakest first, so the strongest orientation is drawn on top where strokes cross.
            for bin_index in np.argsort(hist[cell_row, cell_col], kind="stable"):
                level = int(round(255 * hist[cell_row, cell_col, bin_index] / peak))
                if level == 0:
                    continue
                (row0, col0), (row1, col1) = stroke_ends(center, int(bin_index), orientations, STROKE_LENGTH * side / 2)
                # Pillow points are (x, y) = (col, row).
                draw.line([(col0, row0), (col1, row1)], fill=(level, level, level), width=width)
    return canvas

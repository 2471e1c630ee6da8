"""Pillow-only image tiles: scale arrays to pixels, upscale, lay them out in a labelled grid, save.

Arrays are ``(height, width, 3)`` (or ``(height, width)`` gray) of any float dtype; a grid is a
list of such tiles, all the same size, each with a label written under it.

Pillow's API takes positions as ``(x, y) = (col, row)``; the helpers here take ``(row, col)`` and
convert at each call.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..fileio import atomic_path
from . import fonts

PAD = 4  # pixels between tiles and around the grid
LABEL_HEIGHT = 14  # pixels under each tile for its label (Pillow's default font is ~11 px high)
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)


def to_uint8(tile: np.ndarray) -> np.ndarray:
    """Min-max scale one tile (height, width[, channels]) to 0..255 uint8.

    A constant tile (nothing learned) becomes mid-gray rather than dividing by zero.
    """
    tile = np.asarray(tile, dtype=np.float64)
    low, high = float(tile.min()), float(tile.max())
    if not high > low:
        return np.full(tile.shape, 128, dtype=np.uint8)
    return np.rint((tile - low) * (255 / (high - low))).astype(np.uint8)


def upscale(pixels: np.ndarray, scale: int) -> np.ndarray:
    """(height, width[, channels]) -> (height * scale, width * scale[, channels]), nearest neighbour:
    each pixel becomes a ``scale x scale`` block, so tile pixel (r, c) covers rows r*scale ...
    """
    return np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """(height, width) gray or (height, width, 1|3) uint8 -> (height, width, 3) uint8."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    if pixels.shape[-1] != 3:
        # More than 3 channels has no colour reading: show their mean as gray.
        pixels = np.repeat(pixels.mean(axis=-1, keepdims=True).astype(np.uint8), 3, axis=-1)
    return pixels


def grid_size(n_tiles: int, tile_shape: tuple[int, int], columns: int) -> tuple[int, int]:
    """(height, width) in pixels of ``labelled_grid`` for ``n_tiles`` upscaled tiles of
    ``tile_shape = (height, width)`` in ``columns`` columns (fewer if there are fewer tiles)."""
    columns = max(1, min(columns, n_tiles))
    rows = math.ceil(n_tiles / columns)
    tile_height, tile_width = tile_shape
    return (rows * (tile_height + LABEL_HEIGHT + PAD) + PAD, columns * (tile_width + PAD) + PAD)


def labelled_grid(tiles: list[np.ndarray], labels: list[str], scale: int, columns: int) -> Image.Image:
    """Min-max scale each tile on its own, upscale by ``scale`` and lay them out row-major with
    ``labels`` under them. Size: ``grid_size(len(tiles), (height * scale, width * scale), columns)``."""
    pixels = [as_rgb(upscale(to_uint8(tile), scale)) for tile in tiles]
    tile_height, tile_width = pixels[0].shape[:2]
    columns = max(1, min(columns, len(pixels)))
    height, width = grid_size(len(pixels), (tile_height, tile_width), columns)
    canvas = Image.new("RGB", (width, height), BACKGROUND)  # Pillow sizes are (width, height)
    draw = ImageDraw.Draw(canvas)
    for index, (tile, label) in enumerate(zip(pixels, labels)):
        row = PAD + (index // columns) * (tile_height + LABEL_HEIGHT + PAD)
        col = PAD + (index % columns) * (tile_width + PAD)
        canvas.paste(Image.fromarray(tile), (col, row))
        write_label(draw, label, row + tile_height + 1, col, tile_width)
    return canvas


def write_label(draw: ImageDraw.ImageDraw, text: str, row: int, col: int, width: int) -> None:
    """Write ``text`` centred in ``width`` pixels starting at (row, col), cut to fit."""
    font = label_font(text)
    while text and draw.textlength(text, font=font) > width:
        text = text[:-1]
    offset = (width - draw.textlength(text, font=font)) / 2
    draw.text((col + offset, row), text, fill=TEXT, font=font)  # Pillow: (x, y) = (col, row)


def label_font(text: str):
    """Pillow's default font, or a CJK one for a label it has no glyphs for (see ``fonts``)."""
    path = fonts.font_for([text])
    return ImageFont.load_default() if path is None else ImageFont.truetype(path, LABEL_HEIGHT - 3)


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Write ``image`` to ``path`` as PNG atomically (a reader never sees half a file)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path

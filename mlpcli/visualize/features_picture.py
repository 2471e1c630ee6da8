"""What the classifier is given, as one picture: the image, its HOG strokes, its color histogram.

Pillow only. Each panel is drawn at the size the model sees (``data.image_size``), upscaled so
that cells and strokes are visible; a caption sits under each panel.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from ..features import FEATURES
from ..features.color_hist import color_hist
from .strokes import cell_histograms, draw_strokes
from .tiles import BACKGROUND, LABEL_HEIGHT, PAD, upscale, write_label

PANEL_SIDE = 256  # target panel height in pixels
BAR_COLOR_EDGE = (60, 60, 60)


def panel_scale(image_shape: tuple[int, int]) -> int:
    """Integer upscale factor bringing the larger image side near ``PANEL_SIDE`` pixels."""
    return max(1, round(PANEL_SIDE / max(image_shape)))


def bar_colors(space: str, bins: int) -> np.ndarray:
    """(n_features, 3) uint8: the colour at the centre of each color_hist bin.

    ``hsv``: fully saturated hues at (b + 0.5) / bins. ``rgb``: the centre of each cell of the
    RGB cube, red-major then green then blue (the feature's order).
    """
    if space == "hsv":
        hues = (np.arange(bins) + 0.5) / bins
        return np.array([[round(255 * v) for v in colorsys.hsv_to_rgb(h, 1.0, 1.0)] for h in hues], dtype=np.uint8)
    levels = np.rint((np.arange(bins) + 0.5) * 256 / bins).clip(0, 255).astype(np.uint8)
    red, green, blue = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([red, green, blue], axis=-1).reshape(-1, 3)


def draw_bars(values: np.ndarray, colors: np.ndarray, height: int, width: int) -> Image.Image:
    """values (n_bars,) >= 0, colors (n_bars, 3) uint8 -> an RGB bar chart of (height, width)
    pixels, bars scaled so the tallest fills the height; ``width`` is widened to one pixel a bar."""
    n_bars = len(values)
    width = max(width, n_bars)
    canvas = Image.new("RGB", (width, height), BACKGROUND)  # Pillow: (width, height)
    draw = ImageDraw.Draw(canvas)
    peak = float(np.max(values)) if n_bars else 0.0
    edges = np.linspace(0, width, n_bars + 1).round().astype(int)
    for value, color, left, right in zip(values, colors, edges[:-1], edges[1:]):
        top = height - 1 - int(round((height - 1) * value / peak)) if peak > 0 else height - 1
        outline = BAR_COLOR_EDGE if right - left > 3 else None
        # Pillow boxes are [x0, y0, x1, y1] = [col0, row0, col1, row1], inclusive.
        draw.rectangle(
            [left, top, max(left, right - 1), height - 1], fill=tuple(int(c) for c in color), outline=outline
        )
    draw.line([(0, height - 1), (width - 1, height - 1)], fill=BAR_COLOR_EDGE)
    return canvas


def compose(panels: list[tuple[Image.Image, str]]) -> Image.Image:
    """Panels of one height side by side, each with its caption under it."""
    height = max(panel.height for panel, _ in panels)
    width = sum(panel.width for panel, _ in panels) + PAD * (len(panels) + 1)
    canvas = Image.new("RGB", (width, height + LABEL_HEIGHT + 2 * PAD), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    col = PAD
    for panel, caption in panels:
        canvas.paste(panel, (col, PAD))  # Pillow: (x, y) = (col, row)
        write_label(draw, caption, PAD + height + 1, col, panel.width)
        col += panel.width + PAD
    return canvas


def features_picture(image: np.ndarray, hog_params: dict, hist_params: dict) -> Image.Image:
    """image (height, width, 3) uint8 -> [image | HOG strokes | color histogram] picture.

    ``hog_params`` has ``orientations`` and ``cell``; ``hist_params`` has ``space`` and ``bins``.
    Raises ValueError if the image is smaller than one HOG cell.
    """
    scale = panel_scale(image.shape[:2])
    hist = cell_histograms(image, hog_params["orientations"], hog_params["cell"])
    strokes = draw_strokes(hist, hog_params["cell"], scale, image.shape[:2])
    space, bins = hist_params["space"], hist_params["bins"]
    values = color_hist(image[None], space, bins, "float64")[0]
    bars = draw_bars(values, bar_colors(space, bins), strokes.height, strokes.width)
    height, width = image.shape[:2]
    return compose(
        [
            (Image.fromarray(upscale(image, scale)), f"image {height}x{width}"),
            (strokes, f"hog: {hog_params['orientations']} bins, {hog_params['cell']}px cells"),
            (bars, f"color_hist: {space}, {len(values)} bins"),
        ]
    )


def picture_params(config) -> tuple[tuple, dict, dict, list[str]]:
    """The config's features, the hog and color_hist parameters to draw (each with
    ``from_config``), and notes on what was filled in with defaults."""
    features = () if config.mode == "end_to_end" else config.features
    notes = (
        [
            "mode end_to_end: the network learns its own features from the raw pixels; hog and "
            "color_hist are drawn for comparison"
        ]
        if config.mode == "end_to_end"
        else []
    )
    hog_params = _params(features, "hog", notes)
    hist_params = _params(features, "color_hist", notes)
    return features, hog_params, hist_params, notes


def _params(features, name: str, notes: list[str]) -> dict:
    """Parameters of the first ``name`` feature in ``features``, else its defaults (noted), with
    ``from_config`` saying which."""
    for feature in features:
        if feature.name == name:
            return {**FEATURES[name].defaults, **feature.params, "from_config": True}
    defaults = dict(FEATURES[name].defaults)
    shown = ", ".join(f"{key} {value}" for key, value in defaults.items())
    notes.append(f"the config has no {name} feature; the picture uses its defaults ({shown})")
    return {**defaults, "from_config": False}

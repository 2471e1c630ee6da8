"""What a user of an exported graph must do to an image file before the graph, for the model's
own ``Preprocess`` (``data.resize``, ``data.color``, ``data.pad_fill``; see ``data.shape``).

The graph takes the pixels ``predict`` has after decoding; these steps are ``data.images``'
decoding written out with Pillow, so a user without mlpcli gets the same bytes.
"""

from __future__ import annotations

import json

#: Every policy starts here (``data.images._decode``, ``to_rgb``).
_OPEN = (
    "Open the file with Pillow; for a JPEG, image.draft(None, {draft}) (libjpeg decodes at 1/2, 1/4 "
    "or 1/8 scale when that leaves at least this size; swap the two numbers when the EXIF "
    "orientation is 5 to 8); ImageOps.exif_transpose(image); convert to RGB (transparent pixels "
    "composited on white). Then, unless image.size is already ({width}, {height}): "
)
#: The shape step of each ``data.resize`` policy (``data.shape.fit``), W x H the model's size.
_SHAPE = {
    "squash": "image.resize(({width}, {height}), Image.Resampling.BILINEAR): aspect ratio not kept, no crop.",
    "center_crop": (
        "image.resize(({width}, {height}), Image.Resampling.BILINEAR, box=(left, upper, left + "
        "{width} * s, upper + {height} * s)) with s = min(image_width / {width}, image_height / "
        "{height}), left = (image_width - {width} * s) / 2, upper = (image_height - {height} * s) "
        "/ 2 (float box): the largest centred window of the model's aspect ratio, the rest cropped."
    ),
    "pad": (
        "if the image has the model's aspect ratio, image.resize(({width}, {height}), "
        "Image.Resampling.BILINEAR); otherwise s = min({width} / image_width, {height} / "
        "image_height), inner = (max(1, round(image_width * s)), max(1, round(image_height * s))), "
        "paste image.resize(inner, Image.Resampling.BILINEAR) at (({width} - inner[0]) // 2, "
        "({height} - inner[1]) // 2) on Image.new('RGB', ({width}, {height}), ({fill}, {fill}, "
        "{fill})): aspect ratio kept, padded with gray level {fill}."
    ),
}
#: The color step of each ``data.color`` (after the shape step).
_COLOR = {
    "rgb": " Keep the RGB image.",
    "gray": " Then image.convert('L').convert('RGB') (Pillow's ITU-R 601-2 luma in three equal channels).",
}


def resize_text(preprocess) -> str:
    """The steps from a file to the graph's input image for ``preprocess`` (a
    ``data.shape.Preprocess``), in words and Pillow calls; the metadata's ``resize``."""
    height, width = preprocess.size
    values = {"height": height, "width": width, "fill": preprocess.pad_fill, "draft": _draft(preprocess)}
    text = _OPEN + _SHAPE[preprocess.resize] + _COLOR[preprocess.color]
    return text.format(**values) + " The result, np.asarray(image), is one (height, width, 3) uint8 image of the batch."


def _draft(preprocess) -> str:
    """The size ``data.shape.draft_size`` asks a JPEG for, as text: the model's (width, height),
    or under ``pad`` the fitted size, which depends on the image."""
    height, width = preprocess.size
    if preprocess.resize == "pad":
        return (
            f"(ceil(image_width * s), ceil(image_height * s)) with s = min({width} / image_width, "
            f"{height} / image_height) of the upright image"
        )
    return f"({width}, {height})"


def preprocess_json(preprocess) -> str:
    """The metadata's ``preprocess``: ``{"size": [height, width], "resize", "color", "pad_fill"}``
    as saved with the model (``Preprocess.describe``)."""
    return json.dumps({"size": list(preprocess.size), **preprocess.describe()})

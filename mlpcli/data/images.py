"""Reading one image file into the (height, width, 3) uint8 array every loader produces."""

from __future__ import annotations

import re
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError
from . import DEFAULT_MAX_IMAGE_PIXELS
from .shape import Preprocess, as_preprocess, draft_size, fit

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def load_image(path: str | Path, target, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode ``path``, turn it upright (EXIF orientation), convert any mode (grayscale, RGBA,
    palette, CMYK, 16-bit) to RGB and bring it to ``target`` (a ``shape.Preprocess``, or an image
    size (height, width) for the default squash to RGB) -> (height, width, 3) uint8. Raises
    DataError naming the file.

    Anything the decoder rejects is a DataError: truncated, corrupt, empty or non-image files, and
    images whose header declares more than ``max_pixels`` pixels (a decompression bomb is refused
    from its header, before any pixel is allocated). Damage a format cannot detect (JPEG has no
    checksum over its compressed data) decodes to whatever the bytes say.
    """
    try:
        with pixel_limit(max_pixels), warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; treat that as the bomb it may be.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return np.asarray(_decode(image, as_preprocess(target)), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise DataError(too_large_message(path, exc, max_pixels)) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read as an image ({exc})") from None
    except Exception as exc:  # decoders fed hostile bytes raise odd kinds too (struct.error, IndexError ...)
        raise DataError(f"{path}: cannot read as an image ({type(exc).__name__}: {exc})") from None


def _decode(image: Image.Image, spec: Preprocess) -> Image.Image:
    """An opened image -> upright, RGB, brought to ``spec`` (``shape.fit``)."""
    # getexif also reads XMP's tiff:Orientation; a JPEG's metadata comes before its pixels.
    orientation = image.getexif().get(_ORIENTATION, 1) if may_be_rotated(image) else 1
    if image.format == "JPEG":
        _draft(image, spec, orientation)
    if orientation != 1:
        # A camera stores pixels as the sensor saw them and the rotation in EXIF. Upright
        # already (1): exif_transpose would only copy the image.
        image = ImageOps.exif_transpose(image)
    return fit(to_rgb(image), spec)


def _draft(image: Image.Image, spec: Preprocess, orientation: int) -> None:
    """Let libjpeg decode ``image`` at 1/2, 1/4 or 1/8 scale (in the DCT, before any pixel
    exists) when that still leaves at least the pixels ``spec`` needs: a 12-megapixel photo to
    32 px decodes 1/64 of its pixels. Below a factor of 2 nothing changes, so small JPEGs
    (CIFAR's 32 px) decode to the same bytes as without it."""
    request = draft_size(image.size, orientation, spec)
    if min(image.size[0] // request[0], image.size[1] // request[1]) >= 2:
        image.draft(None, request)


#: The EXIF tag of the orientation.
_ORIENTATION = 0x0112
#: Where Pillow finds a JPEG's orientation (EXIF, or XMP's tiff:Orientation): all read from the
#: markers before the pixels, so ``Image.open`` has them in ``info`` without decoding.
_JPEG_ORIENTATION_KEYS = ("exif", "xmp", "XML:com.adobe.xmp")


def may_be_rotated(image: Image.Image) -> bool:
    """False when ``image`` certainly has no orientation to apply: a JPEG with neither EXIF nor
    XMP. Other formats may keep EXIF after the pixels (PNG), so they are always asked.
    ``exif_transpose`` parses the metadata and copies the image: for a 32x32 CIFAR JPEG, half of
    the whole decode."""
    return image.format != "JPEG" or any(key in image.info for key in _JPEG_ORIENTATION_KEYS)


def too_large_message(path, exc: Exception, max_pixels: int) -> str:
    """The decompression-bomb refusal, with the image's size (from Pillow's message) and the limit."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "more pixels"
    return (
        f"{path}: image has {size}, over the limit of {max_pixels:,} pixels (a possible "
        f"decompression bomb); if you trust the file, raise the limit with --max-pixels N "
        f"or data.max_image_pixels: N"
    )


_limit_lock = threading.Lock()
_limit_users = 0
_previous_limit = None


@contextmanager
def pixel_limit(max_pixels: int):
    """Set Pillow's ``Image.MAX_IMAGE_PIXELS`` to ``max_pixels`` while the block runs, then restore
    it. The only place mlpcli touches that global; threads decoding at once must agree on the
    limit (it is one value per process), and the last one out restores the old value."""
    global _limit_users, _previous_limit
    with _limit_lock:
        if _limit_users and Image.MAX_IMAGE_PIXELS != max_pixels:
            raise RuntimeError(f"pixel limit {max_pixels} requested while {Image.MAX_IMAGE_PIXELS} is in use")
        if not _limit_users:
            _previous_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max_pixels
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if not _limit_users:
                Image.MAX_IMAGE_PIXELS = _previous_limit


def to_rgb(image: Image.Image) -> Image.Image:
    """Pillow image of any mode -> RGB."""
    if image.mode.startswith("I"):
        # 16-bit grayscale: Pillow's own conversion clips at 255; rescale the 0..65535 range instead.
        array = np.asarray(image, dtype=np.float64) / 257
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Show transparent pixels on white, as a viewer would, instead of whatever color they hide.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    # convert("RGB") of an RGB image is a copy (a drafted photo's 504x378 pixels, for nothing).
    return image if image.mode == "RGB" else image.convert("RGB")


def expand_image_paths(paths) -> list[Path]:
    """Files and folders -> the image files: a folder gives the images inside it, sorted, hidden
    entries skipped. Raises DataError for a missing path or a folder without images."""
    files = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and is_image_path(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise DataError(f"{path}: folder contains no images")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    return files

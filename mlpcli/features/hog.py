"""Histogram of oriented gradients (Dalal & Triggs), vectorized over a batch of grayscale images.

Matches ``skimage.feature.hog(gray, orientations, pixels_per_cell=(cell, cell),
cells_per_block=(block, block), block_norm=...)`` on the same float64 image: centred gradients
(0 on the image border), unsigned orientations in ``[0, 180)`` degrees cut into ``orientations``
equal bins, each pixel voting its gradient magnitude into one bin of its cell, cell sums divided
by the cell area, cells that do not fit dropped, and a dense grid of overlapping
``block x block`` blocks, each normalized and flattened in (block_row, block_col, cell_row,
cell_col, orientation) order.

``block_norm="none"`` keeps that block layout but skips the normalization: with ``block=1`` it is
the per-cell histograms; with ``block > 1`` each cell appears once per block that contains it,
unnormalized, so the output length never depends on ``block_norm``.

Every stage runs on a whole chunk of images at once, in the input precision (float32 stays
float32); the few pixels whose angle lies within rounding of a bin edge are re-binned with
scikit-image's float64 formula, so the bins agree with it exactly.
"""

from __future__ import annotations

import functools

import numpy as np

from .images import check_images

_EPS = 1e-5  # scikit-image's block normalization epsilon
#: ITU-R BT.601 luma in thousandths: 299 red + 587 green + 114 blue, exact in integers. The gray
#: value is that integer divided by 255,000 (one correctly rounded division), so it depends on
#: the exact luma alone: the same bits in any batch, on any BLAS or CPU, and in the ONNX export.
#: A float weighted sum would round in the order its kernel adds (OpenBLAS adds a batch of more
#: than 16,384 pixels in another order than a smaller one), and that last bit decides the bin of
#: a pixel between two neighbours of equal luma: a zero gradient (bin 0) or a 1e-8 one (bin 8).
LUMA_WEIGHTS = (299, 587, 114)
LUMA_SCALE = 255_000
_CHUNK_PIXELS = 1 << 16  # pixels per chunk: temporaries stay in cache (64 CIFAR images)


# Block sums use einsum and divisions become multiplications by a per-block reciprocal:
# NumPy's reductions and broadcast divisions are several times slower on such short rows.
def _l1(blocks):
    # Histograms are non-negative, so the L1 norm is the plain sum.
    return blocks * (1 / (np.einsum("...i->...", blocks) + _EPS))[..., None]


def _l1_sqrt(blocks):
    return np.sqrt(_l1(blocks))


def _l2(blocks):
    return blocks * (1 / np.sqrt(np.einsum("...i,...i->...", blocks, blocks) + _EPS**2))[..., None]


def _l2_hys(blocks):
    # Clipping at 0.2 stops a few strong edges from dominating; renormalizing restores unit length.
    return _l2(np.minimum(_l2(blocks), 0.2))


def _unnormalized(blocks):
    return blocks


BLOCK_NORMS = {"L2-Hys": _l2_hys, "L2": _l2, "L1": _l1, "L1-sqrt": _l1_sqrt, "none": _unnormalized}
"""Block normalization name -> function of ``blocks (..., block * block * orientations)``, each
block normalized along the last axis with scikit-image's epsilon."""


def rgb_to_gray(images: np.ndarray, dtype="float32") -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, height, width) luma in [0, 1] of ``dtype``:
    (299 red + 587 green + 114 blue) / 255,000 (see ``LUMA_WEIGHTS``)."""
    images = check_images(images)
    # Every product and partial sum is an integer below 2**24, exact in float32 whatever order
    # (or fused multiply-adds) the BLAS product adds in; only the division rounds, once.
    luma = images.reshape(-1, 3).astype(dtype) @ np.asarray(LUMA_WEIGHTS, dtype)
    luma /= np.asarray(LUMA_SCALE, dtype)
    return luma.reshape(images.shape[:3])


def _check_params(orientations, cell, block, block_norm) -> None:
    for name, value in (("orientations", orientations), ("cell", cell), ("block", block)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"hog {name} must be an integer >= 1; got {value!r}")
    if block_norm not in BLOCK_NORMS:
        raise ValueError(f"hog block_norm must be one of {', '.join(BLOCK_NORMS)}; got {block_norm!r}")


def _cell_grid(height: int, width: int, cell: int, block: int) -> tuple[int, int]:
    """(n_cells_row, n_cells_col) that fit the image; ValueError if a block does not fit."""
    n_cells_row, n_cells_col = height // cell, width // cell
    if n_cells_row < block or n_cells_col < block:
        side = cell * block
        raise ValueError(
            f"image of {height}x{width} pixels is too small for hog with cell={cell}, block={block}: "
            f"it needs at least {side}x{side} pixels (cell * block per side); "
            "lower cell or block, or use larger images"
        )
    return n_cells_row, n_cells_col


def hog_length(height: int, width: int, orientations: int = 9, cell: int = 8, block: int = 2) -> int:
    """Length of the hog vector of one ``height x width`` image.

    ``n_blocks_row * n_blocks_col * block**2 * orientations`` with
    ``n_blocks_row = height // cell - block + 1`` and ``n_blocks_col = width // cell - block + 1``.
    """
    _check_params(orientations, cell, block, "L2-Hys")
    n_cells_row, n_cells_col = _cell_grid(height, width, cell, block)
    return (n_cells_row - block + 1) * (n_cells_col - block + 1) * block * block * orientations


def _gradients(gray: np.ndarray):
    """gray (n_images, height, width) -> g_row, g_col of the same shape and dtype: centred
    differences, 0 on the image border along that axis (as scikit-image)."""
    flat = gray.reshape(-1)
    width = gray.shape[2]
    g_row, g_col = np.empty_like(gray), np.empty_like(gray)
    # One subtraction over the flattened batch is much faster than per-axis slicing; what it
    # computes across an image's edge (wrapping into the next row or image) is overwritten below.
    np.subtract(flat[2 * width :], flat[: -2 * width], out=g_row.reshape(-1)[width : len(flat) - width])
    np.subtract(flat[2:], flat[:-2], out=g_col.reshape(-1)[1 : len(flat) - 1])
    g_row[:, 0], g_row[:, -1], g_col[:, :, 0], g_col[:, :, -1] = 0, 0, 0, 0
    return g_row, g_col


@functools.lru_cache(maxsize=16)
def _bin_edges(orientations: int):
    """scikit-image's bin edges in degrees, ``180 / n * i`` in float64, and the slot of each
    bin index it can yield (index ``orientations``, at or past the last edge, is no bin)."""
    edges = 180.0 / orientations * np.arange(orientations + 1)
    slot_of_bin = np.append(np.arange(orientations) + orientations, 2 * orientations + 1)
    return edges, slot_of_bin


def _exact_slots(gray, g_col, redo, orientations: int) -> np.ndarray:
    """Slots of the pixels at flat indices ``redo`` (all with g_row != 0), by scikit-image's
    float64 formula: ``rad2deg(arctan2(g_row, g_col)) % 180`` against its bin edges.

    Used for pixels whose angle is within rounding of a bin edge. g_row != 0 means an interior
    row, so all four neighbours are in the same image; a zero g_col (border column or equal
    neighbours) is exactly zero in any precision.
    """
    width = gray.shape[2]
    down, up, right, left = gray.reshape(-1)[redo[:, None] + [width, -width, 1, -1]].astype(np.float64).T
    degrees = np.rad2deg(np.arctan2(down - up, (right - left) * (g_col.reshape(-1)[redo] != 0))) % 180
    edges, slot_of_bin = _bin_edges(orientations)
    return slot_of_bin[np.searchsorted(edges, degrees, side="right") - 1]


@functools.lru_cache(maxsize=16)
def _angle_scale(orientations: int, dtype) -> np.ndarray:
    """orientations / pi in ``dtype``, rounded up if needed so that an angle of pi (arctan2 of
    (0, negative)) lands on slot 2 * orientations (bin 0), not just below it."""
    scale = np.asarray(orientations / np.pi, dtype=dtype)
    while np.asarray(np.pi, dtype=dtype) * scale < orientations:
        scale = np.nextafter(scale, np.inf)
    return scale


def _orientation_slots(gray, g_row, g_col, orientations: int) -> np.ndarray:
    """(n_images, height, width) int64 slot in ``[0, 2 * orientations + 1]`` per pixel.

    Slot ``s <= 2 * orientations`` is bin ``(s - orientations) % orientations``: signed angles fold
    onto unsigned bins later, on the small histograms. Slot ``2 * orientations + 1`` is no bin.
    The fast path works in the input precision; pixels within rounding of a bin edge are redone
    exactly, so the bins agree with scikit-image even for float32 input.
    """
    position = np.arctan2(g_row, g_col)
    position *= _angle_scale(orientations, g_row.dtype)
    position += orientations
    slots = position.astype(np.int64)
    distance = np.rint(position)
    np.subtract(position, distance, out=distance)
    near_edge = np.abs(distance, out=distance) < orientations * 1e-5
    # A zero g_row (flat areas, image borders) is 0 or 180 degrees: bin 0 in both paths.
    near_edge &= g_row != 0
    redo = np.flatnonzero(near_edge)
    if redo.size:
        slots.reshape(-1)[redo] = _exact_slots(gray, g_col, redo, orientations)
    return slots


@functools.lru_cache(maxsize=4)
def _cell_codes(n_images: int, height: int, width: int, cell: int, n_slots: int) -> np.ndarray:
    """(n_images, height, width) int64: index of each pixel's first slot in the flat histogram
    array (n_images, n_cells + 1, n_slots); group n_cells collects the pixels in no cell (the
    bottom and right remainders), and is dropped. Cached: extract() reuses it for every chunk."""
    n_cells_row, n_cells_col = height // cell, width // cell
    cell_row, cell_col = np.arange(height) // cell, np.arange(width) // cell
    code = cell_row[:, None] * n_cells_col + cell_col
    code[(cell_row[:, None] >= n_cells_row) | (cell_col >= n_cells_col)] = n_cells_row * n_cells_col
    image_start = np.arange(n_images)[:, None, None] * (n_cells_row * n_cells_col + 1)
    codes = (image_start + code) * n_slots
    codes.flags.writeable = False
    return codes


def _cell_histograms(magnitude, slots, orientations: int, cell: int) -> np.ndarray:
    """Per-cell orientation histograms -> (n_images, n_cells_row, n_cells_col, orientations).

    ``magnitude`` and ``slots`` are (n_images, height, width). Each cell's sum is divided by the
    cell area, as scikit-image does.
    """
    n_images, height, width = slots.shape
    n_cells_row, n_cells_col = height // cell, width // cell
    n_slots = 2 * orientations + 2
    # One bincount over (image, cell, slot) codes replaces a Python loop over images and cells.
    slots += _cell_codes(n_images, height, width, cell, n_slots)
    sums = np.bincount(
        slots.reshape(-1), weights=magnitude.reshape(-1), minlength=n_images * (n_cells_row * n_cells_col + 1) * n_slots
    )
    sums = sums.reshape(n_images, -1, n_slots)[:, :-1].reshape(n_images, n_cells_row, n_cells_col, n_slots)
    # Fold signed angles onto unsigned bins: slots o and o + n are bin o, slot 2n is bin 0.
    hist = sums[..., :orientations] + sums[..., orientations : 2 * orientations]
    hist[..., 0] += sums[..., 2 * orientations]
    return (hist / (cell * cell)).astype(magnitude.dtype, copy=False)


def _normalize_blocks(hist: np.ndarray, block: int, block_norm: str) -> np.ndarray:
    """Cell histograms (n_images, n_cells_row, n_cells_col, orientations) -> normalized
    overlapping blocks (n_images, n_blocks_row, n_blocks_col, block * block * orientations),
    each block in (cell_row, cell_col, orientation) order."""
    n_images, n_cells_row, n_cells_col, orientations = hist.shape
    n_blocks_row, n_blocks_col = n_cells_row - block + 1, n_cells_col - block + 1
    blocks = np.empty((n_images, n_blocks_row, n_blocks_col, block, block, orientations), hist.dtype)
    for row in range(block):
        for col in range(block):
            blocks[:, :, :, row, col] = hist[:, row : row + n_blocks_row, col : col + n_blocks_col]
    return BLOCK_NORMS[block_norm](blocks.reshape(n_images, n_blocks_row, n_blocks_col, -1))


def _hog_chunk(gray, orientations, cell, block, block_norm) -> np.ndarray:
    """gray (n_images, height, width), validated and contiguous -> (n_images, n_features)."""
    g_row, g_col = _gradients(gray)
    slots = _orientation_slots(gray, g_row, g_col, orientations)
    # The gradients are not needed any more: reuse their memory, fewer cache misses.
    magnitude = np.square(g_row, out=g_row)
    magnitude += np.square(g_col, out=g_col)
    np.sqrt(magnitude, out=magnitude)
    hist = _cell_histograms(magnitude, slots, orientations, cell)
    return _normalize_blocks(hist, block, block_norm).reshape(len(gray), -1)


def _chunks(n_images: int, height: int, width: int):
    """Slices of at most _CHUNK_PIXELS pixels: temporaries stay cache-sized whatever the batch."""
    step = max(1, _CHUNK_PIXELS // max(1, height * width))
    return (slice(start, start + step) for start in range(0, n_images, step))


def hog(
    gray: np.ndarray, orientations: int = 9, cell: int = 8, block: int = 2, block_norm: str = "L2-Hys"
) -> np.ndarray:
    """gray (n_images, height, width) float32 or float64 -> (n_images, n_features), same dtype.

    ``n_features = hog_length(height, width, orientations, cell, block)``; see the module
    docstring for the conventions and for ``block_norm="none"``.
    """
    gray = np.asarray(gray)
    if gray.ndim != 3 or gray.dtype not in (np.float32, np.float64):
        raise ValueError(
            "hog expects gray images (n_images, height, width) of float32 or float64; "
            f"got shape {gray.shape} {gray.dtype} (convert with rgb_to_gray)"
        )
    if not np.isfinite(gray).all():
        raise ValueError("hog input contains NaN or infinite values; clean or clip the images first")
    out = np.empty(
        (
            len(gray),
            n_features(*gray.shape[1:], orientations=orientations, cell=cell, block=block, block_norm=block_norm),
        ),
        dtype=gray.dtype,
    )
    for part in _chunks(*gray.shape):
        out[part] = _hog_chunk(np.ascontiguousarray(gray[part]), orientations, cell, block, block_norm)
    return out


def n_features(
    height: int, width: int, *, orientations: int = 9, cell: int = 8, block: int = 2, block_norm: str = "L2-Hys"
) -> int:
    """Output length of ``extract`` for ``height x width`` images (``block_norm`` does not change it)."""
    _check_params(orientations, cell, block, block_norm)
    return hog_length(height, width, orientations, cell, block)


def extract(
    images: np.ndarray,
    *,
    dtype="float32",
    orientations: int = 9,
    cell: int = 8,
    block: int = 2,
    block_norm: str = "L2-Hys",
) -> np.ndarray:
    """images (n_images, height, width, 3) uint8 -> (n_images, n_features) of ``dtype``:
    ``hog(rgb_to_gray(images, dtype), ...)``, converted chunk by chunk."""
    images = check_images(images)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"hog dtype must be float32 or float64; got {dtype}")
    out = np.empty(
        (
            len(images),
            n_features(*images.shape[1:3], orientations=orientations, cell=cell, block=block, block_norm=block_norm),
        ),
        dtype=dtype,
    )
    for part in _chunks(*images.shape[:3]):
        out[part] = _hog_chunk(rgb_to_gray(images[part], dtype), orientations, cell, block, block_norm)
    return out

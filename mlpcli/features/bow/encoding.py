"""Encoding images with a fitted vocabulary: patches -> normalized -> whitened -> word codes -> pooled.

Work goes in chunks of whole images (or, for an image too large for one chunk, bands of its patch
rows), each on one thread with buffers reused between chunks, so memory is the output plus about
``_CHUNK_BYTES`` per thread. Squared distances to every word come out of one matrix product of
``[z, |z|^2, 1]`` with ``[-2 C^T; 1; |c|^2]``; the element-wise passes that follow run on a block
that stays in cache.

Codes, over the distances ``d_k`` of a whitened patch ``z`` to the words ``c_k``:
- ``triangle``: ``f_k = max(0, mean_j(d_j) - d_k)``, d the Euclidean distances (Coates et al. 2011):
  about half the words, those nearer than average, get a positive code;
- ``hard``: 1 for the nearest word (first on ties), 0 for the others: the classic bag of words.
Pooling sums the codes over the ``quadrants`` of the grid of patch positions (top-left, top-right,
bottom-left, bottom-right; with an odd count the middle row or column goes to the top or left
quadrant) or over the whole image (``global``). Power normalization then raises each pooled code
to ``power``: 0.5, the square root, damps the words a whole image is full of (sky, wall) against
the rarer ones that tell classes apart, as for Fisher vectors (Perronnin, Sanchez & Mensink 2010).
"""

from __future__ import annotations

import numpy as np

from . import patches, workers

ENCODINGS = ("triangle", "hard")
POOLINGS = {"quadrants": 4, "global": 1}  # name -> pooling regions
_CHUNK_BYTES = 16 << 20  # working set per thread


def regions(rows: int, cols: int, pooling: str) -> np.ndarray:
    """Pooling region of each patch position: (rows, cols) int64 in [0, POOLINGS[pooling])."""
    if pooling == "global":
        return np.zeros((rows, cols), np.int64)
    down = (np.arange(rows) >= (rows + 1) // 2).astype(np.int64)
    across = (np.arange(cols) >= (cols + 1) // 2).astype(np.int64)
    return 2 * down[:, None] + across[None, :]


def encode(
    images: np.ndarray,
    state: dict,
    patch: int,
    stride: int,
    whiten: bool,
    encoding: str,
    pooling: str,
    power: float,
    dtype,
) -> np.ndarray:
    """(n_images, height, width, 3) uint8 -> (n_images, regions * words) of ``dtype``, computed
    in ``dtype``; features in (region, word) order."""
    dtype = np.dtype(dtype)
    n_images, height, width = images.shape[:3]
    rows, cols = patches.grid(height, width, patch, stride)
    words = len(state["vocabulary"])
    out = np.zeros((n_images, POOLINGS[pooling], words), dtype)
    model = _Model(state, whiten, dtype)
    region = regions(rows, cols, pooling)
    row_bytes = dtype.itemsize * (2 * model.n_values + 2 + words)
    band = max(1, min(rows, _CHUNK_BYTES // (row_bytes * cols)))  # patch rows per image and pass
    per_chunk = max(1, _CHUNK_BYTES // (row_bytes * rows * cols)) if band == rows else 1
    windows = patches.view(images, patch, stride)
    code = _triangle if encoding == "triangle" else _hard

    def work(start, scratch):
        stop = min(start + per_chunk, n_images)
        for top in range(0, rows, band):
            squared = model.distances(windows[start:stop, top : top + band], scratch)
            code(squared, region[top : top + band], out[start:stop])

    workers.run(range(0, n_images, per_chunk), work)
    if power != 1:
        np.power(out, dtype.type(power), out=out)
    return out.reshape(n_images, POOLINGS[pooling] * words)


class _Model:
    """The fitted state as the operands of the products, in the compute dtype."""

    def __init__(self, state: dict, whiten: bool, dtype: np.dtype):
        vocabulary = state["vocabulary"].astype(np.float64)
        self.n_values = vocabulary.shape[1]
        self.dtype = dtype
        self.whiten = whiten
        matrix = state["whiten_matrix"].astype(np.float64)
        self.matrix = matrix.astype(dtype)
        # (x - mean) @ W as x @ W - mean @ W: one product, and no centred copy of the patches.
        self.shift = (state["whiten_mean"].astype(np.float64) @ matrix).astype(dtype)
        squared = np.einsum("ij,ij->i", vocabulary, vocabulary)
        self.words = np.vstack([-2 * vocabulary.T, np.ones((1, len(vocabulary))), squared[None, :]]).astype(dtype)

    def distances(self, block: np.ndarray, scratch: dict) -> np.ndarray:
        """block (n, rows, cols, patch, patch, 3) uint8 view -> squared distances
        (n, rows, cols, words) in a scratch buffer."""
        shape = block.shape[:3]
        count, size = int(np.prod(shape)), self.n_values
        raw = _buffer(scratch, "raw", (count, size), self.dtype)
        np.copyto(raw.reshape(block.shape), block)  # the only copy of the pixels, cast on the way
        normalized = patches.normalize(raw)
        augmented = _buffer(scratch, "augmented", (count, size + 2), self.dtype)
        whitened = augmented[:, :size]
        if self.whiten:
            np.matmul(normalized, self.matrix, out=whitened)
            whitened -= self.shift
        else:
            whitened[...] = normalized
        augmented[:, size] = np.einsum("ij,ij->i", whitened, whitened)
        augmented[:, size + 1] = 1
        squared = _buffer(scratch, "squared", (count, self.words.shape[1]), self.dtype)
        np.matmul(augmented, self.words, out=squared)
        return squared.reshape(*shape, -1)


def _buffer(scratch: dict, name: str, shape: tuple, dtype) -> np.ndarray:
    """A (shape) view of the thread's reusable buffer ``name``, grown when too small."""
    size = int(np.prod(shape))
    buffer = scratch.get(name)
    if buffer is None or buffer.size < size or buffer.dtype != dtype:
        buffer = scratch[name] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)


def _triangle(squared: np.ndarray, region: np.ndarray, out: np.ndarray) -> None:
    """squared (n, rows, cols, words) distances, overwritten; adds pooled codes into out (n, regions, words)."""
    flat = squared.reshape(-1, squared.shape[-1])
    # Rounding can leave a patch that sits on a word at a tiny negative squared distance.
    distances = np.sqrt(np.maximum(flat, 0, out=flat), out=flat)
    mean = distances.sum(axis=1, keepdims=True) / distances.shape[1]
    codes = np.maximum(np.subtract(mean, distances, out=distances), 0, out=distances)
    _pool(codes.reshape(squared.shape), region, out)


def _pool(codes: np.ndarray, region: np.ndarray, out: np.ndarray) -> None:
    """codes (n, rows, cols, words), region (rows, cols) -> sums added into out (n, regions, words)."""
    for index in range(out.shape[1]):
        mask_rows = np.flatnonzero((region == index).any(axis=1))
        mask_cols = np.flatnonzero((region == index).any(axis=0))
        if len(mask_rows) and len(mask_cols):
            # Regions are rectangles: a slice sum reads the block once, unlike a mask.
            part = codes[:, mask_rows[0] : mask_rows[-1] + 1, mask_cols[0] : mask_cols[-1] + 1]
            out[:, index] += part.sum(axis=(1, 2))


def _hard(squared: np.ndarray, region: np.ndarray, out: np.ndarray) -> None:
    """One-hot nearest word, pooled: adds counts into out (n, regions, words)."""
    n, words = squared.shape[0], squared.shape[-1]
    nearest = squared.reshape(n, -1, words).argmin(axis=2)  # (n, positions)
    regions_of = np.broadcast_to(region.reshape(1, -1), nearest.shape)
    slots = (np.arange(n)[:, None] * out.shape[1] + regions_of) * words + nearest
    counts = np.bincount(slots.ravel(), minlength=out.size)
    out += counts.reshape(out.shape).astype(out.dtype)

"""k-means (Lloyd's algorithm) on BLAS: greedy k-means++ seeding, float32 products, chunked on threads.

Squared distances are ``|x|^2 - 2 x.c + |c|^2``; the last two terms come out of one matrix product
of ``[x, 1]`` with ``[-2 C^T; |c|^2]`` (the nearest word does not depend on ``|x|^2``). Every random
draw comes from the caller's generator, and chunks have fixed sizes whatever the thread count, so
the same generator state gives the same vocabulary bytes.
"""

from __future__ import annotations

import numpy as np

from . import workers

ITERATIONS = 30  # Lloyd iterations at most
TOL = 1e-4  # stop when an iteration lowers the inertia by less than this fraction
INIT_PER_WORD = 10  # k-means++ seeds from a random subsample of this many points per word
_CHUNK_BYTES = 16 << 20  # distance block per thread: stays in the core's cache


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = ITERATIONS, tol: float = TOL
) -> tuple[np.ndarray, dict]:
    """points (n_points, n_values) float32 -> (centers (k, n_values) float32, info).

    ``info``: ``iterations`` run and ``inertia`` (sum of squared distances to the nearest
    center) of the last assignment. Empty clusters take the points farthest from their centers.
    """
    if len(points) < k:
        raise ValueError(
            f"k-means needs at least {k} points for {k} words; got {len(points)}: "
            "sample more patches or use fewer words"
        )
    points = np.ascontiguousarray(points, dtype=np.float32)
    centers = _seed(points, k, rng)
    augmented = np.hstack([points, np.ones((len(points), 1), np.float32)])
    squared_norms = np.einsum("ij,ij->i", points, points)
    columns = np.ascontiguousarray(points.T)  # one value of every point per row, for update
    previous = np.inf
    for iteration in range(1, iterations + 1):  # noqa: B007  (read after the loop: how many ran)
        labels, distances = assign(augmented, squared_norms, centers)
        inertia = float(distances.sum(dtype=np.float64))
        if previous - inertia <= tol * inertia:
            break
        previous = inertia
        centers = update(points, columns, labels, distances, k)
    return centers, {"iterations": iteration, "inertia": inertia}


class _TooFewDistinct(ValueError):
    """Every point left coincides with a center already chosen."""


def _seed(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ centers (k, n_values) from a random subsample of ``INIT_PER_WORD * k`` points; if
    that holds fewer than k distinct points, from the distinct points of all of them, and
    ValueError if even those are fewer than k (k words would repeat each other)."""
    subsample = rng.choice(len(points), size=min(len(points), INIT_PER_WORD * k), replace=False)
    with workers.single_threaded_blas():
        try:
            return kmeans_plus_plus(points[np.sort(subsample)], k, rng)
        except _TooFewDistinct:
            distinct = np.unique(points, axis=0)
            try:
                return kmeans_plus_plus(distinct, k, rng)
            except _TooFewDistinct:
                raise ValueError(
                    f"k-means needs {k} distinct points for {k} words; the {len(points)} "
                    f"points hold {len(distinct)} distinct ones (some may be nearly equal): "
                    "use fewer words"
                ) from None


def kmeans_plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (Arthur & Vassilvitskii 2007; scikit-learn's variant): each new center is
    the best of ``2 + log(k)`` candidates drawn with probability proportional to the squared
    distance to the nearest center so far. points (n_points, n_values) -> (k, n_values) float32."""
    trials = 2 + int(np.log(k))
    squared_norms = np.einsum("ij,ij->i", points, points)
    # Candidate rows [-2c, 1, |c|^2] times columns [x; |x|^2; 1] give |x - c|^2 in one product;
    # the columns are stored contiguous, as a transposed view makes this product several times slower.
    ones = np.ones((len(points), 1), np.float32)
    columns = np.ascontiguousarray(np.hstack([points, squared_norms[:, None], ones]).T)
    candidate_rows = np.hstack([-2 * points, ones, squared_norms[:, None]])
    floor = 1e-6 * float(squared_norms.sum(dtype=np.float64))
    chosen = [int(rng.integers(len(points)))]
    closest = np.maximum(candidate_rows[chosen] @ columns, 0)[0]
    for _ in range(1, k):
        cumulative = np.cumsum(closest, dtype=np.float64)
        if not cumulative[-1] > floor:  # float32 rounding leaves coinciding points about 1e-6 apart
            raise _TooFewDistinct(f"only {len(chosen)} distinct points for {k} centers")
        candidates = np.searchsorted(cumulative, rng.random(trials) * cumulative[-1], side="right")
        candidates = np.minimum(candidates, len(points) - 1)
        trial = np.minimum(candidate_rows[candidates] @ columns, closest)
        best = int(np.argmin(trial.sum(axis=1, dtype=np.float64)))
        chosen.append(int(candidates[best]))
        closest = np.maximum(trial[best], 0)  # rounding leaves the candidate itself at about -1e-6
    return points[chosen].copy()


def assign(augmented: np.ndarray, squared_norms: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest center of each point. augmented (n_points, n_values + 1) = [points, 1],
    squared_norms (n_points,), centers (k, n_values) -> (labels (n_points,) int64,
    squared distances (n_points,) float32)."""
    words = np.vstack([-2 * centers.T, np.einsum("ij,ij->i", centers, centers)[None, :]])
    words = words.astype(np.float32)
    n_points, k = len(augmented), len(centers)
    labels = np.empty(n_points, np.int64)
    distances = np.empty(n_points, np.float32)
    rows = max(1, _CHUNK_BYTES // (4 * k))

    def work(start, scratch):
        stop = min(start + rows, n_points)
        block = scratch.get("block")
        if block is None:
            block = scratch["block"] = np.empty((rows, k), np.float32)
        block = np.matmul(augmented[start:stop], words, out=block[: stop - start])
        labels[start:stop] = nearest = block.argmin(axis=1)
        partial = np.take_along_axis(block, nearest[:, None], axis=1)[:, 0]
        distances[start:stop] = np.maximum(partial + squared_norms[start:stop], 0)

    workers.run(range(0, n_points, rows), work)
    return labels, distances


def update(points: np.ndarray, columns: np.ndarray, labels: np.ndarray, distances: np.ndarray, k: int) -> np.ndarray:
    """Each center moves to the mean of its points; an empty cluster takes the point farthest
    from its center, farthest first. points (n_points, n_values), columns = points.T contiguous,
    labels and distances (n_points,) -> centers (k, n_values) float32."""
    counts = np.bincount(labels, minlength=k)
    # One weighted bincount per value sums in float64 without sorting or copying the points.
    sums = np.stack([np.bincount(labels, weights=column, minlength=k) for column in columns], axis=1)
    present = np.flatnonzero(counts)
    centers = np.empty((k, points.shape[1]), np.float32)
    centers[present] = sums[present] / counts[present, None]
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        farthest = np.argsort(-distances, kind="stable")[: len(empty)]
        centers[empty] = points[farthest]
    return centers

"""Bag of visual words: patches, whitening, k-means, the encodings against a per-patch loop,
the length formula, reproducibility and independence from images outside the fit."""

import numpy as np
import pytest

from mlpcli.features import bow
from mlpcli.features.bow import encoding, kmeans, patches, whitening

SMALL = dict(patch=3, stride=2, words=8, sample_patches=600)


def random_images(n_images, height, width, seed=0):
    """Random uint8 images with a smooth gradient under the noise, so patches differ in contrast."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 120, width)[None, None, :, None]
    noise = rng.integers(0, 136, size=(n_images, height, width, 3))
    return (noise + ramp).astype(np.uint8)


def loop_encode(images, state, patch, stride, encoding, pooling, whiten=True, power=1.0, **_):
    """The definition, one patch at a time in float64: normalize, whiten, distances, code, pool,
    power."""
    mean, matrix = state["whiten_mean"].astype(float), state["whiten_matrix"].astype(float)
    vocabulary = state["vocabulary"].astype(float)
    n_regions = 4 if pooling == "quadrants" else 1
    features = np.zeros((len(images), n_regions, len(vocabulary)))
    height, width = images.shape[1:3]
    rows, cols = (height - patch) // stride + 1, (width - patch) // stride + 1
    for index, image in enumerate(images):
        for row in range(rows):
            for col in range(cols):
                top, left = row * stride, col * stride
                x = image[top : top + patch, left : left + patch].astype(float).ravel()
                x = (x - x.mean()) / np.sqrt(x.var() + 10)
                z = (x - mean) @ matrix if whiten else x
                distances = np.sqrt(((vocabulary - z) ** 2).sum(axis=1))
                if encoding == "triangle":
                    code = np.maximum(0, distances.mean() - distances)
                else:
                    code = np.eye(len(vocabulary))[np.argmin(distances)]
                region = 0
                if pooling == "quadrants":
                    region = 2 * (row >= (rows + 1) // 2) + (col >= (cols + 1) // 2)
                features[index, region] += code
    return (features**power).reshape(len(images), -1)


# k-means


def test_kmeans_finds_the_centers_of_well_separated_clusters():
    rng = np.random.default_rng(0)
    true_centers = rng.normal(scale=20, size=(6, 10))
    labels = rng.integers(6, size=3000)
    points = (true_centers[labels] + rng.normal(scale=0.3, size=(3000, 10))).astype(np.float32)
    found, info = kmeans.kmeans(points, 6, np.random.default_rng(1))
    distances = np.linalg.norm(found[:, None] - true_centers[None], axis=2)
    assert sorted(distances.argmin(axis=1)) == list(range(6))  # one found center per true center
    assert distances.min(axis=1).max() < 0.1
    assert info["inertia"] == pytest.approx(3000 * 10 * 0.3**2, rel=0.1)


def test_kmeans_stops_at_its_iteration_budget_or_when_converged():
    points = np.random.default_rng(0).normal(size=(2000, 4)).astype(np.float32)
    assert kmeans.kmeans(points, 20, np.random.default_rng(0), iterations=2, tol=0)[1]["iterations"] == 2
    converged = kmeans.kmeans(points, 20, np.random.default_rng(0), iterations=500, tol=1e-3)[1]
    assert 2 < converged["iterations"] < 500


def test_an_empty_cluster_takes_the_point_farthest_from_its_center():
    points = np.arange(12, dtype=np.float32).reshape(6, 2)
    labels = np.array([0, 0, 0, 2, 2, 2])  # cluster 1 is empty
    distances = np.array([1, 5, 2, 0, 9, 3], np.float32)
    centers = kmeans.update(points, np.ascontiguousarray(points.T), labels, distances, 3)
    np.testing.assert_allclose(centers[0], points[:3].mean(axis=0))
    np.testing.assert_allclose(centers[2], points[3:].mean(axis=0))
    np.testing.assert_array_equal(centers[1], points[4])


def test_kmeans_plus_plus_picks_distinct_points_of_the_sample():
    points = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)
    centers = kmeans.kmeans_plus_plus(points, 30, np.random.default_rng(2))
    matches = (centers[:, None] == points[None]).all(axis=2)
    assert (matches.sum(axis=1) == 1).all() and len(np.unique(matches.argmax(axis=1))) == 30


def test_assign_agrees_with_plain_distances_whatever_the_thread_count(monkeypatch, set_threads):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(5000, 7)).astype(np.float32)
    centers = rng.normal(size=(40, 7)).astype(np.float32)
    augmented = np.hstack([points, np.ones((5000, 1), np.float32)])
    norms = np.einsum("ij,ij->i", points, points)
    monkeypatch.setattr(kmeans, "_CHUNK_BYTES", 4 * 40 * 300)  # 17 chunks
    expected = ((points[:, None].astype(float) - centers[None]) ** 2).sum(axis=2)
    for count in (1, 2):
        set_threads(count)
        labels, distances = kmeans.assign(augmented, norms, centers)
        np.testing.assert_array_equal(labels, expected.argmin(axis=1))
        np.testing.assert_allclose(distances, expected.min(axis=1), rtol=1e-4, atol=1e-4)


def test_kmeans_refuses_fewer_points_than_words():
    with pytest.raises(ValueError, match="fewer words"):
        kmeans.kmeans(np.zeros((5, 2), np.float32), 6, np.random.default_rng(0))


# patches and whitening


def test_normalized_patches_have_zero_mean_and_shrunk_variance():
    rows = np.random.default_rng(0).uniform(0, 255, size=(50, 27)).astype(np.float64)
    variance = rows.var(axis=1)
    normalized = patches.normalize(rows.copy())
    np.testing.assert_allclose(normalized.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(normalized.var(axis=1), variance / (variance + patches.CONTRAST_EPS))


def test_whitening_gives_an_identity_covariance_on_its_sample():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(4000, 6)) @ rng.normal(size=(6, 6)) + 3
    mean, matrix = whitening.fit(samples, eps=0)
    whitened = whitening.apply(samples, mean, matrix)
    np.testing.assert_allclose(whitened.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(np.cov(whitened.T, bias=True), np.eye(6), atol=1e-8)
    np.testing.assert_allclose(matrix, matrix.T)  # ZCA: symmetric, stays in pixel space


def test_regularized_whitening_shrinks_each_direction_by_lambda_over_lambda_plus_eps():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(3000, 5)) * np.array([0.01, 0.1, 1, 3, 10])
    mean, matrix = whitening.fit(samples, eps=0.1)
    eigenvalues, vectors = np.linalg.eigh(np.cov(samples.T, bias=True))
    expected = (vectors * (eigenvalues / (eigenvalues + 0.1))) @ vectors.T
    np.testing.assert_allclose(np.cov(whitening.apply(samples, mean, matrix).T, bias=True), expected, atol=1e-8)


def test_sampled_patches_are_patches_of_the_images_on_the_stride_grid():
    images = random_images(3, 11, 9)
    grid = patches.view(images, 3, 2).reshape(-1, 27).astype(np.float32)
    sample = patches.sample(images, 200, 3, 2, np.random.default_rng(0))
    assert sample.shape == (200, 27) and sample.dtype == np.float32
    assert (sample[:, None] == grid[None]).all(axis=2).any(axis=1).all()
    assert len(np.unique(sample, axis=0)) > 30


# encoding


@pytest.mark.parametrize("code", encoding.ENCODINGS)
@pytest.mark.parametrize("pooling", list(encoding.POOLINGS))
@pytest.mark.parametrize("whiten", [True, False])
def test_encodings_equal_a_per_patch_loop(code, pooling, whiten):
    params = dict(SMALL, encoding=code, pooling=pooling, whiten=whiten)
    images = random_images(4, 11, 14, seed=3)
    state = bow.fit(random_images(20, 11, 14, seed=4), params, np.random.default_rng(0))
    expected = loop_encode(images, state, **params)
    np.testing.assert_allclose(bow.encode(images, state, params, dtype="float64"), expected, rtol=1e-9, atol=1e-9)
    single = bow.encode(images, state, params, dtype="float32")
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("code", encoding.ENCODINGS)
def test_power_raises_each_pooled_code(code):
    """Power normalization applies to the sums, not to each patch's code: the square root of the
    plain features, as the per-patch loop defines it, in both precisions."""
    params = dict(SMALL, encoding=code, pooling="quadrants")
    images = random_images(4, 11, 14, seed=3)
    state = bow.fit(random_images(20, 11, 14, seed=4), params, np.random.default_rng(0))
    plain = bow.encode(images, state, params, dtype="float64")
    rooted = bow.encode(images, state, dict(params, power=0.5), dtype="float64")
    np.testing.assert_allclose(rooted, np.sqrt(plain), rtol=1e-12, atol=0)
    np.testing.assert_allclose(rooted, loop_encode(images, state, **params, power=0.5), rtol=1e-9, atol=1e-9)
    single = bow.encode(images, state, dict(params, power=0.5), dtype="float32")
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, rooted, rtol=1e-4, atol=1e-3)
    assert (plain > 1).any()  # so the square root changed something


def test_chunks_bands_and_threads_do_not_change_the_features(monkeypatch, set_threads):
    params = dict(SMALL, stride=1)
    images = random_images(7, 12, 10, seed=5)
    state = bow.fit(images, params, np.random.default_rng(0))
    whole = bow.encode(images, state, params, dtype="float64")
    for chunk_bytes, count in ((1, 1), (1, 2), (8 * 40 * 8 * 3, 2), (8 * 40 * 200, 2)):
        monkeypatch.setattr(encoding, "_CHUNK_BYTES", chunk_bytes)  # 1 byte: one patch row per band
        set_threads(count)
        np.testing.assert_allclose(bow.encode(images, state, params, dtype="float64"), whole, rtol=1e-12, atol=1e-12)


def test_hard_codes_count_the_patches_of_each_quadrant():
    params = dict(SMALL, encoding="hard", stride=1)
    images = random_images(2, 9, 12)
    state = bow.fit(images, params, np.random.default_rng(0))
    counts = bow.encode(images, state, params).reshape(2, 4, -1).sum(axis=2)
    rows, cols = 7, 10  # 9 - 3 + 1, 12 - 3 + 1; the odd middle row goes to the top quadrants
    np.testing.assert_array_equal(counts, [[4 * 5, 4 * 5, 3 * 5, 3 * 5]] * 2)
    assert rows * cols == counts[0].sum()


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (17, 12), (7, 30)])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("pooling", list(encoding.POOLINGS))
def test_feature_length_follows_the_formula(size, stride, pooling):
    params = dict(SMALL, stride=stride, pooling=pooling, words=5)
    state = bow.fit(random_images(3, *size), params, np.random.default_rng(0))
    features = bow.encode(random_images(2, *size, seed=1), state, params)
    assert features.shape == (2, bow.n_features(*size, **params))
    assert bow.n_features(*size, **params) == (4 if pooling == "quadrants" else 1) * 5


def test_quadrants_need_two_patch_positions_each_way():
    with pytest.raises(ValueError, match="pooling global"):
        bow.n_features(6, 20, patch=6)
    assert bow.n_features(6, 20, patch=6, pooling="global", words=7) == 7
    with pytest.raises(ValueError, match="smaller features patch"):
        bow.n_features(5, 20, patch=6, pooling="global")


# the fitted state


def test_same_seed_gives_the_same_vocabulary_bytes_and_another_seed_another():
    images = random_images(10, 16, 16)
    first = bow.fit(images, SMALL, np.random.default_rng(7))
    again = bow.fit(images, SMALL, np.random.default_rng(7))
    other = bow.fit(images, SMALL, np.random.default_rng(8))
    for key in bow.STATE_KEYS:
        assert first[key].tobytes() == again[key].tobytes()
        assert first[key].dtype == np.float32
    assert first["vocabulary"].tobytes() != other["vocabulary"].tobytes()


def test_images_outside_the_fit_do_not_change_the_vocabulary():
    """The pipeline's fit (``cached_fit``) is given a whole data set and the rows to learn from:
    replacing every other image leaves the state's bytes alone, and replacing training images
    changes them (so the comparison can tell). Fails if the fit reads ``dataset.images`` instead
    of ``dataset.images[rows]``; the old version of this test fitted ``dataset[train]`` itself
    and could not fail."""
    from mlpcli.data import Dataset
    from mlpcli.features import validate_feature
    from mlpcli.features.pipeline import cached_fit

    features = (validate_feature({"name": "bow", **SMALL}, "features[0]"),)
    images, labels = random_images(30, 16, 16), np.arange(30) % 3
    train = np.sort(np.random.default_rng(0).permutation(30)[:20])
    held_out = np.setdiff1d(np.arange(30), train)

    def fitted(replaced_rows):
        changed = images.copy()
        changed[replaced_rows] = random_images(len(replaced_rows), 16, 16, seed=99)
        state = cached_fit(Dataset(changed, labels, ("a", "b", "c")), train, features, 3, None)[0]
        return [state[key].tobytes() for key in bow.STATE_KEYS]

    reference = fitted(np.empty(0, np.int64))
    assert fitted(held_out) == reference
    assert fitted(train[:5]) != reference
    state = bow.fit(images[train], SMALL, np.random.default_rng(3))
    bow.encode(images[held_out], state, SMALL)  # encoding never alters the state
    assert [state[key].tobytes() for key in bow.STATE_KEYS] == [
        bow.fit(images[train], SMALL, np.random.default_rng(3))[key].tobytes() for key in bow.STATE_KEYS
    ]


def test_a_state_of_the_wrong_shape_is_refused():
    state = bow.fit(random_images(5, 12, 12), SMALL, np.random.default_rng(0))
    bow.check_state(state, SMALL)
    tampered = dict(state, vocabulary=state["vocabulary"][:-1])
    with pytest.raises(ValueError, match="vocabulary must be"):
        bow.encode(random_images(1, 12, 12), tampered, SMALL)
    with pytest.raises(ValueError, match="exactly"):
        bow.check_state({k: v for k, v in state.items() if k != "whiten_mean"}, SMALL)
    broken = dict(state, whiten_matrix=np.full_like(state["whiten_matrix"], np.nan))
    with pytest.raises(ValueError, match="non-finite"):
        bow.check_state(broken, SMALL)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"words": 0}, "bow words: must be an integer"),
        ({"patch": True}, "bow patch: must be an integer"),
        ({"encoding": "soft"}, "encoding: must be one of"),
        ({"pooling": "max"}, "pooling: must be one of"),
        ({"whiten": "yes"}, "whiten: must be true or false"),
        ({"kmeans_tol": 1.5}, "kmeans_tol"),
        ({"power": 0}, "bow power: must be a number > 0 and <= 1"),
        ({"power": 2}, "bow power: must be a number > 0 and <= 1"),
        ({"size": 3}, "no parameter 'size'"),
    ],
)
def test_wrong_parameters_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        bow.check_params(change)


def test_defaults_are_the_papers_configuration():
    params = bow.check_params({})
    assert {key: params[key] for key in ("patch", "stride", "words", "whiten", "encoding", "pooling")} == dict(
        patch=6, stride=1, words=1600, whiten=True, encoding="triangle", pooling="quadrants"
    )
    assert bow.n_features(32, 32) == 6400


def test_no_training_images_is_an_error_and_no_images_encode_to_no_rows():
    with pytest.raises(ValueError, match="at least one training image"):
        bow.fit(np.zeros((0, 12, 12, 3), np.uint8), SMALL, np.random.default_rng(0))
    state = bow.fit(random_images(3, 12, 12), SMALL, np.random.default_rng(0))
    assert bow.encode(np.zeros((0, 12, 12, 3), np.uint8), state, SMALL).shape == (0, 32)

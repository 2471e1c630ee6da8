import numpy as np
import pytest

from mlpcli.data.split import stratified_split
from mlpcli.data.synthetic import SHAPES, make_synthetic


def test_synthetic_is_seeded_and_labelled():
    a = make_synthetic(5, (16, 20), seed=1)
    b = make_synthetic(5, (16, 20), seed=1)
    c = make_synthetic(5, (16, 20), seed=2)
    assert a.images.shape == (20, 16, 20, 3) and a.images.dtype == np.uint8
    assert len(SHAPES) >= 4 and a.class_names == SHAPES
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert np.bincount(a.labels).tolist() == [5] * len(SHAPES)


def test_shapes_are_brighter_than_background():
    dataset = make_synthetic(10, (32, 32), seed=0)
    brightest = dataset.images.max(axis=(1, 2, 3))
    assert (brightest >= 140).all()


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_split_is_stratified_disjoint_and_complete(fraction):
    labels = np.repeat(np.arange(4), [40, 20, 12, 8])
    train, val = stratified_split(labels, fraction, np.random.default_rng(0))
    assert np.intersect1d(train, val).size == 0
    assert np.union1d(train, val).tolist() == list(range(len(labels)))
    for label, count in enumerate([40, 20, 12, 8]):
        assert np.sum(labels[val] == label) == max(1, round(fraction * count))


def test_split_is_deterministic_per_seed():
    labels = np.repeat(np.arange(3), 10)
    first = stratified_split(labels, 0.3, np.random.default_rng(5))
    second = stratified_split(labels, 0.3, np.random.default_rng(5))
    other = stratified_split(labels, 0.3, np.random.default_rng(6))
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    assert not np.array_equal(first[1], other[1])

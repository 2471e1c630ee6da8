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


def test_fewer_than_two_classes_is_a_data_error():
    from mlpcli.data.split import require_two_classes
    from mlpcli.errors import DataError

    require_two_classes(np.array([0, 1, 1]), ("a", "b"), "x")
    with pytest.raises(DataError, match="only the class 'b'; a classifier needs at least two classes"):
        require_two_classes(np.array([1, 1, 1]), ("a", "b"), "data/x")


def test_balance_warnings_name_rare_validation_classes_and_imbalance():
    from mlpcli.data.split import balance_warnings

    labels = np.array([0] * 100 + [1] * 9 + [2] * 50)
    rows = np.arange(len(labels))
    val = np.array([0, 1, 2, 3, 4, 100, 101, 109, 110, 111, 112, 113])
    warnings = balance_warnings(labels, rows, val, ("cat", "dog", "frog"))
    assert len(warnings) == 2
    assert "'cat' has 100 images, 'dog' 9" in warnings[0]
    assert "train.class_weight: balanced" in warnings[0] and "train.sampler: balanced" in warnings[0]
    assert "fewer than 5 images of dog (2)" in warnings[1] and "cat" not in warnings[1]
    assert (
        balance_warnings(
            np.repeat([0, 1], 10), np.arange(20), np.array([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]), ("a", "b")
        )
        == []
    )

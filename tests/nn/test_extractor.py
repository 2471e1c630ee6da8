"""The end-to-end extractor: whole-network gradcheck, freezing, gradient init, spec round-trip."""

import numpy as np
import pytest

from mlpcli.nn import (
    EXTRACTOR_INITS,
    SGD,
    BatchNorm,
    Conv2D,
    Flatten,
    ImageReshape,
    MaxPool2D,
    ReLU,
    Sequential,
    build_extractor,
    mlp_layers,
    network_from_spec,
    softmax_cross_entropy,
)
from mlpcli.nn.extractor import N_ORIENTATIONS, gradient_filters
from mlpcli.nn.gradcheck import check_network

TINY_BLOCKS = [{"filters": 3, "kernel": 3, "pool": 2}, {"filters": 2, "kernel": 2, "pool": 1, "padding": 0}]


def end_to_end(blocks, image_shape, init="gradient", trainable=True, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    layers, n_features = build_extractor(blocks, image_shape, init, trainable, rng, dtype)
    return Sequential(layers + mlp_layers(n_features, 3, [4], rng=rng, dtype=dtype)), n_features


def test_layers_and_n_features():
    layers, n_features = build_extractor(
        [{"filters": 32, "kernel": 3, "pool": 2}, {"filters": 64, "kernel": 3, "pool": 2}], (32, 32, 3)
    )
    assert [type(layer) for layer in layers] == [
        ImageReshape,
        Conv2D,
        MaxPool2D,
        ReLU,
        Conv2D,
        MaxPool2D,
        ReLU,
        Flatten,
    ]
    assert n_features == 8 * 8 * 64
    assert layers[1].padding == 1 and layers[3].inplace
    out = Sequential(layers).forward(np.zeros((2, 32 * 32 * 3), np.float32), training=False)
    assert out.shape == (2, n_features) and out.dtype == np.float32


def test_n_features_for_non_square_images_and_strides():
    blocks = [{"filters": 4, "kernel": 3, "pool": 2, "stride": 2, "padding": 0}]
    layers, n_features = build_extractor(blocks, (11, 8, 1), init="random")
    # conv: (11 - 3) // 2 + 1 = 5 rows, (8 - 3) // 2 + 1 = 3 cols; pool (floor): 2 x 1
    assert n_features == 2 * 1 * 4
    assert Sequential(layers).forward(np.zeros((1, 88))).shape == (1, n_features)


def test_whole_network_gradcheck_with_weight_decay():
    network, _ = end_to_end(TINY_BLOCKS, (6, 5, 3))
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((4, 6 * 5 * 3)), rng.integers(0, 3, 4)
    errors = check_network(network, x, labels, softmax_cross_entropy, SGD(weight_decay=0.1))
    assert {"1.W", "1.b", "4.W", "4.b"} <= set(errors)
    assert max(errors.values()) < 1e-7, errors


def test_norm_after_pool_normalizes_the_pooled_maps():
    """Conv2D -> MaxPool2D -> BatchNorm -> ReLU: the statistics are those of the pooled maps, so
    the pooled values are standardized per channel. With the norm before the pool (the default)
    the maxima of standardized values would have a positive mean."""
    blocks = [{"filters": 5, "kernel": 3, "pool": 2}]
    layers, _ = build_extractor(
        blocks, (8, 6, 3), rng=np.random.default_rng(6), dtype="float64", batchnorm=True, norm_after_pool=True
    )
    assert [type(layer) for layer in layers] == [ImageReshape, Conv2D, MaxPool2D, BatchNorm, ReLU, Flatten]
    assert not layers[1].bias and layers[3].n_features == 5
    x = np.random.default_rng(7).standard_normal((6, 8 * 6 * 3))
    pooled = Sequential(layers[:4]).forward(x)
    assert pooled.shape == (6, 4, 3, 5)
    np.testing.assert_allclose(pooled.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(pooled.var(axis=(0, 1, 2)), 1, rtol=1e-4)  # eps = 1e-5 in the variance


@pytest.mark.parametrize("norm_after_pool", [False, True], ids=["norm-then-pool", "pool-then-norm"])
def test_whole_network_gradcheck_with_batchnorm(norm_after_pool):
    rng = np.random.default_rng(8)
    layers, n_features = build_extractor(
        TINY_BLOCKS, (6, 5, 3), rng=rng, dtype="float64", batchnorm=True, norm_after_pool=norm_after_pool
    )
    network = Sequential(layers + mlp_layers(n_features, 3, [4], rng=rng, dtype="float64"))
    # Biases start at 0, so an image whose 4 features the ReLU all zeroes would sit on the kink
    # of every hidden unit (no derivative there): random biases move it off.
    for layer in network.layers[len(layers) :]:
        if "b" in layer.params:
            layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    x, labels = rng.standard_normal((5, 6 * 5 * 3)), rng.integers(0, 3, 5)
    errors = check_network(network, x, labels, softmax_cross_entropy, SGD(weight_decay=0.1))
    norms = [str(i) for i, layer in enumerate(layers) if isinstance(layer, BatchNorm)]
    assert {f"{i}.{name}" for i in norms for name in ("gamma", "beta")} <= set(errors)
    assert max(errors.values()) < 1e-7, errors


def test_frozen_extractor_learns_nothing_while_the_mlp_learns():
    network, _ = end_to_end(TINY_BLOCKS, (6, 5, 3), trainable=False, dtype="float32")
    before = {path: value.copy() for path, value in network.state_dict().items()}
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((5, 90), dtype=np.float32), rng.integers(0, 3, 5)
    _, dscores = softmax_cross_entropy(network.forward(x), labels)
    network.backward(dscores)
    SGD(momentum=0.9).step(network, lr=0.5)
    n_extractor = 8
    for path, value in network.state_dict().items():
        changed = not np.array_equal(value, before[path])
        assert changed == (int(path.split(".")[0]) >= n_extractor), path


def test_gradient_init_filters_respond_to_edges_of_their_orientation():
    layers, _ = build_extractor([{"filters": 20, "kernel": 3, "pool": 2}], (8, 8, 3), rng=np.random.default_rng(3))
    conv = layers[1]
    vertical = np.zeros((8, 8, 3))
    vertical[:, 4:] = 1.0  # brightness rises along cols: a vertical edge
    horizontal = vertical.transpose(1, 0, 2)
    responses = conv.forward(np.stack([vertical, horizontal]))[:, 1:-1, 1:-1]  # inside, away from padding
    across = 2 * (N_ORIENTATIONS // 2)  # filter of the 90-degree orientation, the derivative along rows
    strongest = np.abs(responses).max(axis=(1, 2))  # (edge image, filter)
    assert strongest[0, 0] > 0.5 and strongest[0, across] < 1e-6  # vertical edge
    assert strongest[1, across] > 0.5 and strongest[1, 0] < 1e-6  # horizontal edge
    assert responses[0, ..., 1].max() <= 0  # the negative twin only sees the opposite polarity
    positive_twins = responses[0].max(axis=(0, 1))[: 2 * N_ORIENTATIONS : 2]
    assert int(np.argmax(positive_twins)) == 0  # of all orientations, 0 degrees fits best


def test_gradient_filters_shape_norm_and_luminance():
    filters = gradient_filters(3, 3, N_ORIENTATIONS, "float64")
    assert filters.shape == (3, 3, 3, 2 * N_ORIENTATIONS)
    np.testing.assert_allclose(np.linalg.norm(filters.reshape(-1, 2 * N_ORIENTATIONS), axis=0), np.sqrt(2))
    np.testing.assert_allclose(filters[..., 1], -filters[..., 0])
    ratio = filters[1, 2, :, 0] / filters[1, 2, 0, 0]
    np.testing.assert_allclose(ratio, np.array([0.299, 0.587, 0.114]) / 0.299)


def test_random_and_gradient_inits_share_the_extra_filters():
    blocks = [{"filters": 20, "kernel": 3, "pool": 2}, {"filters": 4, "kernel": 3, "pool": 2}]
    gradient, _ = build_extractor(blocks, (8, 8, 3), "gradient", rng=np.random.default_rng(4))
    random, _ = build_extractor(blocks, (8, 8, 3), "random", rng=np.random.default_rng(4))
    oriented = 2 * N_ORIENTATIONS
    np.testing.assert_array_equal(gradient[1].params["W"][..., oriented:], random[1].params["W"][..., oriented:])
    assert not np.allclose(gradient[1].params["W"][..., :oriented], random[1].params["W"][..., :oriented])
    np.testing.assert_array_equal(gradient[4].params["W"], random[4].params["W"])
    assert gradient[1].params["W"].dtype == np.float32
    assert set(EXTRACTOR_INITS) == {"gradient", "random"}


def test_spec_round_trip_gives_identical_outputs():
    network, _ = end_to_end(TINY_BLOCKS, (6, 5, 3), dtype="float32")
    rebuilt = network_from_spec(network.spec())
    rebuilt.load_state_dict(network.state_dict())
    x = np.random.default_rng(5).standard_normal((3, 90), dtype=np.float32)
    np.testing.assert_array_equal(rebuilt.forward(x, training=False), network.forward(x, training=False))
    assert rebuilt.spec() == network.spec()


def test_too_small_image_names_the_block():
    blocks = [{"filters": 2, "kernel": 3, "pool": 2}] * 3
    with pytest.raises(ValueError, match=r"extractor block 3 .*1x1.*smaller than its kernel"):
        build_extractor(blocks[:2] + [{"filters": 2, "kernel": 3, "pool": 1, "padding": 0}], (6, 5, 3))
    with pytest.raises(ValueError, match=r"extractor block 3 .*smaller than its pool 2"):
        build_extractor(blocks, (6, 5, 3))


def test_bad_blocks_and_init_are_rejected():
    with pytest.raises(ValueError, match=r"extractor block 1 .*missing keys \['pool'\].*unknown keys \['size'\]"):
        build_extractor([{"filters": 2, "kernel": 3, "size": 2}], (6, 6, 3))
    with pytest.raises(ValueError, match="gradient, random"):
        build_extractor([], (6, 6, 3), init="sobel")


def test_pool_then_relu_equals_relu_then_pool_forward_and_backward():
    """The blocks run the ReLU after the pool; that must compute the lecture's conv -> ReLU -> pool."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 8, 6, 4))
    dout = rng.standard_normal((3, 4, 3, 4))
    relu_first = Sequential([ReLU(), MaxPool2D(2)])
    pool_first = Sequential([MaxPool2D(2), ReLU()])
    for network in (relu_first, pool_first):
        for layer in network.layers:
            layer.needs_input_grad = True
    np.testing.assert_array_equal(relu_first.forward(x.copy()), pool_first.forward(x.copy()))
    dx = [net.layers[0].backward(net.layers[1].backward(dout.copy())) for net in (relu_first, pool_first)]
    np.testing.assert_array_equal(dx[0], dx[1])

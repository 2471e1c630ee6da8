"""Conv2D, MaxPool2D, Flatten and ImageReshape: gradchecks, a naive reference, shapes, dtypes."""

import numpy as np
import pytest

from mlpcli.nn import LAYERS, Conv2D, Flatten, ImageReshape, MaxPool2D
from mlpcli.nn.gradcheck import check_layer
from mlpcli.nn.reference import conv2d_forward

TOLERANCE = 1e-7


def random_conv(in_channels, filters, kernel, stride=1, padding=0, bias=True, rng=None, dtype="float64"):
    layer = Conv2D(in_channels, filters, kernel, stride, padding, bias=bias, dtype=dtype)
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape)
    return layer


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_gradcheck(stride, padding, bias):
    rng = np.random.default_rng(0)
    layer = random_conv(2, 3, 3, stride, padding, bias, rng)
    errors = check_layer(layer, rng.standard_normal((2, 7, 5, 2)), rng)  # non-square on purpose
    assert set(errors) == ({"x", "W", "b"} if bias else {"x", "W"})
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("kernel, stride, padding", [(1, 1, 0), (2, 1, 1), (4, 3, 2), (2, 1, 3)])
def test_conv_gradcheck_other_geometries(kernel, stride, padding):
    # Covers both ways dx is computed: transposed convolution (stride 1, padding < kernel)
    # and col2im (the rest), and padding wider than the kernel.
    rng = np.random.default_rng(1)
    layer = random_conv(2, 2, kernel, stride, padding, True, rng)
    errors = check_layer(layer, rng.standard_normal((2, 6, 5, 2)), rng)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1), (3, 2)])
def test_conv_forward_equals_naive_loops(stride, padding):
    rng = np.random.default_rng(2)
    layer = random_conv(3, 4, 3, stride, padding, True, rng)
    x = rng.standard_normal((2, 6, 7, 3))
    expected = conv2d_forward(x, layer.params["W"], layer.params["b"], stride, padding)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "height, width, kernel, stride, padding", [(7, 5, 3, 1, 0), (7, 5, 3, 2, 1), (8, 9, 2, 3, 0), (5, 5, 5, 1, 2)]
)
def test_conv_output_shape_formula(height, width, kernel, stride, padding):
    layer = Conv2D(2, 4, kernel, stride, padding)
    out = layer.forward(np.zeros((3, height, width, 2), np.float32))
    expected = ((height + 2 * padding - kernel) // stride + 1, (width + 2 * padding - kernel) // stride + 1)
    assert out.shape == (3, *expected, 4)
    assert layer.output_size(height, width) == expected


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_keeps_dtype_end_to_end(dtype):
    rng = np.random.default_rng(3)
    layer = random_conv(3, 4, 3, 1, 1, True, rng, dtype)
    x = rng.standard_normal((2, 5, 6, 3)).astype(dtype)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.dtype(dtype)
    assert all(grad.dtype == np.dtype(dtype) for grad in layer.grads.values())


def test_conv_backward_overwrites_grads_and_outputs_are_fresh():
    rng = np.random.default_rng(4)
    layer = random_conv(2, 3, 3, 1, 1, True, rng)
    x1, x2 = rng.standard_normal((2, 2, 5, 4, 2))
    out1 = layer.forward(x1)
    kept = out1.copy()
    layer.backward(np.ones_like(out1))
    first = {name: grad.copy() for name, grad in layer.grads.items()}
    layer.forward(x2)
    np.testing.assert_array_equal(out1, kept)  # scratch reuse never touches a returned array
    layer.forward(x1)
    layer.backward(np.ones_like(out1))
    for name in first:
        np.testing.assert_array_equal(layer.grads[name], first[name])


def test_conv_reuses_scratch_safely_across_batch_sizes_and_modes():
    # Growing, shrinking and evaluation batches, with backward passes in between: the reused
    # im2col memory (and its column of ones for the bias) must never leak into results.
    rng = np.random.default_rng(9)
    layer = random_conv(2, 3, 3, 1, 1, True, rng)
    for n_images, training in [(2, True), (4, True), (1, True), (3, False), (2, True)]:
        x = rng.standard_normal((n_images, 5, 4, 2))
        expected = conv2d_forward(x, layer.params["W"], layer.params["b"], 1, 1)
        out = layer.forward(x, training=training)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
        if training:
            layer.backward(np.ones_like(out))
            np.testing.assert_allclose(layer.grads["b"], np.full(3, out[..., 0].size))


def test_conv_skips_dx_when_not_needed():
    rng = np.random.default_rng(5)
    layer = random_conv(2, 3, 3, 1, 1, True, rng)
    out = layer.forward(rng.standard_normal((2, 4, 4, 2)))
    layer.needs_input_grad = False
    assert layer.backward(np.ones_like(out)) is None
    assert np.any(layer.grads["W"] != 0)


def test_conv_rejects_wrong_channels_and_too_small_images():
    with pytest.raises(ValueError, match="3 input channels"):
        Conv2D(3, 2, 3).forward(np.zeros((1, 5, 5, 1)))
    with pytest.raises(ValueError, match="does not fit"):
        Conv2D(1, 2, 5).forward(np.zeros((1, 4, 6, 1)))


@pytest.mark.parametrize(
    "pool, stride, shape",
    [(2, None, (2, 6, 4, 3)), (2, None, (2, 7, 5, 3)), (3, 1, (1, 5, 6, 2)), (2, 3, (1, 7, 8, 2))],
)
def test_maxpool_gradcheck(pool, stride, shape):
    rng = np.random.default_rng(6)
    # A permutation of distinct values has no ties, so the max is differentiable everywhere;
    # h = 0.1 stays well below the gap of 1 between values.
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64)
    errors = check_layer(MaxPool2D(pool, stride), x, rng, h=0.1)
    assert errors["x"] < TOLERANCE, errors


def test_maxpool_forward_and_floor_mode():
    x = np.arange(2 * 5 * 7 * 3, dtype=np.float64).reshape(2, 5, 7, 3)
    out = MaxPool2D(2).forward(x)
    assert out.shape == (2, 2, 3, 3)  # the last row and col do not fill a window: dropped
    np.testing.assert_array_equal(out, x[:, 1:4:2, 1:6:2, :])


def test_maxpool_ties_send_the_gradient_to_the_first_max_only():
    x = np.array([[3.0, 3.0], [1.0, 3.0]]).reshape(1, 2, 2, 1)
    pool = MaxPool2D(2)
    pool.forward(x)
    dx = pool.backward(np.full((1, 1, 1, 1), 5.0))
    np.testing.assert_array_equal(dx.reshape(2, 2), [[5.0, 0.0], [0.0, 0.0]])
    # A row-major later tie: the first max in row-major order is the second row's first col.
    x = np.array([[0.0, 1.0], [2.0, 2.0]]).reshape(1, 2, 2, 1)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dx.reshape(2, 2), [[0.0, 0.0], [1.0, 0.0]])


def test_maxpool_gradient_sum_is_preserved_even_with_ties():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, (3, 6, 4, 2)).astype(np.float32)  # many ties
    pool = MaxPool2D(2)
    out = pool.forward(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = pool.backward(dout)
    assert dx.dtype == np.float32 and out.dtype == np.float32
    np.testing.assert_allclose(dx.sum(), dout.sum(), rtol=1e-5)
    assert np.count_nonzero(dx) == np.count_nonzero(dout)


def test_maxpool_overlapping_windows_accumulate():
    x = np.array([0.0, 5.0, 1.0, 2.0]).reshape(1, 1, 4, 1)
    pool = MaxPool2D(1, 1)
    assert pool.forward(x).shape == x.shape
    pool = MaxPool2D(3, 1)
    x = np.array([[0.0, 9.0, 1.0, 2.0]] * 3).reshape(1, 3, 4, 1)
    out = pool.forward(x)
    np.testing.assert_array_equal(out.reshape(-1), [9.0, 9.0])
    dx = pool.backward(np.array([1.0, 2.0]).reshape(1, 1, 2, 1))
    assert dx[0, 0, 1, 0] == 3.0 and dx.sum() == 3.0


def test_flatten_and_image_reshape_roundtrip_and_gradcheck():
    rng = np.random.default_rng(8)
    images = rng.standard_normal((2, 3, 4, 2))
    rows = images.reshape(2, -1)
    reshape = ImageReshape(3, 4, 2)
    np.testing.assert_array_equal(reshape.forward(rows), images)  # row, col, channel order
    np.testing.assert_array_equal(Flatten().forward(images), rows)
    assert check_layer(ImageReshape(3, 4, 2), rows, rng)["x"] < TOLERANCE
    assert check_layer(Flatten(), images, rng)["x"] < TOLERANCE
    with pytest.raises(ValueError, match="rows of 24 values"):
        reshape.forward(np.zeros((2, 25)))


@pytest.mark.parametrize(
    "layer", [Conv2D(3, 4, 3, 2, 1, bias=False, dtype="float64"), MaxPool2D(3, 2), Flatten(), ImageReshape(5, 6, 3)]
)
def test_spec_rebuilds_the_layer(layer):
    spec = layer.spec()
    kwargs = {key: value for key, value in spec.items() if key != "type"}
    assert LAYERS[spec["type"]](**kwargs).spec() == spec

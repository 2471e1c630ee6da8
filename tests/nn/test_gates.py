"""The lecture's backprop chapter on scalars: the worked example and each gate's rule."""

import numpy as np
import pytest

from mlpcli.nn.gates import Add, Copy, Max, Mul, Sigmoid


def test_worked_example_x_plus_y_times_z():
    # f(x, y, z) = (x + y) z at x=-2, y=5, z=-4; backward starts from df/df = 1.
    add, mul = Add(), Mul()
    q = add.forward(-2.0, 5.0)
    f = mul.forward(q, -4.0)
    assert (q, f) == (3.0, -12.0)
    df_dq, df_dz = mul.backward(1.0)
    df_dx, df_dy = add.backward(df_dq)
    assert (df_dq, df_dz) == (-4.0, 3.0)
    assert (df_dx, df_dy) == (-4.0, -4.0)


def test_add_distributes_upstream_unchanged():
    add = Add()
    assert add.forward(1.5, -4.0) == -2.5
    assert add.backward(2.5) == (2.5, 2.5)


def test_mul_swaps_inputs():
    mul = Mul()
    assert mul.forward(3.0, -2.0) == -6.0
    # dx = y * upstream, dy = x * upstream
    assert mul.backward(5.0) == (-10.0, 15.0)


def test_copy_sums_upstream_gradients():
    copy = Copy()
    assert copy.forward(7.0) == (7.0, 7.0)
    assert copy.forward(7.0, n_outputs=3) == (7.0, 7.0, 7.0)
    assert copy.backward(2.0, -7.0) == (-5.0,)
    assert copy.backward(1.0, 2.0, 4.0) == (7.0,)


def test_copy_then_mul_gives_derivative_of_square():
    # x * x through a fan-out: d(x^2)/dx = 2x only because copy sums the two branches.
    copy, mul = Copy(), Mul()
    a, b = copy.forward(3.0)
    assert mul.forward(a, b) == 9.0
    (dx,) = copy.backward(*mul.backward(1.0))
    assert dx == 6.0


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (4.0, 1.0, (3.0, 0.0)),  # x wins: x gets it all
        (1.0, 4.0, (0.0, 3.0)),  # y wins
        (2.0, 2.0, (3.0, 3.0)),  # tie: both get it, per the lecture
    ],
)
def test_max_routes_gradient_to_winner(x, y, expected):
    gate = Max()
    assert gate.forward(x, y) == max(x, y)
    assert tuple(float(g) for g in gate.backward(3.0)) == expected


def test_gates_work_elementwise_on_arrays():
    x = np.array([[1.0, -2.0], [3.0, 3.0]])
    y = np.array([[2.0, -5.0], [0.0, 3.0]])
    upstream = np.array([[1.0, 2.0], [3.0, 4.0]])
    mul, gate = Mul(), Max()
    mul.forward(x, y)
    dx, dy = mul.backward(upstream)
    np.testing.assert_array_equal(dx, y * upstream)
    np.testing.assert_array_equal(dy, x * upstream)
    np.testing.assert_array_equal(gate.forward(x, y), [[2.0, -2.0], [3.0, 3.0]])
    dx, dy = gate.backward(upstream)
    np.testing.assert_array_equal(dx, [[0.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(dy, [[1.0, 0.0], [0.0, 4.0]])
    for gradient in (dx, dy):
        assert gradient.shape == x.shape and gradient.dtype == x.dtype


def test_sigmoid_forward_value():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    assert Sigmoid().forward(0.0) == 0.5


def test_sigmoid_local_gradient_is_s_times_one_minus_s_and_matches_numerical():
    x = np.array([-6.0, -2.0, -0.3, 0.0, 0.7, 2.5, 6.0])
    gate = Sigmoid()
    s = gate.forward(x)
    (dx,) = gate.backward(np.ones_like(x))
    np.testing.assert_allclose(dx, s * (1 - s), rtol=1e-14)
    assert dx[3] == 0.25  # the maximum of s(1-s), at x = 0
    h = 1e-5
    numeric = (Sigmoid().forward(x + h) - Sigmoid().forward(x - h)) / (2 * h)
    np.testing.assert_allclose(dx, numeric, rtol=1e-8)
    # The upstream gradient multiplies the local one.
    gate.forward(x)
    np.testing.assert_allclose(gate.backward(np.full_like(x, -3.0))[0], -3.0 * s * (1 - s), rtol=1e-14)


def test_sigmoid_does_not_overflow_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = Sigmoid().forward(np.array([-1e4, 1e4]))
    np.testing.assert_array_equal(s, [0.0, 1.0])

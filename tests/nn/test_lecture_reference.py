"""The lecture's reference implementation: a 2-layer sigmoid MLP, squared loss, plain gradient descent."""

import numpy as np

from mlpcli.nn import SGD, build_mlp, squared_error

N_SAMPLES, N_INPUTS, N_HIDDEN, N_CLASSES = 64, 1000, 100, 10
# Full-batch gradient descent with the mean-reduced loss 0.5 * ||scores - onehot||^2.
# The output layer's curvature is about ||mean hidden activation||^2 ~ 100 * 0.5^2 = 25 (measured 27 at
# this seed), so plain descent is stable only for lr < 2 / 27 ~ 0.074; lr = 1 already diverges.
# lr = 0.02 reaches the 100x drop in about 100 iterations; 500 leave a margin of more than 1000x.
LEARNING_RATE = 0.02
ITERATIONS = 500


def test_two_layer_sigmoid_net_fits_random_data_by_gradient_descent():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_SAMPLES, N_INPUTS))
    labels = rng.integers(0, N_CLASSES, size=N_SAMPLES)
    network = build_mlp(N_INPUTS, N_CLASSES, [N_HIDDEN], activation="sigmoid", rng=rng, dtype="float64")
    assert [type(layer).__name__ for layer in network.layers] == ["Linear", "Sigmoid", "Linear"]
    optimizer = SGD(momentum=0.0)
    losses = []
    for _ in range(ITERATIONS):
        loss, dscores = squared_error(network.forward(x), labels)
        losses.append(loss)
        network.backward(dscores)
        optimizer.step(network, LEARNING_RATE)
    final, _ = squared_error(network.forward(x), labels)
    assert np.isfinite(final)
    assert final <= losses[0] / 100, (losses[0], final)
    # Small-step full-batch descent never goes uphill.
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in zip(losses, losses[1:]))
    assert network.dtype == np.float64
    assert optimizer.state_dict() == {}

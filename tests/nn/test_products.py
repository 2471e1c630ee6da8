"""Products cut into fixed blocks (k-fold and search units): same values as one product, and the
same bytes whatever the number of threads that run the blocks."""

import numpy as np
import pytest

from mlpcli.nn import SGD, build_mlp, products, softmax_cross_entropy


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(products, "MIN_BLOCK", 4)


@pytest.mark.parametrize("shape", [(6, 5, 40), (40, 5, 6), (6, 5, 6)])  # cut columns, rows, nothing
def test_blocks_give_the_product_and_the_same_bytes_on_any_thread_count(shape, set_threads):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    results = []
    for count in (1, 2, 3):
        set_threads(count)
        with products.split(4):
            results.append(products.matmul(a, b))
            out = np.full((m, n), np.nan, np.float32)
            assert products.matmul(a, b, out=out) is out
            assert out.tobytes() == results[-1].tobytes()
    np.testing.assert_allclose(results[0], a @ b, rtol=1e-5, atol=1e-5)
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()


def test_blocks_are_cut_only_inside_split(monkeypatch):
    calls = []
    original = np.matmul

    def counting(a, b, out=None):
        calls.append(a.shape[0] * b.shape[1])
        return original(a, b, out=out)

    monkeypatch.setattr(products.np, "matmul", counting)
    a, b = np.ones((8, 3), np.float32), np.ones((3, 40), np.float32)
    products.matmul(a, b)
    assert calls == [8 * 40]
    calls.clear()
    with products.split(4):
        products.matmul(a, b)
    assert sorted(calls) == [8 * 10] * 4
    calls.clear()
    products.matmul(a, b)  # the split ends with the block
    assert calls == [8 * 40]


def test_training_steps_in_blocks_are_the_same_bytes_for_1_and_2_threads(set_threads):
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((48, 30), dtype=np.float32), rng.integers(0, 4, 48)
    weights = []
    for count in (1, 2):
        set_threads(count)
        network, optimizer = build_mlp(30, 4, [40], rng=np.random.default_rng(1)), SGD(0.9)
        with products.split(2):
            for _ in range(3):
                _, dscores = softmax_cross_entropy(network.forward(x), labels)
                network.backward(dscores)
                optimizer.step(network, 0.05)
        weights.append({key: value.tobytes() for key, value in network.state_dict().items()})
    assert weights[0] == weights[1]


def test_a_unit_cuts_its_products_into_single_threaded_blas_calls():
    """The byte promise across --jobs and --cluster: a unit in this process makes the calls a
    single-threaded worker makes. Fails if ``unit_threads`` stops limiting BLAS (as it did
    without the optional threadpoolctl)."""
    from threadpoolctl import threadpool_info

    from mlpcli.threads import UNIT_PRODUCT_BLOCKS, UNIT_THREADS
    from mlpcli.units.runtime import unit_threads

    def blas_threads():
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    assert products.parts() == 1
    with unit_threads():
        assert products.parts() == UNIT_PRODUCT_BLOCKS > 1
        assert blas_threads() == {UNIT_THREADS}
    assert products.parts() == 1


def test_a_split_in_one_thread_does_not_cut_another_threads_products():
    """The blocks are per thread. With a module-global (checked once by making ``_Split`` a plain
    class), the other thread leaving its split reset this thread's blocks to 1 (assert 1 == 3)."""
    import threading

    entered, leave, seen = threading.Event(), threading.Event(), {}

    def other() -> None:
        with products.split(2):
            entered.set()
            if not leave.wait(timeout=30):
                return
            seen["inside"] = products.parts()
        seen["after"] = products.parts()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(timeout=30)
        with products.split(3):
            assert products.parts() == 3
            leave.set()
            thread.join(timeout=30)
            assert products.parts() == 3
    finally:
        leave.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert seen == {"inside": 2, "after": 1}
    assert products.parts() == 1

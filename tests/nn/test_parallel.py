"""nn.parallel: the pool runs every chunk once, re-raises, stops cleanly, and the passes that use
it give the same bytes with 1, 2 and 3 threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from processes import Child

from mlpcli import threads as thread_counts
from mlpcli.features.standardize import Identity, Standardizer
from mlpcli.nn import (
    SGD,
    Adam,
    AdamW,
    Sequential,
    batchnorm,
    build_extractor,
    build_mlp,
    mlp_layers,
    parallel,
    softmax_cross_entropy,
)
from mlpcli.nn.optim import base as optim_base
from mlpcli.train.batches import gather

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_pool():
    """Every test starts and ends with the environment's thread count and no pool running."""
    parallel.set_threads(None)
    yield
    parallel.set_threads(None)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk arrays of a few hundred values (and optimizer blocks of 1,000 on one thread, 700 on
    several, so the two cut the arrays differently), so that test-sized
    networks take the parallel path; counts the passes that were split."""
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 256)
    monkeypatch.setattr(parallel, "MIN_CHUNK", 32)
    monkeypatch.setattr(optim_base, "BLOCK", 1000)
    monkeypatch.setattr(optim_base, "THREADED_BLOCK", 700)
    monkeypatch.setattr(batchnorm, "CHUNK_VALUES", 48)
    monkeypatch.setattr(batchnorm, "WIDTH", 16)
    split = []
    original = parallel._Pool.run

    def counting(self, fn, n_chunks):
        split.append(n_chunks)
        return original(self, fn, n_chunks)

    monkeypatch.setattr(parallel._Pool, "run", counting)
    return split


def test_run_calls_every_chunk_once_on_several_threads():
    parallel.set_threads(3)
    calls, threads = [], set()

    def chunk(index):
        calls.append(index)
        threads.add(threading.get_ident())
        time.sleep(0.002)  # long enough that the pool's threads take some chunks

    parallel.run(chunk, 40)
    assert sorted(calls) == list(range(40))
    assert len(threads) > 1


def test_one_thread_runs_inline_in_order():
    parallel.set_threads(1)
    calls, threads = [], set()
    parallel.run(lambda index: (calls.append(index), threads.add(threading.get_ident())), 5)
    assert calls == [0, 1, 2, 3, 4] and threads == {threading.get_ident()}
    assert parallel._pool is None


def test_an_exception_in_a_chunk_reaches_the_caller_and_the_pool_keeps_working():
    parallel.set_threads(2)

    def chunk(index):
        if index == 7:
            raise ValueError("chunk 7 failed")

    with pytest.raises(ValueError, match="chunk 7"):
        parallel.run(chunk, 20)
    done = []
    parallel.run(done.append, 20)
    assert sorted(done) == list(range(20))


def test_ranges_cover_the_rows_and_chunks_follow_the_size(monkeypatch):
    assert parallel.ranges(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert parallel.ranges(2, 5) == [(0, 1), (1, 2)]
    parallel.set_threads(2)
    assert parallel.n_chunks(parallel.MIN_ELEMENTS - 1) == 1
    assert parallel.n_chunks(1 << 24) == 8  # 4 per thread
    parallel.set_threads(1)
    assert parallel.n_chunks(1 << 24) == 1


def test_thread_count_follows_the_blas_limit(monkeypatch):
    for name in thread_counts.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert parallel.threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert parallel.threads() == 3
    parallel.set_threads(5)
    assert parallel.threads() == 5
    with pytest.raises(ValueError, match=">= 1"):
        parallel.set_threads(0)


def test_optimizer_blocks_are_larger_when_they_run_side_by_side(monkeypatch):
    """On one thread an update runs in cache-sized blocks; on several, in blocks large enough that
    the threads are not mostly handing each other the GIL between ufunc calls."""
    sizes = []
    weights = np.zeros(4 * optim_base.THREADED_BLOCK, np.float32)

    def record(w):
        sizes.append(w.size)

    for count in (1, 2):
        parallel.set_threads(count)
        sizes.clear()
        optim_base.for_blocks(record, weights)
        assert sum(sizes) == weights.size
        assert max(sizes) == (optim_base.BLOCK if count == 1 else optim_base.THREADED_BLOCK)


def test_the_command_lets_idle_blas_threads_sleep_unless_the_user_said_otherwise(monkeypatch):
    """OpenBLAS threads spinning between products would take the cores the pool's passes need."""
    from mlpcli.threads import BLAS_SPIN, quiet_blas_threads

    ((name, value),) = BLAS_SPIN.items()
    monkeypatch.delenv(name, raising=False)
    quiet_blas_threads()
    assert os.environ[name] == value
    monkeypatch.setenv(name, "12")
    quiet_blas_threads()
    assert os.environ[name] == "12"
    monkeypatch.delenv(name)
    code = (
        "import os, mlpcli.cli.app as app, sys; sys.argv[1:] = ['config', 'reference']\n"
        f"try: app.cli()\nexcept SystemExit: print(os.environ.get('{name}'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != name},
    ).stdout
    assert out.strip().endswith(value)


def _train_steps(network, optimizer, x, labels, steps=3):
    for _ in range(steps):
        _, dscores = softmax_cross_entropy(network.forward(x), labels)
        network.backward(dscores)
        optimizer.step(network, 0.05)
    return {key: value.copy() for key, value in network.state_dict().items()}


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: SGD(0.9, weight_decay=1e-3),
        lambda: SGD(0.9, nesterov=True),
        lambda: Adam(weight_decay=1e-3),
        lambda: AdamW(weight_decay=1e-2),
    ],
)
def test_mlp_weights_after_training_steps_are_the_same_bytes_for_1_2_and_3_threads(small_chunks, make_optimizer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 40), dtype=np.float32)
    labels = rng.integers(0, 5, 64)
    results = []
    for count in (1, 2, 3):
        parallel.set_threads(count)
        network = build_mlp(40, 5, [48], rng=np.random.default_rng(1))
        results.append(_train_steps(network, make_optimizer(), x, labels))
    assert small_chunks, "the parallel path was never taken"
    for other in results[1:]:
        assert all(results[0][key].tobytes() == other[key].tobytes() for key in results[0])


@pytest.mark.parametrize("with_batchnorm", [False, True])
def test_conv_net_forward_backward_and_predictions_are_the_same_bytes_for_1_2_and_3_threads(
    small_chunks, with_batchnorm
):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 10 * 10 * 3), dtype=np.float32)
    labels = rng.integers(0, 3, 6)
    blocks = [{"filters": 4, "kernel": 3, "pool": 2}, {"filters": 6, "kernel": 3, "pool": 2, "stride": 1}]
    outputs = []
    for count in (1, 2, 3):
        parallel.set_threads(count)
        layers, n_features = build_extractor(
            blocks, (10, 10, 3), init="random", rng=np.random.default_rng(2), batchnorm=with_batchnorm
        )
        network = Sequential(
            layers + mlp_layers(n_features, 3, [8], rng=np.random.default_rng(3), batchnorm=with_batchnorm)
        )
        scores = network.forward(x)
        _, dscores = softmax_cross_entropy(scores, labels)
        network.backward(dscores)
        grads = {
            f"{i}.{name}": layer.grads[name].copy() for i, layer in enumerate(network.layers) for name in layer.grads
        }
        weights = _train_steps(network, SGD(0.9), x, labels, steps=2)
        outputs.append((scores, grads, weights, network.forward(x, training=False)))
    assert small_chunks
    for scores, grads, weights, predictions in outputs[1:]:
        assert scores.tobytes() == outputs[0][0].tobytes()
        assert all(grads[key].tobytes() == outputs[0][1][key].tobytes() for key in grads)
        assert all(weights[key].tobytes() == outputs[0][2][key].tobytes() for key in weights)
        assert predictions.tobytes() == outputs[0][3].tobytes()


def test_strided_conv_col2im_is_the_same_bytes_for_1_and_2_threads(small_chunks):
    from mlpcli.nn import Conv2D

    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 9, 9, 2))
    dx = []
    for count in (1, 2):
        parallel.set_threads(count)
        conv = Conv2D(2, 3, 3, stride=2, padding=1, dtype="float64")
        conv.params["W"][...] = np.random.default_rng(5).standard_normal(conv.params["W"].shape)
        out = conv.forward(x)
        dx.append(conv.backward(np.ones_like(out)))
    assert dx[0].tobytes() == dx[1].tobytes()


def test_gather_and_in_place_standardization_match_the_plain_transform(small_chunks):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 30), dtype=np.float32) * 3 + 1
    rows = rng.permutation(50)[:37]
    standardizer = Standardizer.fit(X, rows)
    expected = standardizer.transform(X[rows])
    for count in (1, 2, 3):
        parallel.set_threads(count)
        out = np.empty_like(expected)
        assert gather(X, rows, out, standardizer).tobytes() == expected.tobytes()
        copy = X.copy()
        identity = standardizer.transform_in_place(copy, rows_per_block=4)
        assert isinstance(identity, Identity)
        assert copy.tobytes() == standardizer.transform(X).tobytes()
        assert gather(copy, rows, out, identity).tobytes() == expected.tobytes()
    assert small_chunks


def test_features_are_the_same_bytes_for_1_2_and_3_threads(small_chunks, monkeypatch):
    """Chunks of images are extracted side by side; each image's features depend on it alone."""
    from mlpcli.features import FeatureConfig, pipeline

    monkeypatch.setattr(pipeline, "chunk_images", lambda *shape: 5)
    images = np.random.default_rng(0).integers(0, 256, (23, 16, 16, 3), dtype=np.uint8)
    features = (FeatureConfig("hog", {"cell": 4}), FeatureConfig("color_hist", {"bins": 4}), FeatureConfig("raw", {}))
    results = []
    for count in (1, 2, 3):
        parallel.set_threads(count)
        results.append(pipeline.extract_features(images, features, progress=False))
    assert small_chunks, "the chunks never ran side by side"
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()
    one_at_a_time = np.concatenate(
        [pipeline.extract_features(images[i : i + 1], features, progress=False) for i in range(len(images))]
    )
    assert one_at_a_time.tobytes() == results[0].tobytes()


def _pool_threads_in_worker() -> int:
    from mlpcli.nn import parallel as worker_parallel

    return worker_parallel.threads()


def test_a_local_worker_pool_has_the_unit_threads_not_all_cores(monkeypatch):
    """k-fold and search workers (``--jobs N``) each run units with ``UNIT_THREADS`` BLAS threads,
    and their element-wise pool reads the same limit, so N workers never oversubscribe the cores
    (here a pretended 8 cores, so the answer differs from the default)."""
    from mlpcli.threads import UNIT_THREADS
    from mlpcli.units.executor import open_executor, unit_result

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    for name in thread_counts.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with open_executor(jobs=2) as executor:
        future = executor.submit(_pool_threads_in_worker)
        assert unit_result(future).value == UNIT_THREADS
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the limit was for the workers only


LOOP = """
import sys, time
import numpy as np
from mlpcli.nn import parallel
parallel.set_threads(2)
x = np.ones(1 << 20, np.float32)
parts = parallel.ranges(len(x), 8)
def chunk(i):
    a, b = parts[i]
    np.sqrt(x[a:b], out=x[a:b])
    time.sleep(0.001)
parallel.run(chunk, 8)
print("running", flush=True)
if sys.argv[1] == "loop":
    parallel.run(chunk, 8)
    print("looping", file=sys.stderr, flush=True)
    while True:
        parallel.run(chunk, 8)
"""


def _python(mode: str) -> Child:
    return Child([sys.executable, "-c", LOOP, mode], cwd=ROOT)


def test_a_process_using_the_pool_exits_cleanly():
    with _python("once") as child:
        assert child.finish() == 0, child.stderr
    assert child.stdout.strip() == "running" and child.stderr == ""


def test_ctrl_c_stops_a_process_in_the_middle_of_parallel_passes():
    """SIGINT to the process group (as CI sends it) while the pool's threads run passes, five
    times: a hung pool fails at the deadline, and the child is killed whatever happens."""
    for _ in range(5):
        with _python("loop") as child:
            child.wait_for_line("looping")
            child.interrupt()
            assert child.finish() != 0
            assert child.leftovers() == []
        assert "KeyboardInterrupt" in child.stderr

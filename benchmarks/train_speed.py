"""Training speed of mlpcli's MLP against PyTorch CPU, scikit-learn and this machine's matmul rate.

One run, same data, same shapes, float32, batch 200, SGD momentum 0.9, lr 0.01, no weight decay:
  1. mlpcli's library loop (``Trainer.fit`` for one epoch per round, no validation rows: gather
     each minibatch, forward, softmax cross-entropy, backward, SGD step) on the training rows
     standardized once up front, as ``mlpcli train`` does; data loading, feature extraction and
     standardization excluded;
  2. the same network in PyTorch CPU (Linear-ReLU-Linear, CrossEntropyLoss, torch.optim.SGD), a
     fresh permutation per epoch gathered batch by batch from a float32 tensor;
  3. scikit-learn's MLPClassifier(solver="sgd"), one ``partial_fit`` per epoch;
  4. mlpcli again with the config's weight decay (5e-4), to show what L2 costs per epoch;
  5. Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay): mlpcli's ``train.optimizer: adam``
     against ``torch.optim.Adam`` (foreach, its CPU default) on the same network (issue 13).
For two widths: 3072-512-10 (raw pixels) and the HOG + color-histogram width of
configs/cifar10-hog.yaml with 512 hidden units. The epochs interleave the contenders round by
round (after one warm-up epoch each), so a noisy neighbour slows all of them alike; each reports
the median epoch and the process CPU seconds of its epochs (``cpu_seconds_per_epoch``: on a
loaded machine the work done, less disturbed than the wall time). All contenders train on the
same standardized copy of the training rows. ``mlpcli_per_batch_standardize`` is the k-fold path:
X left as extracted, each minibatch standardized as it is gathered.

Threads are equalized: ``--threads N`` sets NumPy's BLAS (threadpoolctl), mlpcli's element-wise
pool (``nn.parallel``) and PyTorch's intra-op threads to N; by default all three use every core.

``stage_breakdown`` times one more mlpcli epoch with every layer, the loss, the optimizer and the
gather wrapped (benchmarks/stages.py): products alone, element-wise, gather, Python overhead.

The data: the first 50,000 images of data/cifar10-jpg/train (45,000 training rows, chosen by a
seeded permutation) when the folder exists, decoded through the cache in .mlpcli-cache; otherwise
random float32 data of the same shape (``"data": "random"`` in the JSON).

mlpcli's GFLOP/s counts the products of a step: forward x@W for both layers, dW = x^T dout for
both, dx = dout W^T for the second only (the first layer's dx is skipped). The roofline fraction
divides it by NumPy's rate on the network's largest product (200x3072 @ 3072x512), measured in
the same run; the 2048x2048 rate is reported too.

Usage: python benchmarks/train_speed.py [--quick] [--rounds 3] [--threads N] [--data data/cifar10-jpg/train]
       [--only raw]
Prints one JSON document on stdout (progress on stderr).
Targets (issues 8, 13 and 15): mlpcli/PyTorch <= 0.8 for both widths; scikit-learn/mlpcli >= 1.5;
roofline fraction >= 0.75 for 3072-512-10; mlpcli's Adam epoch <= 1.1x its SGD epoch and <= PyTorch's
Adam epoch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from machine import NeighbourMeter, load, machine  # first: sets up BLAS as mlpcli does

# isort: split

import numpy as np
import stages

from mlpcli.config import load_config
from mlpcli.config.schema import ModelConfig, TrainConfig
from mlpcli.features import FeatureConfig
from mlpcli.features.pipeline import extract_features, feature_widths
from mlpcli.features.standardize import Identity, Standardizer
from mlpcli.nn import LOSSES, build_mlp, parallel
from mlpcli.train import loop
from mlpcli.train.loop import Trainer

BATCH, HIDDEN, N_CLASSES, LR, MOMENTUM, WEIGHT_DECAY = 200, 512, 10, 0.01, 0.9, 5e-4
ADAM_LR = 1e-3
N_SAMPLES, QUICK_SAMPLES, TRAIN_FRACTION = 50_000, 12_000, 0.9


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def best_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_rate(m: int, k: int, n: int, repeats: int = 20, transpose_a: bool = False) -> dict:
    """Best float32 GFLOP/s of an (m, k) @ (k, n) product; ``transpose_a`` multiplies a transposed
    view, as ``x.T @ dout`` does for dW."""
    rng = np.random.default_rng(0)
    a = (
        rng.standard_normal((k, m), dtype=np.float32).T
        if transpose_a
        else rng.standard_normal((m, k), dtype=np.float32)
    )
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    seconds = best_seconds(lambda: np.matmul(a, b, out=out), repeats)
    return {
        "m_k_n": [m, k, n],
        "transposed_a": transpose_a,
        "seconds": seconds,
        "gflops": 2.0 * m * k * n / seconds / 1e9,
    }


def step_flops(n_features: int) -> float:
    """Floating-point operations of one minibatch step's products (see the module docstring)."""
    forward = BATCH * n_features * HIDDEN + BATCH * HIDDEN * N_CLASSES
    weight_grads = forward
    input_grads = BATCH * N_CLASSES * HIDDEN  # the second layer's dx only
    return 2.0 * (forward + weight_grads + input_grads)


def product_bound(n_features: int, n_train: int, repeats: int = 20) -> dict:
    """Each product of a step alone at its exact shape: the seconds per epoch of the matmuls alone."""
    d, h, c = n_features, HIDDEN, N_CLASSES
    products = {
        "forward 1": matmul_rate(BATCH, d, h, repeats),
        "forward 2": matmul_rate(BATCH, h, c, repeats),
        "dW 1": matmul_rate(d, BATCH, h, repeats, transpose_a=True),
        "dW 2": matmul_rate(h, BATCH, c, repeats, transpose_a=True),
        "dx 2": matmul_rate(BATCH, c, h, repeats),
    }
    per_step = sum(p["seconds"] for p in products.values())
    return {"products": products, "seconds_per_epoch": per_step * n_train / BATCH}


class MlpcliEpochs:
    """One ``Trainer.fit`` of one epoch per round, sharing the network, the optimizer's velocities
    and the shuffling generator across rounds, so consecutive rounds are consecutive epochs."""

    def __init__(self, X, y, train_rows, weight_decay: float, standardizer=None, optimizer: str = "sgd") -> None:
        """``standardizer``: Identity for rows standardized up front, None to fit one on X (the
        minibatches are then standardized as they are gathered)."""
        shuffle_rng, augment_rng, init_rng, dropout_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(0).spawn(4)
        )
        self.rngs = {"shuffle": shuffle_rng, "augment": augment_rng, "dropout": dropout_rng}
        self.X, self.y, self.rows = X, y, train_rows
        self.network = build_mlp(X.shape[1], N_CLASSES, [HIDDEN], "relu", rng=init_rng, dtype="float32")
        self.standardizer = Standardizer.fit(X, train_rows) if standardizer is None else standardizer
        self.config = TrainConfig(
            epochs=1,
            batch_size=BATCH,
            lr=ADAM_LR if optimizer != "sgd" else LR,
            momentum=MOMENTUM,
            schedule="constant",
            optimizer=optimizer,
        )
        self.model_config = ModelConfig(weight_decay=weight_decay)
        self.optimizer, self.losses = None, []

    def run(self, clock: stages.StageClock | None = None) -> None:
        trainer = Trainer(self.network, self.standardizer, self.config, self.model_config, self.rngs)
        if self.optimizer is not None:
            trainer.optimizer = self.optimizer
        if clock is not None:
            clock.wrap_optimizer(trainer.optimizer)
        history = trainer.fit(self.X, self.y, self.rows, self.rows[:0])  # no validation pass
        if clock is not None:
            del trainer.optimizer.step  # the instance wrapper; the class method again
        self.optimizer = trainer.optimizer
        self.losses.append(history.epochs[-1]["train_loss"])


class TorchEpochs:
    def __init__(self, torch, X, y, optimizer: str = "sgd") -> None:
        self.torch = torch
        nn = torch.nn
        torch.manual_seed(0)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.network = nn.Sequential(nn.Linear(X.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES))
        if optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.network.parameters(), lr=ADAM_LR, betas=(0.9, 0.999), eps=1e-8)
        else:
            self.optimizer = torch.optim.SGD(self.network.parameters(), lr=LR, momentum=MOMENTUM)
        self.loss = nn.CrossEntropyLoss()
        self.losses = []

    def run(self) -> None:
        order = self.torch.randperm(len(self.X))
        total = 0.0
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.network(self.X[rows]), self.y[rows])
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(rows)
        self.losses.append(total / len(order))


class SklearnEpochs:
    def __init__(self, X, y) -> None:
        from sklearn.neural_network import MLPClassifier

        self.X, self.y = X, y
        self.model = MLPClassifier(
            solver="sgd",
            hidden_layer_sizes=(HIDDEN,),
            batch_size=BATCH,
            momentum=MOMENTUM,
            nesterovs_momentum=False,
            learning_rate_init=LR,
            max_iter=1,
            alpha=0.0,
            shuffle=True,
            random_state=0,
        )
        self.losses = []

    def run(self) -> None:
        self.model.partial_fit(self.X, self.y, classes=np.arange(N_CLASSES))
        self.losses.append(float(self.model.loss_))


def load_data(path: str, quick: bool) -> tuple[str, dict[str, np.ndarray], np.ndarray]:
    """({'raw': X, 'hog': X}, y): real CIFAR-10 features when the folder exists, else random."""
    n = QUICK_SAMPLES if quick else N_SAMPLES
    hog_features = load_config("configs/cifar10-hog.yaml").features
    hog_width = sum(feature_widths(hog_features, 32, 32))
    if Path(path).is_dir():
        from mlpcli.data.folder import load_folder

        say(f"loading {path} (decoded-image cache .mlpcli-cache)")
        dataset = load_folder(path, (32, 32), cache_dir=".mlpcli-cache")
        pick = np.random.default_rng(0).permutation(len(dataset.images))[:n]
        images, y = dataset.images[np.sort(pick)], dataset.labels[np.sort(pick)]
        say("extracting raw and HOG features")
        features = {
            "raw": extract_features(images, (FeatureConfig("raw", {}),), "float32", progress=False),
            "hog": extract_features(images, hog_features, "float32", progress=False),
        }
        return "cifar10", features, y.astype(np.int64)
    say(f"{path} not found: random data of the same shape")
    rng = np.random.default_rng(0)
    features = {
        "raw": rng.standard_normal((n, 3072), dtype=np.float32),
        "hog": rng.standard_normal((n, hog_width), dtype=np.float32),
    }
    return "random", features, rng.integers(0, N_CLASSES, n)


def bench_width(torch, X, y, train_rows, rounds: int) -> tuple[dict, MlpcliEpochs]:
    """Interleaved epochs of every contender on one feature matrix; median seconds per epoch.
    Also returns the mlpcli contender, for the stage breakdown."""
    standardized = Standardizer.fit(X, train_rows).transform(X[train_rows])
    y_train, all_rows = y[train_rows], np.arange(len(train_rows))
    contenders = {
        "mlpcli": MlpcliEpochs(standardized, y_train, all_rows, 0.0, Identity()),
        "mlpcli_weight_decay": MlpcliEpochs(standardized, y_train, all_rows, WEIGHT_DECAY, Identity()),
        "mlpcli_adam": MlpcliEpochs(standardized, y_train, all_rows, 0.0, Identity(), "adam"),
        "mlpcli_per_batch_standardize": MlpcliEpochs(X, y, train_rows, 0.0),
        "sklearn": SklearnEpochs(standardized, y_train),
    }
    if torch is not None:
        contenders["torch"] = TorchEpochs(torch, standardized, y_train)
        contenders["torch_adam"] = TorchEpochs(torch, standardized, y_train, "adam")
    seconds = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    neighbours = {name: [] for name in contenders}
    meter = NeighbourMeter()
    for round_ in range(rounds + 1):  # round 0 is the warm-up
        for name, contender in contenders.items():
            meter.start()
            start, start_cpu = time.perf_counter(), time.process_time()
            contender.run()
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            others = meter.stop()
            if round_:
                seconds[name].append(elapsed)
                cpu[name].append(elapsed_cpu)
                neighbours[name].append(others)
            say(
                f"  width {X.shape[1]} round {round_} {name}: {elapsed:.3f} s, CPU {elapsed_cpu:.3f} s "
                f"(others' CPU {others}%)"
            )
    result = {
        name: {
            "seconds_per_epoch": statistics.median(times),
            "all_epochs": times,
            "cpu_seconds_per_epoch": statistics.median(cpu[name]),
            "others_cpu_percent_per_epoch": neighbours[name],
            "train_loss_per_epoch": contenders[name].losses,
        }
        for name, times in seconds.items()
    }
    result["sklearn"]["weights_dtype"] = contenders["sklearn"].model.coefs_[0].dtype.name
    return result, contenders["mlpcli"]


def stage_breakdown(contender: MlpcliEpochs, products_alone: float) -> dict:
    """One more epoch of the mlpcli contender with its stages timed (see benchmarks/stages.py)."""
    clock = stages.StageClock()
    clock.wrap_network(contender.network)
    try:
        with clock.patched(loop, "gather", "gather"), _timed_losses(clock):
            start = time.perf_counter()
            contender.run(clock)
            total = time.perf_counter() - start
    finally:
        for layer in contender.network.layers:  # drop the wrappers, keep the trained state
            for name in ("forward", "backward"):
                layer.__dict__.pop(name, None)
    return stages.breakdown(clock.seconds, total, products_alone)


class _timed_losses:
    """Time the softmax cross-entropy the training loop looks up in LOSSES."""

    def __init__(self, clock: stages.StageClock) -> None:
        self.clock = clock

    def __enter__(self):
        self.original = LOSSES["softmax"]
        LOSSES["softmax"] = self.clock.timed_function("loss", self.original)

    def __exit__(self, *exc):
        LOSSES["softmax"] = self.original


def summarize(width_name: str, n_features: int, n_train: int, timings: dict, bound: dict, matmul: dict) -> dict:
    ours = timings["mlpcli"]["seconds_per_epoch"]
    flops = step_flops(n_features) * n_train / BATCH
    gflops = flops / ours / 1e9
    summary = {
        "network": f"{n_features}-{HIDDEN}-{N_CLASSES}",
        "features": width_name,
        "seconds_per_epoch": {name: t["seconds_per_epoch"] for name, t in timings.items()},
        "ratio_mlpcli_over_sklearn": ours / timings["sklearn"]["seconds_per_epoch"],
        "speedup_over_sklearn": timings["sklearn"]["seconds_per_epoch"] / ours,
        "gflop_per_epoch": flops / 1e9,
        "mlpcli_gflops": gflops,
        "roofline_fraction": gflops / matmul["forward_200x3072x512"]["gflops"],
        "fraction_of_2048_matmul": gflops / matmul["square_2048"]["gflops"],
        "products_alone_seconds_per_epoch": bound["seconds_per_epoch"],
        "products_alone_over_mlpcli": bound["seconds_per_epoch"] / ours,
        "products_alone": bound["products"],
        "epochs": timings,
        "ratio_mlpcli_adam_over_mlpcli_sgd": timings["mlpcli_adam"]["seconds_per_epoch"] / ours,
    }
    if "torch" in timings:
        summary["ratio_mlpcli_over_torch"] = ours / timings["torch"]["seconds_per_epoch"]
        summary["ratio_mlpcli_adam_over_torch_adam"] = (
            timings["mlpcli_adam"]["seconds_per_epoch"] / timings["torch_adam"]["seconds_per_epoch"]
        )
    return summary


def matmul_rates() -> dict:
    return {"forward_200x3072x512": matmul_rate(BATCH, 3072, HIDDEN), "square_2048": matmul_rate(2048, 2048, 2048, 5)}


def measure(torch, features: dict, y: np.ndarray, rounds: int) -> tuple[dict, dict]:
    """(results per width, NumPy matmul rates): the rates are the best of before and after the
    epochs, the machine's rate rather than a noisy moment."""
    n_train = int(len(y) * TRAIN_FRACTION)
    train_rows = np.random.default_rng(1).permutation(len(y))[:n_train]
    matmul = matmul_rates()
    widths, breakdowns = {}, {}
    for name, X in features.items():
        say(f"{name}: {X.shape[1]} features")
        timings, ours = bench_width(torch, X, y, train_rows, rounds)
        bound = product_bound(X.shape[1], n_train)
        widths[name] = (X.shape[1], n_train, timings, bound)
        breakdowns[name] = stage_breakdown(ours, bound["seconds_per_epoch"])
    for key, rate in matmul_rates().items():
        matmul[key] = max(matmul[key], rate, key=lambda r: r["gflops"])
    results = {name: summarize(name, *values, matmul) for name, values in widths.items()}
    for name, result in results.items():
        result["mlpcli_stage_breakdown"] = breakdowns[name]
    return results, matmul


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SAMPLES:,} samples and 2 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed epochs per contender (default 3)")
    parser.add_argument("--data", default="data/cifar10-jpg/train")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS, mlpcli pool and PyTorch threads for every contender (default: all cores)",
    )
    parser.add_argument("--only", choices=("raw", "hog"), default=None, help="one width only")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    try:
        import torch
    except ImportError:
        torch = None
        say("torch not installed (pip install -e '.[bench]'): PyTorch is left out")
    if args.threads is not None:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        threadpool_limits(args.threads)
        parallel.set_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    elif torch is not None:
        torch.set_num_threads(parallel.threads())  # equal to mlpcli's (PyTorch counts physical cores)
    source, features, y = load_data(args.data, args.quick)
    if args.only:
        features = {args.only: features[args.only]}
    load_before = load()
    results, matmul = measure(torch, features, y, rounds)
    report = {
        "machine": machine(torch),
        "load_before": load_before,
        "load_after": load(),
        "setup": {
            "data": source,
            "n_train": int(len(y) * TRAIN_FRACTION),
            "batch": BATCH,
            "hidden": HIDDEN,
            "dtype": "float32",
            "optimizer": f"SGD lr {LR} momentum {MOMENTUM}; Adam lr {ADAM_LR}",
            "rounds": rounds,
            "quick": args.quick,
            "threads": args.threads or "default (all cores)",
            "mlpcli_pool_threads": parallel.threads(),
            "torch_threads": torch.get_num_threads() if torch else None,
            "torch": torch.__version__ if torch else None,
        },
        "numpy_matmul_float32": matmul,
        "results": results,
    }
    report["targets_met"] = {
        "mlpcli/torch <= 0.8 (both widths)": bool(
            all(r.get("ratio_mlpcli_over_torch", np.inf) <= 0.8 for r in results.values())
        ),
        "sklearn/mlpcli >= 1.5 (both widths)": bool(all(r["speedup_over_sklearn"] >= 1.5 for r in results.values())),
        "roofline >= 0.75 (3072-512-10)": bool("raw" in results and results["raw"]["roofline_fraction"] >= 0.75),
        "mlpcli adam/sgd <= 1.1 (both widths)": bool(
            all(r["ratio_mlpcli_adam_over_mlpcli_sgd"] <= 1.1 for r in results.values())
        ),
        "mlpcli adam/torch adam <= 1.0 (both widths)": bool(
            all(r.get("ratio_mlpcli_adam_over_torch_adam", np.inf) <= 1.0 for r in results.values())
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

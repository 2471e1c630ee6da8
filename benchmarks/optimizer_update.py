"""Cost of one optimizer update alone, per optimizer, on the raw-pixel MLP's parameters.

The network is 3072-512-10 in float32 (W1 3072x512 dominates: 1.57 M of its 1.58 M parameters).
Each contender updates the same parameters from fixed gradients; the rounds interleave the
contenders so a noisy neighbour slows all of them alike, and each reports its median. For scale,
the same network's forward + backward on a batch of 200 (no update) is timed too: an epoch costs
about n_batches * (forward_backward + update), so ``epoch_ratio_vs_sgd`` estimates what the
update alone adds to an epoch relative to SGD with momentum (an upper bound: the real step also
gathers and standardizes the batch, which costs the same for every optimizer).

Times are CPU seconds of this process (``time.process_time``) with one BLAS thread by default,
so that other processes on a shared machine do not count; both the minimum and the median over
the rounds are reported.

Usage: python benchmarks/optimizer_update.py [--rounds 30] [--threads 1]
Prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from machine import machine  # first: sets up BLAS as mlpcli does

# isort: split

import numpy as np

from mlpcli.nn import SGD, Adam, AdamW, build_mlp, softmax_cross_entropy

BATCH, SIZES, WEIGHT_DECAY = 200, (3072, 512, 10), 5e-4

CONTENDERS = {
    "sgd momentum 0.9": lambda: SGD(0.9),
    "sgd momentum 0.9 wd": lambda: SGD(0.9, weight_decay=WEIGHT_DECAY),
    "adam": lambda: Adam(),
    "adam wd": lambda: Adam(weight_decay=WEIGHT_DECAY),
    "adamw wd": lambda: AdamW(weight_decay=WEIGHT_DECAY),
}


def network_with_gradients(rng):
    network = build_mlp(SIZES[0], SIZES[2], [SIZES[1]], rng=rng, dtype="float32")
    for _, layer, name in network.named_parameters():
        layer.grads[name][...] = rng.standard_normal(layer.grads[name].shape, dtype=np.float32) * 1e-3
    return network


def timed(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    rng = np.random.default_rng(0)
    runs = {name: (network_with_gradients(rng), make()) for name, make in CONTENDERS.items()}
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, SIZES[2], BATCH)
    model = network_with_gradients(rng)

    def forward_backward():
        model.backward(softmax_cross_entropy(model.forward(x), labels)[1])

    seconds = {name: [] for name in [*CONTENDERS, "forward_backward"]}
    for round_ in range(args.rounds + 1):  # round 0 warms up (allocates state and scratch)
        for name, (network, optimizer) in runs.items():
            elapsed = timed(lambda optimizer=optimizer, network=network: optimizer.step(network, 1e-3))
            if round_:
                seconds[name].append(elapsed)
        elapsed = timed(forward_backward)
        if round_:
            seconds["forward_backward"].append(elapsed)
    report = {
        "network": list(SIZES),
        "dtype": "float32",
        "batch": BATCH,
        "rounds": args.rounds,
        "threads": args.threads,
    }
    for statistic in (min, statistics.median):
        value = {name: statistic(values) for name, values in seconds.items()}
        sgd, fb = value["sgd momentum 0.9"], value["forward_backward"]
        report[statistic.__name__] = {
            "ms": {name: round(seconds * 1e3, 3) for name, seconds in value.items()},
            "update_ratio_vs_sgd": {name: round(value[name] / sgd, 2) for name in CONTENDERS},
            "epoch_ratio_vs_sgd": {name: round((fb + value[name]) / (fb + sgd), 3) for name in CONTENDERS},
        }
    report["machine"] = machine()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

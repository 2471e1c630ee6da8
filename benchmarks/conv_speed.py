"""Speed of the end-to-end extractor: mlpcli against this machine's matmul rate and PyTorch CPU.

One run measures, on the same machine and threads:
  1. numpy float32 matmul GFLOP/s (2048 x 2048, best of a few, before and after): the ceiling
     for im2col convolution;
  2. mlpcli training steps (forward, backward, SGD step) on a CIFAR-like network, and the conv
     layers' GFLOP/s (the products they compute, 2*M*N*K each: forward, dW and, where needed,
     dx) as a fraction of that matmul rate;
  3. the same network, batch, loss and optimizer in PyTorch CPU, NCHW and channels-last, if
     torch is installed (a benchmark-only dependency); ``ratio_mlpcli_over_torch`` is against
     the faster of the two, the stricter comparison;
  4. each conv product alone, warm, at the shapes the layers use: the rate OpenBLAS reaches on
     these skinny shapes, a ceiling for the conv layers' rate in (2);
  5. the batch-normalized extractor (``extractor.batchnorm: true``: Conv2D without bias ->
     BatchNorm -> MaxPool2D -> ReLU per block) against the same in PyTorch with ``BatchNorm2d``,
     channels-last (issue 13);
  6. the same with the norm behind the pool (``extractor.norm_after_pool: true``: Conv2D ->
     MaxPool2D -> BatchNorm -> ReLU, pool**2 fewer values normalized), in both (issue 25).
The three step loops run in interleaved rounds so that a noisy neighbour slows all of them
alike; each reports the best round (and the median).

Threads are equalized: ``--threads N`` sets NumPy's BLAS (threadpoolctl), mlpcli's element-wise
pool (``nn.parallel``) and PyTorch's intra-op threads to N; by default all three use every core.
``stage_breakdown`` times mlpcli's step by layer type (benchmarks/stages.py): the conv products
alone, element-wise (everything else inside layers, loss and optimizer), Python overhead.

Usage: python benchmarks/conv_speed.py [--rounds 5] [--batches 10] [--threads N]
Prints one JSON document on stdout. Targets (issues 13 and 15): conv >= 60% of matmul, mlpcli /
PyTorch channels-last <= 1.2; batch-normalized mlpcli / PyTorch channels-last <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import machine  # first: sets up BLAS as mlpcli does
import numpy as np
import stages

from mlpcli.nn import SGD, Conv2D, Linear, Sequential, build_extractor, mlp_layers, parallel, softmax_cross_entropy

IMAGE_SHAPE = (32, 32, 3)
BLOCKS = [{"filters": 32, "kernel": 3, "pool": 2}, {"filters": 64, "kernel": 3, "pool": 2}]
HIDDEN, N_CLASSES, BATCH, EPOCH_IMAGES, LR, MOMENTUM = [256], 10, 128, 45_000, 0.01, 0.9


def matmul_gflops(size: int = 2048, repeats: int = 7) -> float:
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = a.T.copy()
    a @ b
    return 2 * size**3 / min(_timed(lambda: a @ b) for _ in range(repeats)) / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class MlpcliSteps:
    """The network in mlpcli, with the conv layers' forward and backward timed separately."""

    def __init__(self, batchnorm: bool = False, norm_after_pool: bool = False) -> None:
        rng = np.random.default_rng(0)
        layers, n_features = build_extractor(
            BLOCKS, IMAGE_SHAPE, rng=rng, batchnorm=batchnorm, norm_after_pool=norm_after_pool
        )
        self.network = Sequential(layers + mlp_layers(n_features, N_CLASSES, HIDDEN, rng=rng))
        self.optimizer = SGD(momentum=MOMENTUM)
        self.x = rng.standard_normal((BATCH, int(np.prod(IMAGE_SHAPE))), dtype=np.float32)
        self.labels = rng.integers(0, N_CLASSES, BATCH)
        self.conv_seconds = 0.0
        self.convs = [layer for layer in self.network.layers if isinstance(layer, Conv2D)]
        for conv in self.convs:
            conv.forward, conv.backward = self._timing(conv.forward), self._timing(conv.backward)

    def _timing(self, method):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = method(*args, **kwargs)
            self.conv_seconds += time.perf_counter() - start
            return result

        return timed

    def step(self) -> None:
        _, dscores = softmax_cross_entropy(self.network.forward(self.x), self.labels)
        self.network.backward(dscores)
        self.optimizer.step(self.network, LR)

    def conv_flops(self) -> float:
        """FLOPs of one step's conv products; call after a step (needs_input_grad is set)."""
        flops, out = 0.0, self.x
        for layer in self.network.layers:
            out = layer.forward(out, training=False)
            if isinstance(layer, Conv2D):
                rows, inner = out.shape[0] * out.shape[1] * out.shape[2], layer.kernel**2 * layer.in_channels
                flops += (3 if layer.needs_input_grad else 2) * 2.0 * rows * inner * layer.filters
        return flops


def conv_products(steps: MlpcliSteps, repeats: int = 7) -> list[dict]:
    """Each conv product of a step alone, at the shapes the layers use (warm, back to back):
    the rate OpenBLAS reaches on these skinny shapes bounds any im2col convolution."""
    products, out, number = [], steps.x, 0
    for layer in steps.network.layers:
        x_shape, out = out.shape, layer.forward(out, training=False)
        if not isinstance(layer, Conv2D):
            continue
        number += 1
        n, rows, cols = out.shape[0], out.shape[1] * out.shape[2], layer.kernel**2 * layer.in_channels + layer.bias
        shapes = {
            "forward cols @ W": (n * rows, cols, layer.filters),
            "dW cols.T @ dout": (cols, n * rows, layer.filters),
        }
        if layer.needs_input_grad:  # stride 1: the transposed convolution along cols
            k, channels = layer.kernel, layer.in_channels
            shapes["dx windows @ flipped W"] = (n * out.shape[1] * x_shape[2], k * layer.filters, k * channels)
        for name, (m, inner, width) in shapes.items():
            a = np.ones((inner, m), np.float32).T if name.startswith("dW") else np.ones((m, inner), np.float32)
            b = np.ones((inner, width), np.float32)
            a @ b
            seconds = min(_timed(lambda a=a, b=b: a @ b) for _ in range(repeats))
            products.append(
                {
                    "layer": f"conv {number}",
                    "product": name,
                    "m_k_n": [m, inner, width],
                    "seconds": seconds,
                    "gflops": 2.0 * m * inner * width / seconds / 1e9,
                }
            )
    return products


class TorchSteps:
    def __init__(self, torch, channels_last: bool, batchnorm: bool = False, norm_after_pool: bool = False) -> None:
        nn = torch.nn
        torch.manual_seed(0)
        channels = [IMAGE_SHAPE[2]] + [block["filters"] for block in BLOCKS]
        layers = []
        for c_in, block in zip(channels[:-1], BLOCKS):
            conv = nn.Conv2d(c_in, block["filters"], block["kernel"], padding=block["kernel"] // 2, bias=not batchnorm)
            norm, pool = nn.BatchNorm2d(block["filters"]), nn.MaxPool2d(block["pool"])
            if batchnorm and norm_after_pool:
                layers += [conv, pool, norm, nn.ReLU(inplace=True)]
            elif batchnorm:  # mlpcli's order: normalize, pool, then ReLU (monotone, so it commutes with the max)
                layers += [conv, norm, pool, nn.ReLU(inplace=True)]
            else:
                layers += [conv, nn.ReLU(inplace=True), pool]
        side = IMAGE_SHAPE[0] // 2 ** len(BLOCKS)
        layers += [
            nn.Flatten(),
            nn.Linear(channels[-1] * side * side, HIDDEN[0]),
            nn.ReLU(inplace=True),
            nn.Linear(HIDDEN[0], N_CLASSES),
        ]
        self.network = nn.Sequential(*layers)
        self.x = torch.randn(BATCH, IMAGE_SHAPE[2], *IMAGE_SHAPE[:2])
        if channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.labels = torch.randint(0, N_CLASSES, (BATCH,))
        self.optimizer = torch.optim.SGD(self.network.parameters(), lr=LR, momentum=MOMENTUM)
        self.loss = nn.CrossEntropyLoss()

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(self.network(self.x), self.labels).backward()
        self.optimizer.step()


def run_rounds(contenders: dict, rounds: int, batches: int, warmup: int = 3) -> dict[str, list[float]]:
    """Seconds per batch of each contender, per round; rounds interleave the contenders."""
    for steps in contenders.values():
        for _ in range(warmup):
            steps.step()
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    conv_seconds: list[float] = []
    for _ in range(rounds):
        for name, steps in contenders.items():
            steps.conv_seconds = 0.0
            seconds[name].append(_timed(lambda steps=steps: [steps.step() for _ in range(batches)]) / batches)
            if name == "mlpcli":
                conv_seconds.append(steps.conv_seconds / batches)
    seconds["mlpcli_conv_layers"] = conv_seconds
    return seconds


def stage_breakdown(steps: MlpcliSteps, conv_products_seconds: float, batches: int) -> dict:
    """Seconds per batch by stage (see benchmarks/stages.py); products are the conv products and
    the Linear layers' products timed alone."""
    network = steps.network
    clock = stages.StageClock()
    conv_methods = {conv: (conv.forward, conv.backward) for conv in steps.convs}
    clock.wrap_network(network)
    clock.wrap_optimizer(steps.optimizer)
    try:
        with clock.patched(sys.modules[__name__], "softmax_cross_entropy", "loss"):
            steps.step()
            clock.reset()
            start = time.perf_counter()
            for _ in range(batches):
                steps.step()
            total = (time.perf_counter() - start) / batches
    finally:
        for layer in network.layers:
            for name in ("forward", "backward"):
                layer.__dict__.pop(name, None)
        for conv, (forward, backward) in conv_methods.items():
            conv.forward, conv.backward = forward, backward  # the conv timing wrappers again
        del steps.optimizer.step
    per_batch = {key: value / batches for key, value in clock.seconds.items()}
    return stages.breakdown(per_batch, total, conv_products_seconds + linear_products(steps))


def linear_products(steps: MlpcliSteps, repeats: int = 7) -> float:
    """Seconds of one step's Linear products alone (forward, dW, and dx where needed)."""
    total, out = 0.0, steps.x
    for layer in steps.network.layers:
        x, out = out, layer.forward(out, training=False)
        if not isinstance(layer, Linear):
            continue
        a, w, dout = x.reshape(len(x), -1), layer.params["W"], np.ones_like(out)
        products = [lambda a=a, w=w: a @ w, lambda a=a, dout=dout: a.T @ dout]
        products += [lambda dout=dout, w=w: dout @ w.T] if layer.needs_input_grad else []
        for product in products:
            product()
            total += min(_timed(product) for _ in range(repeats))
    return total


def summary(per_batch: list[float]) -> dict:
    best = min(per_batch)
    return {
        "seconds_per_batch": best,
        "median_seconds_per_batch": statistics.median(per_batch),
        "images_per_second": BATCH / best,
        "seconds_per_epoch": best * EPOCH_IMAGES / BATCH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=None, help="BLAS, mlpcli pool and PyTorch threads (default: all cores)"
    )
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    if args.threads is not None:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        threadpool_limits(args.threads)
        parallel.set_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(parallel.threads())
    load_before = machine.load()
    matmul_before = matmul_gflops()
    ours = MlpcliSteps()
    contenders = {
        "mlpcli": ours,
        "mlpcli_batchnorm": MlpcliSteps(batchnorm=True),
        "mlpcli_norm_after_pool": MlpcliSteps(batchnorm=True, norm_after_pool=True),
    }
    if torch is not None:
        contenders["torch_nchw"] = TorchSteps(torch, channels_last=False)
        contenders["torch_channels_last"] = TorchSteps(torch, channels_last=True)
        contenders["torch_batchnorm_channels_last"] = TorchSteps(torch, channels_last=True, batchnorm=True)
        contenders["torch_norm_after_pool_channels_last"] = TorchSteps(
            torch, channels_last=True, batchnorm=True, norm_after_pool=True
        )
    seconds = run_rounds(contenders, args.rounds, args.batches)
    matmul = max(matmul_before, matmul_gflops())
    products = conv_products(ours)
    product_seconds = sum(product["seconds"] for product in products)
    conv_flops, conv_seconds = ours.conv_flops(), min(seconds["mlpcli_conv_layers"])
    report = {
        "machine": machine.machine(torch),
        "load_before": load_before,
        "load_after": machine.load(),
        "network": {
            "image_shape": IMAGE_SHAPE,
            "blocks": BLOCKS,
            "hidden": HIDDEN,
            "n_classes": N_CLASSES,
            "batch": BATCH,
            "dtype": "float32",
            "loss": "softmax cross-entropy",
            "optimizer": f"SGD momentum {MOMENTUM}",
            "epoch_images": EPOCH_IMAGES,
            "batchnorm_block": "Conv2D (no bias) -> BatchNorm -> MaxPool2D -> ReLU",
            "norm_after_pool_block": "Conv2D (no bias) -> MaxPool2D -> BatchNorm -> ReLU",
        },
        "matmul_float32_gflops": matmul,
        "mlpcli": {
            **summary(seconds["mlpcli"]),
            "conv_seconds_per_batch": conv_seconds,
            "conv_gflop_per_batch": conv_flops / 1e9,
            "conv_gflops": conv_flops / conv_seconds / 1e9,
            "conv_share_of_step": conv_seconds / min(seconds["mlpcli"]),
        },
        "mlpcli_batchnorm": summary(seconds["mlpcli_batchnorm"]),
        "ratio_mlpcli_batchnorm_over_mlpcli": min(seconds["mlpcli_batchnorm"]) / min(seconds["mlpcli"]),
        "mlpcli_norm_after_pool": summary(seconds["mlpcli_norm_after_pool"]),
        "ratio_norm_after_pool_over_batchnorm": min(seconds["mlpcli_norm_after_pool"])
        / min(seconds["mlpcli_batchnorm"]),
        "conv_products_alone": {
            "products": products,
            "seconds_per_batch": product_seconds,
            "gflops": conv_flops / product_seconds / 1e9,
            "fraction_of_matmul": conv_flops / product_seconds / 1e9 / matmul,
        },
    }
    report["conv_fraction_of_matmul"] = report["mlpcli"]["conv_gflops"] / matmul
    report["mlpcli_stage_breakdown_per_batch"] = stage_breakdown(ours, product_seconds, args.batches)
    report["threads"] = {
        "mlpcli_pool": parallel.threads(),
        "torch": torch.get_num_threads() if torch else None,
        "requested": args.threads,
    }
    if torch is not None:
        report["torch"] = {
            "nchw": summary(seconds["torch_nchw"]),
            "channels_last": summary(seconds["torch_channels_last"]),
        }
        ours_best = min(seconds["mlpcli"])
        report["ratio_mlpcli_over_torch_nchw"] = ours_best / min(seconds["torch_nchw"])
        report["ratio_mlpcli_over_torch_channels_last"] = ours_best / min(seconds["torch_channels_last"])
        report["ratio_mlpcli_over_torch"] = max(
            report["ratio_mlpcli_over_torch_nchw"], report["ratio_mlpcli_over_torch_channels_last"]
        )
        report["torch"]["batchnorm_channels_last"] = summary(seconds["torch_batchnorm_channels_last"])
        report["ratio_mlpcli_batchnorm_over_torch_batchnorm_channels_last"] = min(seconds["mlpcli_batchnorm"]) / min(
            seconds["torch_batchnorm_channels_last"]
        )
        report["torch"]["norm_after_pool_channels_last"] = summary(seconds["torch_norm_after_pool_channels_last"])
        report["ratio_mlpcli_norm_after_pool_over_torch_norm_after_pool_channels_last"] = min(
            seconds["mlpcli_norm_after_pool"]
        ) / min(seconds["torch_norm_after_pool_channels_last"])
    report["targets_met"] = {
        "conv_fraction_of_matmul >= 0.6": report["conv_fraction_of_matmul"] >= 0.6,
        "ratio_mlpcli_over_torch_channels_last <= 1.2": bool(
            report.get("ratio_mlpcli_over_torch_channels_last", np.inf) <= 1.2
        ),
        "batchnorm: ratio_mlpcli_over_torch_channels_last <= 1.5": bool(
            report.get("ratio_mlpcli_batchnorm_over_torch_batchnorm_channels_last", np.inf) <= 1.5
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

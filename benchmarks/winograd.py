"""Would Winograd F(2x2, 3x3) make the end-to-end extractor's convolutions faster? (issue 25)

A prototype of the 3x3 stride-1 convolution by Winograd's minimal filtering (Lavin & Gray,
2016), forward and backward, written with NumPy and ``mlpcli.nn.products`` as ``Conv2D`` is,
against ``Conv2D`` itself (im2col products): first checked in float64 (outputs, dW, db and dx
within 1e-10 of Conv2D's, exit 1 otherwise), then both timed on the shapes of the blocks of
``configs/cifar10-e2e.yaml`` at batch 128, float32, in interleaved rounds (best round reported,
median beside), with the float32 relative difference and the load.

How it works: the padded image is cut into 4x4 tiles every 2 pixels, one per 2x2 block of
outputs; each tile d and the kernel g go to a 4x4 domain, V = B^T d B and U = G g G^T, where the
convolution is, for each of the 16 positions p, one product M[p] = V[p] @ U[p] (tiles, channels)
@ (channels, filters); the outputs are A^T M A per tile. 16 multiplications per 4 outputs
instead of 36. The backward pass is the gradient of those linear steps: dM = A dY A^T,
dU[p] = V[p]^T dM[p] (dW = G^T dU G), dV[p] = dM[p] U[p]^T and each tile's B dV B^T added back.

It is not in mlpcli because it was not faster where it counts: the transforms are NumPy passes
over arrays 4x (V) and 16/4 x (M) the size of the image and output, so they move about as
much memory as im2col's copy saves, and the 16 products per pass are skinny (K = channels).

Usage: python benchmarks/winograd.py [--rounds 7] [--batch 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import machine  # first: sets up BLAS as mlpcli does
import numpy as np

from mlpcli.nn import Conv2D, parallel, products

#: (image side, in channels, filters) of configs/cifar10-e2e.yaml's three blocks (3x3, padding 1).
SHAPES = [(32, 3, 32), (16, 32, 64), (8, 64, 128)]
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


class WinogradConv:
    """3x3, stride 1, padding 1 convolution of images (n, height, width, channels), even sides."""

    def __init__(self, W: np.ndarray, b: np.ndarray | None) -> None:
        self.W, self.b, self.dtype = W, b, W.dtype
        self.buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, height, width, channels = x.shape
        filters, rows, cols = self.W.shape[3], height // 2, width // 2
        padded = self._buffer("padded", (n, height + 2, width + 2, channels), zero=True)
        padded[:, 1:-1, 1:-1] = x
        V = self._buffer("V", (16, n, rows, cols, channels))
        parallel.for_rows(lambda s, e: _bt_2d(padded[s:e], V[:, s:e], rows, cols), n, V.size)
        g = _G.astype(self.dtype)
        self.U = np.einsum("ai,ijcf,bj->abcf", g, self.W, g).reshape(16, channels, filters).copy()
        M = self._buffer("M", (16, n, rows, cols, filters))
        tiles = n * rows * cols
        for p in range(16):
            products.matmul(V[p].reshape(tiles, channels), self.U[p], out=M[p].reshape(tiles, filters))
        if self.b is not None:
            M[5] += self.b  # A^T's second column is all ones: M[1, 1] reaches each output once
        out = np.empty((n, height, width, filters), self.dtype)
        blocks = out.reshape(n, rows, 2, cols, 2, filters)
        parallel.for_rows(lambda s, e: _at_2d(M[:, s:e], blocks[s:e]), n, M.size)
        self.V, self.x_shape = V, x.shape
        return out

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (dW, db, dx)."""
        V, U = self.V, self.U
        _, n, rows, cols, channels = V.shape
        filters, tiles = dout.shape[3], n * rows * cols
        blocks = dout.reshape(n, rows, 2, cols, 2, filters)
        dM = self._buffer("dM", (16, n, rows, cols, filters))
        parallel.for_rows(lambda s, e: _a_2d(blocks[s:e], dM[:, s:e]), n, dM.size)
        dU = np.empty((16, channels, filters), self.dtype)
        for p in range(16):
            products.matmul(V[p].reshape(tiles, channels).T, dM[p].reshape(tiles, filters), out=dU[p])
        g = _G.astype(self.dtype)
        dW = np.einsum("ai,abcf,bj->ijcf", g, dU.reshape(4, 4, channels, filters), g)
        db = products.matmul(np.ones((1, tiles), self.dtype), dM[5].reshape(tiles, filters))[0]
        dV = self._buffer("dV", V.shape)
        for p in range(16):
            products.matmul(dM[p].reshape(tiles, filters), U[p].T, out=dV[p].reshape(tiles, channels))
        dx = np.empty(self.x_shape, self.dtype)
        parallel.for_rows(lambda s, e: _b_2d(dV[:, s:e], dx[s:e]), n, dV.size)
        return dW, db, dx

    def _buffer(self, name, shape, zero=False):
        if name not in self.buffers or self.buffers[name].shape != shape:
            self.buffers[name] = (np.zeros if zero else np.empty)(shape, self.dtype)
        return self.buffers[name]


def _bt(d, out):
    """B^T on 4 values: d0 - d2, d1 + d2, d2 - d1, d1 - d3."""
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


def _b(v, out):
    """B on 4 values (the transpose of _bt): v0, v1 - v2 + v3, v1 + v2 - v0, -v3."""
    np.copyto(out[0], v[0])
    np.subtract(v[1], v[2], out=out[1])
    out[1] += v[3]
    np.add(v[1], v[2], out=out[2])
    out[2] -= v[0]
    np.negative(v[3], out=out[3])


def _at(m, out0, out1):
    """A^T on 4 values: m0 + m1 + m2, m1 - m2 - m3."""
    np.add(m[0], m[1], out=out0)
    out0 += m[2]
    np.subtract(m[1], m[2], out=out1)
    out1 -= m[3]


def _a(y0, y1, out):
    """A on 2 values (the transpose of _at): y0, y0 + y1, y0 - y1, -y1."""
    np.copyto(out[0], y0)
    np.add(y0, y1, out=out[1])
    np.subtract(y0, y1, out=out[2])
    np.negative(y1, out=out[3])


def _bt_2d(x, V, rows, cols):
    """V[4k + j] = (B^T d B)[k, j] for every 4x4 tile d of the padded images x."""
    by_rows = np.empty((4, len(x), rows, x.shape[2], x.shape[3]), x.dtype)
    _bt([x[:, r : r + 2 * rows : 2] for r in range(4)], by_rows)
    for k in range(4):
        _bt([by_rows[k][:, :, c : c + 2 * cols : 2] for c in range(4)], [V[4 * k + j] for j in range(4)])


def _at_2d(M, blocks):
    """blocks[:, :, a, :, b] = (A^T M A)[a, b] per tile."""
    by_rows = np.empty((2, 4) + M.shape[1:], M.dtype)
    for j in range(4):
        _at([M[4 * k + j] for k in range(4)], by_rows[0, j], by_rows[1, j])
    for a in range(2):
        _at(by_rows[a], blocks[:, :, a, :, 0], blocks[:, :, a, :, 1])


def _a_2d(blocks, dM):
    """dM[4k + j] = (A dY A^T)[k, j] per tile: the transpose of _at_2d."""
    by_rows = np.empty((4, 2) + dM.shape[1:], dM.dtype)
    for b in range(2):
        _a(blocks[:, :, 0, :, b], blocks[:, :, 1, :, b], [by_rows[k, b] for k in range(4)])
    for k in range(4):
        _a(by_rows[k, 0], by_rows[k, 1], [dM[4 * k + j] for j in range(4)])


def _b_2d(dV, dx):
    """Each tile's B dV B^T added onto the pixels it was read from, the padding cropped: the
    transpose of _bt_2d."""
    _, n, rows, cols, channels = dV.shape
    by_rows = np.empty((4, 4, n, rows, cols, channels), dV.dtype)
    for j in range(4):
        _b([dV[4 * k + j] for k in range(4)], [by_rows[r, j] for r in range(4)])
    padded = np.zeros((n, 2 * rows + 2, 2 * cols + 2, channels), dV.dtype)
    tile = np.empty((4, n, rows, cols, channels), dV.dtype)
    for r in range(4):
        _b(list(by_rows[r]), tile)
        for c in range(4):
            padded[:, r : r + 2 * rows : 2, c : c + 2 * cols : 2] += tile[c]
    dx[...] = padded[:, 1:-1, 1:-1]


def im2col_conv(W, b):
    conv = Conv2D(W.shape[2], W.shape[3], 3, padding=1, bias=b is not None, dtype=W.dtype.name)
    conv.params["W"][...] = W
    if b is not None:
        conv.params["b"][...] = b
    conv.needs_input_grad = True
    return conv


def check_float64(rng) -> float:
    """Largest difference from Conv2D over outputs, dW, db and dx, in float64."""
    worst = 0.0
    for side, channels, filters in [(8, 5, 7), (6, 3, 4)]:
        x = rng.standard_normal((3, side, side, channels))
        W, b = rng.standard_normal((3, 3, channels, filters)), rng.standard_normal(filters)
        conv, wino = im2col_conv(W, b), WinogradConv(W, b)
        out = conv.forward(x)
        dout = rng.standard_normal(out.shape)
        dx = conv.backward(dout)
        ours = [wino.forward(x), *wino.backward(dout)]
        for got, want in zip(ours, [out, conv.grads["W"], conv.grads["b"], dx]):
            worst = max(worst, float(np.abs(got - want).max()))
    return worst


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(rng, side, channels, filters, batch, rounds) -> dict:
    x = rng.standard_normal((batch, side, side, channels), dtype=np.float32)
    W = (rng.standard_normal((3, 3, channels, filters)) / np.sqrt(9 * channels)).astype(np.float32)
    dout = rng.standard_normal((batch, side, side, filters), dtype=np.float32)
    conv, wino = im2col_conv(W, None), WinogradConv(W, None)
    passes = {
        "im2col_forward": lambda: conv.forward(x),
        "im2col_backward": lambda: conv.backward(dout),
        "winograd_forward": lambda: wino.forward(x),
        "winograd_backward": lambda: wino.backward(dout),
    }
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(rounds + 1):  # the first round warms the buffers up and is dropped
        for name, run in passes.items():
            seconds[name].append(timed(run))
    best = {name: min(values[1:]) for name, values in seconds.items()}
    out32, ref32 = wino.forward(x), conv.forward(x)
    im2col = best["im2col_forward"] + best["im2col_backward"]
    winograd = best["winograd_forward"] + best["winograd_backward"]
    return {
        "images": [batch, side, side, channels],
        "filters": filters,
        "ms_best": {name: round(1e3 * value, 3) for name, value in best.items()},
        "ms_median": {name: round(1e3 * statistics.median(values[1:]), 3) for name, values in seconds.items()},
        "float32_max_relative_difference": float(np.abs(out32 - ref32).max() / np.abs(ref32).max()),
        "ratio_winograd_over_im2col_forward": best["winograd_forward"] / best["im2col_forward"],
        "ratio_winograd_over_im2col_forward_and_backward": winograd / im2col,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    error = check_float64(rng)
    if error > 1e-10:
        raise SystemExit(f"the Winograd prototype differs from Conv2D by {error:g} in float64")
    report = {
        "machine": machine.machine(),
        "load_before": machine.load(),
        "float64_max_difference_from_conv2d": error,
        "layers": [compare(rng, *shape, args.batch, args.rounds) for shape in SHAPES],
        "load_after": machine.load(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

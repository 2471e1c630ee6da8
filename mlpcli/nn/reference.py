"""The lecture's versions of the optimized layers and optimizers: loops and textbook formulas.

Each optimized class in ``nn/`` has its naive reference here, a plain function named after it:
``linear_*`` for ``Linear``, ``conv2d_*`` for ``Conv2D``, ``batchnorm_*`` for ``BatchNorm``,
``maxpool2d_*`` for ``MaxPool2D``, ``sgd_step`` for ``SGD`` (momentum, Nesterov) and
``adam_step`` for ``Adam`` and ``AdamW``. A layer has ``<name>_forward(x, params...) -> out`` (and
what backward needs) and ``<name>_backward(dout, ...) -> (dx, dparams...)``; an optimizer has
``<name>_step(W, g, state..., hyperparameters) -> (W, state...)`` for one parameter array.

They are written to be read next to the lecture, not to be fast: explicit loops over output
pixels, the batch-norm backward pass staged through its computational graph, the update rules as
the papers print them. They allocate fresh arrays and use no threads. The tests use them as the
oracle for the optimized code (forward and backward in float64, optimizer steps over several
steps). Shapes and layouts are those of the optimized layers: rows ``(n_samples, n_features)``,
images channels-last ``(n_images, height, width, channels)``, Linear's ``W (n_in, n_out)``
applied as ``x @ W + b``, Conv2D's ``W (kernel, kernel, in_channels, filters)``.
"""

from __future__ import annotations

import numpy as np


def linear_forward(x, W, b=None):
    """out = x W + b: x (n_samples, n_in), W (n_in, n_out), b (n_out,) -> (n_samples, n_out)."""
    return x @ W + (0 if b is None else b)


def linear_backward(dout, x, W):
    """dx = dout W^T, dW = x^T dout, db = sum of dout over samples: the Jacobians applied,
    never built. dout (n_samples, n_out) -> dx (n_samples, n_in), dW (n_in, n_out), db (n_out,)."""
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def _pad(x, padding):
    """x (n_images, height, width, channels) with ``padding`` zeros around each image."""
    n_images, height, width, channels = x.shape
    padded = np.zeros((n_images, height + 2 * padding, width + 2 * padding, channels), x.dtype)
    padded[:, padding : padding + height, padding : padding + width] = x
    return padded


def _out_size(size, kernel, stride, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def conv2d_forward(x, W, b=None, stride=1, padding=0):
    """Cross-correlation by its definition: every output pixel is the sum of its receptive
    field times each filter, plus the filter's bias.

    x (n_images, height, width, channels), W (kernel, kernel, channels, filters), b (filters,)
    -> out (n_images, out_height, out_width, filters).
    """
    n_images, height, width, _ = x.shape
    kernel, filters = W.shape[0], W.shape[3]
    padded = _pad(x, padding)
    out = np.zeros(
        (n_images, _out_size(height, kernel, stride, padding), _out_size(width, kernel, stride, padding), filters),
        x.dtype,
    )
    for image, row, col in np.ndindex(out.shape[:3]):
        field = padded[image, row * stride : row * stride + kernel, col * stride : col * stride + kernel]
        for f in range(filters):
            out[image, row, col, f] = np.sum(field * W[..., f]) + (0 if b is None else b[f])
    return out


def conv2d_backward(dout, x, W, stride=1, padding=0):
    """Each output pixel is a mul gate per weight: its upstream gradient times the input goes to
    the weight, times the weight to the input. Every weight and input is used by many output
    pixels (fan-out), so their gradients sum over them.

    dout (n_images, out_height, out_width, filters) -> dx like x, dW like W, db (filters,).
    """
    kernel = W.shape[0]
    padded = _pad(x, padding)
    dpadded, dW = np.zeros_like(padded), np.zeros_like(W)
    for image, row, col in np.ndindex(dout.shape[:3]):
        rows = slice(row * stride, row * stride + kernel)
        cols = slice(col * stride, col * stride + kernel)
        upstream = dout[image, row, col]  # (filters,)
        dW += padded[image, rows, cols][..., None] * upstream
        dpadded[image, rows, cols] += W @ upstream
    height, width = x.shape[1:3]
    return dpadded[:, padding : padding + height, padding : padding + width], dW, dout.sum(axis=(0, 1, 2))


def maxpool2d_forward(x, pool, stride=None):
    """Max over each pool x pool window; windows that do not fit are dropped.

    x (n_images, height, width, channels) -> (n_images, out_height, out_width, channels).
    """
    stride = pool if stride is None else stride
    n_images, height, width, channels = x.shape
    out = np.zeros((n_images, _out_size(height, pool, stride), _out_size(width, pool, stride), channels), x.dtype)
    for image, row, col, channel in np.ndindex(out.shape):
        window = x[image, row * stride : row * stride + pool, col * stride : col * stride + pool, channel]
        out[image, row, col, channel] = window.max()
    return out


def maxpool2d_backward(dout, x, pool, stride=None):
    """The max gate: each window's upstream gradient goes to the input that won it; on a tie, to
    the first in row-major order (``np.argmax``), as ``MaxPool2D`` explains. dout -> dx like x."""
    stride = pool if stride is None else stride
    dx = np.zeros_like(x)
    for image, row, col, channel in np.ndindex(dout.shape):
        window = x[image, row * stride : row * stride + pool, col * stride : col * stride + pool, channel]
        win_row, win_col = np.unravel_index(np.argmax(window), window.shape)
        dx[image, row * stride + win_row, col * stride + win_col, channel] += dout[image, row, col, channel]
    return dx


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training mode, per feature (the last axis) over every other axis: xhat = (x - mean) /
    sqrt(var + eps), out = gamma xhat + beta, with the batch's mean and biased variance.

    x (..., n_features) -> out like x, and the cache batchnorm_backward takes.
    """
    rows = x.reshape(-1, x.shape[-1])
    mean = rows.mean(axis=0)
    var = ((rows - mean) ** 2).mean(axis=0)
    xhat = (rows - mean) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return out.reshape(x.shape), (rows, mean, var, xhat, gamma, eps)


def batchnorm_backward(dout, cache):
    """Back through the forward pass's graph node by node (Ioffe & Szegedy, 2015): xhat, then the
    variance and the mean, which depend on every x of the batch; x receives gradient along all
    three paths (a fan-out: the sum). dout like x -> dx like x, dgamma, dbeta (n_features,)."""
    rows, mean, var, xhat, gamma, eps = cache
    n = len(rows)
    upstream = dout.reshape(rows.shape)
    dxhat = upstream * gamma
    dvar = np.sum(dxhat * (rows - mean) * -0.5 * (var + eps) ** -1.5, axis=0)
    dmean = np.sum(-dxhat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2 * (rows - mean), axis=0)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * (rows - mean) / n + dmean / n
    return dx.reshape(dout.shape), np.sum(upstream * xhat, axis=0), np.sum(upstream, axis=0)


def batchnorm_running(running_mean, running_var, x, momentum=0.1):
    """The running statistics after a training batch x (..., n_features): an exponential moving
    average of the batch mean and the unbiased batch variance."""
    rows = x.reshape(-1, x.shape[-1])
    mean, unbiased = rows.mean(axis=0), rows.var(axis=0, ddof=1)
    return ((1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * unbiased)


def batchnorm_predict(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Prediction mode: the running statistics in place of the batch's, so each sample alone."""
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta


def sgd_step(W, g, v, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """One step of SGD on W: parameter_new = parameter_old - lr * gradient, where the gradient
    is g + weight_decay W (L2) and, with momentum, the velocity v <- momentum v + g (Nesterov
    steps along g + momentum v). Returns (W, v); v is unused (and returned as is) without momentum."""
    g = g + weight_decay * W
    if momentum == 0:
        return W - lr * g, v
    v = momentum * v + g
    step = g + momentum * v if nesterov else v
    return W - lr * step, v


def adam_step(W, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    """Step t (from 1) of Adam, Algorithm 1 of Kingma & Ba (2015); ``decoupled`` is AdamW
    (Loshchilov & Hutter, 2019): the weights shrink by lr * weight_decay outside the gradient,
    instead of weight_decay W joining it. Returns (W, m, v)."""
    beta1, beta2 = betas
    if not decoupled:
        g = g + weight_decay * W
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    if decoupled:
        W = W - lr * weight_decay * W
    return W - lr * m_hat / (np.sqrt(v_hat) + eps), m, v

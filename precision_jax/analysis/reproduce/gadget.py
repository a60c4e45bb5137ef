"""The four-neuron multiplication gadget: a depth-2 tanh net that computes x·y, built, not trained.

With σ = tanh and a bias c where σ''(c) ≠ 0, a second difference of σ recovers a product:

    σ(c + u) + σ(c − u) = 2σ(c) + σ''(c)·u² + σ''''(c)·u⁴/12 + O(u⁶),

so with u = s(x + y) and u = s(x − y), whose squares differ by 4s²·xy,

    x·y ≈ [σ(c + s(x+y)) + σ(c − s(x+y)) − σ(c + s(x−y)) − σ(c − s(x−y))] / (4 s² σ''(c)).

Four hidden neurons, input weights ±s, biases c, output weights ±1/(4s²σ''(c)), no output bias (the 2σ(c)
terms cancel). The truncation error is (σ''''(c)/σ''(c))·s²·xy·(x² + y²)/6 + O(s⁴): it falls as s², and
architecture error can be made as small as one likes in exact arithmetic. In float64 each σ is rounded to
about ε·|σ(c)| (ε = 2⁻⁵²) and the output weights multiply that by 1/s², so below some scale the rounding,
∝ ε/s², takes over: the best error is about √ε relative, reached near s ≈ ε^(1/4). We take
c = artanh(1/√3), where |σ''| is largest (σ''(c) = −4/(3√3)), so the output weights are as small as they
can be for a given s.

A target that is a sum of products of input pairs (I.11.19 = x₁y₁ + x₂y₂ + x₃y₃, Z.008 = x·y) is then a
depth-2 tanh net of 4 neurons per product (12 for I.11.19): its architecture error is at the precision limit,
whatever training reaches.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

BIAS = math.atanh(1.0 / math.sqrt(3.0))  # c: where |tanh''| is largest
SECOND_DERIVATIVE = -4.0 / (3.0 * math.sqrt(3.0))  # tanh''(c) = −2 tanh(c) sech²(c)
SIGNS = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])  # the four neurons' input directions
OUTPUT_SIGNS = np.array([1.0, 1.0, -1.0, -1.0])


def weights(scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gadget's (W (4, 2), b (4,), v (4,)): hidden tanh(W·(x, y) + b), output v·hidden."""
    w = scale * SIGNS
    b = np.full(4, BIAS)
    v = OUTPUT_SIGNS / (4.0 * scale ** 2 * SECOND_DERIVATIVE)
    return w, b, v


def multiply(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """x·y as the gadget computes it in float64 (the four neurons evaluated one by one, as a net would)."""
    w, b, v = weights(scale)
    pair = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], axis=-1)
    hidden = np.tanh(pair @ w.T + b)
    return hidden @ v


def sum_of_products(points: np.ndarray, pairs: Sequence[Sequence[int]], scale: float) -> np.ndarray:
    """Σ_k x[i_k]·x[j_k] over ``pairs`` [(i_k, j_k)]: a depth-2 net of 4·len(pairs) tanh neurons."""
    points = np.asarray(points, np.float64)
    return np.sum([multiply(points[:, i], points[:, j], scale) for i, j in pairs], axis=0)


def relative_rmse(points: np.ndarray, pairs: Sequence[Sequence[int]], scale: float,
                  exact: Optional[np.ndarray] = None) -> float:
    """RMSE of the gadget net against ``exact`` (the target's values; default the exact Σ x_i·x_j) on ``points``,
    over the RMS of the exact values."""
    points = np.asarray(points, np.float64)
    if exact is None:
        exact = np.sum([points[:, i] * points[:, j] for i, j in pairs], axis=0)
    exact = np.asarray(exact, np.float64).ravel()
    error = sum_of_products(points, pairs, scale) - exact
    return float(np.sqrt(np.mean(error ** 2)) / np.sqrt(np.mean(exact ** 2)))

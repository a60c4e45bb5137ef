"""Exact second-order quantities of the full-batch MSE, built in data chunks.

For a model f(θ, x) with flat θ of shape ``(N,)`` and training data x ``(D, d)``,
y ``(D,)``, the loss is L(θ) = (1/D) Σ_i (f(θ, x_i) − y_i)² and

    ∇L  = (2/D) Jᵀ r,                       r_i = f(θ, x_i) − y_i,  J = ∂r/∂θ  (D×N)
    ∇²L = (2/D) (Jᵀ J + Σ_i r_i ∇²f(θ, x_i))                                  (N×N)

The data are split into chunks of ``chunk`` points
(:mod:`precision_jax.engine.data_chunks`) and summed with ``lax.scan``, so the
memory is that of one chunk's forward-over-reverse pass, never D×N×N.
:func:`hessian_spectrum` is what ``prec hessian`` writes: eigenvalues λ_i of
∇²L sorted from most positive to most negative, and |g·v_i| for each
eigenvector v_i.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from precision_jax.engine.data_chunks import chunk_data, default_chunk

Predict = Callable[[jax.Array, jax.Array], jax.Array]

# One N×N float64 matrix of this many parameters is 128 MiB; eigh costs O(N³).
DENSE_LIMIT = 4000


def mse_hessian(predict: Predict, theta: jax.Array, x: jax.Array, y: jax.Array, chunk: int) -> jax.Array:
    """Exact ∇²L of the mean squared error, shape ``(N, N)``, symmetrized; jit-compatible."""
    xs, ys, ws = chunk_data(x, y, chunk)

    def chunk_sse(t, xc, yc, wc):
        r = predict(t, xc) - yc
        return jnp.sum(wc * r * r)

    def body(h, batch):
        return h + jax.hessian(chunk_sse)(theta, *batch), None

    n = theta.shape[0]
    h, _ = jax.lax.scan(body, jnp.zeros((n, n), theta.dtype), (xs, ys, ws))
    h = h / x.shape[0]
    return (h + h.T) / 2


def mse_value_and_grad(predict: Predict, theta: jax.Array, x: jax.Array, y: jax.Array):
    """``(L, ∇L)`` of the full-batch MSE."""
    def loss(t):
        r = predict(t, x) - y
        return jnp.mean(r * r)

    return jax.value_and_grad(loss)(theta)


class Spectrum(NamedTuple):
    eigenvalues: np.ndarray  # (N,), most positive first
    eigenvectors: np.ndarray  # (N, N), column i belongs to eigenvalues[i]
    gradient: np.ndarray  # (N,)
    projections: np.ndarray  # (N,) |g · v_i|
    loss: float


def hessian_spectrum(predict: Predict, theta, x, y, chunk: int | None = None) -> Spectrum:
    """Eigen-decomposition of the exact MSE Hessian at ``theta`` and the gradient's projections on it."""
    theta = jnp.asarray(theta, jnp.float64)
    n = int(theta.shape[0])
    if chunk is None:
        chunk = default_chunk(n, int(x.shape[0]))

    @jax.jit
    def compute(t):
        h = mse_hessian(predict, t, x, y, chunk)
        value, grad = mse_value_and_grad(predict, t, x, y)
        lam, vec = jnp.linalg.eigh(h)
        return value, grad, lam[::-1], vec[:, ::-1]

    value, grad, lam, vec = compute(theta)
    vec = np.asarray(vec)
    grad = np.asarray(grad)
    return Spectrum(np.asarray(lam), vec, grad, np.abs(vec.T @ grad), float(value))


def spectrum_summary(spectrum: Spectrum, tau: float = 1e-15) -> dict:
    """JSON-ready facts about a :class:`Spectrum`: range, sign counts, where the gradient lies."""
    lam, proj = spectrum.eigenvalues, spectrum.projections
    low = np.abs(lam) < tau
    total = float(np.sum(proj**2))
    return {
        "n_params": int(lam.size), "loss": spectrum.loss, "rmse": float(np.sqrt(max(spectrum.loss, 0.0))),
        "lambda_max": float(lam[0]), "lambda_min": float(lam[-1]),
        "min_abs_lambda": float(np.min(np.abs(lam))),
        "n_positive": int(np.sum(lam > 0)), "n_negative": int(np.sum(lam < 0)),
        "tau": tau, "n_below_tau": int(np.sum(low)),
        "orders_of_magnitude": float(np.log10(np.max(np.abs(lam)) / max(np.min(np.abs(lam)), 1e-300))),
        "gradient_norm": float(np.linalg.norm(spectrum.gradient)),
        "gradient_fraction_below_tau": float(np.sum(proj[low] ** 2) / total) if total > 0 else 0.0,
    }

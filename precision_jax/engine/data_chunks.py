"""Training points in equal chunks, so that per-point derivatives never hold all D points at once.

A pass that needs, per point, a row of the Jacobian (N numbers) or more (a
Hessian-vector product) runs over chunks of ``chunk`` points with ``lax.scan``:
its memory is one chunk's, about ``chunk × N`` numbers, whatever D is. The last
chunk is padded with zero-weight copies of the first point, so every chunk has
the same shape (one compiled body) and the padding adds nothing to a weighted
sum. Used by Levenberg–Marquardt's Jacobian (:mod:`precision_jax.engine.stages.lm`),
the dense stages' size checks and the exact Hessian (:mod:`precision_jax.engine.hessian`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def default_chunk(n_params: int, n_points: int, budget: int = 2**21) -> int:
    """Points per chunk so that one chunk's (points × N) intermediates hold at most ≈ ``budget`` numbers.

    The points are split into as few chunks as the budget allows, of equal size, so that the last
    one is not mostly padding.
    """
    limit = max(16, budget // max(n_params, 1))
    chunks = -(-n_points // limit)
    return int(max(1, min(n_points, -(-n_points // max(chunks, 1)))))


def chunk_data(x: jax.Array, y: jax.Array, chunk: int):
    """Split ``(x, y)`` into ``k`` chunks: x ``(k, chunk, d)``, y ``(k, chunk)``, weights ``(k, chunk)`` in {0, 1}."""
    n = x.shape[0]
    chunk = max(1, min(int(chunk), n))
    k = -(-n // chunk)
    pad = k * chunk - n
    xp = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad,) + x.shape[1:])])
    yp = jnp.concatenate([y, jnp.broadcast_to(y[:1], (pad,))])
    w = jnp.concatenate([jnp.ones(n, x.dtype), jnp.zeros(pad, x.dtype)])
    return xp.reshape((k, chunk) + x.shape[1:]), yp.reshape(k, chunk), w.reshape(k, chunk)

"""Matrix-free linear algebra for the second-order stages: damped least squares by CGLS, eigenpairs by Lanczos.

Both touch their matrix only through products with vectors, so a stage built
on them needs O(N + D) memory per product (plus what autodiff keeps of one
forward pass) instead of the N×N matrices of the dense stages.

:func:`damped_least_squares` solves

    min_δ ‖J δ − b‖² + μ ‖δ‖²   ⇔   (JᵀJ + μ I) δ = Jᵀ b

given δ ↦ J δ (a Jacobian–vector product, ``jax.linearize``) and u ↦ Jᵀ u
(its transpose, a vector–Jacobian product), by CGLS with a shift (Björck,
*Numerical Methods for Least Squares Problems*, §7.4): conjugate gradients on
the normal equations, with the residual b − Jδ kept in the data space rather
than the product JᵀJ formed, which is the numerically better way to run CG on
them. Started from δ = 0, every iterate minimizes the damped model over its
Krylov subspace, so it satisfies δᵀ(JᵀJ + μI)δ = δᵀJᵀb (the Galerkin
condition) even when stopped early: a truncated solve is still a descent
step whose predicted decrease ‖J δ‖² + 2μ‖δ‖² is exact for that δ. It stops
when ‖Jᵀ(b − Jδ) − μδ‖ ≤ ``tol`` · ‖Jᵀ b‖ or after ``maxiter`` iterations; ``tol``
may be a traced scalar, so that an inexact-Newton caller can choose it per step
from its gradient (Eisenstat–Walker forcing) without recompiling.

:func:`lanczos` runs k steps of the symmetric Lanczos process on v ↦ A v
from a start vector, with full reorthogonalization (two rounds of classical
Gram–Schmidt against every earlier basis vector, O(k N) memory and O(k² N)
flops), and returns the tridiagonal T = Qᵀ A Q and the basis Q (k × N). The
eigenpairs (θ_i, s_i) of T give Ritz pairs (θ_i, Qᵀ s_i) of A. When the
Krylov space is exhausted (an off-diagonal β at rounding level) the process
restarts from a fixed pseudo-random vector orthogonal to Q, so with k = N the
Ritz values are A's eigenvalues to rounding — the exactness check the tests
use. Extreme eigenvalues converge first, in far fewer than N steps.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

Matvec = Callable[[jax.Array], jax.Array]


class KrylovSolution(NamedTuple):
    x: jax.Array
    iterations: jax.Array  # products with J and Jᵀ (each) done


def damped_least_squares(jvp: Matvec, vjp: Matvec, b: jax.Array, mu: jax.Array, n: int, tol: float | jax.Array,
                         maxiter: int, jtb: jax.Array | None = None) -> KrylovSolution:
    """δ ≈ (JᵀJ + μI)⁻¹ Jᵀ b by CGLS; ``jvp``: δ ↦ Jδ (shape of b), ``vjp``: u ↦ Jᵀu (shape ``(n,)``).

    ``jtb`` is Jᵀb when the caller has it already. Jittable; ``maxiter`` is static, ``tol`` a number or a
    traced scalar.
    """
    s0 = vjp(b) if jtb is None else jtb
    gamma0 = jnp.vdot(s0, s0)
    stop = (tol * tol) * gamma0

    def running(carry):
        _, _, _, _, gamma, k = carry
        return (k < maxiter) & (gamma > stop)

    def iterate(carry):
        x, r, s, p, gamma, k = carry
        q = jvp(p)
        alpha = gamma / (jnp.vdot(q, q) + mu * jnp.vdot(p, p))
        x = x + alpha * p
        r = r - alpha * q
        s = vjp(r) - mu * x
        gamma_new = jnp.vdot(s, s)
        p = s + (gamma_new / gamma) * p
        return x, r, s, p, gamma_new, k + 1

    carry = (jnp.zeros(n, b.dtype), b, s0, s0, gamma0, jnp.zeros((), jnp.int64))
    x, _, _, _, _, k = jax.lax.while_loop(running, iterate, carry)
    return KrylovSolution(x, k)


class LanczosResult(NamedTuple):
    alpha: jax.Array  # (k,) diagonal of T
    beta: jax.Array  # (k,) off-diagonal: T[j, j+1] = beta[j] (the last one is the residual norm, not part of T)
    basis: jax.Array  # (k, N) orthonormal rows q_j


def lanczos(matvec: Matvec, start: jax.Array, k: int, seed: int = 0) -> LanczosResult:
    """k Lanczos steps on the symmetric operator ``matvec`` from ``start`` (any nonzero scale; zero → e₀).

    Jittable; ``k`` is static and at most N. Restart vectors come from
    ``jax.random.key(seed)``, so the result is a deterministic function of the operator and ``start``.
    """
    n = start.shape[0]
    dtype = start.dtype
    norm = jnp.linalg.norm(start)
    q0 = jnp.where(norm > 0, start / jnp.where(norm > 0, norm, 1.0), jnp.zeros(n, dtype).at[0].set(1.0))
    restart_key = jax.random.key(seed)

    def orthogonalize(basis, w):
        # Twice is enough (Kahan–Parlett): after the second pass w is orthogonal to the basis to rounding.
        w = w - basis.T @ (basis @ w)
        return w - basis.T @ (basis @ w)

    def body(j, carry):
        basis, alphas, betas, q, scale = carry
        basis = basis.at[j].set(q)
        w = matvec(q)
        a = jnp.vdot(q, w)
        w = orthogonalize(basis, w)
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        # The Krylov space is exhausted: continue from a fresh direction orthogonal to it (β = 0 decouples T).
        exhausted = b <= 100 * jnp.finfo(dtype).eps * scale
        def fresh():
            v = orthogonalize(basis, jax.random.normal(jax.random.fold_in(restart_key, j), (n,), dtype))
            return v / jnp.linalg.norm(v)

        q_next = jax.lax.cond(exhausted, fresh, lambda: w / b)
        return basis, alphas.at[j].set(a), betas.at[j].set(jnp.where(exhausted, 0.0, b)), q_next, scale

    carry = (jnp.zeros((k, n), dtype), jnp.zeros(k, dtype), jnp.zeros(k, dtype), q0, jnp.zeros((), dtype))
    basis, alphas, betas, _, _ = jax.lax.fori_loop(0, k, body, carry)
    return LanczosResult(alphas, betas, basis)


def ritz_pairs(result: LanczosResult) -> tuple[jax.Array, jax.Array]:
    """``(θ, S)``: eigenvalues of T ascending and its eigenvectors (columns); Ritz vectors are ``basis.T @ S``."""
    off = result.beta[:-1]
    t = jnp.diag(result.alpha) + jnp.diag(off, 1) + jnp.diag(off, -1)
    return jnp.linalg.eigh(t)


def largest_eigenvalue(matvec: Matvec, start: jax.Array, k: int) -> jax.Array:
    """The largest Ritz value after k Lanczos steps (from below, to a few digits for k ≈ 20)."""
    return ritz_pairs(lanczos(matvec, start, k))[0][-1]

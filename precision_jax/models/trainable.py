"""The flat-parameter model every optimizer stage sees: ``apply(θ, x)`` with θ of shape ``(N,)``.

Trainable approximators (``mlp``, ``modular``) are written over their own
parameter pytrees; :func:`flat_model` ravels them so that first-order,
quasi-Newton, Hessian- and Jacobian-based stages all work on one vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
from jax.flatten_util import ravel_pytree


@dataclass(frozen=True)
class TrainableModel:
    """A parametric model ``apply(θ, x)``: θ of shape ``(N,)``, x ``(n, d)`` → ``(n,)``."""

    n_params: int
    init: Callable[[jax.Array], jax.Array]  # PRNG key -> θ
    apply: Callable[[jax.Array, jax.Array], jax.Array]
    unflatten: Callable[[jax.Array], object]  # θ -> the model's own parameter pytree
    description: str


def flat_model(init_tree: Callable[[jax.Array], object], apply_tree: Callable, description: str) -> TrainableModel:
    """Wrap a pytree-parameter model ``apply_tree(params, x)`` as a flat-θ :class:`TrainableModel`."""
    example = init_tree(jax.random.PRNGKey(0))
    theta0, unflatten = ravel_pytree(example)

    def init(key):
        return ravel_pytree(init_tree(key))[0]

    def apply(theta, x):
        return apply_tree(unflatten(theta), x)

    return TrainableModel(int(theta0.shape[0]), init, apply, unflatten, description)

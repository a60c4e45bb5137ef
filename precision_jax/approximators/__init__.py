"""Approximators: what maps inputs to predictions.

Trainable approximators are exposed to the optimizers as a
:class:`TrainableModel` over a *flat* float64 parameter vector θ of length N,
so that every optimizer stage (first-order, quasi-Newton, Hessian- and
Jacobian-based) sees the same object. Builders register by config kind in
:data:`BUILDERS`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import jax
from jax.flatten_util import ravel_pytree

from precision_jax.approximators import mlp
from precision_jax.config import MLPConfig


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


def build_mlp(cfg: MLPConfig, d: int) -> TrainableModel:
    widths = (d,) + cfg.hidden_widths() + (1,)
    model = flat_model(lambda key: mlp.init_mlp(key, widths),
                       lambda params, x: mlp.mlp_apply(params, x, cfg.activation),
                       f"mlp {'-'.join(map(str, widths))} {cfg.activation}")
    assert model.n_params == mlp.parameter_count(widths)
    return model


BUILDERS: dict[str, Callable] = {"mlp": build_mlp}

# Classical approximators, fitted without an optimizer chain:
# kind -> builder(model_cfg, target, dataset) -> object with n_params, n_train, predict(x (n, d)) -> (n,).
INTERPOLANTS: dict[str, Callable] = {}


def build_model(cfg, d: int, variables=None) -> TrainableModel:
    """The trainable model for model config ``cfg`` on ``d`` inputs named ``variables``.

    The names reach only builders that take a ``variables`` argument (graph-wired
    models such as ``modular``); the others need just ``d``.
    """
    builder = BUILDERS[cfg.kind]
    if "variables" in inspect.signature(builder).parameters:
        return builder(cfg, d, variables=variables)
    return builder(cfg, d)


from precision_jax.approximators import modular  # noqa: E402  (registers the modular config)

BUILDERS["modular"] = modular.build_modular

from precision_jax.approximators import classical  # noqa: E402  (registers simplex, spline, chebyshev)

INTERPOLANTS.update(classical.INTERPOLANT_BUILDERS)

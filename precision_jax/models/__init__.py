"""Approximators: what maps inputs to predictions.

Trainable approximators are exposed to the optimizers as a
:class:`TrainableModel` over a *flat* float64 parameter vector θ of length N
(:mod:`precision_jax.models.trainable`), so that every optimizer stage
sees the same object; their builders are in :data:`BUILDERS`. Classical
interpolants are fitted without an optimizer chain; theirs are in
:data:`INTERPOLANTS`. Importing this package registers every model config
kind (``registry.MODEL_KINDS``): ``mlp``, ``modular``, ``simplex``, ``spline``,
``chebyshev``.
"""

from __future__ import annotations

import inspect
from typing import Callable

# Registration order is the order error messages and `prec schema` list the kinds in: networks first.
from precision_jax.models import mlp, modular  # isort: skip
from precision_jax.models import classical  # isort: skip
from precision_jax.models.mlp import MLPConfig
from precision_jax.models.trainable import TrainableModel, flat_model


def build_mlp(cfg: MLPConfig, d: int) -> TrainableModel:
    widths = (d,) + cfg.hidden_widths() + (1,)
    model = flat_model(lambda key: mlp.init_mlp(key, widths),
                       lambda params, x: mlp.mlp_apply(params, x, cfg.activation),
                       f"mlp {'-'.join(map(str, widths))} {cfg.activation}")
    assert model.n_params == mlp.parameter_count(widths)
    return model


BUILDERS: dict[str, Callable] = {"mlp": build_mlp, "modular": modular.build_modular}

# Classical approximators, fitted without an optimizer chain:
# kind -> builder(model_cfg, target, dataset) -> object with n_params, n_train, predict(x (n, d)) -> (n,).
INTERPOLANTS: dict[str, Callable] = dict(classical.INTERPOLANT_BUILDERS)


def build_model(cfg, d: int, variables=None) -> TrainableModel:
    """The trainable model for model config ``cfg`` on ``d`` inputs named ``variables``.

    The names reach only builders that take a ``variables`` argument (graph-wired
    models such as ``modular``); the others need just ``d``.
    """
    builder = BUILDERS[cfg.kind]
    if "variables" in inspect.signature(builder).parameters:
        return builder(cfg, d, variables=variables)
    return builder(cfg, d)


__all__ = ["BUILDERS", "INTERPOLANTS", "MLPConfig", "TrainableModel", "build_mlp", "build_model", "flat_model"]
